"""Streams on SQLite: the embedded default (``sqlite:///path``)."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Sequence

from ..sqlite_db import SqliteDatabase, in_chunks, sqlite_path
from .base import DeadLetter, Delivery, Priority, StreamLag, Streams

SCHEMA = """
-- the queue rows stay small: leasing a message rewrites its row, and the payload (kilobytes of
-- JSON, in overflow pages) lives apart so it is written once and deleted once
CREATE TABLE IF NOT EXISTS stream_messages (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    priority TEXT NOT NULL,
    enqueued_at REAL NOT NULL,
    owner TEXT,
    lease_until REAL NOT NULL DEFAULT 0,
    deliveries INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS stream_payloads (seq INTEGER PRIMARY KEY, payload BLOB NOT NULL);
-- oldest first per priority; leased messages are few and sit at the front, so skipping them
-- is cheap, and neither receive nor lag sorts the backlog
CREATE INDEX IF NOT EXISTS stream_messages_by_priority ON stream_messages (priority, seq);
CREATE TABLE IF NOT EXISTS dead_letters (
    seq INTEGER PRIMARY KEY,
    priority TEXT NOT NULL,
    reason TEXT NOT NULL,
    payload BLOB NOT NULL,
    failed_at REAL NOT NULL
);
"""


class SqliteStreams(Streams):
    def __init__(self, url: str) -> None:
        self.db = SqliteDatabase(sqlite_path(url), SCHEMA)

    def publish(self, priority: Priority, payloads: Sequence[bytes]) -> None:
        with self.db.write() as conn:
            _append(conn, priority, payloads)

    def receive(
        self, priority: Priority, consumer: str, limit: int, lease_seconds: float
    ) -> list[Delivery]:
        now = time.time()
        with self.db.write() as conn:
            leased = dict(
                conn.execute(
                    "UPDATE stream_messages SET owner = ?, lease_until = ?, "
                    "deliveries = deliveries + 1 WHERE seq IN (SELECT seq FROM stream_messages "
                    "WHERE priority = ? AND lease_until < ? ORDER BY seq LIMIT ?) "
                    "RETURNING seq, deliveries",
                    (consumer, now + lease_seconds, str(priority), now, limit),
                ).fetchall()
            )
            if not leased:
                return []
            rows = []
            for marks, chunk in in_chunks(sorted(leased)):
                rows += conn.execute(
                    f"SELECT seq, payload FROM stream_payloads WHERE seq IN ({marks})", chunk
                ).fetchall()
        rows.sort()
        return [Delivery(str(seq), priority, payload, leased[seq]) for seq, payload in rows]

    def ack(self, deliveries: Sequence[Delivery]) -> None:
        with self.db.write() as conn:
            _delete(conn, [int(d.id) for d in deliveries])

    def dead_letter(self, delivery: Delivery, reason: str) -> None:
        with self.db.write() as conn:
            conn.execute(
                "INSERT OR REPLACE INTO dead_letters VALUES (?, ?, ?, ?, ?)",
                (int(delivery.id), str(delivery.priority), reason, delivery.payload, time.time()),
            )
            _delete(conn, [int(delivery.id)])

    def dead_letters(self, limit: int = 100, offset: int = 0) -> list[DeadLetter]:
        with self.db.read() as conn:
            rows = conn.execute(
                "SELECT seq, priority, reason, payload FROM dead_letters ORDER BY seq "
                "LIMIT ? OFFSET ?",
                (limit, offset),
            ).fetchall()
        return [
            DeadLetter(str(seq), Priority(p), reason, payload) for seq, p, reason, payload in rows
        ]

    def replay_dead_letters(self, ids: Sequence[str]) -> int:
        """One transaction: posted and dropped together, exactly once."""
        wanted = list(dict.fromkeys(int(i) for i in ids if i.isdigit()))
        with self.db.write() as conn:
            found: dict[int, tuple[str, bytes]] = {}
            for marks, chunk in in_chunks(wanted):
                rows = conn.execute(
                    f"SELECT seq, priority, payload FROM dead_letters WHERE seq IN ({marks})",
                    chunk,
                )
                found.update((seq, (priority, payload)) for seq, priority, payload in rows)
            for priority in Priority:
                payloads = [found[s][1] for s in wanted if s in found and found[s][0] == priority]
                if payloads:
                    _append(conn, priority, payloads)
            for marks, chunk in in_chunks(list(found)):
                conn.execute(f"DELETE FROM dead_letters WHERE seq IN ({marks})", chunk)
        return len(found)

    def dead_letter_count(self) -> int:
        with self.db.read() as conn:
            return int(conn.execute("SELECT COUNT(*) FROM dead_letters").fetchone()[0])

    def lag(self, priority: Priority) -> StreamLag:
        with self.db.read() as conn:
            depth = conn.execute(
                "SELECT COUNT(*) FROM stream_messages WHERE priority = ?", (str(priority),)
            ).fetchone()[0]
            row = conn.execute(
                "SELECT enqueued_at FROM stream_messages WHERE priority = ? ORDER BY seq LIMIT 1",
                (str(priority),),
            ).fetchone()
            oldest = row[0] if row else None
        return StreamLag(depth, time.time() - oldest if oldest is not None else 0.0)

    def close(self) -> None:
        self.db.close()


def _append(conn: sqlite3.Connection, priority: Priority, payloads: Sequence[bytes]) -> None:
    now = time.time()
    conn.executemany(
        "INSERT INTO stream_messages (priority, enqueued_at) VALUES (?, ?)",
        [(str(priority), now)] * len(payloads),
    )
    # AUTOINCREMENT under the write lock hands out consecutive numbers
    (last,) = conn.execute("SELECT last_insert_rowid()").fetchone()
    first = last - len(payloads) + 1
    conn.executemany("INSERT INTO stream_payloads VALUES (?, ?)", enumerate(payloads, start=first))


def _delete(conn: sqlite3.Connection, seqs: list[int]) -> None:
    for marks, chunk in in_chunks(seqs):
        conn.execute(f"DELETE FROM stream_messages WHERE seq IN ({marks})", chunk)
        conn.execute(f"DELETE FROM stream_payloads WHERE seq IN ({marks})", chunk)
