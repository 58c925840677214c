"""Search index interface: one JSON document per image, as media-api serves it."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass

from .documents import Document


@dataclass(frozen=True)
class ImageUpdate:
    """An image message to apply with Grid's upsert rule (``documents.apply_image``)."""

    image: Document
    last_modified: str


class SearchIndex(ABC):
    @abstractmethod
    def get(self, image_id: str) -> Document | None: ...

    @abstractmethod
    def get_many(self, ids: Sequence[str]) -> dict[str, Document]:
        """The documents that exist among ``ids`` (missing ids are absent from the result)."""

    @abstractmethod
    def apply_images(self, updates: Sequence[ImageUpdate]) -> None:
        """Upsert a batch; visible to ``get`` as soon as this returns (the checker relies on it)."""

    @abstractmethod
    def delete(self, image_id: str) -> bool:
        """Remove a document; False if there was none."""

    @abstractmethod
    def count(self) -> int: ...

    @abstractmethod
    def clear(self) -> int:
        """Remove every document (simulated data loss, or before a full rebuild)."""

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release connections."""
