"""MIME detection by magic bytes, with Grid's (Tika + DNG check) outcomes."""

from __future__ import annotations

import struct

from reingest.errors import CorruptFile, LoaderError, UnsupportedFileType
from reingest.loader.tiff import MAX_ENTRIES, Tiff
from reingest.originals.source import Source

JPEG, PNG, TIFF = "image/jpeg", "image/png", "image/tiff"
SUPPORTED = (JPEG, PNG, TIFF)
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
DNG_VERSION = 0xC612
NO_FORMAT = "File format could not be determined"
#: the first bytes every signature below is looked for in
_SNIFFED = 1024
#: extensions Tika trusts when the content says nothing, so the file reaches the reader
_NAMED = {".jpg": JPEG, ".jpeg": JPEG, ".png": PNG, ".tif": TIFF, ".tiff": TIFF}
#: other well-known signatures, so the rejection names the real type
_OTHER_MAGIC: tuple[tuple[bytes, str], ...] = (
    (b"GIF87a", "image/gif"), (b"GIF89a", "image/gif"), (b"BM", "image/bmp"),
    (b"%PDF", "application/pdf"), (b"8BPS", "image/vnd.adobe.photoshop"),
    (b"\x00\x00\x00\x0cjP  ", "image/jp2"), (b"\xff\x4f\xff\x51", "image/jp2"),
    (b"IIRO", "image/x-olympus-orf"), (b"IIU\x00", "image/x-panasonic-rw2"),
    (b"FUJIFILMCCD-RAW", "image/x-fuji-raf"), (b"\x00\x00\x01\x00", "image/vnd.microsoft.icon"),
)  # fmt: skip


def unsupported(mime: str) -> UnsupportedFileType:
    return UnsupportedFileType(f"Unsupported mime-type: {mime}. Supported: {', '.join(SUPPORTED)}")


def _by_name(filename: str | None) -> str | None:
    if not filename or "." not in filename:
        return None
    return _NAMED.get(filename[filename.rindex(".") :].lower())


def _other(head: bytes) -> str:
    """The type of a file whose first bytes are ``head``."""
    for magic, mime in _OTHER_MAGIC:
        if head.startswith(magic):
            return mime
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image/webp"
    if head[4:8] == b"ftyp":
        brand = head[8:12]
        return "image/heic" if brand in (b"heic", b"heix", b"mif1", b"msf1") else "video/mp4"
    if b"\x00" not in head:
        try:
            head.decode("utf-8")
        except UnicodeDecodeError:
            return "unknown"
        return "text/plain"
    return "unknown"


def _tiff_kind(source: Source) -> str:
    """TIFF, unless it is a raw camera file built on TIFF (CR2 marker or DNGVersion in IFD0)."""
    if source.read(8, 10) == b"CR":
        return "image/x-canon-cr2"
    try:
        tiff = Tiff(source)
        # IFD0 is only read (the reader reads it again) when DNGVersion's tag bytes turn up
        # where its entries can be; they nearly never do
        first = tiff.ifd0_offset + 2
        tag = DNG_VERSION.to_bytes(2, "little" if tiff.order == "<" else "big")
        if source.read(first, first + 12 * MAX_ENTRIES).find(tag) < 0:
            return TIFF
        if DNG_VERSION in tiff.read_ifd(tiff.ifd0_offset):
            return "image/dng"
    except (LoaderError, struct.error):
        pass  # an unreadable IFD0 is the reader's problem: it reports the file as corrupt
    return TIFF


def detect_mime(source: Source, filename: str | None = None) -> str:
    """The supported MIME type of ``source``; raises UnsupportedFileType or CorruptFile."""
    head = source.read(0, _SNIFFED)
    if head.startswith(b"\xff\xd8\xff"):
        return JPEG
    if head.startswith(PNG_SIGNATURE):
        return PNG
    if head[:4] in (b"II*\x00", b"MM\x00*"):
        kind = _tiff_kind(source)
        if kind != TIFF:
            raise unsupported(kind)
        return TIFF
    mime = _other(head) if head else "unknown"
    if mime in ("unknown", "text/plain") and _by_name(filename):
        raise CorruptFile(NO_FORMAT)
    raise unsupported(mime)
