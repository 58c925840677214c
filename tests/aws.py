"""An AWS stand-in for the tests: moto in server mode on 127.0.0.1, one per test process.

``moto_endpoint`` (session) starts ``moto_server`` on a free port (``throwaway_moto``, which the
benchmarks use too) and stops it at the end; it skips when moto is not installed, but fails
under ``CI=true`` so that a missing install step cannot pass as a green run. ``aws_env`` (per test) points boto3 at it through the environment
(dummy credentials, us-east-1, ``AWS_ENDPOINT_URL``, which boto3 honours natively).

Use it from a test module with ``from aws import aws_env, moto_endpoint  # noqa: F401``.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from servers import ServerUnavailable, running, stop

CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_REGION": "us-east-1",
}


def unique_name(prefix: str) -> str:
    """A fresh table / stream / bucket name (lower case, valid for all three)."""
    return f"{prefix}-{uuid.uuid4().hex[:16]}"


def _moto_server_command() -> list[str] | None:
    beside_python = Path(sys.executable).with_name("moto_server")
    if beside_python.exists():
        return [str(beside_python)]
    found = shutil.which("moto_server")
    return [found] if found else None


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextmanager
def throwaway_moto() -> Iterator[str]:
    """A running moto server; yields its endpoint URL (also for the benchmarks)."""
    command = _moto_server_command()
    try:
        import boto3  # noqa: F401
        import moto  # noqa: F401
    except ImportError:
        command = None
    if command is None:
        raise ServerUnavailable(
            "moto[server] and boto3 are not installed (pip install -e '.[dev]')"
        )
    port = _free_port()
    endpoint = f"http://127.0.0.1:{port}"
    process = subprocess.Popen(
        [*command, "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env={**os.environ, **CREDENTIALS},
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                with urllib.request.urlopen(f"{endpoint}/moto-api/", timeout=1):
                    break
            except OSError:
                if process.poll() is not None:
                    raise RuntimeError(f"moto_server exited with {process.returncode}") from None
                if time.monotonic() > deadline:
                    raise RuntimeError("moto_server did not answer within 30 s") from None
                time.sleep(0.1)
        yield endpoint
    finally:
        stop(process)


@pytest.fixture(scope="session")
def moto_endpoint() -> Iterator[str]:
    yield from running(throwaway_moto)


@pytest.fixture
def aws_env(moto_endpoint: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """Point boto3 at the moto server for this test; returns the endpoint URL."""
    for name, value in CREDENTIALS.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto_endpoint)
    for name in ("AWS_PROFILE", "AWS_CONFIG_FILE", "AWS_SHARED_CREDENTIALS_FILE"):
        monkeypatch.delenv(name, raising=False)
    return moto_endpoint
