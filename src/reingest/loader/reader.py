"""``read_file``: bytes → the facts Grid's image-loader reads from an original."""

from __future__ import annotations

import struct
import zlib
from collections.abc import Callable
from dataclasses import dataclass

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
from reingest.loader.xmp import aggregate, raw_properties
from reingest.model import Dimensions, FileMetadata

_READERS: dict[str, Callable[[bytes], Container]] = {
    JPEG: read_jpeg,
    PNG: read_png,
    TIFF: read_tiff,
}
#: what a malformed structure can raise from the parsers (anything else is a bug)
_PARSE_ERRORS = (struct.error, ValueError, IndexError, KeyError, OverflowError, zlib.error)


@dataclass(frozen=True)
class FileFacts:
    """Everything the loader derives from the bytes alone."""

    mime_type: str
    dimensions: Dimensions
    exif_orientation: int | None
    file_metadata: FileMetadata
    size: int


def read_file(data: bytes, filename: str | None = None) -> FileFacts:
    """Raises UnsupportedFileType or CorruptFile for anything that is not a readable image."""
    mime = detect_mime(data, filename)
    try:
        return _read(mime, data)
    except CorruptFile as error:
        raise CorruptFile(f"Corrupt {mime}: {error}") from error
    except LoaderError:
        raise
    except (*_PARSE_ERRORS, MemoryError, RecursionError) as error:
        raise CorruptFile(f"Corrupt {mime}: {type(error).__name__}: {error}") from error


def _read(mime: str, data: bytes) -> FileFacts:
    container = _READERS[mime](data)
    exif: dict[str, str] = {}
    exif_sub: dict[str, str] = {}
    orientation: int | None = None
    if container.exif is not None:
        ifd0, sub = read_exif(container.exif)
        exif, exif_sub = directory_map(ifd0), directory_map(sub)
        if (composite := date_original_composite(sub)) is not None:
            exif_sub["Date/Time Original Composite"] = composite
        if ORIENTATION in ifd0 and ifd0[ORIENTATION].first_int != 1:
            orientation = ifd0[ORIENTATION].first_int
    raw_xmp = raw_properties(container.xmp, container.xmp_extension)
    metadata = FileMetadata(
        iptc=iptc_map(container.iptc) if container.iptc else {},
        exif=exif,
        exifSub=exif_sub,
        xmp=aggregate(raw_xmp),
        icc=icc_map(container.icc) if container.icc else {},
        getty=getty_map(raw_xmp),
        colourModel=colour_model(mime, container),
        colourModelInformation=colour_information(mime, container),
    )
    return FileFacts(
        mime_type=mime,
        dimensions=Dimensions(width=container.width, height=container.height),
        exif_orientation=orientation,
        file_metadata=metadata,
        size=len(data),
    )
