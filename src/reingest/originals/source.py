"""An original's bytes as the header walkers read them: all in memory, or fetched in ranges.

The walkers ask for the bytes each structure needs (a JPEG segment, a PNG chunk header, a TIFF
IFD and the values its entries point at), so an original kept in a store can be read from its
first bytes plus the few places its structure points at (``RangedSource``) rather than whole.
Either way the walkers see the same bytes, so the projection is the same.

A file's size is known before anything past its first bytes is read, so no read goes past its
end whatever its structure claims, and each block is fetched once. A request costs more than
its bytes where a store is far away (S3: a round trip, in which a megabyte could have arrived),
so each fetch is charged the store's ``request_cost`` on top of its bytes, and once the charges
would pass what reading the rest of the file in one request costs, the rest is read that way
(the ski-rental rule: never much more than twice the cheaper way). A walker that knows it will
read again every ``stride`` bytes to the end (a PNG's chunk headers through its image data)
says so, and the charges those reads would add count too, so such a file is read whole at once
from a store where requests are dear, and chunk header by chunk header where they are not. After
``MAX_FETCHES`` fetches the rest is read whatever the cost, so the worst a hostile file can
cost is ``MAX_FETCHES + 2`` requests and twice its size in bytes.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable

#: bytes of an original read first (``REINGEST_ORIGINALS_WINDOW``): where JPEG, PNG and TIFF
#: writers put the metadata
WINDOW = 256 * 1024
#: bytes fetched at least per read past the first window, in blocks aligned on the window's end
BLOCK = 4096
#: fetches past the first window before the rest of the file is read whole
MAX_FETCHES = 256


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
    as walkers ask for it, ``fetch(start, end)`` giving the file's bytes ``[start, end)``,
    in blocks of ``block`` bytes, each fetched once, a request costing ``request_cost`` bytes
    on top of those it brings (see above)."""

    def __init__(
        self,
        head: bytes,
        size: int,
        fetch: Callable[[int, int], bytes],
        block: int = BLOCK,
        request_cost: int = 0,
    ) -> None:
        self.size = size
        self._head = head  # the whole file once it has been read whole
        self._origin = len(head)  # where block 0 starts
        self._fetch = fetch
        self._block = block
        self._blocks: dict[int, bytes] = {}
        self._request_cost = request_cost
        self._charged = 0  # what the fetches past the head have cost, requests and bytes
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
        origin, block = self._origin, self._block
        first, last = (max(start, origin) - origin) // block, (end - 1 - origin) // block
        self._fetch_blocks(first, last, stride)
        if len(self._head) == self.size:  # read whole meanwhile
            return 0, self._head
        blocks = b"".join([self._blocks[number] for number in range(first, last + 1)])
        if start >= origin:
            return origin + first * block, blocks
        return start, head[start:] + blocks  # straddles the head's end

    def _fetch_blocks(self, first: int, last: int, stride: int) -> None:
        """Fetch the blocks ``first`` to ``last`` not fetched yet, one request per run; or
        the rest of the file at once when that costs less (see above)."""
        origin, block, blocks, cost = self._origin, self._block, self._blocks, self._request_cost
        number = first
        while number <= last:
            if number in blocks:
                number += 1
                continue
            run = number
            while run < last and run + 1 not in blocks:
                run += 1
            start, end = origin + number * block, min(origin + (run + 1) * block, self.size)
            self._charged += cost + end - start
            ahead = (self.size - end) // max(stride, block) * (cost + block) if stride else 0
            if self.requests > MAX_FETCHES or self._charged + ahead > cost + self.size - origin:
                self._read_whole()
                return
            data = self._get(start, end)
            for at in range(0, len(data), block):
                blocks[number + at // block] = data[at : at + block]
            number = run + 1

    def _read_whole(self) -> None:
        self._head += self._get(len(self._head), self.size)
        self._blocks.clear()

    def _get(self, start: int, end: int) -> bytes:
        data = self._fetch(start, end)
        if len(data) != end - start:  # originals never change: this one did under us
            raise OSError(f"bytes {start}-{end} of the original came back {len(data)} long")
        self.requests += 1
        self.bytes_read += len(data)
        return data

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
