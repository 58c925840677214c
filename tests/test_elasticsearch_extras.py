"""The Elasticsearch index without a server: the official client runs for real, only its HTTP
transport is replaced by a small in-memory Elasticsearch (documents, _seq_no/_primary_term
optimistic concurrency, and the mapping, judged by ``mapping.check_document`` as the embedded
index judges it). The shared index suite runs on it, and
the requests the backend builds are checked. Against a real server: REINGEST_TEST_ES_URL."""

from __future__ import annotations

import inspect
import json
import re
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import elastic_transport
import pytest
from elastic_transport import ApiResponseMeta, HttpHeaders, NodeConfig

from contracts import test_index_contract as contract
from reingest.errors import ConfigurationError, MappingRejection
from reingest.index.documents import DocumentUpdate, file_digest
from reingest.index.elasticsearch import ElasticsearchIndex
from reingest.index.mapping import MAPPING, SETTINGS, check_document


class FakeElasticsearch:
    def __init__(self) -> None:
        self.indices: dict[str, dict[str, tuple[dict[str, Any], int]]] = {}
        self.created: dict[str, Any] = {}
        #: alias → the indices it points at
        self.aliases: dict[str, set[str]] = {}
        self.seq_no = 0
        self.requests: list[tuple[str, str, Any]] = []
        #: ids whose next conditional write fails with a version conflict (a concurrent writer)
        self.conflict_once: set[str] = set()

    def perform_request(
        self, method: str, target: str, *, body: Any = None, **_options: Any
    ) -> tuple[ApiResponseMeta, Any]:
        self.requests.append((method, target, body))
        status, answer = self.route(method, target, body)
        meta = ApiResponseMeta(
            status=status,
            http_version="1.1",
            headers=HttpHeaders({"x-elastic-product": "Elasticsearch"}),
            duration=0.0,
            node=NodeConfig("http", "localhost", 9200),
        )
        return meta, answer

    def route(self, method: str, target: str, body: Any) -> tuple[int, Any]:
        split = urlsplit(target)
        query = {k: v[0] for k, v in parse_qs(split.query).items()}
        parts = [unquote(p) for p in split.path.strip("/").split("/")]
        if parts == ["_bulk"]:
            return 200, self.bulk(body)
        if parts == ["_aliases"] and method == "POST":
            return self.update_aliases(body["actions"])
        if parts[-1] == "_alias" and method == "GET":
            return 200, {
                name: {"aliases": {a: {} for a, on in self.aliases.items() if name in on}}
                for name in self.indices
            }
        if parts[-1] == "_search" and body and "pit" in body:
            return 200, self.pit_page(body)
        if parts[-1] == "_search":  # no query engine here: an empty answer, the body is kept
            return 200, {"hits": {"total": {"value": 0, "relation": "eq"}, "hits": []}}
        if parts[-1] == "_pit" and method == "POST":  # the index itself stands for its PIT
            return 200, {"id": parts[0]}
        if parts == ["_pit"] and method == "DELETE":
            return 200, {"succeeded": True, "num_freed": 1}
        name = parts[0]
        docs = self.indices.get(self.resolve(name))
        if len(parts) == 1:
            if method == "HEAD":
                return (200 if docs is not None else 404), None
            if method == "PUT":
                if name in self.indices or name in self.aliases:
                    return 400, {"error": {"type": "resource_already_exists_exception"}}
                self.indices[name] = {}
                self.created[name] = body
                return 200, {"acknowledged": True}
            if method == "DELETE":
                if name not in self.indices:
                    return 404, {"error": {"type": "index_not_found_exception"}}
                del self.indices[name]
                for on in self.aliases.values():
                    on.discard(name)
                return 200, {"acknowledged": True}
        assert docs is not None, f"index {name} missing for {method} {target}"
        if parts[1] == "_doc" and method == "GET":
            if parts[2] not in docs:
                return 404, {"_id": parts[2], "found": False}
            return 200, self.hit(parts[2], docs[parts[2]])
        if parts[1] == "_doc" and method == "DELETE":
            found = docs.pop(parts[2], None)
            return (200, {"result": "deleted"}) if found else (404, {"result": "not_found"})
        if parts[1] == "_mget":
            includes = query.get("_source_includes")
            return 200, {
                "docs": [
                    self.hit(i, docs[i], includes) if i in docs else {"_id": i, "found": False}
                    for i in body["ids"]
                ]
            }
        if parts[1] == "_count":
            return 200, {"count": len(docs)}
        if parts[1] == "_delete_by_query":
            deleted = len(docs)
            docs.clear()
            return 200, {"deleted": deleted}
        raise AssertionError(f"unexpected request {method} {target}")

    def resolve(self, name: str) -> str:
        """The index an alias points at (the name itself if it is an index)."""
        pointed = self.aliases.get(name)
        if pointed:
            assert len(pointed) == 1, f"{name} points at {pointed}"
            return next(iter(pointed))
        return name

    def update_aliases(self, actions: list[dict[str, Any]]) -> tuple[int, Any]:
        """Every action or none, as Elasticsearch's ``_aliases`` does."""
        aliases = {alias: set(on) for alias, on in self.aliases.items()}
        for action in actions:
            [(verb, target)] = action.items()
            if target["index"] not in self.indices:
                return 404, {"error": {"type": "index_not_found_exception"}}
            on = aliases.setdefault(target["alias"], set())
            if verb == "add":
                on.add(target["index"])
            elif target["index"] in on:
                on.discard(target["index"])
            else:
                return 404, {"error": {"type": "aliases_not_found_exception"}}
        self.aliases = {alias: on for alias, on in aliases.items() if on}
        return 200, {"acknowledged": True}

    def pit_page(self, body: dict[str, Any]) -> dict[str, Any]:
        """A page of ids sorted on ``id`` after ``search_after`` (only what ``ids`` asks)."""
        assert body["sort"] == [{"id": "asc"}] and body["_source"] is False
        after = (body.get("search_after") or [""])[0]
        docs = self.indices[self.resolve(body["pit"]["id"])]
        page = sorted(i for i in docs if i > after)[: body["size"]]
        hits = [{"_id": i, "sort": [i]} for i in page]
        return {"pit_id": body["pit"]["id"], "hits": {"hits": hits}}

    def hit(
        self, image_id: str, stored: tuple[dict[str, Any], int], includes: str | None = None
    ) -> dict[str, Any]:
        source, seq_no = stored
        if includes:
            source = {k: v for k, v in source.items() if k in includes.split(",")}
        return {
            "_id": image_id,
            "found": True,
            "_seq_no": seq_no,
            "_primary_term": 1,
            "_source": json.loads(json.dumps(source)),
        }

    def bulk(self, lines: list[Any]) -> dict[str, Any]:
        items = []
        lines = list(lines)
        while lines:
            [(action, meta)] = lines.pop(0).items()
            source = {} if action == "delete" else lines.pop(0)
            physical = self.resolve(meta["_index"])
            if meta.get("require_alias") and meta["_index"] not in self.aliases:
                error = {"type": "index_not_found_exception", "reason": "no such alias"}
                items.append({action: {"_id": meta["_id"], "status": 404, "error": error}})
                continue
            docs = self.indices[physical]
            image_id = meta["_id"]
            result: dict[str, Any] = {"_id": image_id, "status": 200}
            try:
                if action != "delete":
                    check_document(source, self.created[physical]["mappings"])
                refused = None
            except MappingRejection as error:
                refused = {"type": error.error_type, "reason": error.reason}
            conditional = "if_seq_no" in meta
            conflict = (action == "create" and image_id in docs) or (
                conditional
                and (
                    image_id in self.conflict_once
                    or image_id not in docs
                    or docs[image_id][1] != meta["if_seq_no"]
                    or meta["if_primary_term"] != 1
                )
            )
            self.conflict_once.discard(image_id)
            if refused:
                result = {"_id": image_id, "status": 400, "error": refused}
            elif conflict:
                result = {
                    "_id": image_id,
                    "status": 409,
                    "error": {"type": "version_conflict_engine_exception"},
                }
            elif action == "delete" and image_id not in docs:
                result = {"_id": image_id, "status": 404, "result": "not_found"}
            elif action == "delete":
                del docs[image_id]
            else:
                self.seq_no += 1
                docs[image_id] = (source, self.seq_no)
            items.append({action: result})
        return {"errors": any("error" in next(iter(i.values())) for i in items), "items": items}


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch) -> FakeElasticsearch:
    server = FakeElasticsearch()
    monkeypatch.setattr(elastic_transport.Transport, "perform_request", server.perform_request)
    return server


@pytest.fixture
def es_index(fake: FakeElasticsearch) -> Iterator[ElasticsearchIndex]:
    index = ElasticsearchIndex("http://user:secret@localhost:9200/Images_Current")
    yield index
    index.close()


#: query semantics (full text, analysers) need a real cluster: search runs against one only
NEEDS_A_CLUSTER = {"test_search_finds_every_word_and_filters_by_field"}
CONTRACT = sorted(
    (name, case)
    for name, case in vars(contract).items()
    if name.startswith("test_") and inspect.isfunction(case) and name not in NEEDS_A_CLUSTER
)


@pytest.mark.parametrize("case", [case for _, case in CONTRACT], ids=[n for n, _ in CONTRACT])
def test_the_shared_index_suite_holds_on_the_client_with_a_fake_server(
    case: Any, es_index: ElasticsearchIndex
) -> None:
    case(es_index)


def test_the_target_is_made_an_alias_of_an_index_created_once_with_grids_mapping(
    fake: FakeElasticsearch, es_index: ElasticsearchIndex
) -> None:
    assert es_index.target == "Images_Current"
    [name] = fake.created
    assert re.fullmatch(r"images_\d{4}-\d\d-\d\d_\d\d-\d\d-\d\d_[0-9a-f]{7}", name)
    assert fake.aliases == {"Images_Current": {name}}
    created = fake.created[name]
    assert created == {"mappings": MAPPING, "settings": SETTINGS}
    assert created["settings"]["index"]["number_of_shards"] == 1
    assert created["settings"]["index"]["number_of_replicas"] == 0
    ElasticsearchIndex("http://localhost:9200/Images_Current").close()
    assert [r[1] for r in fake.requests if r[0] == "PUT"] == [f"/{name}"]


def test_shards_and_replicas_come_from_the_url(fake: FakeElasticsearch) -> None:
    ElasticsearchIndex("http://localhost:9200/images?shards=5&replicas=2").close()
    settings = fake.created[fake.resolve("images")]["settings"]
    assert settings["index"] == {
        **SETTINGS["index"],
        "number_of_shards": 5,
        "number_of_replicas": 2,
    }
    assert settings["analysis"] == SETTINGS["analysis"]
    assert SETTINGS["index"]["number_of_shards"] == 1  # the packaged settings are untouched
    for bad in ("shards=0", "replicas=-1", "shards=two", "refresh=1"):
        with pytest.raises(ConfigurationError):
            ElasticsearchIndex(f"http://localhost:9200/other?{bad}")


def test_writes_are_conditional_and_wait_for_refresh(
    fake: FakeElasticsearch, es_index: ElasticsearchIndex
) -> None:
    image = contract.image("a")
    es_index.apply([DocumentUpdate.image(image, "2024-01-01T00:00:00.000Z")])
    es_index.apply([DocumentUpdate.image(image, "2024-02-01T00:00:00.000Z")])
    bulks = [(target, body) for method, target, body in fake.requests if "_bulk" in target]
    assert all("refresh=wait_for" in target for target, _ in bulks)
    assert list(bulks[0][1][0]) == ["create"]
    assert bulks[1][1][0] == {
        "index": {"_index": "Images_Current", "_id": "a", "if_seq_no": 1, "if_primary_term": 1}
    }
    # a stale message changes nothing: no write at all
    es_index.apply([DocumentUpdate.image(image, "2023-01-01T00:00:00.000Z")])
    assert len([r for r in fake.requests if "_bulk" in r[1]]) == 2


def test_a_version_conflict_is_read_again_and_retried(
    fake: FakeElasticsearch, es_index: ElasticsearchIndex
) -> None:
    es_index.apply([DocumentUpdate.image(contract.image("a"), "2024-01-01T00:00:00.000Z")])
    fake.conflict_once.add("a")
    newer = contract.image("a", originalMetadata={"title": "newer"})
    es_index.apply([DocumentUpdate.image(newer, "2024-02-01T00:00:00.000Z")])
    document = es_index.get("a")
    assert document is not None and document["metadata"] == {"title": "newer"}
    assert es_index.file_digests(["a", "b"]) == {"a": file_digest(newer)}


def test_deletes_are_conditional_too(fake: FakeElasticsearch, es_index: ElasticsearchIndex) -> None:
    es_index.apply([DocumentUpdate.image(contract.image("a"), "2024-01-01T00:00:00.000Z")])
    fake.conflict_once.add("a")  # an edit lands between the read and the delete: read again
    assert es_index.apply([DocumentUpdate("a", "delete-image", "2024-02-01T00:00:00.000Z")]) == {
        "a"
    }
    deletes = [body[0] for _m, target, body in fake.requests if "_bulk" in target]
    assert deletes[-1] == {
        "delete": {"_index": "Images_Current", "_id": "a", "if_seq_no": 1, "if_primary_term": 1}
    }
    assert es_index.get("a") is None


def test_a_document_the_mapping_refuses_is_a_readable_error(es_index: ElasticsearchIndex) -> None:
    """A 400 on a bulk item is that document's fault (DocumentRejected: thrall dead-letters
    its message alone); any other failure is the cluster's (DownstreamError)."""
    from reingest.errors import DocumentRejected

    bad = contract.image("a", notAGridField=1)
    with pytest.raises(
        DocumentRejected, match=r"refused 1 documents; first: a: mapping set to strict"
    ):
        es_index.apply([DocumentUpdate.image(bad, "2024-01-01T00:00:00.000Z")])


def test_search_asks_for_every_word_each_filter_and_newest_first(
    fake: FakeElasticsearch, es_index: ElasticsearchIndex
) -> None:
    assert es_index.search("cricket leeds", {"uploadedBy": "bob"}, limit=5, offset=10) == (0, [])
    [(method, target, body)] = [r for r in fake.requests if r[1].endswith("/_search")]
    assert method == "POST"
    assert target == "/Images_Current/_search"
    assert body["query"] == {
        "bool": {
            "must": [
                {"simple_query_string": {"query": "cricket leeds", "default_operator": "and"}},
                {"match": {"uploadedBy": {"query": "bob", "operator": "and"}}},
            ]
        }
    }
    assert body["sort"][0] == {"uploadTime": {"order": "desc"}}
    assert (body["from"], body["size"], body["track_total_hits"]) == (10, 5, True)
