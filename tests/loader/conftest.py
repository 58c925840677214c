"""Fixtures shared by the loader tests: Grid's own loader test images, read in place."""

from __future__ import annotations

from typing import Any

import pytest
from grid_fixtures import FIXTURES


@pytest.fixture
def fixture_bytes() -> Any:
    """Reads one fixture image; skips when the shared fixtures folder is missing."""

    def read(name: str) -> bytes:
        if not FIXTURES.is_dir():
            pytest.skip(f"Grid fixture images not found at {FIXTURES}")
        return (FIXTURES / name).read_bytes()

    return read
