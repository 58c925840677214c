"""The image projection: the loader's image re-read from the original, merged with what the
data services know (Grid's ``ImageDataMerger.aggregate``)."""

from __future__ import annotations

from .dates import format_iso, parse_iso
from .loader import build_image
from .model import Image, SoftDeletedMetadata
from .originals.base import OriginalsStore
from .services.base import DataServices, ImageData


class Projector:
    def __init__(self, originals: OriginalsStore, services: DataServices) -> None:
        self.originals = originals
        self.services = services

    def project(self, image_id: str) -> Image:
        """Raises ImageNotFound, LoaderError (permanent) or DownstreamError."""
        stored = self.originals.get(image_id)
        image = build_image(stored, stored.upload.upload_time or stored.last_modified)
        return merge_image_data(image, self.services.fetch(image_id))


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
