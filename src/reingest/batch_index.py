"""Batch index: claim ids, project each image, post the projections on the low-priority stream
(on the migration stream while a migration runs: the lowest priority).

One run = one batch, like one invocation of the original's scheduled Lambda. A run is skipped
while the stream it posts on lags (so reingestion never piles up in front of user edits), and
while a migration is paused.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from tenacity import Retrying, retry_if_exception_type, stop_after_attempt, wait_random_exponential

from . import claim_log, migration
from .concurrency import limit_for
from .config import Settings
from .dates import now_iso
from .errors import TransientError
from .failures import classify
from .index.base import SearchIndex
from .index.documents import file_digest
from .messages import REINGEST_IMAGE, image_payload
from .model import Image
from .progress.base import Claim, Outcome, ProgressTable
from .projection import ImageProjector
from .states import State
from .streams.base import Priority, Streams


@dataclass
class IndexReport:
    claimed: list[str] = field(default_factory=list)
    outcomes: Counter[State] = field(default_factory=Counter)
    skipped: str | None = None
    seconds: float = 0.0
    #: the most projections the batch had in flight, and the limit it ended with
    in_flight: int = 0
    in_flight_limit: int = 0

    def to_json(self) -> dict[str, object]:
        return {
            "claimed": self.claimed,
            "outcomes": {state.name: n for state, n in self.outcomes.items()},
            "skipped": self.skipped,
            "seconds": round(self.seconds, 3),
            "inFlight": self.in_flight,
            "inFlightLimit": self.in_flight_limit,
        }


def back_pressure(
    streams: Streams, settings: Settings, priority: Priority = Priority.LOW
) -> str | None:
    """Why the indexer should wait, or None when the stream it posts on keeps up."""
    lag = streams.lag(priority)
    if lag.unknown:
        return f"{priority}-priority stream lag unknown: {lag.unknown}"
    age_ms = lag.oldest_age_seconds * 1000
    if age_ms > settings.latency_threshold_ms:
        return (
            f"{priority}-priority stream lags: oldest message {age_ms / 1000:.1f}s old "
            f"(threshold {settings.latency_threshold_ms / 1000:.1f}s), {lag.depth} waiting"
        )
    return None


def index_batch(
    progress: ProgressTable,
    projector: ImageProjector,
    streams: Streams,
    settings: Settings,
    owner: str,
    index: SearchIndex | None = None,
) -> IndexReport:
    """One batch; ``index`` (if given) tells whether a migration runs: its projections go on
    the migration stream, and none are made while it is paused."""
    started = time.monotonic()
    priority = Priority.LOW
    if index is not None:
        aliases = migration.Aliases.read(index)
        if aliases.paused:
            reason = f"the migration to {aliases.migration} is paused (reingest migrate resume)"
            return IndexReport(skipped=reason)
        if aliases.migration:
            priority = Priority.MIGRATION
    report = IndexReport(skipped=back_pressure(streams, settings, priority))
    if report.skipped:
        return report
    progress.expire_claims(time.time(), settings.max_attempts)
    claims = progress.claim(
        settings.start_state,
        State.InProgress,
        owner,
        settings.batch_size,
        settings.lease_seconds,
    )
    report.claimed = [claim.id for claim in claims]
    claim_log.record(settings.claim_log, owner, State.InProgress, report.claimed)
    if claims:
        projected = _project_all(projector, claims, settings)
        limit = limit_for(projector)
        report.in_flight, report.in_flight_limit = limit.peak, limit.limit
        payloads = [one.payload for one in projected if one.payload is not None]
        if payloads:
            streams.publish(priority, payloads)
        outcomes = [one.outcome for one in projected]
        progress.settle(owner, outcomes)
        report.outcomes.update(outcome.state for outcome in outcomes)
    report.seconds = time.monotonic() - started
    return report


class Projected(NamedTuple):
    """One image's projection as batch-index makes it: its outcome, and when it is Enqueued
    the message to post and the image as that message carries it (parsed once, for the
    digest; the audit compares it with the index)."""

    outcome: Outcome
    payload: bytes | None = None
    image: dict[str, Any] | None = None


def project_ids(
    projector: ImageProjector, ids: Sequence[str], settings: Settings
) -> list[Projected]:
    """Project ``ids`` exactly as a batch-index run would (in flight as many as the latency
    needs, retries, MAX_SIZE, every failure an outcome), for callers that hold no claims: the
    audit compares the images a reingest would post with the index. No digests: nothing will
    check that these landed."""
    claims = [Claim(image_id, 0, None) for image_id in ids]
    return _project_all(projector, claims, settings, digests=False)


def _project_all(
    projector: ImageProjector, claims: Sequence[Claim], settings: Settings, digests: bool = True
) -> list[Projected]:
    """As many projections in flight as the measured latency needs (``concurrency``: read
    ahead, and threads only for waits that cannot be read ahead), up to
    ``projection_max_in_flight``; one thread runs inline. The batch's messages are all stamped
    with the time it started projecting."""
    sent_at = now_iso()
    return limit_for(projector).map(
        lambda claim: _project(projector, claim, settings, sent_at, digests),
        claims,
        settings.projection_max_in_flight,
        lambda ahead: projector.prefetch([claim.id for claim in ahead]),
    )


#: failures worth another try; anything else (a corrupt original, no original) is permanent
TRANSIENT = (TransientError, TimeoutError, ConnectionError)


def _project(
    projector: ImageProjector, claim: Claim, settings: Settings, sent_at: str, digest: bool
) -> Projected:
    """Project and serialise one image (and digest it, if asked); every failure becomes this
    image's outcome with a reason, never an exception that would cost its neighbours."""
    try:
        image, image_bytes = _projection(projector, claim.id, settings).to_json_and_bytes()
        payload = image_payload(REINGEST_IMAGE, image_bytes, sent_at)
        if len(payload) > settings.max_size:
            reason = f"projection is {len(payload)} bytes; MAX_SIZE is {settings.max_size}"
            return Projected(Outcome(claim.id, State.TooBig, reason))
        # what the checker will look for in the index: this projection's file-derived content
        # (the object the message's JSON was written from, so the one thrall will read)
        enqueued = Outcome(claim.id, State.Enqueued, None, file_digest(image) if digest else None)
        return Projected(enqueued, payload, image)
    except Exception as error:
        state, reason = classify(error)
        return Projected(Outcome(claim.id, state, reason))


def _projection(projector: ImageProjector, image_id: str, settings: Settings) -> Image:
    """The projection; transient failures are tried again with capped, jittered exponential
    backoff (the rare path pays for the retry machinery)."""
    try:
        return projector.project(image_id)
    except TRANSIENT:
        retrying = Retrying(
            retry=retry_if_exception_type(TRANSIENT),
            stop=stop_after_attempt(settings.projection_tries - 1),
            wait=wait_random_exponential(
                multiplier=0.1, max=settings.projection_backoff_cap_seconds
            ),
            reraise=True,
        )
        return retrying(projector.project, image_id)
