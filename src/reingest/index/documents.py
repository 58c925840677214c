"""How the search index applies thrall's messages: Grid's update rules, as pure functions.

One rule per subject of Grid's ``MessageSubjects`` (``RULES``), each the Python twin of the
painless script Grid's thrall runs for it (``thrall/app/lib/elasticsearch/ElasticSearch.scala``).
Every index backend applies exactly these rules (read, ``apply_update``, conditional write), and
the shared index test suite holds every backend to them.

Each field has one owner and one guard, as in Grid:
- an image message always replaces the fields read from the original (the original never
  changes, so a late reingest still refreshes them) and keeps the fields other services own
  (``PRESERVED_ON_UPDATE``); identifiers are merged;
- ``userMetadata`` and ``usages`` move only with their own subjects, and only forward by their
  own timestamps (``userMetadataLastModified``, ``usagesLastModified``);
- ``lastModified`` only moves forward, whatever the subject.
A rule returns the new document, or None when there is no document (deleted, or a message for
an image that is not indexed, which Grid's update-by-id answers with a 404 and drops).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import orjson

from ..dates import parse_iso
from ..errors import DocumentRejected

Document = dict[str, Any]

IMAGE = "image"
REINGEST_IMAGE = "reingest-image"
UPDATE_IMAGE = "update-image"
DELETE_IMAGE = "delete-image"
SOFT_DELETE_IMAGE = "soft-delete-image"
UN_SOFT_DELETE_IMAGE = "un-soft-delete-image"
DELETE_IMAGE_EXPORTS = "delete-image-exports"
UPDATE_IMAGE_EXPORTS = "update-image-exports"
UPDATE_IMAGE_USER_METADATA = "update-image-user-metadata"
UPDATE_IMAGE_USAGES = "update-image-usages"
REPLACE_IMAGE_LEASES = "replace-image-leases"
ADD_IMAGE_LEASE = "add-image-lease"
REMOVE_IMAGE_LEASE = "remove-image-lease"
SET_IMAGE_COLLECTIONS = "set-image-collections"
UPDATE_USAGE_STATUS = "update-usage-status"
DELETE_USAGES = "delete-usages"
DELETE_SINGLE_USAGE = "delete-single-usage"
UPDATE_IMAGE_SYNDICATION_METADATA = "update-image-syndication-metadata"
UPDATE_IMAGE_PHOTOSHOOT_METADATA = "update-image-photoshoot-metadata"
#: not one of Grid's subjects (no message can carry it: thrall translates Grid's only): a write
#: that changes nothing, so that a migration copies a document as it is
COPY_AS_IS = "copy-as-is"

#: fields an image message never overwrites on an existing document (Grid's asImageUpdate)
PRESERVED_ON_UPDATE = frozenset(
    {
        "uploadTime",
        "uploadedBy",
        "userMetadata",
        "exports",
        "collections",
        "leases",
        "usages",
        "lastModified",
    }
)
#: fields only the original determines: what the checker compares to prove a projection landed
FILE_DERIVED = ("source", "fileMetadata", "originalMetadata", "originalUsageRights")


@dataclass(frozen=True)
class DocumentUpdate:
    """One message's change to one document: its subject, when it was sent, and what it
    carries for that subject (an image, edits, usages, a lease, a lease id, ...)."""

    image_id: str
    subject: str
    last_modified: str
    payload: Any = None

    @classmethod
    def image(cls, image: Document, last_modified: str, subject: str = IMAGE) -> DocumentUpdate:
        return cls(image["id"], subject, last_modified, image)

    @classmethod
    def user_metadata(cls, image_id: str, edits: Document, last_modified: str) -> DocumentUpdate:
        return cls(image_id, UPDATE_IMAGE_USER_METADATA, last_modified, edits)


Rule = Callable[[Document | None, DocumentUpdate], Document | None]


def apply_image(existing: Document | None, update: DocumentUpdate) -> Document:
    """image / reingest-image / update-image (Grid's ``migrationAwareIndexImage``).

    - no document: the image as sent, stamped with the message time (no refresh from edits);
    - otherwise: identifiers merged (the message's win per key), every other field of the
      image replaced except ``PRESERVED_ON_UPDATE``, the credit suggester set, metadata and
      usageRights refreshed from the stored edits, lastModified moved forward only. There is
      no other guard: an older image message still refreshes the file-derived fields.
    """
    image: Document = update.payload
    if existing is None:
        return {**image, "lastModified": update.last_modified}
    document = dict(existing)
    identifiers = {**(existing.get("identifiers") or {}), **(image.get("identifiers") or {})}
    document.update({k: v for k, v in image.items() if k not in PRESERVED_ON_UPDATE})
    document["identifiers"] = identifiers
    credit = (document.get("metadata") or {}).get("credit")
    if credit is not None:
        document["suggestMetadataCredit"] = {"input": [credit]}
    _refresh_from_edits(document)
    return _touched(document, update.last_modified)


def delete_image(existing: Document | None, _update: DocumentUpdate) -> Document | None:
    """Grid deletes only an image with no exports and no usages; any other stays, and the
    message still counts as done ("Image cannot be deleted")."""
    if existing is None or existing.get("exports") or existing.get("usages"):
        return existing
    return None


def soft_delete(existing: Document | None, update: DocumentUpdate) -> Document | None:
    """Sets ``softDeletedMetadata``; Grid's script leaves lastModified alone."""
    if existing is None:
        return None
    return {**existing, "softDeletedMetadata": update.payload}


def un_soft_delete(existing: Document | None, _update: DocumentUpdate) -> Document | None:
    if existing is None:
        return None
    return _without(existing, "softDeletedMetadata")


def apply_user_metadata(existing: Document | None, update: DocumentUpdate) -> Document | None:
    """update-image-user-metadata (and photoshoot): the edits replace ``userMetadata`` only if
    their own lastModified (else the message's) is after ``userMetadataLastModified``; metadata
    and usageRights are refreshed either way; the photoshoot suggester follows the title; the
    document's lastModified moves to the edits' time if that is newer."""
    if existing is None:
        return None
    edits: Document = update.payload
    edited_at = edits.get("lastModified") or update.last_modified
    document = dict(existing)
    if _after(edited_at, existing.get("userMetadataLastModified")):
        document["userMetadata"] = edits
        document["userMetadataLastModified"] = edited_at
    _refresh_from_edits(document)
    photoshoot = (document.get("userMetadata") or {}).get("photoshoot")
    if photoshoot is not None:
        suggested = {**photoshoot, "suggest": {"input": [photoshoot.get("title")]}}
        document["userMetadata"] = {**document["userMetadata"], "photoshoot": suggested}
    return _touched(document, edited_at)


def replace_usages(existing: Document | None, update: DocumentUpdate) -> Document | None:
    """update-image-usages: replaced only if the message is after ``usagesLastModified``."""
    if existing is None:
        return None
    document = dict(existing)
    if _after(update.last_modified, existing.get("usagesLastModified")):
        document["usages"] = update.payload
        document["usagesLastModified"] = update.last_modified
    return _touched(document, update.last_modified)


def update_usage_status(existing: Document | None, update: DocumentUpdate) -> Document | None:
    """update-usage-status: the usage with the notice's (first) usage id takes its status.
    (With no usages Grid's script fails on null and changes nothing; so here.)"""
    if existing is None or existing.get("usages") is None:
        return existing
    changed: Document = update.payload
    document = dict(existing)
    usages = []
    for usage in existing["usages"]:
        if usage.get("id") == changed.get("id"):
            usage = {**usage, "status": changed.get("status"), "lastModified": update.last_modified}
            document["usagesLastModified"] = update.last_modified
        usages.append(usage)
    document["usages"] = usages
    return _touched(document, update.last_modified)


def delete_usages(existing: Document | None, update: DocumentUpdate) -> Document | None:
    if existing is None:
        return None
    return _touched(_without(existing, "usages"), update.last_modified)


def delete_single_usage(existing: Document | None, update: DocumentUpdate) -> Document | None:
    if existing is None or existing.get("usages") is None:
        return existing  # Grid's removeIf fails on null usages: nothing changes
    usages = [usage for usage in existing["usages"] if usage.get("id") != update.payload]
    return _touched({**existing, "usages": usages}, update.last_modified)


def add_exports(existing: Document | None, update: DocumentUpdate) -> Document | None:
    """update-image-exports: the crops are appended to ``exports``."""
    if existing is None:
        return None
    exports = [*(existing.get("exports") or []), *update.payload]
    return _touched({**existing, "exports": exports}, update.last_modified)


def delete_exports(existing: Document | None, update: DocumentUpdate) -> Document | None:
    if existing is None:
        return None
    return _touched(_without(existing, "exports"), update.last_modified)


def replace_leases(existing: Document | None, update: DocumentUpdate) -> Document | None:
    if existing is None:
        return None
    leases = {"leases": update.payload, "lastModified": update.last_modified}
    return _touched({**existing, "leases": leases}, update.last_modified)


def add_lease(existing: Document | None, update: DocumentUpdate) -> Document | None:
    if existing is None:
        return None
    current = (existing.get("leases") or {}).get("leases")
    leases = [update.payload] if current is None else [*current, update.payload]
    document = {**existing, "leases": {"leases": leases, "lastModified": update.last_modified}}
    return _touched(document, update.last_modified)


def remove_lease(existing: Document | None, update: DocumentUpdate) -> Document | None:
    """remove-image-lease, with Grid's loop: a removal shifts the next lease into the index
    just checked, so of two adjacent leases with the same id the second stays. Without a
    lease list Grid's script fails on null and nothing changes."""
    holder = dict((existing or {}).get("leases") or {})
    if existing is None or holder.get("leases") is None:
        return existing
    leases = list(holder["leases"])
    i = 0
    while i < len(leases):
        if leases[i].get("id") == update.payload:
            del leases[i]
            holder["lastModified"] = update.last_modified
        i += 1
    return _touched({**existing, "leases": {**holder, "leases": leases}}, update.last_modified)


def set_collections(existing: Document | None, update: DocumentUpdate) -> Document | None:
    if existing is None:
        return None
    return _touched({**existing, "collections": update.payload}, update.last_modified)


def set_syndication_rights(existing: Document | None, update: DocumentUpdate) -> Document | None:
    """update-image-syndication-metadata: the rights as sent, ``null`` included."""
    if existing is None:
        return None
    return _touched({**existing, "syndicationRights": update.payload}, update.last_modified)


#: subject → rule: Grid's MessageProcessor, one entry per subject of MessageSubjects
RULES: dict[str, Rule] = {
    IMAGE: apply_image,
    REINGEST_IMAGE: apply_image,
    UPDATE_IMAGE: apply_image,
    DELETE_IMAGE: delete_image,
    SOFT_DELETE_IMAGE: soft_delete,
    UN_SOFT_DELETE_IMAGE: un_soft_delete,
    DELETE_IMAGE_EXPORTS: delete_exports,
    UPDATE_IMAGE_EXPORTS: add_exports,
    UPDATE_IMAGE_USER_METADATA: apply_user_metadata,
    UPDATE_IMAGE_USAGES: replace_usages,
    REPLACE_IMAGE_LEASES: replace_leases,
    ADD_IMAGE_LEASE: add_lease,
    REMOVE_IMAGE_LEASE: remove_lease,
    SET_IMAGE_COLLECTIONS: set_collections,
    UPDATE_USAGE_STATUS: update_usage_status,
    DELETE_USAGES: delete_usages,
    DELETE_SINGLE_USAGE: delete_single_usage,
    UPDATE_IMAGE_SYNDICATION_METADATA: set_syndication_rights,
    UPDATE_IMAGE_PHOTOSHOOT_METADATA: apply_user_metadata,
}
#: rules of reingest's own writes, which no message can ask for
INTERNAL_RULES: dict[str, Rule] = {COPY_AS_IS: lambda existing, _update: existing}


def apply_update(existing: Document | None, update: DocumentUpdate) -> Document | None:
    """The document after ``update``; None when there is no document (any more)."""
    rule = RULES.get(update.subject) or INTERNAL_RULES.get(update.subject)
    if rule is None:
        raise ValueError(f"no rule for subject {update.subject!r}")
    return rule(existing, update)


def apply_in_order(
    current: Mapping[str, Document], updates: Iterable[DocumentUpdate]
) -> tuple[dict[str, Document | None], set[str]]:
    """A batch's updates applied to the ``current`` documents, each id's in the order given:
    (every touched id → its document or None, ids a delete removed and nothing put back).
    An image indexed and deleted within the batch counts as deleted, as it would have been
    one message at a time."""
    documents: dict[str, Document | None] = dict(current)
    deleted: set[str] = set()
    for update in updates:
        existing = documents.get(update.image_id)
        try:
            document = apply_update(existing, update)
        except (TypeError, ValueError, KeyError, AttributeError) as error:
            raise DocumentRejected(
                f"{update.subject} cannot apply to the document of {update.image_id}: "
                f"{type(error).__name__}: {error}"
            ) from error
        documents[update.image_id] = document
        if document is None and existing is not None:
            deleted.add(update.image_id)
        elif document is not None:
            deleted.discard(update.image_id)
    return documents, deleted


def file_digest(document: Mapping[str, Any]) -> str:
    """A digest of the fields only the original determines, so the checker can prove that the
    projection it enqueued is the one in the index (not merely that a document exists)."""
    values = orjson.dumps(
        [document.get(name) for name in FILE_DERIVED], option=orjson.OPT_SORT_KEYS
    )
    return hashlib.blake2b(values, digest_size=16).hexdigest()


def _refresh_from_edits(document: Document) -> None:
    """metadata = originalMetadata overlaid by the edited fields, empty strings dropped;
    usageRights = the edited rights, else the original ones, else null."""
    edits = document.get("userMetadata") or {}
    merged = {**(document.get("originalMetadata") or {}), **(edits.get("metadata") or {})}
    document["metadata"] = {k: v for k, v in merged.items() if v != ""}
    edited_rights = edits.get("usageRights")
    if edited_rights is not None:
        document["usageRights"] = edited_rights
    else:
        document["usageRights"] = document.get("originalUsageRights")


def _touched(document: Document, last_modified: str) -> Document:
    """Grid's updateLastModifiedScript: lastModified moves to the message's time if later."""
    if _after(last_modified, document.get("lastModified")):
        document = {**document, "lastModified": last_modified}
    return document


def _without(document: Document, field: str) -> Document:
    return {k: v for k, v in document.items() if k != field}


def _after(candidate: str, stored: Any) -> bool:
    """Is ``candidate`` strictly after ``stored``? Anything is after nothing, and after a
    stored value that is not a date (written by an older version), which it then replaces."""
    try:
        stored_at = parse_iso(stored)
    except (TypeError, ValueError, AttributeError):
        return True
    return parse_iso(candidate) > stored_at
