"""A minimal TIFF/EXIF IFD reader: the raw typed values metadata-extractor describes.

Pillow's parsed EXIF loses the TIFF field types and the exact rational terms, both of which
change the descriptions Grid stores ("1/1600 sec", "2.30"), so IFDs are read here directly.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from reingest.errors import CorruptFile

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
ASCII, UNDEFINED = 2, 7
BYTES_TYPES = frozenset({ASCII, UNDEFINED})  # kept as raw bytes
MAX_ENTRIES = 1024


@dataclass(frozen=True)
class Rational:
    """A TIFF rational kept with its original terms (metadata-extractor prints them raw)."""

    num: int
    den: int

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
        divisor = _gcd(num, den)
        reduced = Rational(num // divisor, den // divisor)
        as_double = _java_double(float(reduced))
        return as_double if len(as_double) < 5 else str(reduced)

    def reciprocal(self) -> Rational:
        return Rational(self.den, self.num)


def _gcd(a: int, b: int) -> int:
    while b:
        a, b = b, a % b
    return abs(a) or 1


def _java_double(value: float) -> str:
    """``Double.toString`` for the short values where metadata-extractor uses it."""
    text = repr(value)
    return text if "e" not in text else text.replace("e", "E")


Value = tuple[int, ...] | tuple[float, ...] | tuple[Rational, ...] | bytes


@dataclass(frozen=True)
class Entry:
    """One IFD entry with its values decoded."""

    tag: int
    type: int
    value: Value
    raw: bytes

    @property
    def ints(self) -> tuple[int, ...]:
        """Integer view (bytes as unsigned octets), like metadata-extractor's getIntArray."""
        if isinstance(self.value, bytes):
            return tuple(self.value)
        return tuple(int(float(v)) for v in self.value)

    @property
    def first_int(self) -> int | None:
        ints = self.ints
        return ints[0] if ints else None

    @property
    def rationals(self) -> tuple[Rational, ...]:
        if isinstance(self.value, bytes):
            return ()
        return tuple(v for v in self.value if isinstance(v, Rational))


class Tiff:
    """A TIFF structure inside ``data`` whose ``II*``/``MM*`` header starts at ``base``."""

    def __init__(self, data: bytes, base: int = 0) -> None:
        head = data[base : base + 8]
        if len(head) < 8 or head[:4] not in (b"II*\x00", b"MM\x00*"):
            raise CorruptFile("Corrupt TIFF header")
        self.data = data
        self.base = base
        self.order = "<" if head[:2] == b"II" else ">"
        self.ifd0_offset: int = struct.unpack(self.order + "I", head[4:8])[0]

    def read_ifd(self, offset: int) -> dict[int, Entry]:
        """Entries of the IFD at ``offset`` (relative to the header), first one per tag."""
        start = self.base + offset
        if offset <= 0 or start + 2 > len(self.data):
            raise CorruptFile("TIFF IFD offset out of range")
        (count,) = struct.unpack(self.order + "H", self.data[start : start + 2])
        if count > MAX_ENTRIES:
            raise CorruptFile(f"TIFF IFD claims {count} entries")
        result: dict[int, Entry] = {}
        for i in range(count):
            pos = start + 2 + 12 * i
            raw = self.data[pos : pos + 12]
            if len(raw) < 12:
                break
            tag, typ, n = struct.unpack(self.order + "HHI", raw[:8])
            entry = self._entry(tag, typ, n, raw[8:])
            if entry is not None:
                result.setdefault(tag, entry)
        return result

    def _entry(self, tag: int, typ: int, n: int, inline: bytes) -> Entry | None:
        spec = _TYPES.get(typ)
        if spec is None:
            return None
        code, size = spec
        length = size * n
        if length <= 4:
            raw = inline[:length]
        else:
            (offset,) = struct.unpack(self.order + "I", inline)
            start = self.base + offset
            if start + length > len(self.data):
                return None
            raw = self.data[start : start + length]
        if typ in BYTES_TYPES:
            return Entry(tag, typ, raw, raw)
        values = struct.unpack(self.order + code * n, raw)
        if len(code) == 2:
            pairs = zip(values[::2], values[1::2], strict=True)
            return Entry(tag, typ, tuple(Rational(a, b) for a, b in pairs), raw)
        return Entry(tag, typ, values, raw)
