"""Data services interface: what Grid's usage, collections, leases, cropper, metadata-editor
and media-api services know about an image, fetched together for the projection merge."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError

from ..errors import DownstreamError
from ..model import (
    Collection,
    Crop,
    Edits,
    ImageStatusRecord,
    LeasesByMedia,
    SyndicationRights,
    Usage,
)

#: the service names, as keys of ``services load`` files
SERVICE_NAMES = ("usages", "collections", "leases", "crops", "edits", "status", "syndication")


@dataclass(frozen=True)
class ImageData:
    """Everything the data services hold for one image; empty when they know nothing."""

    usages: list[Usage] = field(default_factory=list)
    collections: list[Collection] = field(default_factory=list)
    leases: LeasesByMedia = field(default_factory=LeasesByMedia)
    crops: list[Crop] = field(default_factory=list)
    edits: Edits | None = None
    status: ImageStatusRecord | None = None
    syndication: SyndicationRights | None = None

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ImageData:
        """Validate one image's service data (the ``services load`` format); DownstreamError
        names the offending service when a shape is wrong."""
        unknown = set(data) - set(SERVICE_NAMES)
        if unknown:
            raise DownstreamError(f"unknown services {sorted(unknown)}; known: {SERVICE_NAMES}")
        parsers: dict[str, Any] = {
            "usages": lambda v: [Usage.model_validate(u) for u in v],
            "collections": lambda v: [Collection.model_validate(c) for c in v],
            "leases": LeasesByMedia.model_validate,
            "crops": lambda v: [Crop.model_validate(c) for c in v],
            "edits": Edits.model_validate,
            "status": ImageStatusRecord.model_validate,
            "syndication": SyndicationRights.model_validate,
        }
        values: dict[str, Any] = {}
        for name, value in data.items():
            if value is None:
                continue
            try:
                values[name] = parsers[name](value)
            except (ValidationError, TypeError) as error:
                raise DownstreamError(f"invalid {name} data: {error}") from error
        return cls(**values)


class DataServices(ABC):
    @abstractmethod
    def fetch(self, image_id: str) -> ImageData:
        """All service data of one image; raises DownstreamError when a service is unwell."""

    def prefetch(self, image_ids: Sequence[str]) -> None:  # noqa: B027 - optional hook
        """Start fetching these images' data now, for their ``fetch`` soon after (services
        across a network); the embedded ones have nothing to gain."""

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release connections."""
