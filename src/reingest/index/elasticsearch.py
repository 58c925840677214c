"""Search index on Elasticsearch (``http(s)://[user:password@]host:port/INDEX[?shards=N&replicas=M]``).

``INDEX`` is the alias (or index) written to and read from (default ``Images_Current``, Grid's
alias). If missing, an index named as Grid names them (``images_<UTC time>_<suffix>``) is created
with Grid's complete mapping and settings (``mapping.json``: ``Mappings.scala`` and
``IndexSettings.scala``), with ``shards`` primary shards and ``replicas`` replicas (default 1 and
0, Grid's development configuration), and ``INDEX`` made an alias of it, so that a migration can
later move the alias. Indices and aliases are managed with the index and ``_aliases`` APIs (one
request: atomic).
``REINGEST_ES_API_KEY`` sets an API key.

**Updates** are read-modify-write with optimistic concurrency: ``mget`` the current documents
(with ``_seq_no`` / ``_primary_term``), compute each new document with the pure
``documents.apply_in_order`` (so the rules are exactly the ones every backend and the shared
suite use), then one ``bulk`` request: ``create`` for new documents, ``index`` with
``if_seq_no`` / ``if_primary_term`` for changed ones, ``delete`` (also conditional) for removed
ones, nothing for messages that change nothing (stale or redelivered). Mirrors (a migration's
index) receive their copies first, in a bulk request of their own. Ids whose write hit a
version conflict (a concurrent writer) are read and computed again, up to ``MAX_TRIES`` times.
Writes use ``refresh="wait_for"``, so ``get``, ``count`` and the checker see them as soon as
``apply`` returns. A 400 on a bulk item is that document's fault (``DocumentRejected``); any
other refusal is the cluster's (``DownstreamError``).

Client and server versions: the ``elasticsearch`` 9.x client only talks to Elasticsearch 9;
for an Elasticsearch 8 cluster install ``elasticsearch>=8,<9``. The official client refuses
servers that are not Elasticsearch (its product check), so OpenSearch would need
``opensearch-py`` instead; that is not done here.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from copy import copy
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs, unquote, urlparse

from elasticsearch import ApiError, Elasticsearch, NotFoundError

from ..batching import chunked
from ..config import read
from ..errors import (
    AliasesMoved,
    ConfigurationError,
    DocumentRejected,
    DownstreamError,
    TransientError,
)
from .base import AliasChange, SearchIndex, check_alias_name, check_index_name, new_index_name
from .documents import FILE_DERIVED, Document, DocumentUpdate, apply_in_order, file_digest
from .mapping import MAPPING, SETTINGS
from .mirroring import Mirror, mark_migration, mirror_writes

MAX_TRIES = 5
#: Grid's aliases (``MigrationStatusProvider``): the indices they name are image indices
GRID_ALIASES = ("Images_Current", "Images_Migration", "Images_Historical")
#: the error of a write to an alias or index that does not exist
NO_INDEX = "index_not_found_exception"
CHUNK = 500


def index_settings(query: str) -> dict[str, Any]:
    """``mapping.json``'s settings with the shard and replica counts of the URL's
    ``?shards=N&replicas=M`` (Grid reads them from ``es6.shards`` / ``es6.replicas``)."""
    counts = {"shards": "number_of_shards", "replicas": "number_of_replicas"}
    index = dict(SETTINGS["index"])
    for name, values in parse_qs(query).items():
        if name not in counts:
            raise ConfigurationError(f"unknown Elasticsearch URL parameter {name!r}")
        value = values[-1]
        if not value.isdigit() or (name == "shards" and int(value) == 0):
            raise ConfigurationError(f"{name} must be a whole number (shards ≥ 1), got {value!r}")
        index[counts[name]] = int(value)
    return {**SETTINGS, "index": index}


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
        if api_key := read("es_api_key"):
            options["api_key"] = api_key
        self.target = unquote(parsed.path.strip("/")) or "Images_Current"
        self.settings = index_settings(parsed.query)
        self.client = Elasticsearch(**options)
        self._owner = True
        self._ensure_target()

    def using(self, target: str) -> ElasticsearchIndex:
        view = copy(self)
        view.target = target
        view._owner = False
        return view

    def _ensure_target(self) -> None:
        """Make the target an alias of a new index if it names nothing yet."""
        if self.client.indices.exists(index=self.target):
            return
        name = new_index_name(datetime.now(UTC))
        self.create_index(name)
        try:
            self.change_aliases([AliasChange("add", self.target, name)])
        except ApiError:  # another process made the target meanwhile: keep theirs
            self.client.indices.delete(index=name)
            if not self.client.indices.exists(index=self.target):
                raise

    # -- indices and aliases

    def create_index(self, name: str, mapping: Mapping[str, Any] | None = None) -> None:
        check_index_name(name)
        try:
            self.client.indices.create(
                index=name, mappings=dict(mapping or MAPPING), settings=self.settings
            )
        except ApiError as error:
            if error.error == "resource_already_exists_exception":
                raise ConfigurationError(f"index {name!r} already exists") from None
            raise

    def delete_index(self, name: str) -> None:
        try:
            self.client.indices.delete(index=name)
        except NotFoundError:
            raise ConfigurationError(f"no index named {name!r}") from None

    def indices(self) -> list[str]:
        return sorted(self._aliases_by_index())

    def aliases(self) -> dict[str, list[str]]:
        found: dict[str, list[str]] = {}
        for name, aliases in sorted(self._aliases_by_index().items()):
            for alias in aliases:
                found.setdefault(alias, []).append(name)
        return dict(sorted(found.items()))

    def _aliases_by_index(self) -> dict[str, list[str]]:
        """The image indices of the cluster → their aliases (``GET /_alias``): indices named
        as Grid names them, and any other that carries this target or one of Grid's aliases
        (a shared cluster holds other applications' indices too)."""
        answer = self.client.indices.get_alias(index="*", expand_wildcards="open")
        ours = {self.target, *GRID_ALIASES}
        found: dict[str, list[str]] = {}
        for name, entry in answer.items():
            aliases = sorted(entry.get("aliases", {}))
            if name.startswith("images") or ours.intersection(aliases):
                found[name] = aliases
        return found

    def change_aliases(self, changes: Sequence[AliasChange]) -> None:
        for change in changes:
            check_alias_name(change.alias)
        self.client.indices.update_aliases(
            actions=[
                {change.action: {"index": change.index, "alias": change.alias}}
                for change in changes
            ]
        )

    def get(self, image_id: str) -> Document | None:
        try:
            response = self.client.get(index=self.target, id=image_id)
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
                index=self.target, ids=list(chunk), source_includes=list(FILE_DERIVED)
            )
            for doc in response["docs"]:
                if doc.get("found"):
                    found[doc["_id"]] = file_digest(doc.get("_source") or {})
        return found

    def ids(self, batch_size: int = 10_000) -> Iterator[str]:
        """search_after over a point in time, sorted on the ``id`` keyword (sorting on ``_id``
        needs fielddata that Elasticsearch 8+ disables); no source is fetched."""
        pit = self.client.open_point_in_time(index=self.target, keep_alive="5m")["id"]
        try:
            after: list[Any] | None = None
            while True:
                response = self.client.search(
                    pit={"id": pit, "keep_alive": "5m"},
                    sort=[{"id": "asc"}],
                    search_after=after,
                    size=batch_size,
                    source=False,
                    track_total_hits=False,
                )
                pit = response.get("pit_id", pit)
                hits = response["hits"]["hits"]
                if not hits:
                    return
                for hit in hits:
                    yield hit["_id"]
                after = hits[-1]["sort"]
        finally:
            self.client.close_point_in_time(id=pit)

    def apply(self, updates: Sequence[DocumentUpdate], mirrors: Sequence[Mirror] = ()) -> set[str]:
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
                    {image_id: pending[image_id] for image_id in chunk}, mirrors
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

    def _apply_chunk(
        self, updates: dict[str, list[DocumentUpdate]], mirrors: Sequence[Mirror]
    ) -> tuple[set[str], set[str]]:
        """One mget + one bulk (and one per mirror); returns the ids that hit a version
        conflict, and the ids deleted."""
        current = self._fetch(list(updates))
        flat = [update for messages in updates.values() for update in messages]
        documents, deleted = apply_in_order(
            {image_id: found[0] for image_id, found in current.items()}, flat
        )
        for mirror in mirrors:
            refused = self._write_mirror(mirror, documents, deleted)
            if mirror.marks:
                mark_migration(documents, flat, mirror.index, refused)
        operations: list[dict[str, Any]] = []
        for image_id, document in documents.items():
            existing = current.get(image_id)
            if existing is None:
                if document is not None:
                    operations += [{"create": {"_index": self.target, "_id": image_id}}, document]
                continue  # e.g. edits of an image that is not indexed
            if document == existing[0]:
                continue
            _, seq_no, primary_term = existing
            action = {
                "_index": self.target,
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

    def _write_mirror(
        self, mirror: Mirror, documents: dict[str, Document | None], deleted: set[str]
    ) -> dict[str, str]:
        """Copy the batch's documents into the mirror (plain writes: the copy is the current
        document, whoever wrote last); returns the ids it refused, with why. Copies go through
        the mirror's alias with ``require_alias``, so an alias a migration step removed
        meanwhile fails the write (planned again) instead of auto-creating an index."""
        copies, removed = mirror_writes(documents, deleted)
        target: dict[str, Any] = {"_index": mirror.alias or mirror.index}
        if mirror.alias:
            target["require_alias"] = True
        operations: list[dict[str, Any]] = []
        for image_id, copy_ in copies.items():
            operations += [{"index": {**target, "_id": image_id}}, copy_]
        operations += [{"delete": {**target, "_id": image_id}} for image_id in removed]
        if not operations:
            return {}
        refused: dict[str, str] = {}
        for item in self.client.bulk(operations=operations)["items"]:
            [(action, result)] = item.items()
            status = result.get("status", 200)
            error = result.get("error") or {}
            if status == 400:
                refused[result["_id"]] = str(error.get("reason", error))
            elif status == 404 and isinstance(error, dict) and error.get("type") == NO_INDEX:
                raise AliasesMoved(f"{target['_index']} no longer names an index")
            elif status >= 300 and not (action == "delete" and status == 404):
                raise DownstreamError(
                    f"Elasticsearch refused a copy into {mirror.index}: {error or status}"
                )
        return refused

    def _fetch(self, ids: Sequence[str]) -> dict[str, tuple[Document, int, int]]:
        found: dict[str, tuple[Document, int, int]] = {}
        for chunk in chunked(dict.fromkeys(ids), CHUNK):
            response = self.client.mget(index=self.target, ids=list(chunk))
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
            index=self.target,
            query={"bool": {"must": must}} if must else {"match_all": {}},
            sort=[{"uploadTime": {"order": "desc"}}, {"_id": {"order": "asc"}}],
            from_=offset,
            size=limit,
            track_total_hits=True,
        )
        hits = response["hits"]
        return int(hits["total"]["value"]), [hit["_source"] for hit in hits["hits"]]

    def count(self) -> int:
        return int(self.client.count(index=self.target)["count"])

    def clear(self) -> int:
        response = self.client.delete_by_query(
            index=self.target, query={"match_all": {}}, refresh=True, conflicts="proceed"
        )
        return int(response["deleted"])

    def close(self) -> None:
        if self._owner:
            self.client.close()
