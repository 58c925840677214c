"""Fixtures shared by the loader tests: Grid's own loader test images, read in place."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

#: /work/main/tests/loader → project root is parents[2]; the images live beside the project
FIXTURES = (Path(__file__).resolve().parents[2] / "../shared/fixtures/grid-images").resolve()
EXPECTED_FILE = FIXTURES / "expected.json"


def load_expected() -> dict[str, Any]:
    """The per-file expectations, or {} when the fixtures are absent (tests then skip)."""
    if not EXPECTED_FILE.is_file():
        return {}
    files: dict[str, Any] = json.loads(EXPECTED_FILE.read_text())["files"]
    return files


EXPECTED = load_expected()


@pytest.fixture
def fixture_bytes() -> Any:
    """Reads one fixture image; skips when the shared fixtures folder is missing."""

    def read(name: str) -> bytes:
        if not FIXTURES.is_dir():
            pytest.skip(f"Grid fixture images not found at {FIXTURES}")
        return (FIXTURES / name).read_bytes()

    return read
