"""Thrall: consumes the streams and writes the search index.

Each cycle takes a batch from the high-priority stream, and from the low-priority stream only
when high is empty, so a user's edit waits at most one cycle behind reingestion traffic.
A message that cannot be decoded or applied is dead-lettered with its reason, never dropped.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from .errors import MessageDecodeError
from .failures import normalise_reason
from .index.base import SearchIndex
from .index.documents import DocumentUpdate
from .messages import DELETE_IMAGE, IMAGE_SUBJECTS, USER_METADATA, UpdateMessage, decode
from .streams.base import Delivery, Priority, Streams

DEFAULT_BATCH = 200


@dataclass(frozen=True)
class Cycle:
    priority: Priority | None
    applied: int = 0
    dead: int = 0

    @property
    def idle(self) -> bool:
        return self.priority is None


def consume_once(
    streams: Streams,
    index: SearchIndex,
    consumer: str,
    lease_seconds: float,
    batch: int = DEFAULT_BATCH,
) -> Cycle:
    for priority in (Priority.HIGH, Priority.LOW):
        deliveries = streams.receive(priority, consumer, batch, lease_seconds)
        if deliveries:
            applied, dead = _apply(streams, index, deliveries)
            return Cycle(priority, applied, dead)
    return Cycle(None)


def drain(
    streams: Streams, index: SearchIndex, consumer: str, lease_seconds: float, max_cycles: int
) -> tuple[int, int]:
    """Consume until both streams are empty (or ``max_cycles``); returns (applied, dead)."""
    applied = dead = 0
    for _ in range(max_cycles):
        cycle = consume_once(streams, index, consumer, lease_seconds)
        applied += cycle.applied
        dead += cycle.dead
        # a short batch from the low stream means both were empty just now: no need to ask again
        if cycle.idle or (
            cycle.priority == Priority.LOW and cycle.applied + cycle.dead < DEFAULT_BATCH
        ):
            break
    return applied, dead


def _apply(streams: Streams, index: SearchIndex, deliveries: Sequence[Delivery]) -> tuple[int, int]:
    updates: list[tuple[Delivery, DocumentUpdate]] = []
    done: list[Delivery] = []
    dead = 0
    for delivery in deliveries:
        try:
            message = decode(delivery.payload)
        except MessageDecodeError as error:
            streams.dead_letter(delivery, normalise_reason(str(error)))
            dead += 1
            continue
        if message.subject == DELETE_IMAGE:
            index.delete(str(message.id))
            done.append(delivery)
            continue
        update = document_update(message)
        if update is None:
            streams.dead_letter(delivery, f"no processor for subject {message.subject!r}")
            dead += 1
        else:
            updates.append((delivery, update))
    if updates:
        applied, failed = _apply_updates(index, updates)
        done.extend(applied)
        for delivery, reason in failed:
            streams.dead_letter(delivery, reason)
        dead += len(failed)
    streams.ack(done)
    return len(done), dead


def document_update(message: UpdateMessage) -> DocumentUpdate | None:
    """The index change a message asks for; None for subjects thrall has no processor for."""
    image = message.image
    if message.subject in IMAGE_SUBJECTS and image is not None:
        return DocumentUpdate.image(image, message.lastModified)
    if message.subject == USER_METADATA and message.id and message.edits is not None:
        return DocumentUpdate.user_metadata(
            message.id, message.edits.to_json(), message.lastModified
        )
    return None


def _apply_updates(
    index: SearchIndex, updates: Sequence[tuple[Delivery, DocumentUpdate]]
) -> tuple[list[Delivery], list[tuple[Delivery, str]]]:
    """Apply the batch at once; if that fails, one by one, so one bad document is set aside
    without holding back the rest. If every single one fails the index itself is unwell: raise,
    and the unacked messages come back when their lease ends."""
    try:
        index.apply([update for _delivery, update in updates])
        return [delivery for delivery, _update in updates], []
    except Exception:
        if len(updates) == 1:
            raise
    applied: list[Delivery] = []
    failed: list[tuple[Delivery, str]] = []
    last_error: Exception | None = None
    for delivery, update in updates:
        try:
            index.apply([update])
            applied.append(delivery)
        except Exception as error:
            last_error = error
            reason = f"index rejected the document: {type(error).__name__}: {error}"
            failed.append((delivery, normalise_reason(reason)))
    if not applied and last_error is not None:
        raise last_error
    return applied, failed
