"""Batch check: confirm that every enqueued image reached the index, fresh.

Found and at least as new as the projection that was enqueued → Verified. Missing while the
low-priority stream still holds messages → back to Enqueued (thrall has not got there yet);
missing once the stream is drained → Inconsistent. An index error puts the batch back.
"""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass, field

from . import claim_log
from .config import Settings
from .failures import normalise_reason
from .index.base import SearchIndex
from .index.documents import is_fresh
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
    try:
        versions, fresh = _fresh(index, claims)
        # the streams are asked only when something is missing (lag reads can be costly)
        waiting = len(fresh) < len(claims) and streams.pending() > 0
        if len(fresh) < len(claims) and not waiting:
            # thrall may have applied and acked the last messages between the two reads: with
            # nothing in flight now, a second look at the index is the one to judge by
            versions, fresh = _fresh(index, claims)
    except Exception as error:
        reason = normalise_reason(f"index lookup failed: {type(error).__name__}: {error}")
        outcomes = [Outcome(claim.id, State.Enqueued, reason) for claim in claims]
    else:
        outcomes = []
        for claim in claims:
            if claim.id in fresh:
                outcomes.append(Outcome(claim.id, State.Verified))
            elif waiting:
                outcomes.append(Outcome(claim.id, State.Enqueued, "not indexed yet"))
            elif claim.id not in versions:
                outcomes.append(Outcome(claim.id, State.Inconsistent, "not in the index"))
            else:
                reason = "index holds an older document than the projection enqueued"
                outcomes.append(Outcome(claim.id, State.Inconsistent, reason))
    progress.settle(owner, outcomes)
    report.outcomes.update(outcome.state for outcome in outcomes)
    report.seconds = time.monotonic() - started
    return report


def _fresh(index: SearchIndex, claims: list[Claim]) -> tuple[dict[str, str | None], set[str]]:
    """The indexed versions of the claimed ids, and which of them are at least as new as
    what was enqueued."""
    versions = index.versions([claim.id for claim in claims])
    fresh = {
        claim.id
        for claim in claims
        if claim.id in versions and is_fresh(versions[claim.id], claim.enqueued_version)
    }
    return versions, fresh
