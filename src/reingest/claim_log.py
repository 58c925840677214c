"""An optional append-only log of every claim (``REINGEST_CLAIM_LOG``), to audit afterwards that
no id was ever owned by two workers at once. One line per claimed id:
``<unix time> <owner> <state claimed into> <id>``."""

from __future__ import annotations

import os
import time
from collections.abc import Sequence
from pathlib import Path

from .states import State


def record(path: Path | None, owner: str, state: State, ids: Sequence[str]) -> None:
    """Append one batch with a single O_APPEND write, so concurrent workers never interleave."""
    if path is None or not ids:
        return
    stamp = f"{time.time():.6f}"
    text = "".join(f"{stamp} {owner} {state.value} {image_id}\n" for image_id in ids)
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, text.encode())
    finally:
        os.close(fd)
