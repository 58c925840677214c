"""The CLI's inputs as an operator's shell gives them: pipes, closed stdin, odd encodings."""

from __future__ import annotations

import subprocess
from pathlib import Path

from .conftest import Cli, cli_env, reingest_command

ID = "a" * 40


def test_ids_upload_from_a_pipe_with_a_byte_order_mark(cli: Cli) -> None:
    result = cli("ids", "upload", "-", stdin=f"\ufeff{ID}\n{'b' * 40}\n")
    assert "2 valid ids: 2 added" in result.stdout


def test_ids_upload_with_stdin_closed_says_so(home: Path) -> None:
    result = subprocess.run(
        ["bash", "-c", 'exec "$@" <&-', "bash", *reingest_command("ids", "upload", "-")],
        env=cli_env(home),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 1
    assert "standard input is closed" in result.stderr and "Traceback" not in result.stderr
