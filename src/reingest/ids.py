"""Image id lists: parsing operator-supplied files, and streaming the progress table out."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from io import TextIOBase

from .batching import chunked
from .originals.base import OriginalsStore
from .progress.base import ProgressTable
from .states import State

_VALID_ID = re.compile(r"^[0-9a-f]{40}$")
#: malformed lines reported individually; the rest are only counted
MALFORMED_EXAMPLES = 20
#: an id and its newline
ID_LINE = 41
#: characters read at a time: whole-block checks amortise over 25k lines
BLOCK_CHARS = ID_LINE * 25_000


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
    source: Iterable[str],
    on_read: Callable[[int], None] | None = None,
    on_written: Callable[[int], None] | None = None,
) -> UploadReport:
    """Add every valid id at NotStarted, streamed; harmless to run again.

    ``source`` is a text file (read in large blocks) or any other iterable of lines. ``on_read``
    hears how many lines each block had, ``on_written`` how many ids each write stored."""
    report = UploadReport()
    report.added = progress.add(_valid_ids(source, report, on_read), on_written=on_written)
    return report


def _valid_ids(
    source: Iterable[str], report: UploadReport, on_read: Callable[[int], None] | None
) -> Iterator[str]:
    blocks = _blocks(source) if isinstance(source, TextIOBase) else _line_blocks(source)
    for block in blocks:
        ids = _well_formed_block(block)
        if ids is not None:
            lines = len(ids)
        else:
            pieces = block.split("\n")
            if pieces[-1] == "":
                pieces.pop()
            lines = len(pieces)
            ids = _valid_lines(pieces, report)
        report.lines += lines
        report.valid += len(ids)
        if on_read:
            on_read(lines)
        yield from ids


def _blocks(handle: TextIOBase) -> Iterator[str]:
    """Whole lines, about BLOCK_CHARS at a time; of a line longer than that (never an id) only
    its start is kept, so one huge line costs a block of memory, not its size."""
    while block := handle.read(BLOCK_CHARS):
        if not block.endswith("\n"):
            block += _rest_of_line(handle)
        yield block


def _rest_of_line(handle: TextIOBase) -> str:
    rest = handle.readline(ID_LINE)
    if not rest or rest.endswith("\n"):
        return rest
    while (skipped := handle.readline(BLOCK_CHARS)) and not skipped.endswith("\n"):
        pass
    return rest + "\n"


def _line_blocks(lines: Iterable[str]) -> Iterator[str]:
    for chunk in chunked(lines, BLOCK_CHARS // ID_LINE):
        yield "".join(line if line.endswith("\n") else line + "\n" for line in chunk)


def _well_formed_block(block: str) -> list[str] | None:
    """The ids of a block made only of 40-hex-digit lines, checked with whole-string
    operations (per-line Python work would dominate at 50M lines); None if any line is not
    such an id, and the block takes the line-by-line path instead."""
    if not block.isascii():
        return None
    data = block.encode("ascii").lower()
    lines, remainder = divmod(len(data), ID_LINE)
    if (
        remainder
        or data[ID_LINE - 1 :: ID_LINE] != b"\n" * lines
        or data.count(b"\n") != lines
        or data.translate(None, b"0123456789abcdef\n")
    ):
        return None
    return data.decode("ascii").split()


def _valid_lines(lines: list[str], report: UploadReport) -> list[str]:
    """The lines' ids in canonical form; blank lines skipped, malformed ones reported."""
    valid = []
    for offset, line in enumerate(lines):
        text = line.strip().lower()
        if _VALID_ID.match(text):
            valid.append(text)
        elif text:
            report.malformed += 1
            if len(report.malformed_examples) < MALFORMED_EXAMPLES:
                report.malformed_examples.append((report.lines + offset + 1, line.strip()[:80]))
    return valid


def queue_full_reindex(progress: ProgressTable, originals: OriginalsStore) -> UploadReport:
    """Queue every stored original and put every known id back to NotStarted: a full reindex."""
    report = upload_ids(progress, originals.ids())
    progress.reset(list(State), State.NotStarted)
    return report
