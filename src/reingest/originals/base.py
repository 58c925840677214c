"""Originals store interface: the original files and their upload record, keyed by image id."""

from __future__ import annotations

import hashlib
from abc import ABC, abstractmethod
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import partial

from .source import BLOCK, RangedSource, Source


def image_id_of(data: bytes) -> str:
    """Grid's image id: the lower-case hex SHA-1 of the original bytes."""
    return hashlib.sha1(data).hexdigest()


def storage_key(image_id: str) -> str:
    """Grid's key layout: each of the first six characters as a folder, then the full id."""
    return "/".join([*image_id[:6], image_id])


@dataclass(frozen=True)
class UploadRecord:
    """What the store keeps beside an original (Grid keeps it as S3 user metadata)."""

    uploaded_by: str = "re-ingester"
    #: ISO date (UTC, millis); None means "use the stored object's last-modified time"
    upload_time: str | None = None
    filename: str | None = None
    identifiers: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class StoredOriginal:
    """An original as read back from the store."""

    id: str
    #: all its bytes, or a source that reads them as they are asked for (``get_ranged``)
    data: bytes | Source
    uri: str
    upload: UploadRecord
    #: ISO date of the stored object's last modification (S3 Last-Modified)
    last_modified: str


class OriginalsStore(ABC):
    """Where the original files live. Backends: ``file://`` (folder), ``s3://``."""

    #: what a round trip for ranges (``read_ranges``) costs beyond their bytes, in bytes
    #: (``RangedSource``): nothing for a local file
    request_cost = 0

    @abstractmethod
    def put(self, data: bytes, upload: UploadRecord) -> tuple[str, bool]:
        """Store bytes under their id; never overwrite. Returns (id, newly stored)."""

    @abstractmethod
    def get(self, image_id: str) -> StoredOriginal:
        """Read an original back whole; raises ImageNotFound."""

    @abstractmethod
    def get_ranged(self, image_id: str, window: int) -> StoredOriginal:
        """An original of which only the first ``window`` bytes are read now (with its upload
        record, in one request), the rest as the loader asks (``read_ranges``); its ``data`` is
        the bytes themselves when the window holds them all. Raises ImageNotFound."""

    @abstractmethod
    def read_range(self, image_id: str, start: int, end: int) -> bytes:
        """Bytes ``start`` to ``end`` (excluded) of an original: fewer, or none, past its end.
        Raises ImageNotFound."""

    def read_ranges(self, image_id: str, ranges: list[tuple[int, int]]) -> list[bytes]:
        """``read_range`` for each ``(start, end)``, in their order: one after the other here;
        a store where a request waits for a round trip makes them in parallel."""
        return [self.read_range(image_id, start, end) for start, end in ranges]

    def ranged(self, image_id: str, head: bytes, size: int, window: int) -> bytes | Source:
        """The data of an original of ``size`` bytes whose first ones (``head``) are read."""
        if len(head) >= size:
            return head
        fetch = partial(self.read_ranges, image_id)
        return RangedSource(head, size, fetch, min(BLOCK, window), self.request_cost)

    @abstractmethod
    def exists(self, image_id: str) -> bool: ...

    @abstractmethod
    def ids(self) -> Iterator[str]:
        """Every stored id, streamed in lexicographic order."""

    @abstractmethod
    def delete(self, image_id: str) -> bool:
        """Remove an original and what is kept beside it (upload record, thumbnail, optimised
        PNG), as Grid's thrall does once it has deleted an image; False if there was none."""

    def thumbnail_uri(self, image_id: str) -> str | None:
        """Where this store keeps the thumbnail of ``image_id``; None if it keeps none."""
        return None

    def get_thumbnail(self, image_id: str) -> bytes | None:
        """The stored thumbnail, or None if there is none yet."""
        return None

    def put_thumbnail(self, image_id: str, data: bytes) -> None:  # noqa: B027 - optional hook
        """Keep the thumbnail beside its original (a store without thumbnails ignores it)."""

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release resources; most stores hold none."""
