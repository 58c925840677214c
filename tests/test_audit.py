"""The audit finds exactly what the index has wrong, and its repair fixes only that.

A generated library is indexed through a real ``run``; then documents are removed, originals
deleted, file-derived fields of documents altered, originals made unreadable, and users edit
documents (which is no drift). The audit must name exactly those ids and fields; ``--repair``
plus ``run`` fixes them; the next audit is clean."""

from __future__ import annotations

import json
import random
import tracemalloc
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from reingest.audit import Auditor, AuditReport, Kind, Reservoir, drift, inspect
from reingest.backends import Components
from reingest.cli import app
from reingest.config import Settings
from reingest.id_sources import merge_ids
from reingest.ids import queue_full_reindex
from reingest.index.documents import DELETE_IMAGE, DocumentUpdate
from reingest.originals.file import FileOriginalsStore
from reingest.quickstart import store_sample_library
from reingest.runner import run
from reingest.sample import generate_sample_library
from reingest.states import State

pytest_plugins = ["servers"]

T_EDIT = "2031-01-01T00:00:00.000Z"
T_LATE = "2032-01-01T00:00:00.000Z"


@pytest.fixture(params=["sqlite", "postgresql"])
def library(
    request: pytest.FixtureRequest, home: Path, tmp_path: Path
) -> Iterator[tuple[Components, list[str], list[str]]]:
    """A generated library (24 good originals, the broken files), indexed by a real run; the
    progress table on the embedded default or on a throw-away PostgreSQL."""
    env = {"REINGEST_HOME": str(home), "REINGEST_PROJECTION_PARALLELISM": "2"}
    if request.param == "postgresql":
        env["REINGEST_PROGRESS_URL"] = request.getfixturevalue("postgres_url")
    with Components(Settings.from_env(env)) as components:
        sample = generate_sample_library(tmp_path / "sample", count=24)
        good, broken = store_sample_library(components, sample)
        queue_full_reindex(components.progress, components.originals)
        run(components, until_done=True)
        yield components, sorted(good), sorted(broken)


def audit(components: Components, **options: Any) -> AuditReport:
    auditor = Auditor(
        components.index,
        components.originals,
        components.local_projector,
        components.settings,
        repair_into=components.progress if options.pop("repair", False) else None,
        **options,
    )
    return auditor.run()


def test_audit_reports_exactly_what_is_wrong_and_repair_then_run_fixes_it(
    library: tuple[Components, list[str], list[str]],
) -> None:
    components, good, broken = library
    index, originals = components.index, components.originals
    assert isinstance(originals, FileOriginalsStore)
    first = audit(components)
    assert (first.checked, first.missing.count, first.orphans.count, first.drifted.count) == (
        len(good) + len(broken),
        0,
        0,
        0,
    )
    assert sum(g.count for g in first.unreadable.values()) == len(broken)

    documents = index.get_many(good)
    plain = [
        i for i in good if not documents[i].get("usages") and not documents[i].get("userMetadata")
    ]
    used = [i for i in good if documents[i].get("usages")]
    with_xmp = [i for i in plain[7:] if documents[i].get("fileMetadata", {}).get("xmp")]
    removed, orphaned, orphan_kept = plain[:2], plain[2:3], used[:1]
    credit_changed, xmp_changed = plain[3], with_xmp[0]
    edited, touched, unreadable = plain[4], plain[5], plain[6]
    assert len({*removed, *orphaned, credit_changed, xmp_changed, edited, touched, unreadable}) == 8

    # documents lost from the index
    index.apply([DocumentUpdate(i, DELETE_IMAGE, T_EDIT) for i in removed])
    # originals deleted (one of them kept by Grid's rule, it has usages)
    for image_id in [*orphaned, *orphan_kept]:
        originals.delete(image_id)
    # file-derived fields altered, as a stale or foreign projection would leave them
    tampered = dict(documents[credit_changed])
    tampered["originalMetadata"] = {**tampered["originalMetadata"], "credit": "Tampered"}
    xmp = dict(documents[xmp_changed])
    xmp_key = sorted(xmp["fileMetadata"]["xmp"])[0]
    xmp["fileMetadata"] = {
        **xmp["fileMetadata"],
        "xmp": {**xmp["fileMetadata"]["xmp"], xmp_key: "x"},
    }
    index.apply([DocumentUpdate.image(tampered, T_EDIT), DocumentUpdate.image(xmp, T_EDIT)])
    # what users and other services do is no drift: an edit, a later lastModified
    edits = {"metadata": {"title": "Edited by a user"}, "lastModified": T_EDIT}
    index.apply(
        [
            DocumentUpdate.user_metadata(edited, edits, T_EDIT),
            DocumentUpdate.image(documents[touched], T_LATE),
        ]
    )
    assert index.get(touched)["lastModified"] == T_LATE  # type: ignore[index]
    # an original the loader can no longer read
    originals.path_of(unreadable).write_bytes(b"this is not an image any more")

    found = audit(components)
    assert sorted(found.missing.examples) == sorted(removed)
    assert sorted(found.orphans.examples) == sorted([*orphaned, *orphan_kept])
    assert sorted(found.drifted.examples) == sorted([credit_changed, xmp_changed])
    assert {path: g.examples for path, g in found.fields.items()} == {
        "originalMetadata.credit": [credit_changed],
        "metadata.credit": [credit_changed],
        f"fileMetadata.xmp.{xmp_key}": [xmp_changed],
    }
    assert found.diffs[credit_changed][1].stored == "Tampered"
    reasons = {r: g.examples for r, g in found.unreadable.items()}
    assert reasons["CorruptFile: File format could not be determined"].count(unreadable) == 1
    assert sum(g.count for g in found.unreadable.values()) == len(broken) + 1
    assert found.checked == len(good) + len(broken) - 2 and not found.failed
    shown = inspect(
        credit_changed, index, originals, components.local_projector, components.settings
    )
    assert shown is not None and shown.kind is Kind.DRIFTED
    assert [c.path for c in shown.changes] == ["metadata.credit", "originalMetadata.credit"]

    repaired = audit(components, repair=True, delete_orphans=True)
    assert repaired.repair is not None
    assert (repaired.repair.added, repaired.repair.reset, repaired.repair.untouched) == (0, 4, 0)
    assert repaired.orphans_deleted == 1 and repaired.orphans_kept.examples == orphan_kept
    states = {row.id: row.state for row in components.progress.get(good)}
    queued = {i for i, state in states.items() if state is State.NotStarted}
    assert queued == {*removed, credit_changed, xmp_changed}

    run(components, until_done=True)
    after = audit(components)
    assert (after.missing.count, after.drifted.count) == (0, 0)
    assert after.orphans.examples == orphan_kept  # kept: it has usages
    assert index.get(edited)["metadata"]["title"] == "Edited by a user"  # type: ignore[index]
    assert index.get(touched)["lastModified"] == T_LATE  # type: ignore[index]
    assert index.get(orphaned[0]) is None


def test_drift_ignores_what_a_reingest_leaves_alone() -> None:
    stored = {
        "id": "a" * 40,
        "identifiers": {},
        "lastModified": T_LATE,
        "userMetadata": {"metadata": {"title": "edited"}},
        "usages": [{"id": "u"}],
        "metadata": {"title": "edited", "credit": "AP", "description": ""},
        "originalMetadata": {"title": "file", "credit": "AP", "description": ""},
        "fileMetadata": {"xmp": {"dc:title": "file", "dc:rights": ["a", "b"]}},
    }
    projection = {
        "id": "a" * 40,
        "usages": [],
        "metadata": {"title": "file", "credit": "AP"},
        "originalMetadata": {"title": "file", "credit": "AP"},
        "fileMetadata": {"xmp": {"dc:title": "file", "dc:rights": ["a", "c"]}},
    }
    assert drift(stored, projection) == [
        ("fileMetadata.xmp.dc:rights", ["a", "b"], ["a", "c"]),
    ]


class Strict:
    """An ascending id stream that records how far it has been read."""

    def __init__(self, ids: list[str]) -> None:
        self.ids, self.read = ids, 0

    def __iter__(self) -> Iterator[str]:
        for image_id in self.ids:
            self.read += 1
            yield image_id


def test_merge_reads_one_id_ahead_at_most_and_classifies_each_id() -> None:
    left, right = Strict(["a", "b", "d", "e"]), Strict(["b", "c", "e", "f"])
    merged = merge_ids(left, right)
    assert next(merged) == ("a", True, False)
    assert (left.read, right.read) == (1, 1)  # only the heads: nothing read ahead
    assert list(merged) == [
        ("b", True, True),
        ("c", False, True),
        ("d", True, False),
        ("e", True, True),
        ("f", False, True),
    ]


def test_merge_refuses_a_stream_out_of_order() -> None:
    with pytest.raises(ValueError, match="index ids are not in ascending order"):
        list(merge_ids(iter(["a", "c"]), iter(["b", "a"])))


def test_merging_a_million_ids_keeps_memory_flat() -> None:
    def ids(step: int) -> Iterator[str]:
        return (f"{n:040x}" for n in range(0, 1_000_000 * step, step))

    tracemalloc.start()
    try:
        counts = [0, 0, 0]
        for _id, has_original, has_document in merge_ids(ids(2), ids(3)):
            counts[has_original + 2 * has_document - 1] += 1
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert counts[2] == len(range(0, 2_000_000, 6))  # both sides: multiples of 6
    assert peak < 100_000  # a few ids in flight, not millions


def test_reservoir_sample_is_uniform_and_bounded() -> None:
    hits = [0] * 10
    for seed in range(2000):
        reservoir = Reservoir(3, random.Random(seed))
        for n in range(10):
            reservoir.offer(str(n))
        assert len(reservoir.items) == 3
        for item in reservoir.items:
            hits[int(item)] += 1
    assert all(500 < n < 700 for n in hits)  # 600 expected each


def test_cli_audit_json_sample_show_and_ids_from(home: Path, tmp_path: Path) -> None:
    runner = CliRunner()
    env = {"REINGEST_HOME": str(home), "COLUMNS": "200"}
    with Components(Settings.from_env(env)) as components:
        sample = generate_sample_library(tmp_path / "sample", count=6)
        good, broken = store_sample_library(components, sample)
        queue_full_reindex(components.progress, components.originals)
        run(components, until_done=True)
        components.index.apply([DocumentUpdate(good[0], DELETE_IMAGE, T_EDIT)])

    result = runner.invoke(app, ["audit", "--json"], env=env)
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert {k: report[k] for k in ("checked", "missing", "orphans", "drifted")} == {
        "checked": len(good) + len(broken),
        "missing": 1,
        "orphans": 0,
        "drifted": 0,
    }
    assert report["examples"]["missing"] == [good[0]] and report["fields"] == {}
    assert json.loads((home / "last-audit.json").read_text())["missing"] == 1
    metrics = runner.invoke(app, ["metrics"], env=env).stdout  # the last report, alertable
    assert 'reingest_audit_images{kind="missing"} 1.0' in metrics
    assert 'reingest_audit_images{kind="drifted"} 0.0' in metrics
    assert "reingest_audit_finished_timestamp_seconds " in metrics

    sampled = json.loads(runner.invoke(app, ["audit", "--sample", "3", "--json"], env=env).stdout)
    assert sampled["checked"] == 3 and sampled["sample"] == 3

    table = runner.invoke(app, ["audit"], env=env)
    assert table.exit_code == 0 and "missing" in table.stdout and good[0] in table.stdout
    shown = runner.invoke(app, ["audit", "--show", good[0]], env=env)
    assert "not in the index: a reingest would insert it" in shown.stdout

    listed = runner.invoke(app, ["ids", "from", "originals"], env=env).stdout.split()
    assert listed == sorted([*good, *broken])
    indexed = runner.invoke(app, ["ids", "from", "index"], env=env).stdout.split()
    assert indexed == sorted(set(good) - {good[0]})
    failed = runner.invoke(app, ["ids", "from", "progress", "--state", "KnownError"], env=env)
    assert failed.stdout.split() == sorted(broken)
    prefix = listed[1][:1]
    by_prefix = runner.invoke(app, ["ids", "from", "originals", "--prefix", prefix], env=env)
    assert by_prefix.stdout.split() == [i for i in listed if i.startswith(prefix)]
