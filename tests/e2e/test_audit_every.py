"""A scheduled audit: `reingest audit --every` audits again and again until it is stopped."""

from __future__ import annotations

import json
import signal
import subprocess
import time
from pathlib import Path

from .conftest import Cli, cli_env, reingest_command


def test_audit_every_keeps_the_last_report_fresh_until_stopped(
    cli: Cli, home: Path, fixtures_dir: Path
) -> None:
    cli("ingest", str(fixtures_dir / "pa.jpg"))
    process = subprocess.Popen(
        reingest_command("audit", "--every", "1", "--json"),
        env=cli_env(home),
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    finished: set[str] = set()
    deadline = time.monotonic() + 120
    try:
        while len(finished) < 2 and time.monotonic() < deadline:
            time.sleep(0.2)
            try:
                finished.add(json.loads((home / "last-audit.json").read_text())["finishedAt"])
            except (OSError, ValueError):
                continue
    finally:
        process.send_signal(signal.SIGTERM)
        out, _ = process.communicate(timeout=60)
    assert len(finished) >= 2, "a second audit never finished"
    assert process.returncode == 0
    reports = [json.loads(block) for block in out.replace("}\n{", "}\x00{").split("\x00")]
    assert len(reports) >= 2 and all(r["checked"] == 1 and r["missing"] == 1 for r in reports)
