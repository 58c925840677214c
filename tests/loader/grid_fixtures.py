"""Where Grid's own loader test images live and what expected.json says about them."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

#: kept in the repository: tests/fixtures/grid-images (origin and licence in its README)
FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "grid-images"
EXPECTED_FILE = FIXTURES / "expected.json"


def load_expected() -> dict[str, Any]:
    """The per-file expectations."""
    files: dict[str, Any] = json.loads(EXPECTED_FILE.read_text())["files"]
    return files


EXPECTED = load_expected()
