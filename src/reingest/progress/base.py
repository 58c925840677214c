"""Progress table interface: one row per image id, moved through the states of ``State``.

Backends implement storage verbs only; every verb that changes rows is a single atomic
operation (a transaction, ``FOR UPDATE SKIP LOCKED``, a condition expression), so two workers
never own the same id and a dead worker's claims expire.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass

from ..states import State


@dataclass(frozen=True)
class ProgressRow:
    id: str
    state: State
    reason: str | None = None
    attempts: int = 0
    owner: str | None = None
    lease_until: float | None = None
    #: version of the projection that was enqueued: ``documents.file_digest`` of its
    #: file-derived content, which the checker looks for in the index
    enqueued_version: str | None = None
    updated_at: float | None = None


@dataclass(frozen=True)
class Claim:
    id: str
    attempts: int
    enqueued_version: str | None


@dataclass(frozen=True)
class Outcome:
    """Where a claimed id goes next, and why."""

    id: str
    state: State
    reason: str | None = None
    #: set when a projection is enqueued; None keeps the stored value
    enqueued_version: str | None = None


@dataclass(frozen=True)
class FailureGroup:
    state: State
    reason: str
    count: int
    examples: list[str]


class ProgressTable(ABC):
    @abstractmethod
    def add(self, ids: Iterable[str], on_written: Callable[[int], None] | None = None) -> int:
        """Insert ids at NotStarted, in batches; ids already known are left as they are.
        Returns how many were new; ``on_written`` hears the size of each batch written."""

    @abstractmethod
    def claim(
        self, from_state: State, to_state: State, owner: str, limit: int, lease_seconds: float
    ) -> list[Claim]:
        """Atomically move up to ``limit`` ids from ``from_state`` to ``to_state``, owned by
        ``owner`` until the lease ends; attempts + 1."""

    @abstractmethod
    def settle(self, owner: str, outcomes: Sequence[Outcome]) -> int:
        """Apply outcomes to ids still claimed by ``owner``; returns how many applied (an id
        whose claim expired and was taken over is left alone)."""

    @abstractmethod
    def expire_claims(self, now: float, max_attempts: int) -> int:
        """Put back every claim whose lease ended (InProgress → NotStarted, Locating →
        Enqueued); ids claimed ``max_attempts`` times go to UnknownError instead."""

    @abstractmethod
    def counts(self) -> dict[State, int]:
        """Ids per state (maintained counters: cheap at any size)."""

    @abstractmethod
    def recount(self) -> dict[State, int]:
        """Ids per state by a full count, to check the maintained counters."""

    def scan(self, batch_size: int = 10_000) -> Iterator[tuple[str, State]]:
        """Every (id, state), streamed in id order, one short read per page."""
        last = ""
        while page := self.scan_page(last, batch_size):
            yield from page
            last = page[-1][0]

    def scan_page(self, after: str, limit: int) -> list[tuple[str, State]]:
        """Up to ``limit`` (id, state) pairs with ids after ``after``, in id order (keyset
        paging for ``scan``; a backend that overrides ``scan`` need not provide it)."""
        raise NotImplementedError

    @abstractmethod
    def get(self, ids: Sequence[str]) -> list[ProgressRow]: ...

    @abstractmethod
    def reset(
        self,
        from_states: Iterable[State],
        to_state: State,
        reason: str | None = None,
        ids: Sequence[str] | None = None,
    ) -> int:
        """Move every id in ``from_states`` (only those with this exact reason, if given; only
        these ``ids``, if given) to ``to_state``, dropping claims and attempts. Returns how
        many moved."""

    @abstractmethod
    def failure_groups(
        self, states: Iterable[State], examples: int = 3, limit: int = 100
    ) -> list[FailureGroup]:
        """Failures grouped by (state, reason), largest first, with a few example ids."""

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release connections."""
