"""A minimal TIFF/EXIF IFD reader: the raw typed values metadata-extractor describes.

Pillow's parsed EXIF loses the TIFF field types and the exact rational terms, both of which
change the descriptions Grid stores ("1/1600 sec", "2.30"), so IFDs are read here directly.
"""

from __future__ import annotations

import math
import struct

from reingest.errors import CorruptFile
from reingest.originals.source import Source, as_source

#: TIFF field type → (struct code per value, byte size per value)
_TYPES: dict[int, tuple[str, int]] = {
    1: ("B", 1),  # BYTE
    2: ("s", 1),  # ASCII
    3: ("H", 2),  # SHORT
    4: ("I", 4),  # LONG
    5: ("II", 8),  # RATIONAL
    6: ("b", 1),  # SBYTE
    7: ("s", 1),  # UNDEFINED
    8: ("h", 2),  # SSHORT
    9: ("i", 4),  # SLONG
    10: ("ii", 8),  # SRATIONAL
    11: ("f", 4),  # FLOAT
    12: ("d", 8),  # DOUBLE
    13: ("I", 4),  # IFD
}
_SIZES = {typ: size for typ, (_, size) in _TYPES.items()}
ASCII, UNDEFINED = 2, 7
SHORT, LONG = 3, 4
_SINGLE = frozenset({SHORT, LONG})
BYTES_TYPES = frozenset({ASCII, UNDEFINED})  # kept as raw bytes
MAX_ENTRIES = 1024
_INTEGER_TYPES = frozenset({1, 3, 4, 6, 8, 9, 13})
_RATIONAL_TYPES = frozenset({5, 10})


class Rational:
    """A TIFF rational kept with its original terms (metadata-extractor prints them raw);
    a slotted class, as EXIF blocks make many and a frozen dataclass is slow to build."""

    __slots__ = ("den", "num")

    def __init__(self, num: int, den: int) -> None:
        self.num, self.den = num, den

    def __float__(self) -> float:
        return self.num / self.den if self.den else 0.0

    def __str__(self) -> str:
        return f"{self.num}/{self.den}"

    @property
    def is_integer(self) -> bool:
        if self.den == 0:
            return self.num == 0
        return self.num % self.den == 0

    def simple(self) -> str:
        """metadata-extractor's ``Rational.toSimpleString(true)``."""
        num, den = self.num, self.den
        if den == 0 and num != 0:
            return str(self)
        if self.is_integer:
            return str(num // den if den else 0)
        if num != 1 and num != 0 and den % num == 0:
            return Rational(1, den // num).simple()
        divisor = math.gcd(num, den) or 1
        reduced = Rational(num // divisor, den // divisor)
        as_double = _java_double(float(reduced))
        return as_double if len(as_double) < 5 else str(reduced)

    def reciprocal(self) -> Rational:
        return Rational(self.den, self.num)


def _java_double(value: float) -> str:
    """``Double.toString`` for the short values where metadata-extractor uses it."""
    text = repr(value)
    return text if "e" not in text else text.replace("e", "E")


Value = tuple[int, ...] | tuple[float, ...] | tuple[Rational, ...] | bytes


class ValueTooLarge(ValueError):
    """A tag value the file's decoding budget cannot afford: that value is dropped."""


#: what big tag values may cost per file once decoded: their bytes for text and byte values,
#: this much per number (a Python int or Rational in a tuple), so tags pointing at one big
#: region cannot cost gigabytes. Values up to SMALL_VALUE cost nothing (the few hundred tags a
#: file can name stay small), nor do those described by their first elements alone.
MAX_DECODED_BYTES = 16 * 1024 * 1024
SMALL_VALUE = 64 * 1024
_NUMBER_COST = 32
_INT_MAX, _INT_MIN = 2**31 - 1, -(2**31)


def java_int(value: float) -> int:
    """Java's ``(int)`` cast of a double: NaN is 0, out-of-range values saturate."""
    if value != value:  # NaN
        return 0
    if value >= _INT_MAX:
        return _INT_MAX
    return _INT_MIN if value <= _INT_MIN else int(value)


class Entry:
    """One IFD entry; its bytes are sliced and decoded only when a description asks for them
    (strip/tile offset arrays of big TIFFs are never decoded), except a single SHORT or LONG,
    which the IFD reader decodes from the entry itself and passes in as ``value``. A full
    decode is charged to the file's budget (``Tiff.budget``) and raises ValueTooLarge past it."""

    __slots__ = ("_start", "_tiff", "_value", "count", "tag", "type")

    def __init__(
        self, tag: int, typ: int, count: int, tiff: Tiff, start: int, value: Value | None = None
    ) -> None:
        self.tag, self.type, self.count = tag, typ, count
        self._tiff, self._start = tiff, start
        self._value = value

    @property
    def raw(self) -> bytes:
        return self._tiff.read(self._start, self._start + _SIZES[self.type] * self.count)

    @property
    def value(self) -> Value:
        value = self._value
        if value is None:
            value = self._value = self._decode()
        return value

    def _decode(self) -> Value:
        typ, tiff = self.type, self._tiff
        cost = self.count * (1 if typ in BYTES_TYPES else _NUMBER_COST)
        if cost > SMALL_VALUE:
            if cost > tiff.budget:
                raise ValueTooLarge(
                    f"its {self.count} values exceed the file's remaining {tiff.budget} of "
                    f"{MAX_DECODED_BYTES} bytes for big tag values"
                )
            tiff.budget -= cost
        return self.raw if typ in BYTES_TYPES else self._unpack(self.count)

    def _unpack(self, count: int) -> Value:
        code, size = _TYPES[self.type]
        values = struct.unpack_from(
            f"{self._tiff.order}{count * len(code)}{code[0]}",
            self._tiff.read(self._start, self._start + count * size),
        )
        if len(code) == 2:
            return tuple(map(Rational, values[::2], values[1::2]))
        return values

    def head(self, count: int) -> Value:
        """The first ``count`` values (fewer if the entry has fewer), decoded on their own: a
        description that reads only those never pays for the rest, nor charges the budget."""
        if self._value is not None or self.count <= count:
            return self.value[:count]
        if self.type in BYTES_TYPES:
            return self._tiff.read(self._start, self._start + count)
        return self._unpack(count)

    @property
    def ints(self) -> tuple[int, ...]:
        """Integer view (bytes as unsigned octets), like metadata-extractor's getIntArray."""
        return self._as_ints(self.value)

    def head_ints(self, count: int) -> tuple[int, ...]:
        """The integer view of the first ``count`` values."""
        return self._as_ints(self.head(count))

    def _as_ints(self, value: Value) -> tuple[int, ...]:
        if isinstance(value, bytes):
            return tuple(value)
        if self.type in _INTEGER_TYPES:
            return value  # type: ignore[return-value]
        return tuple(java_int(float(v)) for v in value)

    @property
    def first_int(self) -> int | None:
        if self.count == 0:
            return None
        if self.type in _INTEGER_TYPES and self.count == 1:
            return self.value[0]  # type: ignore[return-value]
        ints = self.head_ints(1)
        return ints[0] if ints else None

    def head_rationals(self, count: int) -> tuple[Rational, ...]:
        """The first ``count`` values of a RATIONAL or SRATIONAL entry, else ()."""
        if self.type in _RATIONAL_TYPES:
            return self.head(count)  # type: ignore[return-value]
        return ()


class Tiff:
    """A TIFF structure inside ``data`` whose ``II*``/``MM*`` header starts at ``base``; its
    IFDs and values are read where they are, so a ranged source fetches only those."""

    def __init__(self, data: bytes | Source, base: int = 0) -> None:
        source = as_source(data)
        self.read = source.read
        self.size = source.size
        head = self.read(base, base + 8)
        if len(head) < 8 or head[:4] not in (b"II*\x00", b"MM\x00*"):
            raise CorruptFile("Corrupt TIFF header")
        self.base = base
        self.order = "<" if head[:2] == b"II" else ">"
        self._count = struct.Struct(self.order + "H")
        self._entry = struct.Struct(self.order + "HHII")
        self.ifd0_offset: int = struct.unpack_from(self.order + "I", head, 4)[0]
        self._ifds: dict[int, dict[int, Entry]] = {}
        #: bytes of tag values still allowed to be decoded (see Entry)
        self.budget = MAX_DECODED_BYTES

    def read_ifd(self, offset: int) -> dict[int, Entry]:
        """Entries of the IFD at ``offset`` (relative to the header), first one per tag;
        read once per offset."""
        cached = self._ifds.get(offset)
        if cached is None:
            cached = self._ifds[offset] = self._read_ifd(offset)
        return cached

    def _read_ifd(self, offset: int) -> dict[int, Entry]:
        base, order, size_of_data = self.base, self.order, self.size
        start = base + offset
        if offset <= 0 or start + 2 > size_of_data:
            raise CorruptFile("TIFF IFD offset out of range")
        (count,) = self._count.unpack(self.read(start, start + 2))
        if count > MAX_ENTRIES:
            raise CorruptFile(f"TIFF IFD claims {count} entries")
        count = min(count, (size_of_data - start - 2) // 12)
        result: dict[int, Entry] = {}
        first = start + 2
        entries = self._entry.iter_unpack(self.read(first, first + 12 * count))  # one read, not n
        sizes = _SIZES
        short_shift = 0 if order == "<" else 16  # a SHORT is the field's first two bytes
        inline = first - 4  # where the current entry's value field starts
        for tag, typ, n, pointer in entries:
            inline += 12
            size = sizes.get(typ)
            if size is None or tag in result:
                continue
            length = size * n
            if length > 4:
                where = base + pointer
                if where + length <= size_of_data:
                    result[tag] = Entry(tag, typ, n, self, where)
            elif n == 1 and typ in _SINGLE:  # the commonest entry: decoded right here
                value = pointer if typ == LONG else (pointer >> short_shift) & 0xFFFF
                result[tag] = Entry(tag, typ, 1, self, inline, (value,))
            else:  # the value sits in the entry itself
                result[tag] = Entry(tag, typ, n, self, inline)
        return result
