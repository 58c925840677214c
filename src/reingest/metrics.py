"""Prometheus metrics: the state of a reingestion read from its stores, plus what a running
loop measured. Exposed as a textfile (node-exporter's textfile collector) or printed."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from prometheus_client import CollectorRegistry, Gauge, generate_latest, write_to_textfile

from .audit import last_report
from .backends import Components
from .dates import parse_iso
from .index.base import SearchIndex
from .migration import Aliases, MigrationState
from .runner import RunSummary
from .states import FAILURE_STATES, State
from .streams.base import Priority
from .throttle import published

#: failure groups exported; the rest are summed under reason="(other)"
MAX_REASONS = 50


def collect(components: Components, run: RunSummary | None = None) -> CollectorRegistry:
    registry = CollectorRegistry()
    images = Gauge("reingest_images", "Image ids per progress state.", ["state"], registry=registry)
    counts = components.progress.counts()
    for state in State:
        images.labels(state.name).set(counts.get(state, 0))
    depth = Gauge(
        "reingest_stream_depth", "Messages not yet consumed.", ["priority"], registry=registry
    )
    lag = Gauge(
        "reingest_stream_lag_seconds",
        "Age of the oldest unconsumed message.",
        ["priority"],
        registry=registry,
    )
    for priority in Priority:
        stream_lag = components.streams.lag(priority)
        depth.labels(priority.value).set(stream_lag.depth)
        lag.labels(priority.value).set(stream_lag.oldest_age_seconds)
    Gauge(
        "reingest_dead_letters", "Stream messages set aside as unprocessable.", registry=registry
    ).set(components.streams.dead_letter_count())
    _add_migration(registry, components.index)
    failures = Gauge(
        "reingest_failures",
        "Failed ids per state and reason.",
        ["state", "reason"],
        registry=registry,
    )
    for group in components.progress.failure_groups(FAILURE_STATES, examples=0, limit=MAX_REASONS):
        failures.labels(group.state.name, group.reason).set(group.count)
    if (audit := last_report(components.settings.home)) is not None:
        _add_audit(registry, audit)
    _add_throttles(registry, published(components.settings.home))
    if run is not None:
        _add_run(registry, run)
    return registry


def _add_migration(registry: CollectorRegistry, index: SearchIndex) -> None:
    """The migration's state as the aliases tell it, the documents of each aliased index, and
    the end of the rollback window while it is open."""
    aliases = Aliases.read(index)
    state = Gauge(
        "reingest_migration_state",
        "1 for the migration's state (NotRunning, InProgress, Paused, CompletionPreview).",
        ["state"],
        registry=registry,
    )
    for each in MigrationState:
        state.labels(each.value).set(each is aliases.state)
    documents = Gauge(
        "reingest_migration_documents",
        "Documents in the index each alias names (current, migration, historical).",
        ["alias"],
        registry=registry,
    )
    for alias, name in (
        ("current", aliases.current),
        ("migration", aliases.migration),
        ("historical", aliases.historical),
    ):
        if name is not None:
            documents.labels(alias).set(index.using(name).count())
    if aliases.rollback_until and datetime.now(UTC) < aliases.rollback_until:
        Gauge(
            "reingest_migration_rollback_until_timestamp_seconds",
            "End of the rollback window: writes also go to the historical index until then.",
            registry=registry,
        ).set(aliases.rollback_until.timestamp())


def _add_audit(registry: CollectorRegistry, report: dict[str, Any]) -> None:
    """The last audit's counts, so drift can be alerted on."""
    kinds = Gauge(
        "reingest_audit_images",
        "Images the last audit found, by kind (checked, missing, orphans, drifted, unreadable).",
        ["kind"],
        registry=registry,
    )
    for kind in ("checked", "missing", "orphans", "drifted", "unreadable"):
        kinds.labels(kind).set(report.get(kind, 0))
    fields = Gauge(
        "reingest_audit_drifted_fields",
        "Drifted documents per field path in the last audit.",
        ["path"],
        registry=registry,
    )
    for path, count in list((report.get("fields") or {}).items())[:MAX_REASONS]:
        fields.labels(path).set(count)
    if finished := report.get("finishedAt"):
        Gauge(
            "reingest_audit_finished_timestamp_seconds",
            "When the last audit finished (Unix time).",
            registry=registry,
        ).set(parse_iso(finished).timestamp())


def _add_throttles(registry: CollectorRegistry, throttles: list[dict[str, Any]]) -> None:
    """Each running throttle's rate and its last cut, so a slowed reingestion says why."""
    labels = ["role", "worker"]
    rate = Gauge(
        "reingest_throttle_rate",
        "Images per second the throttle lets this loop take (thrall: low priority only).",
        labels,
        registry=registry,
    )
    cuts = Gauge(
        "reingest_throttle_cuts",
        "Times the throttle cut this loop's rate.",
        labels,
        registry=registry,
    )
    last_cut = Gauge(
        "reingest_throttle_last_cut_timestamp_seconds",
        "When the rate was last cut (Unix time), labelled with why: slow-writes, "
        "rejected-writes, high-latency, low-backlog.",
        [*labels, "cause"],
        registry=registry,
    )
    for one in throttles:
        rate.labels(one["role"], one["worker"]).set(one["rate"])
        cuts.labels(one["role"], one["worker"]).set(one["cuts"])
        if one["cutAt"] is not None:
            last_cut.labels(one["role"], one["worker"], one["cause"]).set(one["cutAt"])


def _add_run(registry: CollectorRegistry, run: RunSummary) -> None:
    Gauge(
        "reingest_run_seconds", "How long the current run has been going.", registry=registry
    ).set(run.seconds)
    Gauge(
        "reingest_run_images_per_second",
        "Ids settled (any end state) per second over the current run.",
        registry=registry,
    ).set(run.settled / run.seconds if run.seconds else 0.0)
    Gauge(
        "reingest_run_index_batch_seconds_last",
        "Duration of the last index batch.",
        registry=registry,
    ).set(run.last_index_batch_seconds)
    Gauge(
        "reingest_run_skipped_batches",
        "Index batches skipped because the low-priority stream lagged.",
        registry=registry,
    ).set(len(run.skipped_batches))


def render(registry: CollectorRegistry) -> str:
    return generate_latest(registry).decode()


def write_textfile(path: Path, registry: CollectorRegistry) -> None:
    """Atomic write, as the textfile collector expects."""
    write_to_textfile(str(path), registry)
