"""Posting Grid UpdateMessages onto the streams by hand: ``reingest publish`` (a file of
messages, one JSON object per line: how an operator feeds thrall or replays messages kept
elsewhere) and the replay of our own dead letters once whatever failed them is fixed.

Neither validates a message beyond "a JSON object with a string ``subject``": thrall decides,
and dead-letters what it cannot apply with its reason, which is the point of a replay.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from .streams.base import DeadLetter, Priority, Streams

#: messages posted per publish call (and lines held in memory at most)
BATCH = 500
#: dead letters read (payloads included) per page while replaying
REPLAY_PAGE = 100
#: malformed lines reported individually; the rest are only counted
MALFORMED_EXAMPLES = 20
UTF8_BOM = b"\xef\xbb\xbf"


@dataclass
class PublishReport:
    published: int = 0
    malformed: int = 0
    #: (line number, what is wrong with it)
    malformed_examples: list[tuple[int, str]] = field(default_factory=list)


def publish_lines(
    streams: Streams,
    priority: Priority,
    lines: Iterable[bytes],
    on_published: Callable[[int], None] | None = None,
    batch: int = BATCH,
) -> PublishReport:
    """Post every line that is a message, in order, ``batch`` at a time, re-serialised
    compactly; blank lines are skipped, malformed ones counted with their line numbers."""
    report = PublishReport()
    pending: list[bytes] = []

    def flush() -> None:
        if pending:
            streams.publish(priority, pending)
            report.published += len(pending)
            if on_published is not None:
                on_published(len(pending))
            pending.clear()

    for number, raw in enumerate(lines, start=1):
        line = raw.removeprefix(UTF8_BOM) if number == 1 else raw
        if not line.strip():
            continue
        payload = _message(line)
        if isinstance(payload, str):
            report.malformed += 1
            if len(report.malformed_examples) < MALFORMED_EXAMPLES:
                report.malformed_examples.append((number, payload))
            continue
        pending.append(payload)
        if len(pending) >= batch:
            flush()
    flush()
    return report


def _message(line: bytes) -> bytes | str:
    """The message's compact JSON, or what is wrong with the line."""
    try:
        data = json.loads(line)
    except ValueError as error:  # UnicodeDecodeError included
        return f"not JSON: {error}"
    if not isinstance(data, dict):
        return f"not a JSON object but {type(data).__name__}"
    if not isinstance(data.get("subject"), str):
        return "no string subject"
    return json.dumps(data, separators=(",", ":"), ensure_ascii=False).encode()


def replay_dead_letters(
    streams: Streams,
    *,
    reason: str | None = None,
    ids: Iterable[str] = (),
    limit: int | None = None,
    on_replayed: Callable[[int], None] | None = None,
) -> int:
    """Post dead letters again on the stream each came from (oldest first) and drop them from
    the dead letters: all of them, or those with exactly this ``reason`` and/or among ``ids``,
    at most ``limit``. Returns how many were posted.

    Only the dead letters there when it starts are looked at, so a replayed message that
    thrall dead-letters again meanwhile is not replayed again by the same run. Memory holds one
    page. At least once: see ``Streams.replay_dead_letters``."""
    chosen_ids = set(ids)

    def wanted(letter: DeadLetter) -> bool:
        return (reason is None or letter.reason == reason) and (
            not chosen_ids or letter.id in chosen_ids
        )

    to_examine = streams.dead_letter_count()
    examined = offset = replayed = 0
    while examined < to_examine and (limit is None or replayed < limit):
        page = streams.dead_letters(min(REPLAY_PAGE, to_examine - examined), offset)
        if not page:
            break
        examined += len(page)
        chosen = [letter.id for letter in page if wanted(letter)]
        if limit is not None:
            chosen = chosen[: limit - replayed]
        posted = streams.replay_dead_letters(chosen) if chosen else 0
        replayed += posted
        offset += len(page) - len(chosen)  # the chosen ones have left the list
        if on_replayed is not None and posted:
            on_replayed(posted)
    return replayed
