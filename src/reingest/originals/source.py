"""An original's bytes as the header walkers read them: all in memory, or fetched in ranges.

The walkers ask for the bytes each structure needs (a JPEG segment, a PNG chunk header, a TIFF
IFD and the values its entries point at), so an original kept in a store can be read from its
first bytes plus the few places its structure points at (``RangedSource``) rather than whole.
Either way the walkers see the same bytes, so the projection is the same.

A file's size is known before anything past its first bytes is read, so no read goes past its
end whatever its structure claims, and each block is fetched once. A walker that knows it will
ask for the same span again every ``stride`` bytes to the end (a PNG's chunk headers through its
image data) says so, and those reads are predicted: the span at each ``stride`` past it is read
in the same wave as the blocks asked for, up to ``WAVE`` reads at once, which a store far away
makes in parallel (``read_ranges``: one round trip on S3). The walker still reads and checks
every header, so it sees the same bytes whether a prediction hit or not; one that missed (a
chunk of another size) costs a request and its few bytes, and the walker's next ask predicts
anew: with the stride the last predictions hit with if any did (a short chunk among equal ones
does not change it), else with the walker's; ``WAVE - 1`` reads the first time, then at most one
more than twice as many as hit since (chunks of uneven sizes cost a read or two each, not a wave
each).

A request costs more than its bytes where a store is far away (S3: a round trip, in which a
megabyte could have arrived), so each wave is charged the store's ``request_cost`` (once per
``WAVE`` reads) on top of its bytes, and once the charges, with those of the waves the stride
foresees to the end (and one more where it ends), would pass what reading the rest of the
file in one request costs, the rest is read that way (the ski-rental rule: never much more
than twice the cheaper way). So is
the rest of a file whose stride foresees more than ``MAX_FETCHES`` reads (a PNG of tiny chunks),
and after ``MAX_FETCHES`` reads past the window the rest is read whatever the cost: the worst a
hostile file can cost is ``MAX_FETCHES + 2`` requests and twice its size in bytes.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable

#: bytes of an original read first (``REINGEST_ORIGINALS_WINDOW``): where JPEG, PNG and TIFF
#: writers put the metadata
WINDOW = 256 * 1024
#: bytes fetched at least per read past the first window, in blocks aligned on the window's end
BLOCK = 4096
#: reads past the first window before the rest of the file is read whole
MAX_FETCHES = 256
#: reads made at once at most (a store far away makes them in parallel: one round trip)
WAVE = 64

#: ``fetch(ranges)``: the file's bytes ``[start, end)`` for each range, in their order
Fetch = Callable[[list[tuple[int, int]]], list[bytes]]


class Source(ABC):
    """The bytes of one file of ``size`` bytes, read as walkers ask for them."""

    size: int

    @abstractmethod
    def span(self, start: int, end: int, stride: int = 0) -> tuple[int, bytes]:
        """Bytes holding the file's ``[start, end)`` (cut at its end) and the offset of their
        first byte: maybe more either side, so that a walker goes on without asking again.
        ``stride``: the walker will ask again every ``stride`` bytes to the end (0: unknown)."""

    def read(self, start: int, end: int) -> bytes:
        """The file's bytes ``[start, end)``, as slicing the whole file would give them."""
        base, data = self.span(start, end)
        return data[start - base : end - base]

    @abstractmethod
    def rfind(self, sub: bytes, start: int) -> int:
        """The last offset at or after ``start`` where ``sub`` is, as ``bytes.rfind``."""

    @abstractmethod
    def whole(self) -> bytes:
        """Every byte of the file (what decoding its pixels needs)."""


class InMemory(Source):
    """A file already read whole."""

    def __init__(self, data: bytes) -> None:
        self.data, self.size = data, len(data)

    def span(self, start: int, end: int, stride: int = 0) -> tuple[int, bytes]:
        return 0, self.data

    def read(self, start: int, end: int) -> bytes:
        return self.data[start:end]

    def rfind(self, sub: bytes, start: int) -> int:
        return self.data.rfind(sub, start)

    def whole(self) -> bytes:
        return self.data


def as_source(data: bytes | Source) -> Source:
    return data if isinstance(data, Source) else InMemory(data)


def whole(data: bytes | Source) -> bytes:
    """All the bytes of ``data``, read whole if they were not yet."""
    return data.whole() if isinstance(data, Source) else data


class RangedSource(Source):
    """A file of ``size`` bytes whose first bytes (``head``) are read; the rest is fetched
    as walkers ask for it, in waves of reads (``fetch``): blocks of ``block`` bytes, each
    fetched once, and the spans a walker's stride predicts; a wave costing ``request_cost``
    bytes on top of those it brings (see above)."""

    def __init__(
        self, head: bytes, size: int, fetch: Fetch, block: int = BLOCK, request_cost: int = 0
    ) -> None:
        self.size = size
        self._head = head  # the whole file once it has been read whole
        self._origin = len(head)  # where block 0 starts
        self._fetch = fetch
        self._block = block
        self._blocks: dict[int, bytes] = {}
        self._predicted: dict[int, bytes] = {}  # spans read where a stride said asks would be
        self._stride = 0  # the stride of the last predictions made (none yet: 0)
        self._hits = 0  # asks they answered
        self._request_cost = request_cost
        self._charged = 0  # what the waves past the head have cost, requests and bytes
        #: requests made for this file and bytes they brought, the head's included
        self.requests = 1
        self.bytes_read = len(head)

    def span(self, start: int, end: int, stride: int = 0) -> tuple[int, bytes]:
        end = min(end, self.size)
        head = self._head
        if end <= len(head):
            return 0, head
        if start >= end:
            return start, b""
        predicted = self._predicted.get(start, b"")
        if len(predicted) >= end - start:
            self._hits += 1
            return start, predicted
        first, last = self._blocks_of(start, end)
        self._fetch_blocks(first, last, start, end, stride)
        if len(self._head) == self.size:  # read whole meanwhile
            return 0, self._head
        blocks = b"".join([self._blocks[number] for number in range(first, last + 1)])
        origin = self._origin
        if start >= origin:
            return origin + first * self._block, blocks
        return start, head[start:] + blocks  # straddles the head's end

    def _blocks_of(self, start: int, end: int) -> tuple[int, int]:
        """The first and last block holding the bytes ``[start, end)`` past the head."""
        origin, block = self._origin, self._block
        return (max(start, origin) - origin) // block, (end - 1 - origin) // block

    def _fetch_blocks(self, first: int, last: int, start: int, end: int, stride: int) -> None:
        """Fetch the blocks ``first`` to ``last`` not fetched yet, one read per run, with the
        reads of ``[start, end)`` that ``stride`` predicts, in one wave; or the rest of the
        file at once when that costs less (see above)."""
        origin, block, blocks, size = self._origin, self._block, self._blocks, self.size
        runs: list[tuple[int, int]] = []
        number = first
        while number <= last:
            if number in blocks:
                number += 1
                continue
            run = number
            while run < last and run + 1 not in blocks:
                run += 1
            runs.append((origin + number * block, min(origin + (run + 1) * block, size)))
            number = run + 1
        if not runs:
            return
        if stride and self._hits:  # the stride the last predictions hit with goes on
            stride = self._stride
        predicted = self._predictions(start, end, stride, runs[-1][1], len(runs))
        wave = runs + predicted
        self._charged += self._cost(len(wave), sum(stop - at for at, stop in wave))
        # the reads the stride foresees past this wave (at most), in waves of their own, then
        # one where the walk ends (seldom a multiple of the stride away: a short last chunk)
        left = max(0, (size - end) // stride - len(predicted)) if stride else 0
        ahead = self._cost(left, left * (end - start))
        if predicted or left:
            ahead += self._cost(1, block)
        if (
            self.requests + len(wave) + left > MAX_FETCHES + 1
            or self._charged + ahead > self._request_cost + size - origin
        ):
            self._read_whole()
            return
        answers = self._get(wave)
        for (run_start, _), data in zip(runs, answers[: len(runs)], strict=True):
            number = (run_start - origin) // block
            for at in range(0, len(data), block):
                blocks[number + at // block] = data[at : at + block]
        for (at, _), data in zip(predicted, answers[len(runs) :], strict=True):
            self._predicted[at] = data

    def _predictions(
        self, start: int, end: int, stride: int, fetched: int, reads: int
    ) -> list[tuple[int, int]]:
        """The spans ``[start, end)`` shifted by each multiple of ``stride`` that the file
        holds and that neither is read yet nor lies before ``fetched`` (where the wave's
        blocks end), for a wave of ``reads`` reads so far: up to ``WAVE`` reads and what is
        left of ``MAX_FETCHES``, and as far as predictions have hit (see above)."""
        if stride <= 0:
            return []
        trusted = 2 * self._hits + 1 if self._stride else WAVE
        room = min(WAVE - reads, trusted, MAX_FETCHES + 1 - self.requests - reads)
        self._hits, self._stride = 0, stride
        length = end - start
        at = start + max(1, (fetched - end) // stride + 1) * stride  # the first past the blocks
        spans: list[tuple[int, int]] = []
        while len(spans) < room and at + length <= self.size:
            if not self._held(at, at + length):
                spans.append((at, at + length))
            at += stride
        return spans

    def _held(self, start: int, end: int) -> bool:
        """Whether the bytes ``[start, end)`` are read already."""
        if end <= len(self._head) or len(self._predicted.get(start, b"")) >= end - start:
            return True
        first, last = self._blocks_of(start, end)
        return all(number in self._blocks for number in range(first, last + 1))

    def _cost(self, reads: int, size: int) -> int:
        """What ``reads`` reads of ``size`` bytes in all cost: a request per wave, and bytes."""
        return -(-reads // WAVE) * self._request_cost + size

    def _read_whole(self) -> None:
        self._head += self._get([(len(self._head), self.size)])[0]
        self._blocks.clear()
        self._predicted.clear()

    def _get(self, ranges: list[tuple[int, int]]) -> list[bytes]:
        answers = self._fetch(ranges)
        for (start, end), data in zip(ranges, answers, strict=True):
            if len(data) != end - start:  # originals never change: this one did under us
                raise OSError(f"bytes {start}-{end} of the original came back {len(data)} long")
        self.requests += len(ranges)
        self.bytes_read += sum(len(data) for data in answers)
        return answers

    def rfind(self, sub: bytes, start: int) -> int:
        """Searched from the end backwards, in reads that double each time."""
        end, step = self.size, self._block
        while end > start:
            low = max(start, end - step)
            found = self.read(low, end + len(sub) - 1).rfind(sub)
            if found >= 0:
                return low + found
            end, step = low, 2 * step
        return -1

    def whole(self) -> bytes:
        if len(self._head) < self.size:
            self._read_whole()
        return self._head
