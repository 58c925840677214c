"""Search index interface: one JSON document per image, as media-api serves it.

A backend object is bound to one **target**, an alias or an index name (Grid reads and writes
through the ``Images_Current`` alias), and also manages the physical indices and aliases beside
it (``create_index``, ``indices``, ``aliases``, ``change_aliases``): what a migration needs.

Reads by id (``get``, ``get_many``, ``file_digests``) see every write as soon as ``apply``
returns: thrall and the checker rely on it. Reads that search (``count``, ``ids``, ``search``)
may be near-real-time, as on Elasticsearch: they see writes after the index's next refresh, at
once after ``refresh()``.
"""

from __future__ import annotations

import re
import secrets
from abc import ABC, abstractmethod
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

from ..errors import ConfigurationError
from .documents import Document, DocumentUpdate, file_digest
from .mirroring import Mirror

#: an index name Elasticsearch accepts (lower case; none of \ / * ? " < > | , # : or space)
_INDEX_NAME = re.compile(r"^[a-z0-9][a-z0-9_.+-]{0,254}$")
#: an alias name: Grid's are mixed case (``Images_Current``, ``MIGRATION_PAUSED``)
_ALIAS_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.+-]{0,254}$")


def new_index_name(now: datetime, suffix: str | None = None) -> str:
    """Grid's name for a new index: ``images_<UTC yyyy-MM-dd_HH-mm-ss>_<suffix>`` (Grid's
    suffix is the first 7 characters of its git hash; a random one by default here)."""
    return check_index_name(
        f"images_{now.astimezone(UTC):%Y-%m-%d_%H-%M-%S}_{suffix or secrets.token_hex(4)[:7]}"
    )


def check_index_name(name: str) -> str:
    if not _INDEX_NAME.match(name):
        raise ConfigurationError(
            f"not an index name: {name!r} (lower-case letters, digits and _ . + - only)"
        )
    return name


def check_alias_name(name: str) -> str:
    if not _ALIAS_NAME.match(name):
        raise ConfigurationError(f"not an alias name: {name!r} (letters, digits, _ . + -)")
    return name


@dataclass(frozen=True)
class AliasChange:
    """One action of an atomic alias change (an action of Elasticsearch's ``_aliases``)."""

    action: Literal["add", "remove"]
    alias: str
    index: str


class SearchIndex(ABC):
    #: writes the index refused for load so far (Elasticsearch's 429s), whether a retry then
    #: got them through or not: the throttle watches it besides write latency
    rejected_writes: int = 0

    #: the alias or index this object reads and writes
    target: str

    @abstractmethod
    def using(self, target: str) -> SearchIndex:
        """The same index service, bound to another alias or index (sharing connections:
        close only the original)."""

    @abstractmethod
    def create_index(
        self, name: str, mapping: Mapping[str, Any] | None = None, aliases: Sequence[str] = ()
    ) -> None:
        """Create an empty physical index with ``mapping`` (default: the packaged Grid
        mapping) and the packaged settings, already under ``aliases`` (in the same step, so
        a process killed meanwhile leaves no index that nothing names); refuses a name
        already used."""

    @abstractmethod
    def delete_index(self, name: str) -> None:
        """Drop a physical index and its aliases."""

    @abstractmethod
    def indices(self) -> list[str]:
        """The names of the physical indices managed here, sorted (``using(name).count()``
        counts one)."""

    @abstractmethod
    def aliases(self) -> dict[str, list[str]]:
        """Every alias → the physical indices it points at (sorted)."""

    @abstractmethod
    def change_aliases(self, changes: Sequence[AliasChange]) -> None:
        """Apply every change at once or none: readers never see a state in between."""

    def resolve(self, target: str | None = None) -> str | None:
        """The one physical index ``target`` (default: this object's) names, or None."""
        name = target or self.target
        pointed = self.aliases().get(name)
        if pointed is None:
            return name if name in self.indices() else None
        return pointed[0] if len(pointed) == 1 else None

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
    def apply(self, updates: Sequence[DocumentUpdate], mirrors: Sequence[Mirror] = ()) -> set[str]:
        """Apply a batch of updates with ``documents.apply_update``'s rules, the updates of
        each id in the order given, deletions included; the result is visible to ``get`` as
        soon as this returns (the checker relies on it). Each of ``mirrors`` (physical
        indices) receives ``mirroring.mirror_writes`` of the result, written before the
        current documents (which carry the migration markers of a marking mirror); a mirror
        that refuses a copy costs that copy only. Returns the ids whose document the batch
        removed."""

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
