"""Drive the real ``reingest`` command as a subprocess on a throw-away REINGEST_HOME."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

Cli = Callable[..., subprocess.CompletedProcess[str]]


def cli_env(home: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("REINGEST_")}
    env.update({"REINGEST_HOME": str(home), "COLUMNS": "200", "NO_COLOR": "1", **extra})
    return env


def reingest_command(*args: str) -> list[str]:
    return [sys.executable, "-m", "reingest", *args]


@pytest.fixture
def cli(home: Path) -> Cli:
    def run(
        *args: str, check: bool = True, stdin: str | None = None, **env: str
    ) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(
            reingest_command(*args),
            env=cli_env(home, **env),
            input=stdin,
            capture_output=True,
            text=True,
            timeout=240,
        )
        if check and result.returncode != 0:
            raise AssertionError(
                f"reingest {' '.join(args)} exited {result.returncode}\n"
                f"stdout:\n{result.stdout}\nstderr:\n{result.stderr}"
            )
        return result

    return run


def start_run(home: Path, **env: str) -> subprocess.Popen[bytes]:
    """``reingest run --until-done`` in the background (to be killed by the test)."""
    return subprocess.Popen(
        reingest_command("run", "--until-done"),
        env=cli_env(home, **env),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def stats(cli: Cli, **env: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(cli("stats", "--json", **env).stdout)
    return data


def states_by_id(cli: Cli) -> dict[str, int]:
    lines = cli("ids", "scan", "-").stdout.splitlines()
    return {image_id: int(state) for image_id, state in (line.split() for line in lines)}
