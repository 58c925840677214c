"""How the search index applies an image message: Grid thrall's upsert, as a pure function.

Every index backend applies exactly this rule (the Elasticsearch backend as a script), and the
shared index test suite holds them to it.
"""

from __future__ import annotations

from typing import Any

from ..dates import parse_iso

Document = dict[str, Any]

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


def apply_image(existing: Document | None, image: Document, last_modified: str) -> Document:
    """The document after applying an image message sent at ``last_modified``.

    - no document: the image as sent, stamped with the message time;
    - a document at least as new as the message (an edit landed after this projection was
      made, or this very message was applied before): left unchanged, so an older projection
      never replaces a newer document and a redelivered message changes nothing;
    - otherwise Grid's update: file-derived fields replaced, the fields other services own
      kept, identifiers merged, metadata and usageRights refreshed from the stored edits.
    """
    if existing is None:
        return {**image, "lastModified": last_modified}
    stored_last_modified = existing.get("lastModified")
    if stored_last_modified is not None and not _is_after(last_modified, stored_last_modified):
        return existing
    document = dict(existing)
    identifiers = {**existing.get("identifiers", {}), **image.get("identifiers", {})}
    document.update({k: v for k, v in image.items() if k not in PRESERVED_ON_UPDATE})
    document["identifiers"] = identifiers
    credit = (document.get("metadata") or {}).get("credit")
    document["suggestMetadataCredit"] = {"input": [credit] if credit else []}
    edits = document.get("userMetadata") or {}
    edited_metadata = {k: v for k, v in (edits.get("metadata") or {}).items() if v != ""}
    document["metadata"] = {**(document.get("originalMetadata") or {}), **edited_metadata}
    document["usageRights"] = edits.get("usageRights") or document.get("originalUsageRights")
    document["lastModified"] = last_modified
    return document


def is_fresh(document: Document, enqueued_version: str | None) -> bool:
    """The checker's test: the document is at least as new as the projection that was enqueued."""
    if enqueued_version is None:
        return True
    stored = document.get("lastModified")
    return stored is not None and not _is_after(enqueued_version, stored)


def _is_after(first: str, second: str) -> bool:
    return parse_iso(first) > parse_iso(second)
