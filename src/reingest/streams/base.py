"""Streams interface: the message streams thrall consumes, highest priority first.

Delivery is at-least-once: a received message is leased to its consumer until acked; if the
consumer dies, the lease ends and another consumer receives it again.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum


class Priority(StrEnum):
    #: user actions (uploads, edits): always consumed first
    HIGH = "high"
    #: automation (usages, reingestion): consumed only when high is empty
    LOW = "low"
    #: a migration's copies (Grid's in-process MigrationPriority): only when both are empty
    MIGRATION = "migration"


@dataclass(frozen=True)
class Delivery:
    id: str
    priority: Priority
    payload: bytes
    #: how many times this message has been handed out (1 on first delivery)
    deliveries: int = 1


@dataclass(frozen=True)
class StreamLag:
    """How far consumers are behind: the back-pressure signal of the indexer."""

    depth: int
    oldest_age_seconds: float
    #: why the lag could not be measured (the indexer then waits, as for a lagging stream)
    unknown: str | None = None


@dataclass(frozen=True)
class DeadLetter:
    #: names the dead letter itself (not the delivery it was), unique across priorities:
    #: what ``replay_dead_letters`` takes
    id: str
    priority: Priority
    reason: str
    payload: bytes


class Streams(ABC):
    @abstractmethod
    def publish(self, priority: Priority, payloads: Sequence[bytes]) -> None:
        """Append messages, in order, as one batch."""

    @abstractmethod
    def receive(
        self, priority: Priority, consumer: str, limit: int, lease_seconds: float
    ) -> list[Delivery]:
        """Lease up to ``limit`` messages (oldest first) to ``consumer``."""

    @abstractmethod
    def ack(self, deliveries: Sequence[Delivery]) -> None:
        """Mark messages processed; they are never delivered again."""

    @abstractmethod
    def dead_letter(self, delivery: Delivery, reason: str) -> None:
        """Keep an unprocessable message with its reason, and ack it."""

    @abstractmethod
    def dead_letters(self, limit: int = 100, offset: int = 0) -> list[DeadLetter]:
        """Up to ``limit`` dead letters, oldest first, after skipping ``offset`` of them."""

    @abstractmethod
    def replay_dead_letters(self, ids: Sequence[str]) -> int:
        """Post these dead letters again on the stream each came from, in the order given,
        and drop them from the dead letters; ids that are not (or no longer) dead letters are
        skipped. Returns how many were posted. A dead letter is never dropped without being
        posted; where the backend cannot do both atomically, it posts first (an interrupted or
        concurrent replay may post one twice: at least once, like every message)."""

    @abstractmethod
    def dead_letter_count(self) -> int: ...

    @abstractmethod
    def lag(self, priority: Priority) -> StreamLag:
        """Messages not yet acked, and the age of the oldest of them."""

    def pending(self) -> int:
        """Messages not yet acked on either stream."""
        return sum(self.lag(priority).depth for priority in Priority)

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release connections."""
