"""Image id lists: parsing operator-supplied files, and streaming the progress table out."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

from .batching import chunked
from .originals.base import OriginalsStore
from .progress.base import ProgressTable
from .states import State

_VALID_ID = re.compile(r"^[0-9a-f]{40}$")
#: malformed lines reported individually; the rest are only counted
MALFORMED_EXAMPLES = 20


def normalise_id(text: str) -> str | None:
    """A Grid image id (40 hex digits, any case) in canonical lower case, or None."""
    candidate = text.strip().lower()
    return candidate if _VALID_ID.match(candidate) else None


@dataclass
class UploadReport:
    lines: int = 0
    valid: int = 0
    added: int = 0
    malformed: int = 0
    malformed_examples: list[tuple[int, str]] = field(default_factory=list)

    @property
    def already_known(self) -> int:
        """Valid ids that were repeats within the file or already in the table."""
        return self.valid - self.added


def upload_ids(
    progress: ProgressTable,
    lines: Iterable[str],
    batch_size: int = 250_000,
    on_batch: Callable[[int], None] | None = None,
) -> UploadReport:
    """Add every valid id at NotStarted, streaming in batches; harmless to run again."""
    report = UploadReport()
    for chunk in chunked(lines, batch_size):
        ids = _valid_ids(chunk, report)
        report.lines += len(chunk)
        report.valid += len(ids)
        if ids:
            report.added += progress.add(ids)
        if on_batch:
            on_batch(len(ids))
    return report


def _valid_ids(chunk: Sequence[str], report: UploadReport) -> list[str]:
    """The chunk's ids in canonical form; blank lines skipped, malformed ones reported.
    One comprehension over the chunk: per-line function calls dominate at 50M lines."""
    texts = [line.strip().lower() for line in chunk]
    valid = [text for text in texts if _VALID_ID.match(text)]
    blanks = texts.count("")
    if len(valid) + blanks < len(texts):
        for offset, text in enumerate(texts):
            if text and not _VALID_ID.match(text):
                report.malformed += 1
                if len(report.malformed_examples) < MALFORMED_EXAMPLES:
                    report.malformed_examples.append(
                        (report.lines + offset + 1, chunk[offset].strip()[:80])
                    )
    return valid


def queue_full_reindex(progress: ProgressTable, originals: OriginalsStore) -> UploadReport:
    """Queue every stored original and put every known id back to NotStarted: a full reindex."""
    report = upload_ids(progress, originals.ids())
    progress.reset(list(State), State.NotStarted)
    return report
