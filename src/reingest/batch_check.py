"""Batch check: confirm that every enqueued projection landed in the index.

A document whose file-derived content is the enqueued projection's (same ``file_digest``) →
Verified: not merely present, but holding what this reingestion derived from the original,
whatever edits landed meanwhile (while a migration runs: present so in the migration index). Missing or different while the streams still hold messages →
back to Enqueued (thrall has not got there yet); once they are drained → Inconsistent. An index
error puts the batch back.
"""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass, field

from . import claim_log, migration
from .config import Settings
from .failures import normalise_reason
from .index.base import SearchIndex
from .index.mirroring import migration_failure
from .progress.base import Claim, Outcome, ProgressTable
from .states import State
from .streams.base import Streams


@dataclass
class CheckReport:
    claimed: list[str] = field(default_factory=list)
    outcomes: Counter[State] = field(default_factory=Counter)
    seconds: float = 0.0

    def to_json(self) -> dict[str, object]:
        return {
            "claimed": self.claimed,
            "outcomes": {state.name: n for state, n in self.outcomes.items()},
            "seconds": round(self.seconds, 3),
        }


def check_batch(
    progress: ProgressTable,
    index: SearchIndex,
    streams: Streams,
    settings: Settings,
    owner: str,
) -> CheckReport:
    started = time.monotonic()
    progress.expire_claims(time.time(), settings.max_attempts)
    claims = progress.claim(
        settings.checker_start_state,
        State.Locating,
        owner,
        settings.batch_size,
        settings.lease_seconds,
    )
    report = CheckReport(claimed=[claim.id for claim in claims])
    claim_log.record(settings.claim_log, owner, State.Locating, report.claimed)
    if not claims:
        return report
    refused: dict[str, str] = {}
    try:
        verified_in = migration.verification_index(index)
        digests, landed = _landed(verified_in, claims)
        # the streams are asked only when something is missing (lag reads can be costly)
        waiting = len(landed) < len(claims) and streams.pending() > 0
        if len(landed) < len(claims) and not waiting:
            # thrall may have applied and acked the last messages between the two reads: with
            # nothing in flight now, a second look at the index is the one to judge by
            digests, landed = _landed(verified_in, claims)
            if verified_in is not index:
                missing = [claim.id for claim in claims if claim.id not in digests]
                refused = _refusals(index, verified_in.target, missing)
    except Exception as error:
        reason = normalise_reason(f"index lookup failed: {type(error).__name__}: {error}")
        outcomes = [Outcome(claim.id, State.Enqueued, reason) for claim in claims]
    else:
        outcomes = []
        for claim in claims:
            if claim.id in landed:
                outcomes.append(Outcome(claim.id, State.Verified))
            elif waiting:
                outcomes.append(Outcome(claim.id, State.Enqueued, "not indexed yet"))
            elif claim.id in refused:
                reason = normalise_reason(f"the migration index refused it: {refused[claim.id]}")
                outcomes.append(Outcome(claim.id, State.Inconsistent, reason))
            elif claim.id not in digests:
                outcomes.append(Outcome(claim.id, State.Inconsistent, "not in the index"))
            else:
                reason = "index holds other file-derived content than the projection enqueued"
                outcomes.append(Outcome(claim.id, State.Inconsistent, reason))
    progress.settle(owner, outcomes)
    report.outcomes.update(outcome.state for outcome in outcomes)
    report.seconds = time.monotonic() - started
    return report


def _landed(index: SearchIndex, claims: list[Claim]) -> tuple[dict[str, str], set[str]]:
    """The file digests of the claimed ids' documents, and which ids hold the enqueued
    projection. A row enqueued without a digest (by an older version, which recorded a date)
    only needs its document to exist."""
    digests = index.file_digests([claim.id for claim in claims])
    landed = {
        claim.id
        for claim in claims
        if claim.id in digests
        and (not _is_digest(claim.enqueued_version) or digests[claim.id] == claim.enqueued_version)
    }
    return digests, landed


def _refusals(current: SearchIndex, migration_index: str, ids: list[str]) -> dict[str, str]:
    """Why the migration index refused these ids' copies, as thrall recorded it on the current
    documents (``esInfo.migration.failures``)."""
    found = current.get_many(ids).items()
    reasons = {image_id: migration_failure(doc, migration_index) for image_id, doc in found}
    return {image_id: reason for image_id, reason in reasons.items() if reason}


def _is_digest(version: str | None) -> bool:
    return version is not None and len(version) == 32 and "-" not in version
