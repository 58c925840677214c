"""Fixtures shared by the loader tests: Grid's own loader test images (tests/fixtures)."""

from __future__ import annotations

from typing import Any

import pytest
from grid_fixtures import FIXTURES


@pytest.fixture
def fixture_bytes() -> Any:
    """Reads one fixture image."""

    def read(name: str) -> bytes:
        return (FIXTURES / name).read_bytes()

    return read
