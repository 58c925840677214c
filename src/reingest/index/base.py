"""Search index interface: one JSON document per image, as media-api serves it."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence

from .documents import Document, DocumentUpdate


class SearchIndex(ABC):
    @abstractmethod
    def get(self, image_id: str) -> Document | None: ...

    @abstractmethod
    def get_many(self, ids: Sequence[str]) -> dict[str, Document]:
        """The documents that exist among ``ids`` (missing ids are absent from the result)."""

    def versions(self, ids: Sequence[str]) -> dict[str, str | None]:
        """lastModified of the documents that exist among ``ids`` (what the checker needs);
        backends that can fetch just that field should."""
        return {image_id: doc.get("lastModified") for image_id, doc in self.get_many(ids).items()}

    @abstractmethod
    def apply(self, updates: Sequence[DocumentUpdate]) -> None:
        """Apply a batch of updates with ``documents.apply_update``'s rules, in order; the
        result is visible to ``get`` as soon as this returns (the checker relies on it)."""

    @abstractmethod
    def delete(self, image_id: str) -> bool:
        """Remove a document; False if there was none."""

    @abstractmethod
    def count(self) -> int: ...

    @abstractmethod
    def clear(self) -> int:
        """Remove every document (simulated data loss, or before a full rebuild)."""

    def search(
        self, text: str | None, filters: Mapping[str, str], limit: int, offset: int
    ) -> tuple[int, list[Document]]:
        """Documents containing every word of ``text`` whose dotted-path fields equal
        ``filters`` (e.g. ``{"uploadedBy": "a@b"}``), newest upload first: (total, page).
        Optional: media-api's search endpoint needs it, the reingestion does not."""
        raise NotImplementedError(f"{type(self).__name__} does not support search")

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release connections."""
