"""MIME detection by magic bytes, with Grid's (Tika + DNG check) outcomes."""

from __future__ import annotations

import struct

from reingest.errors import CorruptFile, LoaderError, UnsupportedFileType
from reingest.loader.tiff import MAX_ENTRIES, Tiff

JPEG, PNG, TIFF = "image/jpeg", "image/png", "image/tiff"
SUPPORTED = (JPEG, PNG, TIFF)
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
DNG_VERSION = 0xC612
NO_FORMAT = "File format could not be determined"
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


def _other(data: bytes) -> str:
    for magic, mime in _OTHER_MAGIC:
        if data.startswith(magic):
            return mime
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    if data[4:8] == b"ftyp":
        brand = data[8:12]
        return "image/heic" if brand in (b"heic", b"heix", b"mif1", b"msf1") else "video/mp4"
    head = data[:1024]
    if b"\x00" not in head:
        try:
            head.decode("utf-8")
        except UnicodeDecodeError:
            return "unknown"
        return "text/plain"
    return "unknown"


def _tiff_kind(data: bytes) -> str:
    """TIFF, unless it is a raw camera file built on TIFF (CR2 marker or DNGVersion in IFD0)."""
    if data[8:10] == b"CR":
        return "image/x-canon-cr2"
    try:
        tiff = Tiff(data)
        # IFD0 is only read (the reader reads it again) when DNGVersion's tag bytes turn up
        # where its entries can be; they nearly never do
        first = tiff.ifd0_offset + 2
        tag = DNG_VERSION.to_bytes(2, "little" if tiff.order == "<" else "big")
        if data.find(tag, first, first + 12 * MAX_ENTRIES) < 0:
            return TIFF
        if DNG_VERSION in tiff.read_ifd(tiff.ifd0_offset):
            return "image/dng"
    except (LoaderError, struct.error):
        pass  # an unreadable IFD0 is the reader's problem: it reports the file as corrupt
    return TIFF


def detect_mime(data: bytes, filename: str | None = None) -> str:
    """The supported MIME type of ``data``; raises UnsupportedFileType or CorruptFile."""
    if data.startswith(b"\xff\xd8\xff"):
        return JPEG
    if data.startswith(PNG_SIGNATURE):
        return PNG
    if data[:4] in (b"II*\x00", b"MM\x00*"):
        kind = _tiff_kind(data)
        if kind != TIFF:
            raise unsupported(kind)
        return TIFF
    mime = _other(data) if data else "unknown"
    if mime in ("unknown", "text/plain") and _by_name(filename):
        raise CorruptFile(NO_FORMAT)
    raise unsupported(mime)
