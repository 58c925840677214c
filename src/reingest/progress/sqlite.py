"""Progress table on SQLite: the embedded default (``sqlite:///path``)."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Sequence
from functools import partial

import orjson

from ..key_order import Batch, write_in_key_order
from ..sqlite_db import SqliteDatabase, in_chunks, sqlite_path
from ..states import CLAIM_RETURNS_TO, State
from .base import Claim, FailureGroup, Outcome, ProgressRow, ProgressTable

SCHEMA = """
CREATE TABLE IF NOT EXISTS progress (
    id TEXT PRIMARY KEY,
    state INTEGER NOT NULL DEFAULT 0,
    reason TEXT,
    attempts INTEGER NOT NULL DEFAULT 0,
    owner TEXT,
    lease_until REAL,
    enqueued_version TEXT,
    updated_at REAL NOT NULL
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS progress_by_state ON progress (state, id);
-- expired claims are looked for through progress_by_state: the claimed states hold only the
-- ids in flight, so a lease index would cost every claim and settle for no faster search
DROP INDEX IF EXISTS progress_by_lease;
-- counters kept by triggers so that stats costs O(states), not O(rows)
CREATE TABLE IF NOT EXISTS state_counts (state INTEGER PRIMARY KEY, n INTEGER NOT NULL);
-- inserts are counted per batch by add() (every new id starts at NotStarted)
CREATE TRIGGER IF NOT EXISTS progress_count_delete AFTER DELETE ON progress BEGIN
    UPDATE state_counts SET n = n - 1 WHERE state = old.state;
END;
CREATE TRIGGER IF NOT EXISTS progress_count_update AFTER UPDATE OF state ON progress
WHEN old.state != new.state BEGIN
    UPDATE state_counts SET n = n - 1 WHERE state = old.state;
    INSERT INTO state_counts (state, n) VALUES (new.state, 1)
    ON CONFLICT (state) DO UPDATE SET n = n + 1;
END;
"""

#: page cache (KiB); key-ordered loads touch few pages at a time, so it stays small
CACHE_KIB = 16_384


class SqliteProgressTable(ProgressTable):
    def __init__(self, url: str) -> None:
        self.db = SqliteDatabase(sqlite_path(url), SCHEMA, cache_kib=CACHE_KIB)

    def add(self, ids: Iterable[str], on_written: Callable[[int], None] | None = None) -> int:
        # key order (see key_order): each B-tree page is filled once instead of once per id
        insert = partial(self._insert, time.time())
        return write_in_key_order(ids, self.db.path.parent, insert, on_written)

    def _insert(self, now: float, batch: Batch) -> int:
        with self.db.write() as conn:
            new: int = conn.execute(
                "INSERT INTO progress (id, updated_at) SELECT value, ? FROM json_each(?) "
                "WHERE true ORDER BY value ON CONFLICT DO NOTHING",
                (now, batch.json_ids),
            ).rowcount
            conn.execute(
                "INSERT INTO state_counts (state, n) VALUES (?, ?) "
                "ON CONFLICT (state) DO UPDATE SET n = n + excluded.n",
                (int(State.NotStarted), new),
            )
        return new

    def claim(
        self, from_state: State, to_state: State, owner: str, limit: int, lease_seconds: float
    ) -> list[Claim]:
        now = time.time()
        with self.db.write() as conn:
            rows = conn.execute(
                "UPDATE progress SET state = ?, owner = ?, lease_until = ?, "
                "attempts = attempts + 1, updated_at = ? "
                "WHERE id IN (SELECT id FROM progress WHERE state = ? ORDER BY id LIMIT ?) "
                "RETURNING id, attempts, enqueued_version",
                (int(to_state), owner, now + lease_seconds, now, int(from_state), limit),
            ).fetchall()
        return sorted((Claim(*row) for row in rows), key=lambda claim: claim.id)

    def settle(self, owner: str, outcomes: Sequence[Outcome]) -> int:
        # one statement for the batch (rows as a JSON array): per-row statements cost more
        # than the updates themselves
        rows = orjson.dumps([[o.id, int(o.state), o.reason, o.enqueued_version] for o in outcomes])
        with self.db.write() as conn:
            return conn.execute(
                "UPDATE progress SET state = o.state, reason = o.reason, owner = NULL, "
                "lease_until = NULL, enqueued_version = COALESCE(o.version, enqueued_version), "
                "updated_at = ? FROM (SELECT value ->> 0 AS id, value ->> 1 AS state, "
                "value ->> 2 AS reason, value ->> 3 AS version FROM json_each(?)) AS o "
                "WHERE progress.id = o.id AND owner = ?",
                (time.time(), rows, owner),
            ).rowcount

    def expire_claims(self, now: float, max_attempts: int) -> int:
        expired = 0
        with self.db.write() as conn:
            for claimed, back_to in CLAIM_RETURNS_TO.items():
                cursor = conn.execute(
                    "UPDATE progress SET "
                    "state = CASE WHEN attempts >= ? THEN ? ELSE ? END, "
                    "reason = CASE WHEN attempts >= ? "
                    "THEN 'claim expired ' || attempts || ' times (worker died or timed out)' "
                    "ELSE reason END, "
                    "owner = NULL, lease_until = NULL, updated_at = ? "
                    "WHERE owner IS NOT NULL AND lease_until < ? AND state = ?",
                    (
                        max_attempts,
                        int(State.UnknownError),
                        int(back_to),
                        max_attempts,
                        now,
                        now,
                        int(claimed),
                    ),
                )
                expired += cursor.rowcount
        return expired

    def counts(self) -> dict[State, int]:
        with self.db.read() as conn:
            rows = conn.execute("SELECT state, n FROM state_counts WHERE n != 0").fetchall()
        return {State(state): n for state, n in rows}

    def recount(self) -> dict[State, int]:
        with self.db.read() as conn:
            rows = conn.execute("SELECT state, COUNT(*) FROM progress GROUP BY state").fetchall()
        return {State(state): n for state, n in rows}

    def scan_page(self, after: str, limit: int) -> list[tuple[str, State]]:
        with self.db.read() as conn:
            rows = conn.execute(
                "SELECT id, state FROM progress WHERE id > ? ORDER BY id LIMIT ?", (after, limit)
            ).fetchall()
        return [(image_id, State(state)) for image_id, state in rows]

    def get(self, ids: Sequence[str]) -> list[ProgressRow]:
        found: list[ProgressRow] = []
        with self.db.read() as conn:
            for marks, chunk in in_chunks(ids):
                found.extend(
                    ProgressRow(row[0], State(row[1]), *row[2:])
                    for row in conn.execute(
                        "SELECT id, state, reason, attempts, owner, lease_until, "
                        f"enqueued_version, updated_at FROM progress WHERE id IN ({marks}) "
                        "ORDER BY id",
                        chunk,
                    )
                )
        return found

    def reset(
        self,
        from_states: Iterable[State],
        to_state: State,
        reason: str | None = None,
        ids: Sequence[str] | None = None,
    ) -> int:
        states = [int(s) for s in from_states]
        marks = ",".join("?" * len(states))
        where = f"state IN ({marks})" + (" AND reason = ?" if reason is not None else "")
        params: list[object] = [int(to_state), time.time(), *states]
        if reason is not None:
            params.append(reason)
        statement = (
            "UPDATE progress SET state = ?, owner = NULL, lease_until = NULL, attempts = 0, "
            f"updated_at = ? WHERE {where}"
        )
        with self.db.write() as conn:
            if ids is None:
                return conn.execute(statement, params).rowcount
            return sum(
                conn.execute(f"{statement} AND id IN ({id_marks})", [*params, *chunk]).rowcount
                for id_marks, chunk in in_chunks(ids)
            )

    def failure_groups(
        self, states: Iterable[State], examples: int = 3, limit: int = 100
    ) -> list[FailureGroup]:
        numbers = [int(s) for s in states]
        marks = ",".join("?" * len(numbers))
        with self.db.read() as conn:
            groups = conn.execute(
                "SELECT state, COALESCE(reason, ''), COUNT(*) AS n FROM progress "
                f"WHERE state IN ({marks}) GROUP BY state, reason ORDER BY n DESC, reason "
                "LIMIT ?",
                (*numbers, limit),
            ).fetchall()
            return [
                FailureGroup(
                    State(state),
                    reason,
                    count,
                    [
                        row[0]
                        for row in conn.execute(
                            "SELECT id FROM progress WHERE state = ? "
                            "AND COALESCE(reason, '') = ? ORDER BY id LIMIT ?",
                            (state, reason, examples),
                        )
                    ],
                )
                for state, reason, count in groups
            ]

    def close(self) -> None:
        self.db.close()
