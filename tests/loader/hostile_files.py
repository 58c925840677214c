"""Builders of small hostile image files: one odd value, or structures that cost a lot to read.

Shared by the loader tests and ``benchmarks/bench_hostile.py`` (which measures each file's time
and peak memory), so both exercise the same bytes.
"""

from __future__ import annotations

import io
import struct
import zlib
from collections.abc import Callable, Sequence

from PIL import Image

#: a TIFF entry to write: (tag, field type, count, value bytes already in the file's order)
TagSpec = tuple[int, int, int, bytes]

ASCII, SHORT, LONG, RATIONAL, UNDEFINED, FLOAT, DOUBLE = 2, 3, 4, 5, 7, 11, 12
EXIF_POINTER = 0x8769
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
UPLOAD_TIME = "2024-01-01T00:00:00.000Z"


def ascii_tag(tag: int, text: str) -> TagSpec:
    raw = text.encode() + b"\x00"
    return (tag, ASCII, len(raw), raw)


def tiff_block(ifd0: Sequence[TagSpec], sub: Sequence[TagSpec] = (), order: str = "<") -> bytes:
    """A little- (or big-) endian TIFF structure: IFD0, then (if ``sub``) an Exif SubIFD.
    Values over four bytes follow their IFD; tags are written in the order given."""
    head = (b"II*\x00" if order == "<" else b"MM\x00*") + struct.pack(order + "I", 8)
    ifd0 = list(ifd0)
    if sub:
        ifd0.append((EXIF_POINTER, LONG, 1, struct.pack(order + "I", 0)))
    first = _ifd(ifd0, 8, order)
    if not sub:
        return head + first
    sub_offset = 8 + len(first)
    ifd0[-1] = (EXIF_POINTER, LONG, 1, struct.pack(order + "I", sub_offset))
    return head + _ifd(ifd0, 8, order) + _ifd(list(sub), sub_offset, order)


def _ifd(entries: list[TagSpec], offset: int, order: str) -> bytes:
    table = struct.pack(order + "H", len(entries))
    extra = b""
    data_at = offset + 2 + 12 * len(entries) + 4
    for tag, typ, count, raw in entries:
        if len(raw) <= 4:
            table += struct.pack(order + "HHI", tag, typ, count) + raw.ljust(4, b"\x00")
        else:
            table += struct.pack(order + "HHII", tag, typ, count, data_at + len(extra))
            extra += raw + b"\x00" * (len(raw) & 1)
    return table + b"\x00\x00\x00\x00" + extra


def base_jpeg(size: tuple[int, int] = (8, 8)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, (200, 30, 30)).save(out, "JPEG")
    return out.getvalue()


def jpeg_with(segments: Sequence[tuple[int, bytes]]) -> bytes:
    """A small JPEG with the given (marker, body) segments inserted after SOI."""
    base = base_jpeg()
    inserted = b"".join(
        bytes([0xFF, marker]) + struct.pack(">H", len(body) + 2) + body for marker, body in segments
    )
    return base[:2] + inserted + base[2:]


def exif_segment(ifd0: Sequence[TagSpec], sub: Sequence[TagSpec] = ()) -> tuple[int, bytes]:
    return (0xE1, b"Exif\x00\x00" + tiff_block(ifd0, sub))


def iptc_segment(datasets: Sequence[tuple[int, int, bytes]]) -> tuple[int, bytes]:
    """An APP13 Photoshop segment holding one IPTC resource with the given datasets."""
    iim = b"".join(
        bytes([0x1C, record, dataset]) + struct.pack(">H", len(raw)) + raw
        for record, dataset, raw in datasets
    )
    resource = (
        b"8BIM\x04\x04\x00\x00" + struct.pack(">I", len(iim)) + iim + b"\x00" * (len(iim) & 1)
    )
    return (0xED, b"Photoshop 3.0\x00" + resource)


def xmp_packet(description: str, attributes: str = "") -> bytes:
    """An XMP packet whose one rdf:Description has these attributes and this content."""
    return (
        '<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF '
        'xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"><rdf:Description '
        'xmlns:dc="http://purl.org/dc/elements/1.1/" '
        'xmlns:photoshop="http://ns.adobe.com/photoshop/1.0/" '
        f'xmlns:xmp="http://ns.adobe.com/xap/1.0/" {attributes}>{description}'
        "</rdf:Description></rdf:RDF></x:xmpmeta>"
    ).encode()


def xmp_segment(packet: bytes) -> tuple[int, bytes]:
    return (0xE1, b"http://ns.adobe.com/xap/1.0/\x00" + packet)


def png_chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def png_with(chunks: Sequence[bytes]) -> bytes:
    """A 1x1 greyscale PNG with the given (already framed) chunks before its IDAT."""
    ihdr = struct.pack(">IIBBBBB", 1, 1, 8, 0, 0, 0, 0)
    return (
        PNG_SIGNATURE
        + png_chunk(b"IHDR", ihdr)
        + b"".join(chunks)
        + png_chunk(b"IDAT", zlib.compress(b"\x00\x00"))
        + png_chunk(b"IEND", b"")
    )


def zeros_deflated(size: int) -> bytes:
    """``size`` zero bytes, deflated (about a thousandth of the size)."""
    compressor = zlib.compressobj(9)
    block = b"\x00" * (1 << 20)
    out = [compressor.compress(block) for _ in range(size >> 20)]
    return b"".join(out) + compressor.compress(b"\x00" * (size & 0xFFFFF)) + compressor.flush()


def png_text_bombs(count: int = 120, inflated: int = 16 * 1024 * 1024) -> bytes:
    """``count`` compressed XMP iTXt chunks, each inflating to ``inflated`` bytes, then a
    small readable XMP packet."""
    bomb = png_chunk(b"iTXt", b"XML:com.adobe.xmp\x00\x01\x00\x00\x00" + zeros_deflated(inflated))
    good = xmp_packet("", 'photoshop:City="Kings Place"')
    return png_with([png_chunk(b"iTXt", b"XML:com.adobe.xmp\x00\x00\x00\x00\x00" + good)]
                    + [bomb] * count)  # fmt: skip


def png_icc_bombs(count: int = 120, inflated: int = 16 * 1024 * 1024) -> bytes:
    """``count`` iCCP chunks, each inflating to ``inflated`` bytes."""
    bomb = png_chunk(b"iCCP", b"bomb\x00\x00" + zeros_deflated(inflated))
    return png_with([bomb] * count)


def tiff_shared_rationals(region: int = 16 * 1024 * 1024, tags: int = 16) -> bytes:
    """A TIFF whose ``tags`` rational tags (X/Y Resolution and friends) all point at one
    ``region``-byte block of rationals, plus a readable Artist."""
    order = "<"
    rational_tags = [0x011A, 0x011B, 0x013E, 0x013F, 0x0211, 0x0214, 0x829A, 0x829D,
                     0x9102, 0x9201, 0x9202, 0x9203, 0x9204, 0x9205, 0x9206, 0x920A,
                     0xA404, 0xA432, 0xA20E, 0xA20F][:tags]  # fmt: skip
    count = region // 8
    ifd0: list[tuple[int, int, int, int | bytes]] = [
        (0x0100, SHORT, 1, struct.pack("<HH", 1, 0)),
        (0x0101, SHORT, 1, struct.pack("<HH", 1, 0)),
        (0x013B, ASCII, 8, b"Artist\x00\x00"),
    ]
    entries = sorted(ifd0 + [(tag, RATIONAL, count, 0) for tag in rational_tags])
    table = struct.pack("<H", len(entries))
    region_at = 8 + 2 + 12 * len(entries) + 4 + 16
    artist_at = region_at - 16
    for tag, typ, n, value in entries:
        if typ == RATIONAL:
            table += struct.pack("<HHII", tag, typ, n, region_at)
        elif typ == ASCII:
            table += struct.pack("<HHII", tag, typ, n, artist_at)
        else:
            assert isinstance(value, bytes)
            table += struct.pack("<HHI", tag, typ, n) + value
    body = struct.pack("<II", 72, 1) * count
    return (b"II*\x00" + struct.pack(order + "I", 8) + table + b"\x00" * 4
            + b"Artist\x00\x00".ljust(16, b"\x00") + body)  # fmt: skip


def deep_rdf(depth: int) -> bytes:
    """A packet whose photoshop:City survives beside a property nested ``depth`` levels deep."""
    nested = "<dc:x rdf:parseType='Resource'>" * depth + "<dc:y>deep</dc:y>" + "</dc:x>" * depth
    return xmp_packet(nested, 'photoshop:City="Kings Place"')


Builder = Callable[[], bytes]


def jpeg_fill_bytes(size: int = 48 * 1024 * 1024) -> bytes:
    """A JPEG whose first segment is preceded by ``size`` 0xFF fill bytes (legal padding)."""
    base = base_jpeg()
    return base[:2] + b"\xff" * size + base[2:]


def jpeg_tiny_segments(count: int = 4_000_000) -> bytes:
    """A JPEG with ``count`` empty COM segments before its frame header."""
    base = base_jpeg()
    return base[:2] + b"\xff\xfe\x00\x02" * count + base[2:]


def png_tiny_chunks(count: int = 4_000_000) -> bytes:
    """A PNG with ``count`` empty private chunks before its image data."""
    return png_with([png_chunk(b"prVt", b"")] * count)


def iptc_tiny_datasets(segments: int = 700) -> bytes:
    """``segments`` 64 KB Photoshop segments, one IPTC block of five-byte datasets (about
    13000 per segment, every one a Keyword) after a readable City."""
    iim = b"\x1c\x02\x5a\x00\x06London" + b"\x1c\x02\x19\x00\x00" * (13_000 * segments)
    resource = b"8BIM\x04\x04\x00\x00" + struct.pack(">I", len(iim)) + iim
    block = b"Photoshop 3.0\x00" + resource
    # the IRB is split over segments: the reader joins their bodies after the signature
    head, rest = block[:65_000], resource[65_000 - 14 :]
    parts = [head] + [
        b"Photoshop 3.0\x00" + rest[i : i + 65_000] for i in range(0, len(rest), 65_000)
    ]
    return jpeg_with([(0xED, part) for part in parts])


def tiff_icc_text_bombs(region: int = 16 * 1024 * 1024, tags: int = 256) -> bytes:
    """A TIFF whose ICC profile (tag 0x8773) has ``tags`` text tags over one ``region``-byte
    text, each with another length so that none is read only once."""
    names = [b"desc", b"cprt", b"dmnd", b"dmdd", b"vued"]
    table_end = 132 + 12 * tags
    text = b"text\x00\x00\x00\x00" + b"A" * region
    entries = b"".join(
        struct.pack(">4sII", names[i % len(names)], table_end, len(text) - i) for i in range(tags)
    )
    profile = bytearray(struct.pack(">I4sI", table_end + len(text), b"lcms", 0x02100000))
    profile += b"mntrRGB XYZ " + b"\x00" * (128 - 24) + struct.pack(">I", tags)
    profile += entries + text
    return tiff_block([(0x0100, SHORT, 1, struct.pack("<H", 1)),
                       (0x0101, SHORT, 1, struct.pack("<H", 1)),
                       ascii_tag(0x013B, "Artist"),
                       (0x8773, UNDEFINED, len(profile), bytes(profile))])  # fmt: skip


def tiff_shared_text(region: int = 16 * 1024 * 1024) -> bytes:
    """A TIFF whose every named ASCII tag points at one ``region``-byte text."""
    tags = [0x010D, 0x010E, 0x010F, 0x0110, 0x011D, 0x0131, 0x0132, 0x013C, 0x8298, 0x9003]
    region_at = 8 + 2 + 12 * (len(tags) + 3) + 4 + 8
    entries = [(0x0100, SHORT, 1, struct.pack("<HH", 1, 0)),
               (0x0101, SHORT, 1, struct.pack("<HH", 1, 0)),
               (0x013B, ASCII, 7, b"Artist\x00")]  # fmt: skip
    table = struct.pack("<H", len(tags) + 3)
    for tag, typ, count, raw in sorted(entries + [(t, ASCII, region, b"") for t in tags]):
        if tag == 0x013B:
            table += struct.pack("<HHII", tag, typ, count, region_at - 8)
        elif typ == ASCII:
            table += struct.pack("<HHII", tag, typ, count, region_at)
        else:
            table += struct.pack("<HHI", tag, typ, count) + raw
    return (
        b"II*\x00" + struct.pack("<I", 8) + table + b"\x00" * 4 + b"Artist\x00\x00" + b"x" * region
    )


def xmp_many_properties(count: int = 100_000) -> bytes:
    """A PNG whose 2 MB XMP packet has ``count`` tiny properties and a ``count``-item array."""
    props = "".join(f"<xmp:p{i}>v</xmp:p{i}>" for i in range(count // 2))
    items = "<rdf:li>k</rdf:li>" * (count // 2)
    packet = xmp_packet(f"{props}<dc:subject><rdf:Bag>{items}</rdf:Bag></dc:subject>",
                        'photoshop:City="Kings Place"')  # fmt: skip
    return png_with([png_chunk(b"iTXt", b"XML:com.adobe.xmp\x00\x00\x00\x00\x00" + packet)])
