"""``read_file``: bytes → the facts Grid's image-loader reads from an original."""

from __future__ import annotations

import logging
import struct
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from reingest.errors import CorruptFile, LoaderError
from reingest.loader.colour import colour_information, colour_model
from reingest.loader.containers import Container, read_jpeg, read_png, read_tiff
from reingest.loader.exif import (
    ORIENTATION,
    date_original_composite,
    directory_map,
    read_exif,
)
from reingest.loader.getty import getty_map
from reingest.loader.icc import icc_map
from reingest.loader.iptc import iptc_map
from reingest.loader.mime import JPEG, PNG, TIFF, detect_mime
from reingest.loader.tiff import Tiff
from reingest.loader.xmp import aggregate, raw_properties
from reingest.model import Dimensions, FileMetadata
from reingest.originals.source import Source, as_source

log = logging.getLogger(__name__)
T = TypeVar("T")

_READERS: dict[str, Callable[[Source], Container]] = {
    JPEG: read_jpeg,
    PNG: read_png,
    TIFF: read_tiff,
}
#: what the walk of a structure the walkers did not foresee can raise
_PARSE_ERRORS = (struct.error, ValueError, LookupError, ArithmeticError, zlib.error)
#: what reading one metadata block can raise: it costs that block, never the image
_BLOCK_ERRORS = (*_PARSE_ERRORS, CorruptFile, RecursionError, MemoryError)
_STRUCTURES = {JPEG: "marker segments", PNG: "chunks", TIFF: "image file directory"}


@dataclass(frozen=True)
class FileFacts:
    """Everything the loader derives from the bytes alone."""

    mime_type: str
    dimensions: Dimensions
    exif_orientation: int | None
    file_metadata: FileMetadata
    size: int


def read_file(data: bytes | Source, filename: str | None = None) -> FileFacts:
    """Raises UnsupportedFileType or CorruptFile when the file's container cannot be walked
    (its reason speaks of the file); a metadata block or value that cannot be read is left
    out with a warning, and the image is kept. ``data`` may be a source that reads the file
    in ranges (only its structures are read)."""
    source = as_source(data)
    mime = detect_mime(source, filename)
    try:
        container = _READERS[mime](source)
    except CorruptFile as error:
        raise CorruptFile(f"Corrupt {mime}: {error}") from error
    except LoaderError:
        raise
    except _PARSE_ERRORS as error:
        log.warning("%s walk failed", mime, exc_info=error)
        raise CorruptFile(f"Corrupt {mime}: malformed {_STRUCTURES[mime]}") from error
    return _read(mime, source.size, container)


def _block(name: str, read: Callable[[], T], empty: T) -> T:
    """One metadata block (the XMP, the EXIF…); ``empty``, with a warning, if it cannot be
    read: the readers drop odd values themselves, so this is the last line."""
    try:
        return read()
    except _BLOCK_ERRORS as error:
        log.warning("%s dropped: %s", name, error, exc_info=error)
        return empty


def _exif(tiff: Tiff) -> tuple[dict[str, str], dict[str, str], int | None]:
    ifd0, sub = read_exif(tiff)
    exif, exif_sub = directory_map(ifd0), directory_map(sub)
    if (composite := date_original_composite(sub)) is not None:
        exif_sub["Date/Time Original Composite"] = composite
    orientation = ifd0[ORIENTATION].first_int if ORIENTATION in ifd0 else None
    return exif, exif_sub, orientation if orientation != 1 else None


def _read(mime: str, size: int, container: Container) -> FileFacts:
    no_exif: tuple[dict[str, str], dict[str, str], int | None] = ({}, {}, None)
    exif, exif_sub, orientation = no_exif
    if (tiff := container.exif) is not None:
        exif, exif_sub, orientation = _block("EXIF", lambda: _exif(tiff), no_exif)
    no_xmp: dict[str, str] = {}
    raw_xmp = _block("XMP", lambda: raw_properties(container.xmp, container.xmp_extension), no_xmp)
    iptc, icc = container.iptc, container.icc
    metadata = FileMetadata(
        iptc=_block("IPTC", lambda: iptc_map(iptc), {}) if iptc else {},
        exif=exif,
        exifSub=exif_sub,
        xmp=_block("XMP", lambda: aggregate(raw_xmp), {}),
        icc=_block("ICC profile", lambda: icc_map(icc), {}) if icc else {},
        getty=getty_map(raw_xmp),
        colourModel=colour_model(mime, container),
        colourModelInformation=_block(
            "colour information", lambda: colour_information(mime, container), {}
        ),
    )
    return FileFacts(
        mime_type=mime,
        dimensions=Dimensions(width=container.width, height=container.height),
        exif_orientation=orientation,
        file_metadata=metadata,
        size=size,
    )
