"""A migration on the embedded default, end to end, with real processes: a library of 500
images moves to a mapping with a new field while users keep editing; completion loses no edit,
and neither does a rollback, edits made after completion included."""

from __future__ import annotations

import copy
import json
import random
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from reingest.errors import MappingRejection
from reingest.index.documents import DocumentUpdate
from reingest.index.mapping import MAPPING
from reingest.index.sqlite import SqliteSearchIndex
from reingest.streams.base import Priority
from reingest.streams.sqlite import SqliteStreams

from .conftest import Cli, start_run
from .test_crash_and_concurrency import ingest_sample

pytestmark = pytest.mark.slow

LIBRARY = 500


class Editor:
    """A user editing titles on the high-priority stream, as metadata-editor would."""

    def __init__(self, home: Path, ids: list[str]) -> None:
        self.streams = SqliteStreams(f"sqlite:///{home}/streams.db")
        self.ids = ids
        self.rng = random.Random(13)
        #: id → the title of its latest edit
        self.titles: dict[str, str] = {}
        self.clock = datetime.now(UTC)
        self.stop = threading.Event()

    def edit(self, count: int) -> None:
        payloads = []
        for _ in range(count):
            image_id = self.rng.choice(self.ids)
            self.clock += timedelta(milliseconds=1)  # every edit newer than the last
            stamp = self.clock.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
            title = f"edit {len(self.titles)} at {stamp}"
            edits = {"metadata": {"title": title}, "lastModified": stamp}
            message = {
                "subject": "update-image-user-metadata",
                "id": image_id,
                "edits": edits,
                "lastModified": stamp,
            }
            payloads.append(json.dumps(message).encode())
            self.titles[image_id] = title
        self.streams.publish(Priority.HIGH, payloads)

    def keep_editing(self) -> None:
        while not self.stop.is_set():
            self.edit(3)
            time.sleep(0.02)

    def assert_visible_in(self, index: SqliteSearchIndex) -> None:
        found = index.get_many(list(self.titles))
        assert {i: d["metadata"]["title"] for i, d in found.items()} == self.titles


def test_a_migration_with_edits_throughout_loses_nothing_and_rolls_back(
    cli: Cli, home: Path, tmp_path: Path
) -> None:
    ids = sorted(ingest_sample(cli, home, tmp_path, count=LIBRARY))
    cli("run", "--until-done")
    old = SqliteSearchIndex(f"sqlite:///{home}/index.db")
    old_name = old.resolve()
    assert old.count() == len(ids)

    mapping = copy.deepcopy(MAPPING)
    mapping["properties"]["migrationNote"] = {"type": "keyword"}
    (tmp_path / "mapping.json").write_text(json.dumps(mapping))
    cli("migrate", "start", "--mapping", str(tmp_path / "mapping.json"), "--suffix", "test")
    status = json.loads(cli("migrate", "status", "--json").stdout)
    new_name = status["migration"]
    assert status["state"] == "InProgress" and status["current"] == old_name
    assert new_name.endswith("_test") and status["progress"]["total"] == len(ids)

    refused = cli("migrate", "complete", "--yes", check=False)
    assert refused.returncode == 1 and "gate failed: every id ended" in refused.stderr

    editor = Editor(home, ids)
    editing = threading.Thread(target=editor.keep_editing)
    editing.start()
    try:
        cli("run", "--until-done", BATCH_SIZE="25")
    finally:
        editor.stop.set()
        editing.join()
    cli("thrall", "--until-done")  # the last edits
    assert len(editor.titles) > 50

    completed = json.loads(cli("migrate", "complete", "--yes", "--json").stdout)
    assert completed["completed"] and completed["current"] == new_name
    assert completed["historical"] == old_name
    new = old.using(new_name)
    current = SqliteSearchIndex(f"sqlite:///{home}/index.db")
    assert current.resolve() == new_name
    assert current.count() == old.using(old_name).count() == len(ids)
    editor.assert_visible_in(current)
    migrated = current.get_many(ids)
    assert all("esInfo" not in doc for doc in migrated.values())  # markers stay on the old copy
    markers = old.using(old_name).get_many(ids)
    assert {doc["esInfo"]["migration"]["migratedTo"] for doc in markers.values()} == {new_name}

    # the new field: the new index takes it, the old one refuses it
    noted = {**migrated[ids[0]], "migrationNote": "hello"}
    new.apply([DocumentUpdate.image(noted, "2030-01-01T00:00:00.000Z")])
    assert current.get(ids[0])["migrationNote"] == "hello"  # type: ignore[index]
    with pytest.raises(MappingRejection):
        old.using(old_name).apply([DocumentUpdate.image(noted, "2030-01-01T00:00:00.000Z")])

    # edits after completion reach the previous index too (the rollback window)
    editor.edit(40)
    cli("thrall", "--until-done")
    editor.assert_visible_in(current)
    cli("migrate", "rollback", "--yes")
    assert current.resolve() == old_name
    editor.assert_visible_in(current)
    assert current.count() == len(ids)
    status = json.loads(cli("migrate", "status", "--json").stdout)
    assert (status["state"], status["current"], status["historical"]) == (
        "NotRunning",
        old_name,
        new_name,
    )
    for index in (old, current):
        index.close()


def test_kill_9_during_a_migration_loses_nothing(cli: Cli, home: Path, tmp_path: Path) -> None:
    ids = sorted(ingest_sample(cli, home, tmp_path, count=80))
    cli("run", "--until-done")
    cli("migrate", "start")
    index = SqliteSearchIndex(f"sqlite:///{home}/index.db")
    new = index.using(json.loads(cli("migrate", "status", "--json").stdout)["migration"])
    victim = start_run(home, REINGEST_LEASE_SECONDS="1", BATCH_SIZE="4")
    deadline = time.monotonic() + 60
    while new.count() < 8 and time.monotonic() < deadline:
        time.sleep(0.02)
    victim.kill()
    victim.wait()
    assert new.count() < len(ids), "the migration finished before it could be killed"
    cli("run", "--until-done", REINGEST_LEASE_SECONDS="1", BATCH_SIZE="4")
    cli("migrate", "complete", "--yes")
    assert index.resolve() == new.target and index.count() == len(ids)
    index.close()
