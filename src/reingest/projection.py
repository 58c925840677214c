"""The image projection: the loader's image re-read from the original, merged with what the
data services know (Grid's ``ImageDataMerger.aggregate``)."""

from __future__ import annotations

from typing import Protocol

from .dates import format_iso, parse_iso
from .loader import build_image
from .loader.processors import DEFAULT_PROCESSORS, chain
from .loader.thumbnail import make_thumbnail, thumbnail_asset
from .model import Asset, Image, SoftDeletedMetadata
from .originals.base import OriginalsStore, StoredOriginal
from .originals.source import WINDOW, whole
from .services.base import DataServices, ImageData


class ImageProjector(Protocol):
    """What batch-index needs: the local ``Projector`` or a remote one (projection_client)."""

    def project(self, image_id: str) -> Image:
        """Raises ImageNotFound, LoaderError (permanent), DownstreamError or TransientError."""
        ...


class Projector:
    def __init__(
        self,
        originals: OriginalsStore,
        services: DataServices,
        processors: str = DEFAULT_PROCESSORS,
        window: int = WINDOW,
    ) -> None:
        """``processors`` names the image processor chain (``Settings.processors``);
        ``window`` is how much of an original is read first (``Settings.originals_window``;
        the loader reads further only where the file's structure points, 0 reads it whole)."""
        self.originals = originals
        self.services = services
        self.processors = chain(processors)
        self.window = window

    def project(self, image_id: str) -> Image:
        """Raises ImageNotFound, LoaderError (permanent) or DownstreamError."""
        if self.window:
            stored = self.originals.get_ranged(image_id, self.window)
        else:
            stored = self.originals.get(image_id)
        upload_time = stored.upload.upload_time or stored.last_modified
        # first: an unreadable original fails with the loader's reason
        image = build_image(stored, upload_time, processors=self.processors)
        image.thumbnail = self.thumbnail(stored)
        return merge_image_data(image, self.services.fetch(image_id))

    def thumbnail(self, stored: StoredOriginal) -> Asset | None:
        """The stored thumbnail's Asset, made and stored first if missing (Grid's projection
        reuses the upload's); None for a store that keeps no thumbnails."""
        uri = self.originals.thumbnail_uri(stored.id)
        if uri is None:
            return None
        data = self.originals.get_thumbnail(stored.id)
        if data is None:
            data = make_thumbnail(whole(stored.data))
            self.originals.put_thumbnail(stored.id, data)
        return thumbnail_asset(uri, data)


def merge_image_data(image: Image, data: ImageData) -> Image:
    """Grid's merge rules (grid-model.md §3.2): service data replaces the image's own, edits
    overlay the metadata, lastModified is inferred from the service data's dates."""
    merged = image.model_copy(
        update={
            "collections": data.collections,
            "leases": data.leases,
            "usages": data.usages,
            "exports": data.crops,
            "syndicationRights": data.syndication,
            "userMetadata": data.edits,
            "softDeletedMetadata": _soft_deleted(data),
        }
    )
    edits = data.edits
    if edits is not None and edits.metadata is not None:
        merged.metadata = image.metadata.merged_with(edits.metadata)
    if edits is not None and edits.usageRights is not None:
        merged.usageRights = edits.usageRights
    inferred = infer_last_modified(merged)
    merged.lastModified = inferred
    merged.userMetadataLastModified = (edits.lastModified if edits else None) or inferred
    return merged


def infer_last_modified(image: Image) -> str | None:
    """The latest date among leases, crops, collections, usages and edits; None if none."""
    dates = [
        image.leases.lastModified,
        *(crop.date for crop in image.exports),
        *(collection.actionData.date for collection in image.collections),
        *(usage.lastModified for usage in image.usages),
        image.userMetadata.lastModified if image.userMetadata else None,
    ]
    parsed = [parse_iso(d) for d in dates if d]
    return format_iso(max(parsed)) if parsed else None


def _soft_deleted(data: ImageData) -> SoftDeletedMetadata | None:
    status = data.status
    if status is None or not status.isDeleted:
        return None
    return SoftDeletedMetadata(
        deleteTime=format_iso(parse_iso(status.deleteTime)), deletedBy=status.deletedBy
    )
