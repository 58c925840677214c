"""Search index on Elasticsearch (``http(s)://[user:password@]host:port/INDEX``).

``INDEX`` is the index or alias written to and read from (default ``images``; Grid's is the
``Images_Current`` alias). It is created with Grid's mapping (a subset of ``Mappings.scala``,
grid-model.md §1) if missing. ``REINGEST_ES_API_KEY`` sets an API key.

**Updates** are read-modify-write with optimistic concurrency: ``mget`` the current documents
(with ``_seq_no`` / ``_primary_term``), compute each new document with the pure
``documents.apply_update`` (so the rules are exactly the ones every backend and the shared
suite use), then one ``bulk`` request: ``create`` for new documents, ``index`` with ``if_seq_no`` /
``if_primary_term`` for changed ones, ``delete`` (also conditional) for removed ones, nothing
for messages that change nothing (stale or redelivered). Ids whose write hit a version conflict (a concurrent writer) are read and
computed again, up to ``MAX_TRIES`` times. Writes use ``refresh="wait_for"``, so ``get``,
``count`` and the checker see them as soon as ``apply_images`` returns.

Client and server versions: the ``elasticsearch`` 9.x client only talks to Elasticsearch 9;
for an Elasticsearch 8 cluster install ``elasticsearch>=8,<9``. The official client refuses
servers that are not Elasticsearch (its product check), so OpenSearch would need
``opensearch-py`` instead; that is not done here.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import unquote, urlparse

from elasticsearch import ApiError, Elasticsearch, NotFoundError

from ..batching import chunked
from ..errors import ConfigurationError, DocumentRejected, DownstreamError, TransientError
from .base import SearchIndex
from .documents import FILE_DERIVED, Document, DocumentUpdate, apply_in_order, file_digest

MAX_TRIES = 5
CHUNK = 500
#: Grid indexes fileMetadata strings as keywords up to this length (Lucene's term limit / 4)
IGNORE_ABOVE = 29489

KEYWORD = {"type": "keyword"}
DATE = {"type": "date"}
TEXT = {"type": "text"}
TEXT_AND_KEYWORD = {"type": "text", "fields": {"keyword": {"type": "keyword", "ignore_above": 256}}}
NOT_INDEXED = {"type": "object", "enabled": False}


def _object(properties: dict[str, Any], dynamic: bool | str = False) -> dict[str, Any]:
    """An object whose unmapped fields are kept in ``_source`` but not indexed (the top level is
    strict, and strictness is inherited, so every sub-object says what it wants)."""
    return {"type": "object", "dynamic": dynamic, "properties": properties}


_METADATA = _object(
    {
        "dateTaken": DATE,
        "description": TEXT,
        "credit": KEYWORD,
        "creditUri": KEYWORD,
        "byline": TEXT_AND_KEYWORD,
        "bylineTitle": TEXT,
        "title": TEXT,
        "copyright": TEXT,
        "suppliersReference": TEXT_AND_KEYWORD,
        "source": KEYWORD,
        "specialInstructions": TEXT,
        "keywords": KEYWORD,
        "subLocation": TEXT,
        "city": TEXT,
        "state": TEXT,
        "country": TEXT,
        "subjects": KEYWORD,
        "peopleInImage": TEXT_AND_KEYWORD,
        "imageType": KEYWORD,
        "domainMetadata": NOT_INDEXED,
    }
)
_ASSET = _object(
    {
        "file": {"type": "keyword", "index": False},
        "secureUrl": {"type": "keyword", "index": False},
        "size": {"type": "long"},
        "mimeType": KEYWORD,
        "dimensions": _object({"width": {"type": "integer"}, "height": {"type": "integer"}}),
        "orientedDimensions": _object(
            {"width": {"type": "integer"}, "height": {"type": "integer"}}
        ),
        "orientation": KEYWORD,
    }
)
_USAGE_RIGHTS = _object(
    {
        "category": KEYWORD,
        "supplier": KEYWORD,
        "suppliersCollection": KEYWORD,
        "photographer": KEYWORD,
        "publication": KEYWORD,
        "creator": KEYWORD,
        "restrictions": TEXT,
    }
)

#: Grid's ``Mappings.scala``, reduced to what search and the tools here use
MAPPINGS: dict[str, Any] = {
    "dynamic": "strict",
    "date_detection": False,
    "numeric_detection": False,
    "dynamic_templates": [
        {
            "strings_as_keywords": {
                "match_mapping_type": "string",
                "mapping": {"type": "keyword", "ignore_above": IGNORE_ABOVE},
            }
        }
    ],
    "properties": {
        "id": KEYWORD,
        "uploadTime": DATE,
        "uploadedBy": KEYWORD,
        "lastModified": DATE,
        "identifiers": {"type": "object", "dynamic": True},
        "uploadInfo": _object({"filename": KEYWORD}),
        "source": _ASSET,
        "thumbnail": _ASSET,
        "optimisedPng": _ASSET,
        "fileMetadata": {"type": "object", "dynamic": True},
        "metadata": _METADATA,
        "originalMetadata": _METADATA,
        "usageRights": _USAGE_RIGHTS,
        "originalUsageRights": _USAGE_RIGHTS,
        "exports": _object({"id": KEYWORD, "author": KEYWORD, "date": DATE}),
        "usages": {
            "type": "nested",
            "dynamic": False,
            "properties": {
                "id": KEYWORD,
                "platform": KEYWORD,
                "media": KEYWORD,
                "status": KEYWORD,
                "dateAdded": DATE,
                "dateRemoved": DATE,
                "lastModified": DATE,
            },
        },
        "leases": _object(
            {
                "lastModified": DATE,
                "leases": {
                    "type": "nested",
                    "dynamic": False,
                    "properties": {
                        "id": KEYWORD,
                        "access": KEYWORD,
                        "mediaId": KEYWORD,
                        "startDate": DATE,
                        "endDate": DATE,
                        "createdAt": DATE,
                        "active": {"type": "boolean"},
                    },
                },
            }
        ),
        "collections": _object({"path": KEYWORD, "pathId": KEYWORD, "description": TEXT}),
        "softDeletedMetadata": _object({"deleteTime": DATE, "deletedBy": KEYWORD}),
        "userMetadata": _object(
            {
                "archived": {"type": "boolean"},
                "labels": KEYWORD,
                "metadata": _METADATA,
                "usageRights": _USAGE_RIGHTS,
                "photoshoot": _object({"title": KEYWORD}),
                "lastModified": DATE,
            }
        ),
        "userMetadataLastModified": DATE,
        "syndicationRights": _object({"published": DATE, "isInferred": {"type": "boolean"}}),
        # dense vectors are off here: kept in _source only
        "embedding": NOT_INDEXED,
        # Grid maps this as a completion suggester; kept in _source only (an empty input list
        # is what apply_image writes when there is no credit)
        "suggestMetadataCredit": NOT_INDEXED,
        "usagesPlatform": KEYWORD,
        "usagesStatus": KEYWORD,
        "usagesLastModified": DATE,
        "esInfo": _object({"migration": _object({"migratedTo": KEYWORD})}),
    },
}
SETTINGS: dict[str, Any] = {"index": {"mapping": {"total_fields": {"limit": 10_000}}}}


class ElasticsearchIndex(SearchIndex):
    def __init__(self, url: str) -> None:
        parsed = urlparse(url)
        if parsed.scheme not in ("http", "https") or not parsed.hostname:
            raise ConfigurationError(f"expected http(s)://HOST[:PORT]/INDEX, got {url!r}")
        port = parsed.port or (443 if parsed.scheme == "https" else 9200)
        options: dict[str, Any] = {
            "hosts": [f"{parsed.scheme}://{parsed.hostname}:{port}"],
            "request_timeout": 60,
            "retry_on_timeout": True,
            "max_retries": 3,
        }
        if parsed.username:
            options["basic_auth"] = (unquote(parsed.username), unquote(parsed.password or ""))
        if api_key := os.environ.get("REINGEST_ES_API_KEY"):
            options["api_key"] = api_key
        self.index = unquote(parsed.path.strip("/")) or "images"
        self.client = Elasticsearch(**options)
        self._ensure_index()

    def _ensure_index(self) -> None:
        if self.client.indices.exists(index=self.index):
            return
        try:
            self.client.indices.create(index=self.index, mappings=MAPPINGS, settings=SETTINGS)
        except ApiError as error:
            if error.error != "resource_already_exists_exception":  # created meanwhile
                raise

    def get(self, image_id: str) -> Document | None:
        try:
            response = self.client.get(index=self.index, id=image_id)
        except NotFoundError:
            return None
        source: Document = response["_source"]
        return source

    def get_many(self, ids: Sequence[str]) -> dict[str, Document]:
        return {image_id: found[0] for image_id, found in self._fetch(ids).items()}

    def file_digests(self, ids: Sequence[str]) -> dict[str, str]:
        found: dict[str, str] = {}
        for chunk in chunked(dict.fromkeys(ids), CHUNK):
            response = self.client.mget(
                index=self.index, ids=list(chunk), source_includes=list(FILE_DERIVED)
            )
            for doc in response["docs"]:
                if doc.get("found"):
                    found[doc["_id"]] = file_digest(doc.get("_source") or {})
        return found

    def apply(self, updates: Sequence[DocumentUpdate]) -> set[str]:
        pending: dict[str, list[DocumentUpdate]] = {}
        for update in updates:
            pending.setdefault(update.image_id, []).append(update)
        deleted: set[str] = set()
        for _attempt in range(MAX_TRIES):
            if not pending:
                return deleted
            conflicts: set[str] = set()
            for chunk in chunked(list(pending), CHUNK):
                chunk_conflicts, chunk_deleted = self._apply_chunk(
                    {image_id: pending[image_id] for image_id in chunk}
                )
                conflicts |= chunk_conflicts
                deleted |= chunk_deleted
            pending = {image_id: pending[image_id] for image_id in conflicts}
        if pending:
            raise TransientError(
                f"Elasticsearch version conflicts on {len(pending)} documents persisted "
                f"after {MAX_TRIES} tries (e.g. {next(iter(pending))})"
            )
        return deleted

    def _apply_chunk(self, updates: dict[str, list[DocumentUpdate]]) -> tuple[set[str], set[str]]:
        """One mget + one bulk; returns the ids that hit a version conflict, and the ids
        deleted."""
        current = self._fetch(list(updates))
        documents, deleted = apply_in_order(
            {image_id: found[0] for image_id, found in current.items()},
            (update for messages in updates.values() for update in messages),
        )
        operations: list[dict[str, Any]] = []
        for image_id, document in documents.items():
            existing = current.get(image_id)
            if existing is None:
                if document is not None:
                    operations += [{"create": {"_index": self.index, "_id": image_id}}, document]
                continue  # e.g. edits of an image that is not indexed
            if document == existing[0]:
                continue
            _, seq_no, primary_term = existing
            action = {
                "_index": self.index,
                "_id": image_id,
                "if_seq_no": seq_no,
                "if_primary_term": primary_term,
            }
            if document is None:
                operations.append({"delete": action})
            else:
                operations += [{"index": action}, document]
        if not operations:
            return set(), deleted
        response = self.client.bulk(operations=operations, refresh="wait_for")
        conflicts: set[str] = set()
        errors: list[str] = []
        refused_documents = True
        for item in response["items"]:
            [(_action, result)] = item.items()
            if result.get("status") == 409:
                conflicts.add(result["_id"])
            elif "error" in result:
                error = result["error"]
                reason = error.get("reason", error) if isinstance(error, dict) else error
                errors.append(f"{result['_id']}: {reason}")
                # 400: this document (mapping, parsing); anything else: the cluster's state
                refused_documents = refused_documents and result.get("status") == 400
        if errors:
            error_type = DocumentRejected if refused_documents else DownstreamError
            raise error_type(f"Elasticsearch refused {len(errors)} documents; first: {errors[0]}")
        return conflicts, deleted - conflicts

    def _fetch(self, ids: Sequence[str]) -> dict[str, tuple[Document, int, int]]:
        found: dict[str, tuple[Document, int, int]] = {}
        for chunk in chunked(dict.fromkeys(ids), CHUNK):
            response = self.client.mget(index=self.index, ids=list(chunk))
            for doc in response["docs"]:
                if doc.get("found"):
                    found[doc["_id"]] = (doc["_source"], doc["_seq_no"], doc["_primary_term"])
        return found

    def search(
        self, text: str | None, filters: Mapping[str, str], limit: int, offset: int
    ) -> tuple[int, list[Document]]:
        """Every word of ``text`` somewhere in the document, each filter matched on its field;
        newest uploads first (what media-api's search does, much simplified)."""
        must: list[dict[str, Any]] = []
        if text and text.strip():
            must.append({"simple_query_string": {"query": text, "default_operator": "and"}})
        must += [
            {"match": {field: {"query": value, "operator": "and"}}}
            for field, value in filters.items()
        ]
        response = self.client.search(
            index=self.index,
            query={"bool": {"must": must}} if must else {"match_all": {}},
            sort=[{"uploadTime": {"order": "desc"}}, {"_id": {"order": "asc"}}],
            from_=offset,
            size=limit,
            track_total_hits=True,
        )
        hits = response["hits"]
        return int(hits["total"]["value"]), [hit["_source"] for hit in hits["hits"]]

    def count(self) -> int:
        return int(self.client.count(index=self.index)["count"])

    def clear(self) -> int:
        response = self.client.delete_by_query(
            index=self.index, query={"match_all": {}}, refresh=True, conflicts="proceed"
        )
        return int(response["deleted"])

    def close(self) -> None:
        self.client.close()
