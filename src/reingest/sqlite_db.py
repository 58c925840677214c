"""One way to open SQLite for every embedded backend: WAL, a busy timeout, explicit transactions.

Several processes (index workers, thrall, checkers) share one home, so every write runs in
``BEGIN IMMEDIATE`` (the write lock is taken up front, so two writers never both read-then-write)
and readers never block writers (WAL). Committed pages are copied from the WAL back into the
database by a checkpointer thread, not by whichever COMMIT happens to cross SQLite's threshold.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TypeVar

from .batching import chunked
from .errors import ConfigurationError

Key = TypeVar("Key", str, int)

BUSY_TIMEOUT_SECONDS = 60.0
#: how often, at most, the checkpointer copies newly committed pages into the database
CHECKPOINT_EVERY_SECONDS = 0.2
#: a COMMIT still checkpoints by itself once the WAL holds this many pages (should the
#: checkpointer fall behind); SQLite's own default is 1,000
BACKSTOP_CHECKPOINT_PAGES = 16_000

#: keys per ``IN (…)``: SQLite's default limit on host parameters is 32,766; stay well below it
IN_CHUNK = 500

log = logging.getLogger(__name__)


def in_chunks(keys: Sequence[Key]) -> Iterator[tuple[str, tuple[Key, ...]]]:
    """The keys in slices a statement can take: ``(marks, chunk)``, where ``marks`` is the
    ``?,?,…`` to put inside ``IN (…)``."""
    for chunk in chunked(keys, IN_CHUNK):
        yield ",".join("?" * len(chunk)), chunk


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
        self._conn.execute(f"PRAGMA wal_autocheckpoint={BACKSTOP_CHECKPOINT_PAGES}")
        if cache_kib:
            self._conn.execute(f"PRAGMA cache_size=-{int(cache_kib)}")
        self._checkpointer = Checkpointer(path)
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
        self._checkpointer.wake()

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
        self._checkpointer.stop()
        with self._lock:
            self._conn.close()


class Checkpointer:
    """Copies committed pages from the WAL back into the database, on a thread of its own.

    SQLite's automatic checkpoint runs inside the COMMIT that crosses its threshold, which then
    waits for the copy and two fsyncs: 20-40 ms for a few MB, and about 70 % of all commit time
    in a run. Here the committing thread never waits for it, and the sqlite3 module
    releases the GIL while a checkpoint runs. Checkpoints are PASSIVE: they never wait for, or
    hold up, readers and writers (another process's checkpointer included).
    """

    def __init__(self, path: Path) -> None:
        self._pending = threading.Event()
        self._stopping = threading.Event()
        self._thread = threading.Thread(
            target=self._run, args=(path,), name=f"checkpoint {path.name}", daemon=True
        )
        self._thread.start()

    def wake(self) -> None:
        """Something was committed: checkpoint soon."""
        self._pending.set()

    def stop(self) -> None:
        """Finish the checkpoint under way, if any, and end the thread."""
        self._stopping.set()
        self._pending.set()
        self._thread.join()

    def _run(self, path: Path) -> None:
        conn = sqlite3.connect(path, isolation_level=None)
        try:
            conn.execute("PRAGMA synchronous=NORMAL")
            while self._pending.wait() and not self._stopping.is_set():
                self._pending.clear()
                try:
                    conn.execute("PRAGMA wal_checkpoint(PASSIVE)")
                except sqlite3.Error as error:  # the COMMITs' own checkpoint is the backstop
                    log.warning("checkpoint of %s failed: %s", path, error)
                self._stopping.wait(CHECKPOINT_EVERY_SECONDS)
        finally:
            conn.close()


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
