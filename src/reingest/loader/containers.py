"""Header-only walks of JPEG, PNG and TIFF files: dimensions and the raw metadata blocks.

Nothing is decoded: only marker segments, chunks and IFDs are read, which is what keeps the
loader fast. Structural damage (truncation, impossible lengths) raises CorruptFile.

The walkers read through a ``Source`` (``originals/source.py``): each keeps the bytes it was
last given (``base``, ``data``: the file from offset ``base``) and asks for more only where a
structure lies past them, so a ranged source fetches marker segments, chunk headers, IFDs and
what they point at, never the image data in between.
"""

from __future__ import annotations

import logging
import re
import struct
import zlib
from dataclasses import dataclass, field

from PIL import Image as PilImage

from reingest.errors import CorruptFile
from reingest.loader.iptc import iim_from_photoshop
from reingest.loader.tiff import Entry, Tiff
from reingest.originals.source import Source

XMP_JPEG_HEADER = b"http://ns.adobe.com/xap/1.0/\x00"
XMP_EXTENSION_HEADER = b"http://ns.adobe.com/xmp/extension/\x00"
MAX_INFLATED = 16 * 1024 * 1024  # iCCP / iTXt bodies larger than this are ignored
#: all of a PNG's compressed chunks together inflate to at most this; later ones are skipped
MAX_INFLATED_PER_FILE = 32 * 1024 * 1024
_SOF = frozenset(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}
_STANDALONE = frozenset({0x01, *range(0xD0, 0xD8)})
#: the segments whose bodies are read; any other is skipped by its length alone
_READ_SEGMENTS = _SOF | {0xE1, 0xE2, 0xED, 0xEE}
#: marker segments a JPEG may have before its scan: encoders write tens; millions of empty
#: ones would cost seconds to walk
MAX_SEGMENTS = 100_000
_FILL = re.compile(rb"\xff+")
_READ_CHUNKS = frozenset({b"IEND", b"PLTE", b"tRNS", b"gAMA", b"iCCP", b"eXIf", b"iTXt"})

log = logging.getLogger(__name__)


@dataclass
class Container:
    """What one file yields before any interpretation."""

    width: int
    height: int
    exif: Tiff | None = None
    iptc: bytes | None = None
    xmp: list[bytes] = field(default_factory=list)
    #: JPEG ExtendedXMP segments after their signature, each with the number of main packets
    #: before it (metadata-extractor only takes chunks once a main packet has named the GUID)
    xmp_extension: list[tuple[int, bytes]] = field(default_factory=list)
    icc: bytes | None = None
    #: format-specific colour facts (JPEG components, PNG IHDR/chunks, TIFF IFD0)
    colour: dict[str, int] = field(default_factory=dict)
    ifd0: dict[int, Entry] = field(default_factory=dict)
    png_icc_name: str | None = None


def max_pixels() -> int:
    """Pillow's decompression-bomb error threshold (twice MAX_IMAGE_PIXELS), read, not set."""
    limit = PilImage.MAX_IMAGE_PIXELS
    return 2 * limit if limit else 2**63


def check_size(width: int, height: int) -> None:
    if width <= 0 or height <= 0:
        raise CorruptFile(f"image has no pixels ({width}x{height})")
    if width * height > max_pixels():
        raise CorruptFile(
            f"{width}x{height} pixels exceeds the decompression-bomb limit of {max_pixels()}"
        )


def read_jpeg(source: Source) -> Container:
    pos, size = 2, source.size
    base, data = source.span(0, 4)
    sof: tuple[int, int, int] | None = None
    icc_chunks: dict[int, bytes] = {}
    photoshop: list[bytes] = []  # joined once: hundreds of segments must not cost O(n²)
    exif: Tiff | None = None
    xmp: list[bytes] = []
    xmp_extension: list[tuple[int, bytes]] = []
    adobe_transform = -1
    for _ in range(MAX_SEGMENTS):
        if pos + 4 > size:
            raise CorruptFile("truncated before the image data")
        if pos + 4 > base + len(data):
            base, data = source.span(pos, pos + 4)
        at = pos - base
        if data[at] != 0xFF:
            raise CorruptFile(f"expected a marker at byte {pos}")
        marker = data[at + 1]
        if marker == 0xFF:  # fill bytes, skipped in one go
            pos = _fill_end(source, pos + 1) - 1
            continue
        if marker in _STANDALONE:
            pos += 2
            continue
        length = data[at + 2] << 8 | data[at + 3]
        end = pos + 2 + length
        if length < 2 or end > size:
            raise CorruptFile(f"segment 0x{marker:02X} runs past the end of the file")
        if marker == 0xDA:
            pos = end
            break
        if marker not in _READ_SEGMENTS:
            pos = end
            continue
        if end > base + len(data):
            base, data = source.span(pos, end)
        body = data[pos + 4 - base : end - base]
        pos = end
        if marker in _SOF and sof is None and len(body) >= 6:
            _, height, width, components = struct.unpack(">BHHB", body[:6])
            sof = (width, height, components)
        elif marker == 0xE1 and body.startswith(b"Exif\x00\x00") and exif is None:
            exif = _exif_block(body)
        elif marker == 0xE1 and _is_xmp(body):
            xmp.append(body[len(XMP_JPEG_HEADER) :])
        elif marker == 0xE1 and xmp and _is_xmp_extension(body):
            xmp_extension.append((len(xmp), body[len(XMP_EXTENSION_HEADER) :]))
        elif marker == 0xE2 and body.startswith(b"ICC_PROFILE\x00") and len(body) > 14:
            icc_chunks.setdefault(body[12], body[14:])
        elif marker == 0xED and body.startswith(b"Photoshop 3.0\x00"):
            photoshop.append(body[14:])
        elif marker == 0xEE and body.startswith(b"Adobe") and len(body) >= 12:
            adobe_transform = body[11]
    else:
        raise CorruptFile(f"more than {MAX_SEGMENTS} marker segments before the image data")
    if sof is None:
        raise CorruptFile("no frame header")
    if source.rfind(b"\xff\xd9", pos) < 0:
        raise CorruptFile("truncated image data (no end-of-image marker)")
    width, height, components = sof
    check_size(width, height)
    return Container(
        width,
        height,
        exif=exif,
        iptc=iim_from_photoshop(b"".join(photoshop)) if photoshop else None,
        xmp=xmp,
        xmp_extension=xmp_extension,
        icc=b"".join(icc_chunks[k] for k in sorted(icc_chunks)) or None,
        colour={"components": components, "adobe_transform": adobe_transform},
    )


def _fill_end(source: Source, pos: int) -> int:
    """Where the run of 0xFF fill bytes at ``pos`` ends (read in as few spans as it takes)."""
    while pos < source.size:
        base, data = source.span(pos, pos + 1)
        run = _FILL.match(data, pos - base)
        if run is None:
            return pos
        pos = base + run.end()
        if pos < base + len(data):
            return pos
    return pos


def _exif_block(body: bytes) -> Tiff | None:
    """An APP1 Exif segment's TIFF structure; a damaged header costs the EXIF, not the image."""
    try:
        return Tiff(body, 6)
    except CorruptFile:
        log.warning("EXIF segment skipped: no TIFF header after its signature")
        return None


class _Inflater:
    """Inflates a PNG's compressed chunks within MAX_INFLATED each and MAX_INFLATED_PER_FILE
    in all, so a small file cannot cost gigabytes (each inflation is charged what it did)."""

    def __init__(self) -> None:
        self.budget = MAX_INFLATED_PER_FILE

    def __call__(self, raw: bytes, what: str) -> bytes | None:
        limit = min(MAX_INFLATED, self.budget)
        if limit <= 0:
            log.warning(
                "PNG %s skipped: the file's chunks inflate past %d bytes",
                what,
                MAX_INFLATED_PER_FILE,
            )
            return None
        inflater = zlib.decompressobj()
        try:
            out = inflater.decompress(raw, limit)
        except zlib.error:
            log.warning("PNG %s skipped: its compressed data is damaged", what)
            return None
        self.budget -= len(out)
        if inflater.unconsumed_tail:
            log.warning("PNG %s skipped: it inflates past %d bytes", what, limit)
            return None
        return out


def read_png(source: Source) -> Container:
    pos, size = 8, source.size
    base, data = source.span(0, 16)
    result: Container | None = None
    inflate = _Inflater()
    icc: bytes | None = None  # the last iCCP's compressed profile, inflated once at IEND
    head = struct.Struct(">I4s")
    stride = 0  # the last chunk's size: more like it are likely to follow (image data)
    while True:
        if pos + 8 > size:
            raise CorruptFile("truncated (no IEND chunk)")
        if pos + 8 > base + len(data):
            base, data = source.span(pos, pos + 8, stride)
        length, kind = head.unpack_from(data, pos - base)
        end = pos + 8 + length
        stride = length + 12
        if end > size:
            raise CorruptFile(f"chunk {kind!r} runs past the end of the file")
        if kind not in _READ_CHUNKS and result is not None:  # image data: not even read
            pos = end + 4
            continue
        if end > base + len(data):
            base, data = source.span(pos, end)
        body = data[pos + 8 - base : end - base]
        pos = end + 4
        if result is None:
            if kind != b"IHDR" or length < 13:
                raise CorruptFile("missing IHDR")
            width, height, depth, colour_type = struct.unpack(">IIBB", body[:10])
            check_size(width, height)
            result = Container(width, height, colour={"depth": depth, "type": colour_type})
        elif kind == b"IEND":
            result.icc = inflate(icc, "iCCP chunk") if icc is not None else None
            return result
        elif kind == b"PLTE":
            result.colour["palette"] = length // 3
        elif kind == b"tRNS":
            result.colour["trns"] = 1
        elif kind == b"gAMA" and length == 4:
            result.colour["gamma"] = struct.unpack(">I", body)[0]
        elif kind == b"iCCP":
            name, _, rest = body.partition(b"\x00")
            result.png_icc_name = name.decode("latin-1")
            icc = rest[1:]
        elif kind == b"eXIf" and body[:4] in (b"II*\x00", b"MM\x00*"):
            result.exif = Tiff(body)
        elif kind == b"iTXt" and body.startswith(b"XML:com.adobe.xmp\x00"):
            packet = _itxt_text(body[18:], inflate)
            if packet is not None:
                result.xmp.append(packet)


def _itxt_text(rest: bytes, inflate: _Inflater) -> bytes | None:
    """The text of an iTXt chunk after its keyword (compression flag, language, key)."""
    if len(rest) < 2:
        return None
    compressed, text = rest[0], rest[2:]
    _, _, text = text.partition(b"\x00")  # language tag
    _, _, text = text.partition(b"\x00")  # translated keyword
    return inflate(text, "XMP iTXt chunk") if compressed else text


def read_tiff(source: Source) -> Container:
    tiff = Tiff(source)
    ifd0 = tiff.read_ifd(tiff.ifd0_offset)
    width, height = ifd0.get(0x0100), ifd0.get(0x0101)
    if width is None or height is None or width.first_int is None or height.first_int is None:
        raise CorruptFile("no ImageWidth/ImageLength in IFD0")
    check_size(width.first_int, height.first_int)
    iptc, xmp, icc = ifd0.get(0x83BB), ifd0.get(0x02BC), ifd0.get(0x8773)
    return Container(
        width.first_int,
        height.first_int,
        exif=tiff,
        iptc=iptc.raw if iptc else None,
        xmp=[xmp.raw] if xmp else [],
        icc=icc.raw if icc else None,
        ifd0=ifd0,
    )


def _is_xmp(body: bytes) -> bool:
    """metadata-extractor also takes the (malformed) ``XMP\\0://ns.adobe.com…`` preamble."""
    head = body[: len(XMP_JPEG_HEADER)]
    return head.lower() == XMP_JPEG_HEADER.lower() or head[:3].upper() == b"XMP"


def _is_xmp_extension(body: bytes) -> bool:
    return body[: len(XMP_EXTENSION_HEADER)].lower() == XMP_EXTENSION_HEADER.lower()
