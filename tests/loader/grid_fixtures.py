"""Where Grid's own loader test images live and what expected.json says about them."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

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
