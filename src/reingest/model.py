"""Grid's Image JSON as typed models.

Every model keeps unknown keys (``extra="allow"``) and dates stay ISO strings exactly as read,
so a document read from a real Grid is written back without losing or renaming anything.
Optional keys are left out when empty, as Play's JSON writers do; the one key Grid writes as
``null`` (``leases.lastModified``) is written by its model's serializer.
"""

from __future__ import annotations

from typing import Any, Literal

import orjson
from pydantic import BaseModel, ConfigDict, Field, model_serializer
from pydantic.functional_serializers import SerializerFunctionWrapHandler

JsonObject = dict[str, Any]


class GridModel(BaseModel):
    """Base: keeps unknown keys; ``None`` means absent and is left out on output."""

    model_config = ConfigDict(extra="allow", populate_by_name=True)

    def to_json(self) -> JsonObject:
        return self.__pydantic_serializer__.to_python(
            self, mode="json", by_alias=True, exclude_none=True
        )

    def to_json_bytes(self) -> bytes:
        """Compact UTF-8 JSON, serialised in pydantic's core (the hot path of every message)."""
        return self.__pydantic_serializer__.to_json(self, by_alias=True, exclude_none=True)

    def to_json_and_bytes(self) -> tuple[JsonObject, bytes]:
        """The JSON object and its compact bytes, for a caller that needs both (batch-index:
        the message, and the object its digest and the audit read): writing the object out is
        several times cheaper than parsing the bytes back. orjson cannot write integers past
        64 bits; those go through pydantic's own writer."""
        document = self.to_json()
        try:
            return document, orjson.dumps(document)
        except orjson.JSONEncodeError:
            return document, self.to_json_bytes()


class Dimensions(GridModel):
    width: int
    height: int


class OrientationMetadata(GridModel):
    exifOrientation: int | None = None


class Asset(GridModel):
    file: str
    size: int | None = None
    mimeType: str | None = None
    dimensions: Dimensions | None = None
    secureUrl: str | None = None
    orientationMetadata: OrientationMetadata | None = None
    orientedDimensions: Dimensions | None = None
    orientation: Literal["portrait", "landscape"] | None = None


class FileMetadata(GridModel):
    iptc: dict[str, str] = Field(default_factory=dict)
    exif: dict[str, str] = Field(default_factory=dict)
    exifSub: dict[str, str] = Field(default_factory=dict)
    xmp: dict[str, Any] = Field(default_factory=dict)
    icc: dict[str, str] = Field(default_factory=dict)
    getty: dict[str, str] = Field(default_factory=dict)
    colourModel: str | None = None
    colourModelInformation: dict[str, str] = Field(default_factory=dict)


class ImageMetadata(GridModel):
    dateTaken: str | None = None
    description: str | None = None
    credit: str | None = None
    creditUri: str | None = None
    byline: str | None = None
    bylineTitle: str | None = None
    title: str | None = None
    copyright: str | None = None
    suppliersReference: str | None = None
    source: str | None = None
    specialInstructions: str | None = None
    keywords: list[str] | None = None
    subLocation: str | None = None
    city: str | None = None
    state: str | None = None
    country: str | None = None
    subjects: list[str] | None = None
    peopleInImage: list[str] | None = None
    domainMetadata: dict[str, dict[str, Any]] | None = None
    imageType: str | None = None

    def merged_with(self, edits: ImageMetadata) -> ImageMetadata:
        """Grid's ImageMetadata.merge: edited values win (even ""), except domainMetadata,
        where the original's domains win on a clash."""
        data = self.to_json()
        edited = edits.to_json()
        domains = {**(edited.pop("domainMetadata", None) or {})}
        domains.update(data.get("domainMetadata") or {})
        data.update(edited)
        if domains:
            data["domainMetadata"] = domains
        return ImageMetadata.model_validate(data)


class UploadInfo(GridModel):
    filename: str | None = None


class ActionData(GridModel):
    author: str
    date: str


class Collection(GridModel):
    path: list[str]
    pathId: str | None = None
    description: str
    actionData: ActionData


class MediaLease(GridModel):
    id: str | None = None
    leasedBy: str | None = None
    startDate: str | None = None
    endDate: str | None = None
    access: str
    notes: str | None = None
    mediaId: str
    createdAt: str
    active: bool | None = None


class LeasesByMedia(GridModel):
    leases: list[MediaLease] = Field(default_factory=list)
    lastModified: str | None = None

    @model_serializer(mode="wrap")
    def _write_last_modified(self, handler: SerializerFunctionWrapHandler) -> JsonObject:
        """Grid always writes ``lastModified`` here, as null when there is none."""
        data: JsonObject = handler(self)
        data.setdefault("lastModified", self.lastModified)
        return data


class Usage(GridModel):
    id: str
    references: list[JsonObject] = Field(default_factory=list)
    platform: str
    media: str
    status: str
    dateAdded: str | None = None
    dateRemoved: str | None = None
    lastModified: str


class CropSpec(GridModel):
    uri: str
    bounds: dict[str, int]
    aspectRatio: str | None = None
    type: str | None = None
    rotation: int | None = None


class Crop(GridModel):
    id: str | None = None
    author: str | None = None
    date: str | None = None
    specification: CropSpec
    master: Asset | None = None
    assets: list[Asset] = Field(default_factory=list)


class Edits(GridModel):
    archived: bool = False
    labels: list[str] = Field(default_factory=list)
    metadata: ImageMetadata | None = None
    usageRights: JsonObject | None = None
    photoshoot: JsonObject | None = None
    lastModified: str | None = None


class SoftDeletedMetadata(GridModel):
    deleteTime: str
    deletedBy: str


class ImageStatusRecord(GridModel):
    """media-api's soft-delete record, the source of ``softDeletedMetadata``."""

    id: str
    deletedBy: str
    deleteTime: str
    isDeleted: bool


class SyndicationRights(GridModel):
    published: str | None = None
    suppliers: list[JsonObject] = Field(default_factory=list)
    rights: list[JsonObject] = Field(default_factory=list)
    isInferred: bool = False


class Image(GridModel):
    """Grid's Image document: what the projection returns and the index stores."""

    id: str
    uploadTime: str
    uploadedBy: str
    identifiers: dict[str, str] = Field(default_factory=dict)
    uploadInfo: UploadInfo = Field(default_factory=UploadInfo)
    source: Asset
    fileMetadata: FileMetadata = Field(default_factory=FileMetadata)
    metadata: ImageMetadata
    originalMetadata: ImageMetadata = Field(default_factory=ImageMetadata)
    usageRights: JsonObject = Field(default_factory=dict)
    originalUsageRights: JsonObject = Field(default_factory=dict)
    exports: list[Crop] = Field(default_factory=list)
    usages: list[Usage] = Field(default_factory=list)
    leases: LeasesByMedia = Field(default_factory=LeasesByMedia)
    collections: list[Collection] = Field(default_factory=list)
    softDeletedMetadata: SoftDeletedMetadata | None = None
    lastModified: str | None = None
    thumbnail: Asset | None = None
    optimisedPng: Asset | None = None
    userMetadata: Edits | None = None
    syndicationRights: SyndicationRights | None = None
    embedding: JsonObject | None = None
    userMetadataLastModified: str | None = None
