"""The shared SQLite opener: WAL checkpoints happen on the checkpointer thread."""

from __future__ import annotations

import threading
import time
from pathlib import Path

from reingest.sqlite_db import BACKSTOP_CHECKPOINT_PAGES, SqliteDatabase

SCHEMA = "CREATE TABLE IF NOT EXISTS blobs (id INTEGER PRIMARY KEY, data BLOB NOT NULL);"


def checkpoint_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name.startswith("checkpoint ")]


def test_committed_pages_reach_the_database_file_while_it_stays_open(tmp_path: Path) -> None:
    path = tmp_path / "a.db"
    db = SqliteDatabase(path, SCHEMA)
    pages = 500  # well under the COMMIT's own threshold: only the checkpointer copies them
    assert pages < BACKSTOP_CHECKPOINT_PAGES
    with db.write() as conn:
        conn.executemany("INSERT INTO blobs (data) VALUES (?)", [(b"x" * 4000,)] * pages)
    deadline = time.monotonic() + 10
    while path.stat().st_size < pages * 4000 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert path.stat().st_size >= pages * 4000, "the WAL was not copied into the database"
    with db.read() as conn:
        assert conn.execute("SELECT COUNT(*) FROM blobs").fetchone()[0] == pages
    db.close()


def test_close_ends_the_checkpointer_and_leaves_a_complete_database(tmp_path: Path) -> None:
    before = len(checkpoint_threads())
    db = SqliteDatabase(tmp_path / "b.db", SCHEMA)
    assert len(checkpoint_threads()) == before + 1
    for _ in range(20):
        with db.write() as conn:
            conn.execute("INSERT INTO blobs (data) VALUES (?)", (b"y" * 100,))
    db.close()
    assert len(checkpoint_threads()) == before
    reopened = SqliteDatabase(tmp_path / "b.db", SCHEMA)
    with reopened.read() as conn:
        assert conn.execute("SELECT COUNT(*) FROM blobs").fetchone()[0] == 20
    reopened.close()
