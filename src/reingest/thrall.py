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
from .index.base import ImageUpdate, SearchIndex
from .messages import DELETE_IMAGE, IMAGE_SUBJECTS, UpdateMessage, decode
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
        if cycle.idle:
            break
        applied += cycle.applied
        dead += cycle.dead
    return applied, dead


def _apply(streams: Streams, index: SearchIndex, deliveries: Sequence[Delivery]) -> tuple[int, int]:
    images: list[tuple[Delivery, UpdateMessage]] = []
    done: list[Delivery] = []
    dead = 0
    for delivery in deliveries:
        try:
            message = decode(delivery.payload)
        except MessageDecodeError as error:
            streams.dead_letter(delivery, normalise_reason(str(error)))
            dead += 1
            continue
        if message.subject in IMAGE_SUBJECTS:
            images.append((delivery, message))
        elif message.subject == DELETE_IMAGE:
            index.delete(str(message.id))
            done.append(delivery)
        else:
            streams.dead_letter(delivery, f"no processor for subject {message.subject!r}")
            dead += 1
    if images:
        applied, failed = _apply_images(index, images)
        done.extend(applied)
        for delivery, reason in failed:
            streams.dead_letter(delivery, reason)
        dead += len(failed)
    streams.ack(done)
    return len(done), dead


def _apply_images(
    index: SearchIndex, images: Sequence[tuple[Delivery, UpdateMessage]]
) -> tuple[list[Delivery], list[tuple[Delivery, str]]]:
    """Apply the batch at once; if that fails, one by one, so one bad document is set aside
    without holding back the rest. If every single one fails the index itself is unwell: raise,
    and the unacked messages come back when their lease ends."""
    updates = [
        (delivery, ImageUpdate(message.image.to_json(), message.lastModified))
        for delivery, message in images
        if message.image is not None
    ]
    try:
        index.apply_images([update for _delivery, update in updates])
        return [delivery for delivery, _update in updates], []
    except Exception:
        if len(updates) == 1:
            raise
    applied: list[Delivery] = []
    failed: list[tuple[Delivery, str]] = []
    last_error: Exception | None = None
    for delivery, update in updates:
        try:
            index.apply_images([update])
            applied.append(delivery)
        except Exception as error:
            last_error = error
            reason = f"index rejected the document: {type(error).__name__}: {error}"
            failed.append((delivery, normalise_reason(reason)))
    if not applied and last_error is not None:
        raise last_error
    return applied, failed
