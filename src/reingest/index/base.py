"""Search index interface: one JSON document per image, as media-api serves it.

Reads by id (``get``, ``get_many``, ``file_digests``) see every write as soon as ``apply``
returns: thrall and the checker rely on it. Reads that search (``count``, ``ids``, ``search``)
may be near-real-time, as on Elasticsearch: they see writes after the index's next refresh, at
once after ``refresh()``.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterator, Mapping, Sequence

from .documents import Document, DocumentUpdate, file_digest


class SearchIndex(ABC):
    #: writes the index refused for load so far (Elasticsearch's 429s), whether a retry then
    #: got them through or not: the throttle watches it besides write latency
    rejected_writes: int = 0

    @abstractmethod
    def get(self, image_id: str) -> Document | None: ...

    @abstractmethod
    def get_many(self, ids: Sequence[str]) -> dict[str, Document]:
        """The documents that exist among ``ids`` (missing ids are absent from the result)."""

    def file_digests(self, ids: Sequence[str]) -> dict[str, str]:
        """``documents.file_digest`` of the documents that exist among ``ids`` (what the checker
        compares); backends that can fetch just the ``FILE_DERIVED`` fields should."""
        found = self.get_many(ids)
        return {image_id: file_digest(doc) for image_id, doc in found.items()}

    @abstractmethod
    def ids(self, batch_size: int = 10_000) -> Iterator[str]:
        """Every document's id in lexicographic order, streamed a page at a time (keyset
        paging: flat memory at any size), so the audit can merge it with other sorted ids.
        Near-real-time (see ``refresh``)."""

    @abstractmethod
    def apply(self, updates: Sequence[DocumentUpdate]) -> set[str]:
        """Apply a batch of updates with ``documents.apply_update``'s rules, the updates of
        each id in the order given, deletions included; the result is visible to ``get`` as
        soon as this returns (the checker relies on it). Returns the ids whose document the
        batch removed."""

    @abstractmethod
    def count(self) -> int:
        """Documents in the index (near-real-time: see ``refresh``)."""

    def refresh(self) -> None:  # noqa: B027 - optional hook
        """Make every write so far visible to ``count``, ``ids`` and ``search`` (a backend whose
        searches see writes at once has nothing to do)."""

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
