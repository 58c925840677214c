"""The command-line contract, in-process (typer's runner) for speed; e2e/ drives subprocesses."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from reingest import key_order
from reingest.cli import app
from reingest.originals.base import UploadRecord
from reingest.originals.file import FileOriginalsStore

IDS = [f"{i:040x}" for i in range(5)]


@pytest.fixture
def invoke(home: Path):  # type: ignore[no-untyped-def]
    runner = CliRunner()

    def run(*args: str, stdin: str | None = None, code: int = 0, **env: str) -> str:
        env = {"REINGEST_HOME": str(home), "COLUMNS": "200", **env}
        result = runner.invoke(app, list(args), input=stdin, env=env)
        assert result.exit_code == code, result.output
        return result.output

    return run


def test_stats_json_has_the_contract_shape(invoke) -> None:  # type: ignore[no-untyped-def]
    assert json.loads(invoke("stats", "--json")) == {"counts": {}, "total": 0}
    invoke("ids", "upload", "-", stdin="\n".join(IDS))
    assert json.loads(invoke("stats", "--json")) == {"counts": {"NotStarted": 5}, "total": 5}
    assert "NotStarted" in invoke("stats")


def test_ids_upload_reads_a_file_saved_with_a_byte_order_mark(invoke, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    ids_file = tmp_path / "ids.txt"
    ids_file.write_text("\n".join(IDS) + "\n", encoding="utf-8-sig")
    assert "5 added" in invoke("ids", "upload", str(ids_file))


def test_ids_upload_without_room_to_spill_says_so_and_keeps_what_it_wrote(  # type: ignore[no-untyped-def]
    invoke, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(key_order, "MEMORY_IDS", 2)

    def no_room(*args: object, **kwargs: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(key_order.tempfile, "TemporaryDirectory", no_room)
    output = invoke("ids", "upload", "-", stdin="\n".join(IDS), code=1)
    assert "No space left on device" in output and "re-run" in output
    monkeypatch.undo()
    invoke("ids", "upload", "-", stdin="\n".join(IDS))
    assert json.loads(invoke("stats", "--json"))["total"] == 5


def test_ids_upload_reports_malformed_lines_and_exits_1(invoke, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    ids_file = tmp_path / "ids.txt"
    ids_file.write_text(f"{IDS[0]}\n\nnope\n{IDS[1]}\n{IDS[0]}\n")
    output = invoke("ids", "upload", str(ids_file), code=1)
    assert "3 valid ids: 2 added, 1 already known or repeated" in output
    assert "1 malformed ids skipped" in output and "line 3: 'nope'" in output
    assert "no such file" in invoke("ids", "upload", str(tmp_path / "missing"), code=1).lower()


def test_ids_scan_writes_id_state_lines(invoke, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    invoke("ids", "upload", "-", stdin="\n".join(IDS))
    out = tmp_path / "dump.txt"
    invoke("ids", "scan", str(out))
    assert out.read_text().splitlines() == [f"{i} 0" for i in IDS]
    assert invoke("ids", "scan", "-").splitlines() == [f"{i} 0" for i in IDS]


def test_reset_variants(invoke) -> None:  # type: ignore[no-untyped-def]
    invoke("ids", "upload", "-", stdin="\n".join(IDS))
    invoke("index-batch")  # no originals: every id ends NotFound
    assert json.loads(invoke("stats", "--json"))["counts"] == {"NotFound": 5}
    assert "reset 5 ids from Enqueued, NotFound, InProgress" in invoke("reset", "processed")
    invoke("index-batch")
    assert "reset 5 ids from NotFound" in invoke("reset", "--state", "2")
    assert "reset 0 ids" in invoke("reset", "known-errors")
    assert "say what to reset" in invoke("reset", code=1)
    assert "unknown reset" in invoke("reset", "everything", code=1)
    assert "unknown state" in invoke("reset", "--state", "77", code=1)


def test_failures_group_and_metrics_expose_them(invoke) -> None:  # type: ignore[no-untyped-def]
    invoke("ids", "upload", "-", stdin="\n".join(IDS))
    invoke("index-batch")
    groups = json.loads(invoke("failures", "--json"))["groups"]
    assert groups == [
        {
            "state": "NotFound",
            "reason": "no original stored for this id",
            "count": 5,
            "examples": IDS[:3],
        }
    ]
    metrics = invoke("metrics")
    assert 'reingest_images{state="NotFound"} 5.0' in metrics
    assert (
        'reingest_failures{reason="no original stored for this id",state="NotFound"} 5.0' in metrics
    )
    assert 'reingest_stream_depth{priority="low"} 0.0' in metrics


def test_services_load_validates_its_file(invoke, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    good = tmp_path / "services.json"
    good.write_text(json.dumps({IDS[0]: {"crops": []}}))
    assert "loaded service data for 1 images" in invoke("services", "load", str(good))
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({IDS[0]: {"usages": [{"nope": 1}]}}))
    assert "invalid usages data" in invoke("services", "load", str(bad), code=1)
    bad.write_text("[1]")
    assert "expected a JSON object" in invoke("services", "load", str(bad), code=1)


def test_project_of_an_unknown_id_exits_1(invoke) -> None:  # type: ignore[no-untyped-def]
    assert "no original stored" in invoke("project", IDS[0], code=1)


def project_file(invoke, path: Path, *options: str, **env: str) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    image: dict[str, Any] = json.loads(invoke("project-file", str(path), *options, **env))
    return image


def test_project_file_runs_grid_default_processors(invoke, fixtures_dir: Path) -> None:  # type: ignore[no-untyped-def]
    cech = project_file(invoke, fixtures_dir / "cech.jpg")
    getty = {"category": "agency", "supplier": "Getty Images"}
    assert cech["usageRights"] == {**getty, "suppliersCollection": "Getty Images Europe"}
    assert cech["metadata"]["suppliersReference"] == "82486881"  # Getty's Asset ID
    turner = project_file(invoke, fixtures_dir / "guardian-turner.jpg")
    assert turner["usageRights"] == {
        "category": "staff-photographer",
        "photographer": "Graham Turner",
        "publication": "The Guardian",
    }
    assert turner["metadata"]["credit"] == turner["metadata"]["copyright"] == "The Guardian"
    for image in (cech, turner):
        assert image["originalUsageRights"] == image["usageRights"]
        assert image["originalMetadata"] == image["metadata"]
    # getty.jpg has no Getty Asset ID, so no supplier claims it; the cleaners still run
    old_getty = project_file(invoke, fixtures_dir / "getty.jpg")
    assert old_getty["usageRights"] == {}
    assert old_getty["metadata"]["byline"] == "Christof Stache"
    assert "state" not in old_getty["metadata"]  # "-" is rubbish


def test_processors_none_gives_the_converter_output(invoke, fixtures_dir: Path) -> None:  # type: ignore[no-untyped-def]
    recorded = json.loads((fixtures_dir / "expected.json").read_text())["files"]["cech.jpg"]
    image = project_file(invoke, fixtures_dir / "cech.jpg", "--processors", "none")
    assert image["usageRights"] == image["originalUsageRights"] == {}
    assert image["originalMetadata"] == image["metadata"]
    for field, expected in recorded["metadata"].items():
        value = image["metadata"].get(field)
        if isinstance(value, list):
            assert sorted(value) == sorted(expected["value"]), field
        else:
            assert value == expected["value"], field
    from_env = project_file(invoke, fixtures_dir / "cech.jpg", REINGEST_PROCESSORS="none")
    assert from_env["usageRights"] == {} and from_env["metadata"] == image["metadata"]


def test_project_file_keeps_the_deprecated_cleaners_option(invoke, fixtures_dir: Path) -> None:  # type: ignore[no-untyped-def]
    cleaned = project_file(invoke, fixtures_dir / "getty.jpg", "--cleaners", "guardian")
    assert cleaned["metadata"]["byline"] == "Christof Stache"
    cech = project_file(invoke, fixtures_dir / "cech.jpg", "--cleaners", "guardian")
    assert cech["usageRights"] == {}  # the cleaners alone: no supplier processors


@pytest.mark.parametrize(
    ("options", "env", "message"),
    [
        (["--processors", "guardian,suppliers"], {}, "unknown processors 'guardian'"),
        ([], {"REINGEST_PROCESSORS": "bogus"}, "PROCESSORS: unknown processors 'bogus'"),
        (["--cleaners", "suppliers"], {}, "CLEANERS"),
    ],
)
def test_project_file_refuses_an_unknown_processor(  # type: ignore[no-untyped-def]
    invoke, fixtures_dir: Path, options: list[str], env: dict[str, str], message: str
) -> None:
    output = invoke("project-file", str(fixtures_dir / "cech.jpg"), *options, code=1, **env)
    assert message in output
    assert "none, guardian" in output


def test_help_lists_every_contract_command(invoke) -> None:  # type: ignore[no-untyped-def]
    output = invoke("--help")
    for command in (
        "quickstart",
        "ingest",
        "project-file",
        "project",
        "ids",
        "stats",
        "reset",
        "index-batch",
        "check-batch",
        "run",
        "show",
        "failures",
        "thrall",
        "worker",
        "metrics",
        "services",
    ):
        assert command in output


def test_reindex_queues_every_original_and_runs_to_the_end(invoke, fixtures_dir: Path) -> None:  # type: ignore[no-untyped-def]
    invoke("ingest", str(fixtures_dir / "getty.jpg"), str(fixtures_dir / "pa.jpg"))
    assert "queued 2 originals" in invoke("reindex")
    assert json.loads(invoke("stats", "--json")) == {"counts": {"Verified": 2}, "total": 2}
    assert "queued 2 originals" in invoke("reindex")
    assert json.loads(invoke("stats", "--json")) == {"counts": {"Verified": 2}, "total": 2}


def test_run_keeps_a_prometheus_textfile(invoke, fixtures_dir: Path, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    invoke("ingest", str(fixtures_dir / "getty.jpg"))
    invoke("reindex")  # queue it, and prove the run below starts from a clean slate
    invoke("reset", "--state", "Verified")
    textfile = tmp_path / "reingest.prom"
    output = invoke("run", "--metrics-file", str(textfile))
    assert "nothing left to do" in output
    metrics = textfile.read_text()
    assert 'reingest_images{state="Verified"} 1.0' in metrics
    assert "reingest_run_images_per_second" in metrics
    assert "reingest_run_skipped_batches 0.0" in metrics


def test_error_messages_are_plain_text_not_markup() -> None:
    from reingest.cli import err, fail

    with err.capture() as captured:
        fail("install it: pip install 'reingest[redis]'")
    assert captured.get() == "error: install it: pip install 'reingest[redis]'\n"


def test_one_huge_line_costs_a_block_of_memory_not_its_size(tmp_path: Path) -> None:
    import io
    import tracemalloc

    from reingest.ids import BLOCK_CHARS, UploadReport, _valid_ids

    huge = io.StringIO("a" * 40 + "\n" + "x" * (40 * BLOCK_CHARS) + "\n" + "b" * 40 + "\n")
    report = UploadReport()
    tracemalloc.start()
    ids = list(_valid_ids(huge, report, None))
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert ids == ["a" * 40, "b" * 40]
    assert (report.lines, report.malformed) == (3, 1)
    assert peak < 8 * BLOCK_CHARS  # the line is 40 blocks long


def test_migrate_steps_ask_for_the_typed_word_and_refuse_what_cannot_be_done(invoke) -> None:  # type: ignore[no-untyped-def]
    assert "no previous index to roll back to" in invoke("migrate", "rollback", code=1)
    assert "no migration is running" in invoke("migrate", "abandon", code=1)
    assert "migrating to images_" in invoke("migrate", "start", "--suffix", "cli")
    said = invoke("migrate", "abandon", stdin="abandn\n", code=1)
    assert "Type 'abandon' to go ahead" in said and "nothing done" in said
    assert "InProgress" in invoke("migrate", "status")
    invoke("migrate", "pause")
    assert '"state": "Paused"' in invoke("migrate", "status", "--json")
    assert "abandoned: images_" in invoke("migrate", "abandon", stdin="abandon\n")
    assert '"state": "NotRunning"' in invoke("migrate", "status", "--json")


def test_migrate_start_refuses_a_file_that_is_not_a_mapping(invoke, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    (tmp_path / "bad.json").write_text('{"mappings": {}}')
    said = invoke("migrate", "start", "--mapping", str(tmp_path / "bad.json"), code=1)
    assert "is not a mapping: expected a JSON object with 'properties'" in said
    assert "cannot read the mapping" in invoke(
        "migrate", "start", "--mapping", str(tmp_path / "absent.json"), code=1
    )


def test_migrate_queue_adds_what_the_table_lacks_and_redoes_nothing(invoke, home: Path) -> None:  # type: ignore[no-untyped-def]
    assert "no migration is running" in invoke("migrate", "queue", code=1)
    invoke("migrate", "start")
    stored, _ = FileOriginalsStore((home / "originals").as_uri()).put(b"late", UploadRecord())
    assert "1 ids were new to the progress table" in invoke("migrate", "queue")
    assert "0 ids were new" in invoke("migrate", "queue")
    assert f"{stored} 0" in invoke("ids", "scan", "-")
