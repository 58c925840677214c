"""Progress states of an image id, with the numeric ids Grid's tooling and dumps use."""

from __future__ import annotations

from enum import IntEnum


class State(IntEnum):
    #: at rest, waiting for the indexer (also where failed claims are put back)
    NotStarted = 0
    #: claimed by a batch-index run
    InProgress = 1
    #: the loader has no original for this id
    NotFound = 2
    #: projection posted on the low-priority stream; waiting for the checker
    Enqueued = 3
    #: projection failed with a known, permanent error (e.g. a corrupt original)
    KnownError = 4
    #: claimed by a batch-check run
    Locating = 5
    #: present in the index: reingestion complete
    Verified = 6
    #: enqueued, but the checker did not find it in the index
    Inconsistent = 7
    #: projection failed for an unexpected reason
    UnknownError = 8
    #: projection larger than MAX_SIZE; ignored by later batches
    TooBig = 9001

    @classmethod
    def parse(cls, value: str | int) -> State:
        """Accept a numeric id or a (case-insensitive) name, as operators type either."""
        text = str(value).strip()
        for state in cls:
            if text.lower() in (state.name.lower(), str(state.value)):
                return state
        names = ", ".join(f"{s.value}={s.name}" for s in cls)
        raise ValueError(f"unknown state {value!r}; expected one of {names}")


#: states a worker still has to act on; everything else is an end state
ACTIVE_STATES = frozenset({State.NotStarted, State.InProgress, State.Enqueued, State.Locating})
TERMINAL_STATES = frozenset(State) - ACTIVE_STATES
#: claimed states and the state an expired claim goes back to
CLAIM_RETURNS_TO = {State.InProgress: State.NotStarted, State.Locating: State.Enqueued}
#: states the failure report groups by reason
FAILURE_STATES = frozenset(
    {State.NotFound, State.KnownError, State.Inconsistent, State.UnknownError, State.TooBig}
)
