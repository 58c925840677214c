from __future__ import annotations

import dataclasses
import json
import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from reingest.cli import app as cli
from reingest.config import (
    KNOWN_NAMES,
    REGISTRY,
    Settings,
    markdown_table,
    report,
    unknown_variables,
)
from reingest.errors import ConfigurationError
from reingest.states import State


def test_defaults_live_under_reingest_home(tmp_path: object) -> None:
    settings = Settings.from_env({"REINGEST_HOME": "/srv/r"})
    assert settings.progress_url == "sqlite:////srv/r/progress.db"
    assert settings.originals_url == "file:///srv/r/originals"
    assert settings.batch_size == 100 and settings.start_state == State.NotStarted


def test_original_lambda_names_are_accepted_and_reingest_names_win() -> None:
    env = {"BATCH_SIZE": "25", "MAX_SIZE": "500", "START_STATE": "8", "REINGEST_MAX_SIZE": "700"}
    settings = Settings.from_env(env)
    assert settings.batch_size == 25 and settings.max_size == 700
    assert settings.start_state == State.UnknownError
    assert (
        Settings.from_env({"CHECKER_START_STATE": "Inconsistent"}).checker_start_state
        == State.Inconsistent
    )


def test_an_originals_window_may_be_0_for_whole_reads() -> None:
    assert Settings.from_env({}).originals_window == 256 * 1024
    assert Settings.from_env({"REINGEST_ORIGINALS_WINDOW": "0"}).originals_window == 0
    assert Settings.from_env({"REINGEST_ORIGINALS_WINDOW": "65536"}).originals_window == 65536


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"BATCH_SIZE": "many"}, "BATCH_SIZE must be a number"),
        ({"REINGEST_LEASE_SECONDS": "-1"}, "LEASE_SECONDS must be positive"),
        ({"START_STATE": "42"}, "START_STATE"),
    ],
)
def test_bad_settings_are_named(env: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigurationError, match=message):
        Settings.from_env(env)


# -- the registry: one declaration of every variable --------------------------------------------

ROOT = Path(__file__).resolve().parents[1]
#: a misspelt name, built so the scan below does not take this file's typos for settings
TYPO = "REINGEST_" + "BATCHSIZE"
STRANGER = "REINGEST_" + "NOTHING_LIKE_IT"


def test_the_registry_declares_every_settings_field_and_every_variable_the_code_reads() -> None:
    assert [s.key for s in REGISTRY if s.field] == [f.name for f in dataclasses.fields(Settings)]
    quoted = re.compile(r"[\"'](REINGEST_[A-Z0-9_]+)[\"']")
    sources = [*ROOT.joinpath("src").rglob("*.py"), *ROOT.joinpath("tests").rglob("*.py")]
    named = {name for path in sources for name in quoted.findall(path.read_text())}
    assert named and named <= KNOWN_NAMES, named - KNOWN_NAMES
    # nothing reads the environment behind the registry's back (it is passed to config.py)
    direct = re.compile(r"environ\.get\(|environ\[|getenv\(")
    assert not [p for p in ROOT.joinpath("src").rglob("*.py") if direct.search(p.read_text())]


def test_a_reingest_name_wins_over_grids_which_wins_over_the_default() -> None:
    def batch(env: dict[str, str]) -> tuple[int, str]:
        (row,) = [r for r in report(env)["settings"] if r["key"] == "batch_size"]
        assert Settings.from_env(env).batch_size == row["value"]
        return row["value"], row["source"]

    assert batch({}) == (100, "default")
    assert batch({"BATCH_SIZE": "25"}) == (25, "env BATCH_SIZE (Grid's name)")
    assert batch({"BATCH_SIZE": "25", "REINGEST_BATCH_SIZE": "7"}) == (7, "env REINGEST_BATCH_SIZE")
    assert batch({"BATCH_SIZE": "25", "REINGEST_BATCH_SIZE": ""}) == (
        25,
        "env BATCH_SIZE (Grid's name)",
    )


def test_urls_are_derived_from_home_unless_a_variable_names_them() -> None:
    rows = {
        r["key"]: r
        for r in report({"REINGEST_HOME": "/srv/r", "KINESIS_STREAM": "thrall"})["settings"]
    }
    assert rows["home"]["source"] == "env REINGEST_HOME"
    progress = rows["progress_url"]
    assert progress["value"] == "sqlite:////srv/r/progress.db"
    assert progress["source"] == "derived from REINGEST_HOME"
    assert progress["default"] == "sqlite:///$REINGEST_HOME/progress.db"
    assert rows["stream_url"]["value"] == "kinesis://thrall"
    assert rows["stream_url"]["source"] == "env KINESIS_STREAM (Grid's name, as kinesis://NAME)"
    env = {"IMAGES_TO_INDEX_DYNAMO_TABLE": "t", "REINGEST_PROGRESS_URL": "sqlite:///p.db"}
    assert Settings.from_env(env).progress_url == "sqlite:///p.db"
    assert Settings.from_env({"IMAGES_TO_INDEX_DYNAMO_TABLE": "t"}).progress_url == "dynamodb://t"


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"REINGEST_BATCH_SIZE": "2.5"}, "REINGEST_BATCH_SIZE must be a whole number, got '2.5'"),
        ({"MAX_SIZE": "0.5"}, "MAX_SIZE must be a whole number"),
        ({"REINGEST_LEASE_SECONDS": "nan"}, "REINGEST_LEASE_SECONDS must be a finite number"),
        ({"REINGEST_MAX_ATTEMPTS": "0"}, "REINGEST_MAX_ATTEMPTS must be positive"),
        ({"REINGEST_CHECKER_START_STATE": "Done"}, "REINGEST_CHECKER_START_STATE: unknown state"),
        ({"REINGEST_CLEANERS": "all"}, "REINGEST_CLEANERS .* must be one of none, guardian"),
        (
            {"REINGEST_ORIGINALS_WINDOW": "-1"},
            "REINGEST_ORIGINALS_WINDOW must be 0 or a positive whole number, got '-1'",
        ),
    ],
)
def test_an_invalid_value_is_refused_naming_its_variable(env: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigurationError, match=message):
        Settings.from_env(env)
    result = CliRunner().invoke(cli, ["config", "--json"], env=env)
    assert result.exit_code == 1
    assert re.search(f"error: {message}", result.stderr)
    assert [row["error"] for row in json.loads(result.stdout)["settings"] if "error" in row]


def test_secrets_are_masked_and_so_are_passwords_in_urls() -> None:
    env = {
        "API_KEY": "grid-key-0123456789",
        "REINGEST_API_KEYS": "first-key-abcdefgh, second-key-ijklmnop",
        "REINGEST_ES_API_KEY": "short",
        "REINGEST_INDEX_URL": "https://elastic:hunter2@es.example:9243/images",
    }
    result = CliRunner().invoke(cli, ["config", "--json"], env={**env, "COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    rows = {r["key"]: r for r in json.loads(result.stdout)["settings"]}
    assert rows["api_keys"]["value"] == ["****gh", "****op"]
    for key in ("projection_api_key", "services_api_key"):
        assert (rows[key]["value"], rows[key]["source"]) == ("****89", "env API_KEY (Grid's name)")
    assert rows["es_api_key"]["value"] == "****"
    assert rows["index_url"]["value"] == "https://elastic:****@es.example:9243/images"
    table = CliRunner().invoke(cli, ["config"], env={**env, "COLUMNS": "200"}).output
    for secret in ("grid-key", "abcdefgh", "short", "hunter2"):
        assert secret not in result.output and secret not in table


def test_an_unknown_reingest_variable_is_reported_with_the_name_it_likely_meant(
    tmp_path: Path,
) -> None:
    env = {TYPO: "7", "REINGEST_HOME": str(tmp_path), STRANGER: "1"}
    assert unknown_variables({**env, "REINGEST_TEST_ES_URL": "x", "REINGEST_FUZZ_SEED": "1"}) == [
        (TYPO, "REINGEST_BATCH_SIZE"),
        (STRANGER, None),
    ]
    assert unknown_variables({"reingest_home": "x"}) == [("reingest_home", "REINGEST_HOME")]
    listed = CliRunner().invoke(cli, ["config", "--json"], env=env)
    assert listed.exit_code == 0 and listed.stderr.count("not a reingest setting") == 2
    assert json.loads(listed.stdout)["unknown"][0] == {
        "name": TYPO,
        "didYouMean": "REINGEST_BATCH_SIZE",
        "message": f"{TYPO} is not a reingest setting (did you mean REINGEST_BATCH_SIZE?); "
        "it is ignored",
    }
    other = CliRunner().invoke(cli, ["stats", "--json"], env=env)
    assert other.exit_code == 0, other.output
    assert json.loads(other.stdout)["total"] == 0  # not fatal
    assert other.stderr.count(f"warning: {TYPO} is not a reingest setting") == 1
    assert "did you mean REINGEST_BATCH_SIZE?" in other.stderr


def test_the_readme_table_is_the_one_the_registry_generates() -> None:
    readme = ROOT.joinpath("README.md").read_text()
    start = readme.index(
        "<!-- generated by `reingest config --markdown`: do not edit by hand -->\n"
    )
    table = readme[readme.index("\n", start) + 1 : readme.index("<!-- end of generated table -->")]
    assert table == markdown_table(), "README out of date: paste `reingest config --markdown`"
    generated = CliRunner().invoke(cli, ["config", "--markdown"])
    assert generated.stdout == markdown_table()
    assert all(f"`{name}`" in table for name in KNOWN_NAMES)
