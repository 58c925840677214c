"""Mirrored writes: what a second index receives while thrall writes the current one.

During a migration every write to the current index is also made to the migration index, and
for a while after one completes, to the previous index (so a rollback loses no edit). Grid's
thrall applies each message's rule to both indices and ignores a 404 in the migration index;
that loses an edit that lands on an image between its projection and its copy (Grid guards it
by comparing versions and projecting again). Here the mirror receives a **copy of the current
document after the batch**, for every id the batch touched: the mirror can never hold less
than the current index (an edit applied to the current document is in every later copy), any
message repairs a missing or stale copy, and a delete deletes both.

When the mirror is the migration index, the outcome is recorded on the current document as
Grid records it (``esInfo.migration``): ``migratedTo`` once an image message's copy landed,
``failures.<index>`` when the migration index refused the copy, so Grid's own thrall dashboard
reads the same state.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from .documents import IMAGE, REINGEST_IMAGE, UPDATE_IMAGE, Document, DocumentUpdate

#: the subjects whose landing in the migration index counts as "migrated" (Grid marks images)
MIGRATING_SUBJECTS = frozenset({IMAGE, REINGEST_IMAGE, UPDATE_IMAGE})
#: Grid's cap on a recorded failure (``EsInfo``): 253 characters and an ellipsis
FAILURE_LIMIT = 256


@dataclass(frozen=True)
class Mirror:
    """A physical index that receives a copy of every document a batch writes."""

    index: str
    #: the alias it was found through: a backend that can (SQLite, in the write's transaction)
    #: checks it still points there, so a write never lands by an alias changed meanwhile
    alias: str | None = None
    #: record the outcome on the current document (``esInfo.migration``): the migration index
    marks: bool = False


def mirror_copy(document: Document) -> Document:
    """The document as a mirror keeps it: without ``esInfo``, which describes the current
    index's copy (Grid stores it on the source documents only)."""
    if "esInfo" not in document:
        return document
    return {k: v for k, v in document.items() if k != "esInfo"}


def mirror_writes(
    documents: Mapping[str, Document | None], deleted: Iterable[str]
) -> tuple[dict[str, Document], set[str]]:
    """What a mirror receives for a batch: (id → copy to write, ids to delete). Every touched
    id that has a document is copied, changed or not, so a mirror that lacks it gains it."""
    copies = {i: mirror_copy(doc) for i, doc in documents.items() if doc is not None}
    return copies, set(deleted)


def mark_migration(
    documents: dict[str, Document | None],
    updates: Iterable[DocumentUpdate],
    index: str,
    refused: Mapping[str, str],
) -> None:
    """Record on the current documents how their copy fared in migration index ``index``:
    ``migratedTo`` for images an image message copied, ``failures.<index>`` for refusals."""
    migrated = {u.image_id for u in updates if u.subject in MIGRATING_SUBJECTS}
    for image_id, document in documents.items():
        if document is None:
            continue
        outcome: dict[str, object]
        if image_id in refused:
            outcome = {"failures": {index: failure_text(refused[image_id])}}
        elif image_id in migrated:
            outcome = {"migratedTo": index}
        else:
            continue
        info = document.get("esInfo")
        info = info if isinstance(info, dict) else {}
        documents[image_id] = {**document, "esInfo": {**info, "migration": outcome}}


def failure_text(message: str) -> str:
    """Grid's shortening of a migration failure: a mapping error loses its "in document with
    id" tail, and anything over 256 characters is cut to 253 and an ellipsis."""
    if "failed to parse field" in message and "in document with id" in message:
        message = message[: message.index("in document with id")].rstrip()
    if len(message) > FAILURE_LIMIT:
        message = message[: FAILURE_LIMIT - 3] + "..."
    return message


def migration_failure(document: Mapping[str, object], index: str) -> str | None:
    """Why migration index ``index`` refused this current document's copy, if it did."""
    info = document.get("esInfo")
    migration = info.get("migration") if isinstance(info, dict) else None
    failures = migration.get("failures") if isinstance(migration, dict) else None
    failure = failures.get(index) if isinstance(failures, dict) else None
    return failure if isinstance(failure, str) else None
