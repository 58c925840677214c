"""Thrall: consumes the streams and writes the search index.

Each cycle takes a batch from the high-priority stream, from the low-priority stream only when
high is empty, and from a migration's stream only when both are, so a user's edit waits at most
one cycle behind reingestion traffic. While a migration runs, every write is mirrored into its
index (``migration.write``).
Every subject of Grid's thrall is translated (``messages.translate``) and applied by its rule
(``index.documents.RULES``), the messages of one image in the order they were published. A
message that cannot be decoded, translated or applied is dead-lettered with its reason, never
dropped. An image that a delete-image removed from the index loses its original and thumbnail
too, as in Grid. A throttle (``throttle.py``), if given, paces every stream but the high one.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass

from . import migration
from .errors import DocumentRejected, MessageDecodeError
from .failures import normalise_reason
from .index.base import SearchIndex
from .index.documents import DocumentUpdate
from .messages import decode, translate
from .originals.base import OriginalsStore
from .streams.base import Delivery, Priority, Streams
from .throttle import Throttle

DEFAULT_BATCH = 200
LOWEST = list(Priority)[-1]


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
    originals: OriginalsStore | None = None,
    throttle: Throttle | None = None,
) -> Cycle:
    """One batch from the first stream that has messages; ``originals`` (if given) loses the
    files of the images this batch deleted. ``throttle`` (if given) says how many messages
    of the streams below high may be taken now (none during its pauses) and hears how long
    each batch took; the high stream is never held back."""
    for priority in Priority:
        limit = (
            batch if throttle is None or priority is Priority.HIGH else throttle.allowance(batch)
        )
        deliveries = streams.receive(priority, consumer, limit, lease_seconds) if limit else []
        if deliveries:
            started = time.monotonic()
            applied, dead = _apply(streams, index, deliveries, originals)
            if throttle is not None:
                throttle.applied(priority, len(deliveries), started)
            return Cycle(priority, applied, dead)
    return Cycle(None)


def drain(
    streams: Streams,
    index: SearchIndex,
    consumer: str,
    lease_seconds: float,
    max_cycles: int,
    originals: OriginalsStore | None = None,
    throttle: Throttle | None = None,
) -> tuple[int, int]:
    """Consume until every stream is empty, the throttle pauses the streams below high, or
    ``max_cycles``; returns (applied, dead)."""
    applied = dead = 0
    for _ in range(max_cycles):
        cycle = consume_once(
            streams, index, consumer, lease_seconds, originals=originals, throttle=throttle
        )
        applied += cycle.applied
        dead += cycle.dead
        # a short batch from the last stream means all were empty just now: no need to ask again
        if cycle.idle or (cycle.priority == LOWEST and cycle.applied + cycle.dead < DEFAULT_BATCH):
            break
    return applied, dead


def _apply(
    streams: Streams,
    index: SearchIndex,
    deliveries: Sequence[Delivery],
    originals: OriginalsStore | None,
) -> tuple[int, int]:
    updates: list[tuple[Delivery, DocumentUpdate]] = []
    dead = 0
    for delivery in deliveries:
        try:
            updates.append((delivery, translate(decode(delivery.payload))))
        except Exception as error:  # a message must never stop thrall: it costs itself only
            if isinstance(error, MessageDecodeError):
                reason = str(error)
            else:
                reason = f"cannot decode: {type(error).__name__}: {error}"
            streams.dead_letter(delivery, normalise_reason(reason))
            dead += 1
    done: list[Delivery] = []
    if updates:
        done, failed, deleted = _apply_updates(index, updates)
        for delivery, reason in failed:
            streams.dead_letter(delivery, reason)
        dead += len(failed)
        if originals is not None:
            for image_id in sorted(deleted):
                originals.delete(image_id)
    streams.ack(done)
    return len(done), dead


def _apply_updates(
    index: SearchIndex, updates: Sequence[tuple[Delivery, DocumentUpdate]]
) -> tuple[list[Delivery], list[tuple[Delivery, str]], set[str]]:
    """Apply the batch at once; if that fails, one by one, so one bad document is set aside
    without holding back the rest. If every single one fails the index itself is unwell: raise,
    and the unacked messages come back when their lease ends. Returns (applied, failed with
    reasons, ids whose document was deleted)."""
    try:
        removed = migration.write(index, [update for _delivery, update in updates])
        return [delivery for delivery, _update in updates], [], removed
    except DocumentRejected:
        pass  # one of them: found below
    except Exception:
        if len(updates) == 1:
            raise
    applied: list[Delivery] = []
    failed: list[tuple[Delivery, str]] = []
    deleted: set[str] = set()
    index_error: Exception | None = None
    for delivery, update in updates:
        try:
            deleted |= migration.write(index, [update])
            applied.append(delivery)
        except DocumentRejected as error:
            failed.append((delivery, normalise_reason(f"index rejected the update: {error}")))
        except Exception as error:
            index_error = error
            reason = f"index rejected the document: {type(error).__name__}: {error}"
            failed.append((delivery, normalise_reason(reason)))
    if not applied and index_error is not None:
        raise index_error
    # an image message later in the batch may have put a deleted image back
    return applied, failed, deleted - index.get_many(sorted(deleted)).keys()
