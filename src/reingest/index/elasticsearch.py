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
A 400 on a bulk item is that document's fault (``DocumentRejected``); any other refusal is the
cluster's (``DownstreamError``).

**Built for a shared cluster.** Writes ask for no refresh: a refresh per bulk request makes
small segments and makes every writer wait for it, while ``get``, ``get_many`` and
``file_digests`` (what thrall and the checker read) are real-time reads that see a write as
soon as ``apply`` returns. Only the search-based reads (``count``, ``ids``, ``search``) are
near-real-time: they see writes after the index's next refresh (``refresh_interval``, 1 s by
default), or after ``refresh()``. Bulk requests (mirrors' included) are cut at ``BULK_BYTES``
as well as at ``BULK_ACTIONS`` actions. A request, or some of its items, that the cluster
refuses for load (429, ``es_rejected_execution_exception``: its write queue is full) is sent
again, only what was refused, after a capped, jittered, exponential pause;
``rejected_writes`` counts those refusals for the throttle (``throttle.py``).

Client and server versions: the ``elasticsearch`` 9.x client only talks to Elasticsearch 9;
for an Elasticsearch 8 cluster install ``elasticsearch>=8,<9``. The official client refuses
servers that are not Elasticsearch (its product check), so OpenSearch would need
``opensearch-py`` instead; that is not done here.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from copy import copy
from datetime import UTC, datetime
from typing import Any, NamedTuple
from urllib.parse import parse_qs, unquote, urlparse

from elasticsearch import ApiError, Elasticsearch, NotFoundError
from tenacity import Retrying, retry_if_result, stop_after_attempt, wait_random_exponential

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
#: most bytes and actions in one bulk request: Elastic advises requests of a few megabytes;
#: much bigger ones hold a shared cluster's write threads and heap for long (an action bigger
#: than the budget goes alone)
BULK_BYTES = 8 * 1024 * 1024
BULK_ACTIONS = 1_000
#: sends of a bulk request whose items the cluster keeps refusing for load, and the pause
#: before each new send: random up to a bound doubling from the first, capped (full jitter)
BULK_TRIES = 8
BACKOFF_FIRST_SECONDS = 0.2
BACKOFF_CAP_SECONDS = 10.0
#: the cluster refused the write for load, not for its content (sent again after a pause)
OVERLOADED = "es_rejected_execution_exception"


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


class BulkAction(NamedTuple):
    """One action of a bulk request, serialised once so that requests can be sized by bytes:
    its kind and id, and its NDJSON lines (the action, then the document unless a delete)."""

    kind: str
    image_id: str
    ndjson: bytes


def bulk_requests(
    actions: Sequence[BulkAction], max_bytes: int, max_actions: int
) -> Iterator[list[BulkAction]]:
    """``actions`` in order, cut into requests of at most ``max_bytes`` and ``max_actions``."""
    request: list[BulkAction] = []
    size = 0
    for action in actions:
        if request and (size + len(action.ndjson) > max_bytes or len(request) == max_actions):
            yield request
            request, size = [], 0
        request.append(action)
        size += len(action.ndjson)
    if request:
        yield request


def overloaded(result: Mapping[str, Any]) -> bool:
    """A bulk item the cluster refused because its write queue was full (429)."""
    error = result.get("error")
    kind = error.get("type") if isinstance(error, dict) else None
    return result.get("status") == 429 or kind == OVERLOADED


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
            # not 429: a cluster that sheds load is asked again after a pause (_send), never at once
            "retry_on_status": (502, 503, 504),
        }
        if parsed.username:
            options["basic_auth"] = (unquote(parsed.username), unquote(parsed.password or ""))
        if api_key := read("es_api_key"):
            options["api_key"] = api_key
        self.target = unquote(parsed.path.strip("/")) or "Images_Current"
        self.settings = index_settings(parsed.query)
        self.client = Elasticsearch(**options)
        self._json = self.client.transport.serializers.get_serializer("application/json")
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
        try:
            self.create_index(new_index_name(datetime.now(UTC)), aliases=[self.target])
        except ApiError:  # refused (e.g. the target became an index meanwhile): if the
            # target names something by now, another process made it: keep theirs
            if not self.client.indices.exists(index=self.target):
                raise

    # -- indices and aliases

    def create_index(
        self, name: str, mapping: Mapping[str, Any] | None = None, aliases: Sequence[str] = ()
    ) -> None:
        check_index_name(name)
        for alias in aliases:
            check_alias_name(alias)
        try:
            self.client.indices.create(
                index=name,
                mappings=dict(mapping or MAPPING),
                settings=self.settings,
                aliases={alias: {} for alias in aliases} or None,
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
            response = self.client.get(index=self.target, id=image_id, realtime=True)
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
                index=self.target,
                ids=list(chunk),
                source_includes=list(FILE_DERIVED),
                realtime=True,
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
        actions: list[BulkAction] = []
        for image_id, document in documents.items():
            existing = current.get(image_id)
            if existing is None:
                if document is not None:
                    create = {"_index": self.target, "_id": image_id}
                    actions.append(self._action("create", create, document))
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
                actions.append(self._action("delete", action))
            else:
                actions.append(self._action("index", action, document))
        if not actions:
            return set(), deleted
        conflicts: set[str] = set()
        errors: list[str] = []
        refused_documents = True
        for result in self._bulk(actions):
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
        actions = [
            self._action("index", {**target, "_id": image_id}, copy_)
            for image_id, copy_ in copies.items()
        ]
        actions += [self._action("delete", {**target, "_id": image_id}) for image_id in removed]
        if not actions:
            return {}
        refused: dict[str, str] = {}
        for action, result in zip(actions, self._bulk(actions), strict=True):
            status = result.get("status", 200)
            error = result.get("error") or {}
            if status == 400:
                refused[result["_id"]] = str(error.get("reason", error))
            elif status == 404 and isinstance(error, dict) and error.get("type") == NO_INDEX:
                raise AliasesMoved(f"{target['_index']} no longer names an index")
            elif status >= 300 and not (action.kind == "delete" and status == 404):
                raise DownstreamError(
                    f"Elasticsearch refused a copy into {mirror.index}: {error or status}"
                )
        return refused

    def _action(
        self, kind: str, meta: Mapping[str, Any], document: Document | None = None
    ) -> BulkAction:
        lines = [{kind: meta}] if document is None else [{kind: meta}, document]
        ndjson = b"".join(self._json.dumps(line) + b"\n" for line in lines)
        return BulkAction(kind, meta["_id"], ndjson)

    def _bulk(self, actions: Sequence[BulkAction]) -> list[dict[str, Any]]:
        """Each action's result, in order, sent in requests sized by bytes and count."""
        results: list[dict[str, Any]] = []
        for request in bulk_requests(actions, BULK_BYTES, BULK_ACTIONS):
            results += self._send(request)
        return results

    def _send(self, request: Sequence[BulkAction]) -> list[dict[str, Any]]:
        """One bulk request; what the cluster refuses for load (the whole request, or some
        items) is sent again after a pause, and only that, up to ``BULK_TRIES`` sends. Items
        still refused come back as they are (429): the cluster's refusal, a DownstreamError."""
        results: list[dict[str, Any]] = [{} for _ in request]

        def send_refused() -> list[int]:
            waiting = [n for n, result in enumerate(results) if not result or overloaded(result)]
            try:
                lines: list[Any] = [request[n].ndjson for n in waiting]  # sent as they are
                response = self.client.bulk(operations=lines)
                answers = [next(iter(item.values())) for item in response["items"]]
            except ApiError as error:
                if error.meta.status != 429:
                    raise
                refusal = {"type": OVERLOADED, "reason": str(error)}
                answers = [
                    {"_id": request[n].image_id, "status": 429, "error": refusal} for n in waiting
                ]
            for n, answer in zip(waiting, answers, strict=True):
                results[n] = answer
            refused = [n for n in waiting if overloaded(results[n])]
            self.rejected_writes += len(refused)
            return refused

        Retrying(
            retry=retry_if_result(bool),
            stop=stop_after_attempt(BULK_TRIES),
            wait=wait_random_exponential(BACKOFF_FIRST_SECONDS, BACKOFF_CAP_SECONDS),
            retry_error_callback=lambda _state: None,
        )(send_refused)
        return results

    def _fetch(self, ids: Sequence[str]) -> dict[str, tuple[Document, int, int]]:
        found: dict[str, tuple[Document, int, int]] = {}
        for chunk in chunked(dict.fromkeys(ids), CHUNK):
            response = self.client.mget(index=self.target, ids=list(chunk), realtime=True)
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

    def refresh(self) -> None:
        self.client.indices.refresh(index=self.target)

    def clear(self) -> int:
        response = self.client.delete_by_query(
            index=self.target, query={"match_all": {}}, refresh=True, conflicts="proceed"
        )
        return int(response["deleted"])

    def close(self) -> None:
        if self._owner:
            self.client.close()
