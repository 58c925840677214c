"""Throw-away PostgreSQL and Redis servers for the backend tests (a pytest plugin).

Load with ``pytest_plugins = ["servers"]``. Each pytest process (each xdist worker too) starts
its own servers on free 127.0.0.1 ports, with data in a temporary directory, once per session
and only when a test asks for one; every test gets a fresh database or key prefix. Missing
binaries skip those tests locally and fail them under ``CI=true``, so CI cannot go green
without running them.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import NoReturn

import pytest

START_TIMEOUT_SECONDS = 30.0


APT = "apt-get install -y postgresql redis-server"


def _missing(message: str) -> NoReturn:
    if os.environ.get("CI") == "true":
        pytest.fail(message, pytrace=False)
    pytest.skip(message)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def stop(process: subprocess.Popen[bytes]) -> None:
    """Terminate a server we started, killing it if it does not go within 10 s."""
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


class ServerUnavailable(Exception):
    """The server's binaries or driver are not installed here."""


def _run(command: list[str]) -> None:
    result = subprocess.run(command, capture_output=True, text=True, timeout=120)
    if result.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed:\n{result.stdout}{result.stderr}")


def _postgres_bin(name: str) -> str | None:
    found = shutil.which(name)
    if found:
        return found
    candidates = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    return candidates[-1] if candidates else None


@contextmanager
def throwaway_postgres() -> Iterator[str]:
    """A running PostgreSQL cluster; yields a conninfo URL for its ``postgres`` database."""
    initdb, pg_ctl = _postgres_bin("initdb"), _postgres_bin("pg_ctl")
    if initdb is None or pg_ctl is None:
        raise ServerUnavailable(f"PostgreSQL server binaries (initdb, pg_ctl) not found: {APT}")
    # PostgreSQL refuses to run as root: run it as the postgres OS user, in a directory it owns
    # (not under pytest's tmp dirs, which are private to root)
    as_user: list[str] = []
    owner = None
    if os.geteuid() == 0:
        try:
            owner = pwd.getpwnam("postgres")
        except KeyError:
            raise ServerUnavailable(
                f"running as root but there is no postgres OS user: {APT}"
            ) from None
    workdir = Path(tempfile.mkdtemp(prefix="reingest-pg-"))
    if owner is not None:
        os.chown(workdir, owner.pw_uid, owner.pw_gid)
        as_user = [shutil.which("runuser") or "/usr/sbin/runuser", "-u", "postgres", "--"]
    data = workdir / "data"
    port = _free_port()
    _run([*as_user, initdb, "-D", str(data), "-A", "trust", "-U", "postgres"])
    options = f"-p {port} -k {workdir} -c listen_addresses=127.0.0.1 -c fsync=off"
    _run(
        [
            *as_user,
            pg_ctl,
            "-D",
            str(data),
            "-o",
            options,
            "-l",
            str(workdir / "log"),
            "-w",
            "start",
        ]
    )
    try:
        yield f"postgresql://postgres@127.0.0.1:{port}/postgres"
    finally:
        subprocess.run(
            [*as_user, pg_ctl, "-D", str(data), "-m", "immediate", "-w", "stop"],
            capture_output=True,
            timeout=60,
        )
        shutil.rmtree(workdir, ignore_errors=True)


def running(throwaway: Callable[[], AbstractContextManager[str]]) -> Iterator[str]:
    """A session fixture's server: the URL of one ``throwaway`` started, or a skip (a failure
    under ``CI=true``) when it is not installed here."""
    try:
        with throwaway() as url:
            yield url
    except ServerUnavailable as missing:
        _missing(str(missing))


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[str]:
    yield from running(throwaway_postgres)


@pytest.fixture
def postgres_url(postgres_server: str) -> str:
    """A URL to a new, empty database on the session's server."""
    try:
        import psycopg
    except ImportError:
        _missing("psycopg is not installed (pip install -e '.[postgres]')")

    name = f"test_{uuid.uuid4().hex}"
    with psycopg.connect(postgres_server, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return postgres_server.rsplit("/", 1)[0] + f"/{name}"


@contextmanager
def throwaway_redis() -> Iterator[str]:
    """A running Redis; yields its base URL."""
    try:
        import redis  # noqa: F401 - only checking the driver is there
    except ImportError:
        raise ServerUnavailable(
            "the redis driver is not installed (pip install -e '.[redis]')"
        ) from None
    binary = shutil.which("redis-server")
    if binary is None:
        raise ServerUnavailable(f"redis-server not found: {APT}")
    workdir = Path(tempfile.mkdtemp(prefix="reingest-redis-"))
    port = _free_port()
    process = subprocess.Popen(
        [
            binary,
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--daemonize",
            "no",
            "--dir",
            str(workdir),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + START_TIMEOUT_SECONDS
        while True:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=1) as probe:
                    probe.sendall(b"PING\r\n")
                    if probe.recv(16).startswith(b"+PONG"):
                        break
            except OSError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"redis-server did not start on port {port}")
            time.sleep(0.05)
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        stop(process)
        shutil.rmtree(workdir, ignore_errors=True)


@pytest.fixture(scope="session")
def redis_server() -> Iterator[str]:
    yield from running(throwaway_redis)


@pytest.fixture
def redis_url(redis_server: str) -> str:
    """A URL whose key prefix no other test uses."""
    return f"{redis_server}?prefix=test-{uuid.uuid4().hex}"
