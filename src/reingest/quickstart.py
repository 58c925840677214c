"""The main job on the embedded default: build a sample library if there is none, lose its index,
reingest everything, verify, and report.

Broken originals go straight into the store (as damaged or legacy files would be), since
``ingest`` refuses what the loader cannot read.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field

from .backends import Components
from .ids import queue_full_reindex
from .ingest import ingest_files
from .originals.base import UploadRecord
from .runner import RunSummary, run
from .sample import SampleLibrary, generate_sample_library
from .services.local import LocalDataServices
from .states import State
from .thrall import drain
from .workers import worker_name

SAMPLE_UPLOADER = "quickstart@reingest"
MANIFEST = "sample-manifest.json"


@dataclass
class QuickstartReport:
    built_library: bool
    good: list[str]
    broken: list[str]
    indexed_before_loss: int = 0
    lost: int = 0
    summary: RunSummary | None = None
    unexpected: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.unexpected


def store_sample_library(
    components: Components, sample: SampleLibrary, say: Callable[[str], None] = lambda _: None
) -> tuple[list[str], list[str]]:
    """Good files ingested (stored, projected, published as uploads), broken ones put straight
    into the store, service data loaded. Returns (good ids, broken ids)."""
    services = components.services
    if isinstance(services, LocalDataServices):
        services.load(sample.services.items())
        say(f"loaded data-service records for {len(sample.services)} images")
    report = ingest_files(
        sample.good,
        components.originals,
        components.local_projector,
        components.streams,
        SAMPLE_UPLOADER,
    )
    if report.failed:
        raise RuntimeError(f"sample files failed to ingest: {report.failed[:3]}")
    broken = [
        components.originals.put(path.read_bytes(), UploadRecord(filename=path.name))[0]
        for path in sample.broken
    ]
    return report.stored + report.already_stored, broken


def build_sample_library(
    components: Components, say: Callable[[str], None]
) -> tuple[list[str], list[str]]:
    home = components.settings.home
    sample = generate_sample_library(home / "sample")
    say(f"generated {len(sample.good)} sample originals and {len(sample.broken)} broken files")
    good, broken = store_sample_library(components, sample, say)
    (home / MANIFEST).write_text(json.dumps({"good": good, "broken": broken}))
    return good, broken


def quickstart(
    components: Components,
    say: Callable[[str], None],
    on_tick: Callable[[RunSummary], None] | None = None,
) -> QuickstartReport:
    settings = components.settings
    manifest = settings.home / MANIFEST
    built = not any(True for _ in components.originals.ids())
    if built:
        good, broken = build_sample_library(components, say)
    elif manifest.exists():
        recorded = json.loads(manifest.read_text())
        good, broken = recorded["good"], recorded["broken"]
        say(f"using the existing library in {settings.home}")
    else:
        good, broken = list(components.originals.ids()), []
        say(f"using the existing library in {settings.home} (no sample manifest)")
    report = QuickstartReport(built, good, broken)
    drain(
        components.streams,
        components.index,
        worker_name("thrall"),
        settings.lease_seconds,
        10_000,
        originals=components.originals,
    )
    components.index.refresh()  # count is near-real-time on Elasticsearch
    report.indexed_before_loss = components.index.count()
    say(f"index holds {report.indexed_before_loss} documents")
    report.lost = components.index.clear()
    say(f"simulated data loss: deleted {report.lost} documents from the index")
    uploaded = queue_full_reindex(components.progress, components.originals)
    say(f"queued {uploaded.valid} ids for reingestion")
    report.summary = run(components, until_done=True, on_tick=on_tick)
    report.unexpected = _unexpected(components, good, broken)
    return report


def _unexpected(components: Components, good: list[str], broken: list[str]) -> list[str]:
    """Ids that did not end where they should: good → Verified, broken → KnownError."""
    rows = {row.id: row.state for row in components.progress.get([*good, *broken])}
    wrong = [
        f"{i}: {rows.get(i)} (expected Verified)" for i in good if rows.get(i) != State.Verified
    ]
    wrong += [
        f"{i}: {rows.get(i)} (expected KnownError)"
        for i in broken
        if rows.get(i) != State.KnownError
    ]
    return wrong
