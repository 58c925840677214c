"""How the search index applies thrall's messages: Grid's update rules, as pure functions.

Every index backend applies exactly these rules (a remote one may run them as a script or as
an optimistic read-modify-write), and the shared index test suite holds them to it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..dates import parse_iso

Document = dict[str, Any]

IMAGE = "image"
USER_METADATA = "update-image-user-metadata"

#: fields a re-sent image never overwrites on an existing document (other services own them)
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


@dataclass(frozen=True)
class DocumentUpdate:
    """One message's change to one document: a whole image, or a user's edits."""

    image_id: str
    kind: str
    payload: Document
    #: the message's lastModified (when it was sent)
    last_modified: str

    @classmethod
    def image(cls, image: Document, last_modified: str) -> DocumentUpdate:
        return cls(image["id"], IMAGE, image, last_modified)

    @classmethod
    def user_metadata(cls, image_id: str, edits: Document, last_modified: str) -> DocumentUpdate:
        return cls(image_id, USER_METADATA, edits, last_modified)


def apply_update(existing: Document | None, update: DocumentUpdate) -> Document | None:
    """The document after ``update``; None when there is (still) no document."""
    if update.kind == IMAGE:
        return apply_image(existing, update.payload, update.last_modified)
    if update.kind == USER_METADATA:
        return apply_user_metadata(existing, update.payload, update.last_modified)
    raise ValueError(f"unknown document update {update.kind!r}")


def apply_image(existing: Document | None, image: Document, last_modified: str) -> Document:
    """Apply an image message sent at ``last_modified``.

    - no document: the image as sent, stamped with the message time;
    - a document at least as new as the message (an edit landed after this projection was
      made, or this very message was applied before): left unchanged, so an older projection
      never replaces a newer document and a redelivered message changes nothing;
    - otherwise Grid's update: file-derived fields replaced, the fields other services own
      kept, identifiers merged, metadata and usageRights refreshed from the stored edits.
    """
    if existing is None:
        return {**image, "lastModified": last_modified}
    if not _newer(last_modified, existing.get("lastModified")):
        return existing
    document = dict(existing)
    identifiers = {**existing.get("identifiers", {}), **image.get("identifiers", {})}
    document.update({k: v for k, v in image.items() if k not in PRESERVED_ON_UPDATE})
    document["identifiers"] = identifiers
    credit = (document.get("metadata") or {}).get("credit")
    document["suggestMetadataCredit"] = {"input": [credit] if credit else []}
    _refresh_from_edits(document)
    document["lastModified"] = last_modified
    return document


def apply_user_metadata(
    existing: Document | None, edits: Document, last_modified: str
) -> Document | None:
    """Grid's update-image-user-metadata: the edits replace ``userMetadata`` only if they are
    newer than the stored ones; metadata and usageRights are refreshed; lastModified moves on
    only if the message is newer. Edits of an image that is not indexed change nothing."""
    if existing is None:
        return None
    edited_at = edits.get("lastModified") or last_modified
    if not _newer(edited_at, existing.get("userMetadataLastModified")):
        return existing
    document = {**existing, "userMetadata": edits, "userMetadataLastModified": edited_at}
    _refresh_from_edits(document)
    if _newer(last_modified, existing.get("lastModified")):
        document["lastModified"] = last_modified
    return document


def is_fresh(stored_last_modified: str | None, enqueued_version: str | None) -> bool:
    """The checker's test: the indexed document (its lastModified) is at least as new as the
    projection that was enqueued."""
    if enqueued_version is None:
        return True
    return stored_last_modified is not None and not _newer(enqueued_version, stored_last_modified)


def _refresh_from_edits(document: Document) -> None:
    """metadata = originalMetadata overlaid by the edited fields (empty strings dropped);
    usageRights = the edited rights, else the original ones."""
    edits = document.get("userMetadata") or {}
    edited_metadata = {k: v for k, v in (edits.get("metadata") or {}).items() if v != ""}
    document["metadata"] = {**(document.get("originalMetadata") or {}), **edited_metadata}
    document["usageRights"] = edits.get("usageRights") or document.get("originalUsageRights")


def _newer(candidate: str, stored: str | None) -> bool:
    """Is ``candidate`` strictly after ``stored`` (anything is newer than nothing)?"""
    return stored is None or parse_iso(candidate) > parse_iso(stored)
