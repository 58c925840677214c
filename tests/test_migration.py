"""The migration's verbs and gates on each index backend: the embedded SQLite index and the
Elasticsearch client (through the in-memory stand-in of ``test_elasticsearch_extras``)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import elastic_transport
import pytest

from contracts.test_index_contract import image
from reingest import migration
from reingest.errors import AliasesMoved, ConfigurationError
from reingest.index.base import SearchIndex
from reingest.index.documents import REINGEST_IMAGE, DocumentUpdate
from reingest.index.elasticsearch import ElasticsearchIndex
from reingest.index.mirroring import (
    Mirror,
    failure_text,
    mark_migration,
    migration_failure,
    mirror_writes,
)
from reingest.index.sqlite import SqliteSearchIndex
from reingest.originals.base import UploadRecord
from reingest.originals.file import FileOriginalsStore
from reingest.progress.sqlite import SqliteProgressTable
from reingest.states import State
from test_elasticsearch_extras import FakeElasticsearch, ndjson

AT = "2024-01-01T00:00:00.000Z"


@pytest.fixture(params=["sqlite", "elasticsearch"])
def index(
    request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[SearchIndex]:
    backend: SearchIndex
    if request.param == "elasticsearch":
        server = FakeElasticsearch()
        monkeypatch.setattr(elastic_transport.Transport, "perform_request", server.perform_request)
        backend = ElasticsearchIndex("http://localhost:9200/Images_Current")
    else:
        backend = SqliteSearchIndex(f"sqlite:///{tmp_path}/index.db")
    yield backend
    backend.close()


@pytest.fixture
def progress(tmp_path: Path) -> Iterator[SqliteProgressTable]:
    table = SqliteProgressTable(f"sqlite:///{tmp_path}/progress.db")
    yield table
    table.close()


@pytest.fixture
def library(tmp_path: Path, index: SearchIndex) -> dict[str, str]:
    """Two originals (``kept``, ``unindexed``) and two documents (``kept``, ``gone``: its
    original was deleted)."""
    originals = FileOriginalsStore((tmp_path / "originals").as_uri())
    kept, _ = originals.put(b"kept bytes", UploadRecord())
    unindexed, _ = originals.put(b"unindexed bytes", UploadRecord())
    gone = "f" * 40
    index.apply([DocumentUpdate.image(image(i), AT) for i in (kept, gone)])
    return {"kept": kept, "unindexed": unindexed, "gone": gone, "root": str(tmp_path)}


def store(library: dict[str, str]) -> FileOriginalsStore:
    return FileOriginalsStore((Path(library["root"]) / "originals").as_uri())


def end_every_id(progress: SqliteProgressTable, state: State = State.Verified) -> None:
    progress.reset(list(State), state)


def gate_states(gates: list[migration.Gate]) -> dict[str, bool]:
    return {gate.name: gate.passed for gate in gates}


def test_start_queues_every_id_of_the_index_and_the_store_and_states_follow_the_aliases(
    index: SearchIndex, progress: SqliteProgressTable, library: dict[str, str]
) -> None:
    old = index.resolve()
    progress.add([library["kept"]])
    end_every_id(progress)  # a finished reingestion: its ids are queued again
    name = migration.start(index, progress, store(library), suffix="abc1234")
    assert name.startswith("images_") and name.endswith("_abc1234")
    queued = [library[k] for k in ("kept", "unindexed", "gone")]
    assert {row.id: row.state for row in progress.get(queued)} == dict.fromkeys(
        queued, State.NotStarted
    )
    aliases = migration.Aliases.read(index)
    assert (aliases.current, aliases.migration, aliases.state) == (
        old,
        name,
        migration.MigrationState.InProgress,
    )
    assert aliases.mirrors(datetime.now(UTC)) == [Mirror(name, migration.MIGRATION, marks=True)]
    with pytest.raises(ConfigurationError, match="already running"):
        migration.start(index, progress, store(library))

    migration.set_paused(index, True)
    assert migration.Aliases.read(index).state == migration.MigrationState.Paused
    migration.set_preview(index, True)
    assert migration.Aliases.read(index).state == migration.MigrationState.CompletionPreview
    assert migration.search_index(index).target == name
    migration.set_preview(index, False)
    migration.set_paused(index, False)
    assert migration.Aliases.read(index).state == migration.MigrationState.InProgress
    assert migration.search_index(index).target == index.target
    assert migration.verification_index(index).target == name


def test_a_start_killed_after_making_the_index_leaves_it_named_and_queue_finishes_it(
    index: SearchIndex,
    progress: SqliteProgressTable,
    library: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The new index is created already under Images_Migration: a start killed before it
    queued anything leaves a migration that status shows and ``queue`` completes, never an
    index that nothing names (which no command would find or clean up)."""
    before = set(index.indices())

    def killed(*_args: object, **_kwargs: object) -> int:
        raise KeyboardInterrupt

    with monkeypatch.context() as patched, pytest.raises(KeyboardInterrupt):
        patched.setattr(migration, "queue_every_id", killed)
        migration.start(index, progress, store(library), suffix="abc1234")
    [made] = set(index.indices()) - before
    assert migration.Aliases.read(index).migration == made
    assert progress.counts() == {}
    migration.queue_every_id(index, progress, store(library), again=False)
    queued = [library[k] for k in ("kept", "unindexed", "gone")]
    assert {row.id for row in progress.get(queued)} == set(queued)


def test_complete_checks_each_gate_then_moves_the_aliases_at_once(
    index: SearchIndex, progress: SqliteProgressTable, library: dict[str, str]
) -> None:
    old = index.resolve()
    originals = store(library)
    new = migration.start(index, progress, originals)
    first = gate_states(migration.gates(index, progress, originals, 0))
    assert first == {
        "every id ended": False,
        "the new index holds every image": False,
        "failures under the threshold": True,
    }
    [_, holds, _] = migration.gates(index, progress, originals, 0)
    assert holds.examples == [library["kept"]]  # ``gone`` has no original: left out
    assert "1 whose original is gone" in holds.detail

    migration.write(index, [DocumentUpdate.image(image(library["kept"]), AT, REINGEST_IMAGE)])
    end_every_id(progress)
    progress.reset([State.Verified], State.KnownError, ids=[library["unindexed"]])
    assert not migration.complete(index, progress, originals)[2].passed
    assert migration.Aliases.read(index).migration == new  # refused: nothing moved

    gates = migration.complete(index, progress, originals, max_failures=1)
    assert all(gate.passed for gate in gates)
    after = migration.Aliases.read(index)
    assert (after.current, after.migration, after.historical) == (new, None, old)
    assert after.rollback_until is not None
    assert after.rollback_until > datetime.now(UTC) + timedelta(days=6)
    assert after.mirrors(datetime.now(UTC)) == [Mirror(old, migration.HISTORICAL)]
    assert migration.status(index, progress)["counts"] == {new: 1, old: 2}
    with pytest.raises(ConfigurationError, match="rollback window"):
        migration.cleanup(index)

    assert migration.rollback(index) == old
    back = migration.Aliases.read(index)
    assert (back.current, back.historical, back.rollback_until) == (old, new, None)
    assert back.mirrors(datetime.now(UTC)) == []
    assert migration.cleanup(index) == new
    assert new not in index.indices()


def test_abandon_drops_the_migration_index_and_leaves_the_current_one(
    index: SearchIndex, progress: SqliteProgressTable, library: dict[str, str]
) -> None:
    old = index.resolve()
    new = migration.start(index, progress, store(library))
    migration.set_paused(index, True)
    assert migration.abandon(index) == new
    assert new not in index.indices() and migration.PAUSED not in index.aliases()
    assert migration.Aliases.read(index).state == migration.MigrationState.NotRunning
    assert index.resolve() == old and index.count() == 2
    with pytest.raises(ConfigurationError, match="no migration is running"):
        migration.set_paused(index, True)


def test_a_write_planned_before_an_alias_moved_is_planned_again(
    tmp_path: Path, progress: SqliteProgressTable
) -> None:
    """SQLite checks a mirror's alias in the write's own transaction: a write planned while
    the migration ran, made after it completed, lands by the new aliases instead."""
    index = SqliteSearchIndex(f"sqlite:///{tmp_path}/index.db")
    originals = FileOriginalsStore((tmp_path / "originals").as_uri())
    old = index.resolve()
    new = migration.start(index, progress, originals)
    stale = migration.Aliases.read(index).mirrors(datetime.now(UTC))
    end_every_id(progress)
    assert all(gate.passed for gate in migration.complete(index, progress, originals))
    update = DocumentUpdate.image(image("late"), AT)
    with pytest.raises(AliasesMoved):
        index.apply([update], stale)
    migration.write(index, [update])
    assert index.get("late") is not None and index.using(old).get("late") is not None
    assert index.resolve() == new
    index.close()


def test_status_reports_what_the_dashboard_and_scripts_read(
    index: SearchIndex, progress: SqliteProgressTable, library: dict[str, str]
) -> None:
    report: dict[str, Any] = migration.status(index, progress)
    assert report["state"] == "NotRunning" and report["migration"] is None
    new = migration.start(index, progress, store(library))
    report = migration.status(index, progress)
    assert report["state"] == "InProgress" and report["migration"] == new
    assert report["counts"][new] == 0
    assert report["progress"]["total"] == 3 and report["progress"]["states"] == {"NotStarted": 3}


def test_elasticsearch_copies_go_through_the_alias_and_a_moved_alias_plans_again(
    tmp_path: Path, progress: SqliteProgressTable, monkeypatch: pytest.MonkeyPatch
) -> None:
    server = FakeElasticsearch()
    monkeypatch.setattr(elastic_transport.Transport, "perform_request", server.perform_request)
    index = ElasticsearchIndex("http://localhost:9200/Images_Current")
    originals = FileOriginalsStore((tmp_path / "originals").as_uri())
    old = index.resolve()
    new = migration.start(index, progress, originals)
    stale = migration.Aliases.read(index).mirrors(datetime.now(UTC))
    migration.write(index, [DocumentUpdate.image(image("a"), AT)])
    [copy_request] = [r for r in server.requests if r[1] == "/_bulk"][:1]
    assert ndjson(copy_request[2])[0] == {
        "index": {"_index": migration.MIGRATION, "require_alias": True, "_id": "a"}
    }
    end_every_id(progress)
    assert all(gate.passed for gate in migration.complete(index, progress, originals))
    with pytest.raises(AliasesMoved):  # Images_Migration is gone: no index auto-created
        index.apply([DocumentUpdate.image(image("late"), AT)], stale)
    assert set(server.indices) == {old, new}
    migration.write(index, [DocumentUpdate.image(image("late"), AT)])
    assert index.get("late") is not None and index.using(old).get("late") is not None
    index.close()


def test_recorded_failures_are_shortened_as_grid_shortens_them() -> None:
    parse = (
        "failed to parse field [uploadTime] of type [date] in document with id 'abc'. "
        "Preview of field's value: 'yesterday'"
    )
    assert failure_text(parse) == "failed to parse field [uploadTime] of type [date]"
    long = "x" * 300
    assert failure_text(long) == "x" * 253 + "..." and len(failure_text(long)) == 256
    assert failure_text("short") == "short"


def test_a_copy_drops_esinfo_and_marks_record_the_outcome_on_the_current_document() -> None:
    current: dict[str, dict[str, Any] | None] = {
        "a": {"id": "a", "esInfo": {"migration": {"failures": {"old": "why"}}}},
        "b": {"id": "b"},
        "c": None,
    }
    copies, removed = mirror_writes(current, {"c"})
    assert copies == {"a": {"id": "a"}, "b": {"id": "b"}} and removed == {"c"}
    updates = [DocumentUpdate.image({"id": "a"}, AT), DocumentUpdate("b", "add-image-lease", AT)]
    mark_migration(current, updates, "new", {"b": "mapping refused it"})
    assert current["a"] == {"id": "a", "esInfo": {"migration": {"migratedTo": "new"}}}
    assert current["b"] == {
        "id": "b",
        "esInfo": {"migration": {"failures": {"new": "mapping refused it"}}},
    }
    assert migration_failure(current["b"], "new") == "mapping refused it"  # type: ignore[arg-type]
    assert migration_failure(current["a"], "new") is None  # type: ignore[arg-type]


def test_images_whose_projection_failed_are_copied_as_they_are_on_completion(
    index: SearchIndex, progress: SqliteProgressTable, library: dict[str, str]
) -> None:
    """An unreadable original whose document is indexed: the migration cannot project it,
    so completing (once the failures gate accepts it) copies the document as it is, and
    nothing leaves search."""
    originals = store(library)
    new = migration.start(index, progress, originals)
    end_every_id(progress)
    progress.reset([State.Verified], State.KnownError, ids=[library["kept"]])
    [_, holds, failures] = migration.gates(index, progress, originals, 0)
    assert holds.passed and "1 whose projection failed are copied as they are" in holds.detail
    assert "1 whose original is gone are left out" in holds.detail
    assert not failures.passed
    assert not all(gate.passed for gate in migration.complete(index, progress, originals, 0))
    assert index.using(new).get(library["kept"]) is None  # refused: nothing copied

    assert all(gate.passed for gate in migration.complete(index, progress, originals, 1))
    copied = index.get(library["kept"])  # the new index is current now
    assert copied == index.using(migration.Aliases.read(index).historical or "").get(
        library["kept"]
    )
    assert index.get(library["gone"]) is None  # its original is gone: left out
