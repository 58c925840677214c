"""Shared fixtures: a clean environment per test and a throw-away REINGEST_HOME."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from reingest.backends import Components
from reingest.config import Settings

PROJECT_ROOT = Path(__file__).resolve().parents[1]
FIXTURES = PROJECT_ROOT / "tests" / "fixtures" / "grid-images"


#: the original Lambdas' environment names, which Settings also reads
ORIGINAL_LAMBDA_SETTINGS = (
    "API_KEY",
    "PROJECTION_ENDPOINT",
    "IMAGES_ENDPOINT",
    "KINESIS_STREAM",
    "IMAGES_TO_INDEX_DYNAMO_TABLE",
    "BATCH_SIZE",
    "MAX_SIZE",
    "START_STATE",
    "CHECKER_START_STATE",
    "LATENCY_THRESHOLD",
    "STAGE",
    "DOMAIN_ROOT",
)


@pytest.fixture(autouse=True)
def clean_environ(monkeypatch: pytest.MonkeyPatch) -> None:
    """No REINGEST_* (or original Lambda) setting leaks into a test from the caller's shell."""
    for name in list(os.environ):
        if name.startswith("REINGEST_") and name != "REINGEST_TEST_ES_URL":
            monkeypatch.delenv(name)
    for name in ORIGINAL_LAMBDA_SETTINGS:
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def home(tmp_path: Path) -> Path:
    return tmp_path / "home"


@pytest.fixture
def settings(home: Path) -> Settings:
    return Settings.from_env({"REINGEST_HOME": str(home), "REINGEST_LEASE_SECONDS": "30"})


@pytest.fixture
def components(settings: Settings) -> Iterator[Components]:
    with Components(settings) as opened:
        yield opened


@pytest.fixture
def fixtures_dir() -> Path:
    """Grid's own loader test images, kept in the repository (tests/fixtures/grid-images)."""
    return FIXTURES
