"""``build_image``: a stored original → Grid's Image document, as the loader makes it."""

from __future__ import annotations

from datetime import datetime

from reingest.loader.converter import image_metadata
from reingest.loader.processors import Processor, process
from reingest.loader.reader import read_file
from reingest.model import Asset, Dimensions, Image, OrientationMetadata, UploadInfo
from reingest.originals.base import StoredOriginal

_SWAPPING_ORIENTATIONS = frozenset({6, 8})


def source_asset(uri: str, mime: str, size: int, dims: Dimensions, exif: int | None) -> Asset:
    """The ``source`` Asset; orientedDimensions only when there is an EXIF orientation."""
    oriented: Dimensions | None = None
    if exif is not None:
        swap = exif in _SWAPPING_ORIENTATIONS
        oriented = Dimensions(
            width=dims.height if swap else dims.width, height=dims.width if swap else dims.height
        )
    shown = oriented or dims
    return Asset(
        file=uri,
        size=size,
        mimeType=mime,
        dimensions=dims,
        orientationMetadata=OrientationMetadata(exifOrientation=exif) if exif else None,
        orientedDimensions=oriented,
        orientation="portrait" if shown.width < shown.height else "landscape",
    )


def build_image(
    original: StoredOriginal, upload_time: str, *, processors: tuple[Processor, ...]
) -> Image:
    """Grid's step 11 with latestAllowedDateTime = upload time (as in a projection), then the
    image processors of step 12 (``()``: metadata is the converter's output, no usage rights)."""
    facts = read_file(original.data, original.upload.filename)
    metadata = image_metadata(facts.file_metadata, datetime.fromisoformat(upload_time))
    unprocessed = Image(
        id=original.id,
        uploadTime=upload_time,
        uploadedBy=original.upload.uploaded_by,
        identifiers=dict(original.upload.identifiers),
        uploadInfo=UploadInfo(filename=original.upload.filename),
        source=source_asset(
            original.uri, facts.mime_type, facts.size, facts.dimensions, facts.exif_orientation
        ),
        fileMetadata=facts.file_metadata,
        metadata=metadata,
        lastModified=upload_time,
    )
    return process(unprocessed, processors)
