"""One way to open SQLite for every embedded backend: WAL, a busy timeout, explicit transactions.

Several processes (index workers, thrall, checkers) share one home, so every write runs in
``BEGIN IMMEDIATE`` (the write lock is taken up front, so two writers never both read-then-write)
and readers never block writers (WAL).
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from .errors import ConfigurationError

BUSY_TIMEOUT_SECONDS = 60.0


def sqlite_path(url: str) -> Path:
    """``sqlite:///relative/path`` or ``sqlite:////absolute/path`` (SQLAlchemy's convention)."""
    prefix = "sqlite:///"
    if not url.startswith(prefix) or len(url) == len(prefix):
        raise ConfigurationError(f"expected sqlite:///PATH, got {url!r}")
    return Path(url[len(prefix) :])


class SqliteDatabase:
    """A connection shared by the threads of one process, serialised by a lock."""

    def __init__(self, path: Path, schema: str, cache_kib: int = 0) -> None:
        """``cache_kib`` enlarges the page cache (0 keeps SQLite's default of about 2 MB)."""
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._lock = threading.RLock()
        self._conn = sqlite3.connect(
            path, timeout=BUSY_TIMEOUT_SECONDS, isolation_level=None, check_same_thread=False
        )
        self._conn.execute("PRAGMA journal_mode=WAL")
        self._conn.execute("PRAGMA synchronous=NORMAL")
        # Debian builds SQLite with SECURE_DELETE, which zeroes every freed page: a queue that
        # deletes each message it delivers would pay an extra page write per message
        self._conn.execute("PRAGMA secure_delete=FAST")
        if cache_kib:
            self._conn.execute(f"PRAGMA cache_size=-{int(cache_kib)}")
        with self.write() as conn:
            for statement in _statements(schema):
                conn.execute(statement)

    @contextmanager
    def write(self) -> Iterator[sqlite3.Connection]:
        """A write transaction holding the database's write lock from its first statement."""
        with self._lock:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                yield self._conn
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            self._conn.execute("COMMIT")

    @contextmanager
    def read(self) -> Iterator[sqlite3.Connection]:
        """A consistent snapshot for multi-statement reads."""
        with self._lock:
            self._conn.execute("BEGIN")
            try:
                yield self._conn
            finally:
                self._conn.execute("COMMIT")

    def close(self) -> None:
        with self._lock:
            self._conn.close()


def _statements(schema: str) -> Iterator[str]:
    """Split a schema script into statements (triggers keep their inner semicolons)."""
    buffer = ""
    for line in schema.splitlines(keepends=True):
        if line.strip().startswith("--"):
            continue
        buffer += line
        if sqlite3.complete_statement(buffer):
            yield buffer.strip()
            buffer = ""
    if buffer.strip():
        yield buffer.strip()
