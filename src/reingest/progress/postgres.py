"""Progress table on PostgreSQL (``postgresql://user@host:port/db``), for workers on many hosts.

Every verb is one statement in its own transaction. Claims pick rows with ``FOR UPDATE SKIP
LOCKED`` so concurrent workers never wait for, or share, an id; expiry skips rows a late worker is
settling. Counters per state are kept by statement-level triggers (see ``postgres.sql``).
"""

from __future__ import annotations

import tempfile
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from functools import partial
from importlib import resources
from pathlib import Path
from typing import Any

import psycopg
from psycopg.conninfo import conninfo_to_dict

from ..batching import chunked
from ..errors import ConfigurationError
from ..key_order import Batch, write_in_key_order
from ..states import CLAIM_RETURNS_TO, State
from .base import Claim, FailureGroup, Outcome, ProgressRow, ProgressTable

SCHEMA_VERSION = "reingest progress schema 1"
#: any constant shared by every reingest process: serialises schema creation
SCHEMA_LOCK = 0x7265696E67657374  # "reingest"
#: ids per COPY and per transaction in add(); also the page size of get()
CHUNK = 10_000

ROW_COLUMNS = "id, state, reason, attempts, owner, lease_until, enqueued_version, updated_at"

#: one round trip: the largest (state, reason) groups, each with its first few ids;
#: NULL and empty reasons are one group; ties break in byte order, as on SQLite
FAILURE_GROUPS = """
SELECT g.state, g.reason, g.n, ARRAY(
    SELECT id FROM reingest_progress
    WHERE state = g.state AND COALESCE(reason, '') = g.reason
    ORDER BY id LIMIT %(examples)s
)
FROM (
    SELECT state, COALESCE(reason, '') AS reason, COUNT(*) AS n
    FROM reingest_progress WHERE state = ANY(%(states)s)
    GROUP BY 1, 2 ORDER BY n DESC, COALESCE(reason, '') COLLATE "C" LIMIT %(limit)s
) AS g
ORDER BY g.n DESC, g.reason COLLATE "C"
"""


def _describe(url: str) -> str:
    """Where a URL points, for error messages: never its password."""
    try:
        info = conninfo_to_dict(url)
    except psycopg.ProgrammingError:
        return "an unparseable postgresql:// URL"
    host = info.get("host") or "localhost"
    port = info.get("port") or "5432"
    return f"database {info.get('dbname') or '(default)'} on {host}:{port}"


def _connect(url: str) -> psycopg.Connection[Any]:
    """Open a connection, turning URL and connection failures into ConfigurationError."""
    where = _describe(url)
    try:
        return psycopg.connect(url, autocommit=False)
    except psycopg.ProgrammingError as error:  # malformed URL or unknown option
        raise ConfigurationError(f"bad PostgreSQL URL for {where}: {error}") from None
    except psycopg.OperationalError as error:
        # libpq's message names host, port and user, never the password; fold it to one line
        reason = " ".join(str(error).split()) or "unknown error"
        raise ConfigurationError(f"cannot connect to PostgreSQL {where}: {reason}") from None


class PostgresProgressTable(ProgressTable):
    def __init__(self, url: str) -> None:
        self._url = url
        self._lock = threading.Lock()
        self._conn = _connect(url)
        self._migrate()

    @contextmanager
    def _transaction(self) -> Iterator[psycopg.Cursor[Any]]:
        """One transaction on the instance's connection; reconnects if the server dropped it."""
        with self._lock:
            if self._conn.closed or self._conn.broken:
                self._conn = _connect(self._url)
            with self._conn.transaction(), self._conn.cursor() as cursor:
                yield cursor

    def _migrate(self) -> None:
        with self._transaction() as cur:
            cur.execute("SELECT obj_description(to_regclass('reingest_progress'), 'pg_class')")
            row = cur.fetchone()
            if row is not None and row[0] == SCHEMA_VERSION:
                # skip the DDL: even IF NOT EXISTS statements take table locks that stall workers
                return
            cur.execute("SELECT pg_advisory_xact_lock(%s)", (SCHEMA_LOCK,))
            schema = resources.files(__package__).joinpath("postgres.sql").read_text()
            cur.execute(schema.encode())  # bytes: several statements, no parameters

    def add(self, ids: Iterable[str], on_written: Callable[[int], None] | None = None) -> int:
        # key order (see key_order): each index page is filled once instead of once per id
        insert = partial(self._insert, time.time())
        return write_in_key_order(ids, Path(tempfile.gettempdir()), insert, on_written)

    def _insert(self, now: float, batch: Batch) -> int:
        with self._transaction() as cur:
            cur.execute(
                "INSERT INTO reingest_progress (id, updated_at) SELECT value, %s "
                "FROM json_array_elements_text(%s::json) "
                'ORDER BY value COLLATE "C" ON CONFLICT DO NOTHING',
                (now, batch.json_ids),
            )
            return cur.rowcount

    def claim(
        self, from_state: State, to_state: State, owner: str, limit: int, lease_seconds: float
    ) -> list[Claim]:
        now = time.time()
        with self._transaction() as cur:
            cur.execute(
                "WITH picked AS MATERIALIZED ("
                "  SELECT id FROM reingest_progress WHERE state = %(from)s"
                "  ORDER BY id LIMIT %(limit)s FOR UPDATE SKIP LOCKED"
                ") "
                "UPDATE reingest_progress AS p SET state = %(to)s, owner = %(owner)s, "
                "lease_until = %(lease)s, attempts = p.attempts + 1, updated_at = %(now)s "
                "FROM picked WHERE p.id = picked.id "
                "RETURNING p.id, p.attempts, p.enqueued_version",
                {
                    "from": int(from_state),
                    "to": int(to_state),
                    "owner": owner,
                    "lease": now + lease_seconds,
                    "now": now,
                    "limit": limit,
                },
            )
            rows = cur.fetchall()
        return sorted((Claim(*row) for row in rows), key=lambda claim: claim.id)

    def settle(self, owner: str, outcomes: Sequence[Outcome]) -> int:
        if not outcomes:
            return 0
        with self._transaction() as cur:
            cur.execute(
                "UPDATE reingest_progress AS p SET state = o.state, reason = o.reason, "
                "owner = NULL, lease_until = NULL, "
                "enqueued_version = COALESCE(o.version, p.enqueued_version), updated_at = %s "
                "FROM unnest(%s::text[], %s::integer[], %s::text[], %s::text[]) "
                "AS o(id, state, reason, version) "
                "WHERE p.id = o.id AND p.owner = %s",
                (
                    time.time(),
                    [o.id for o in outcomes],
                    [int(o.state) for o in outcomes],
                    [o.reason for o in outcomes],
                    [o.enqueued_version for o in outcomes],
                    owner,
                ),
            )
            return cur.rowcount

    def expire_claims(self, now: float, max_attempts: int) -> int:
        with self._transaction() as cur:
            # SKIP LOCKED: a row its worker is settling right now is left to that worker
            cur.execute(
                "WITH due AS MATERIALIZED ("
                "  SELECT id FROM reingest_progress"
                "  WHERE owner IS NOT NULL AND lease_until < %(now)s AND state = ANY(%(claimed)s)"
                "  FOR UPDATE SKIP LOCKED"
                ") "
                "UPDATE reingest_progress AS p SET "
                "state = CASE WHEN p.attempts >= %(max)s THEN %(gave_up)s ELSE r.back_to END, "
                "reason = CASE WHEN p.attempts >= %(max)s "
                "THEN 'claim expired ' || p.attempts || ' times (worker died or timed out)' "
                "ELSE p.reason END, "
                "owner = NULL, lease_until = NULL, updated_at = %(now)s "
                "FROM due, unnest(%(claimed)s::integer[], %(back_to)s::integer[]) "
                "AS r(claimed, back_to) "
                "WHERE p.id = due.id AND p.state = r.claimed",
                {
                    "now": now,
                    "max": max_attempts,
                    "gave_up": int(State.UnknownError),
                    "claimed": [int(s) for s in CLAIM_RETURNS_TO],
                    "back_to": [int(s) for s in CLAIM_RETURNS_TO.values()],
                },
            )
            return cur.rowcount

    def counts(self) -> dict[State, int]:
        with self._transaction() as cur:
            cur.execute(
                "SELECT state, SUM(n)::bigint FROM reingest_state_counts "
                "GROUP BY state HAVING SUM(n) != 0"
            )
            rows = cur.fetchall()
        return {State(state): n for state, n in rows}

    def recount(self) -> dict[State, int]:
        with self._transaction() as cur:
            cur.execute("SELECT state, COUNT(*) FROM reingest_progress GROUP BY state")
            rows = cur.fetchall()
        return {State(state): n for state, n in rows}

    def scan_page(self, after: str, limit: int) -> list[tuple[str, State]]:
        # one short transaction per page: a long scan holds no snapshot open
        with self._transaction() as cur:
            cur.execute(
                "SELECT id, state FROM reingest_progress WHERE id > %s ORDER BY id LIMIT %s",
                (after, limit),
            )
            rows = cur.fetchall()
        return [(image_id, State(state)) for image_id, state in rows]

    def get(self, ids: Sequence[str]) -> list[ProgressRow]:
        found: list[ProgressRow] = []
        with self._transaction() as cur:
            for chunk in chunked(ids, CHUNK):
                cur.execute(
                    f"SELECT {ROW_COLUMNS} FROM reingest_progress WHERE id = ANY(%s) ORDER BY id",
                    (list(chunk),),
                )
                found.extend(ProgressRow(row[0], State(row[1]), *row[2:]) for row in cur)
        return found

    def reset(
        self,
        from_states: Iterable[State],
        to_state: State,
        reason: str | None = None,
        ids: Sequence[str] | None = None,
    ) -> int:
        with self._transaction() as cur:
            cur.execute(
                "UPDATE reingest_progress SET state = %(to)s, owner = NULL, lease_until = NULL, "
                "attempts = 0, updated_at = %(now)s "
                "WHERE state = ANY(%(from)s) AND (%(reason)s::text IS NULL OR reason = %(reason)s) "
                "AND (%(ids)s::text[] IS NULL OR id = ANY(%(ids)s::text[]))",
                {
                    "to": int(to_state),
                    "now": time.time(),
                    "from": [int(s) for s in from_states],
                    "reason": reason,
                    "ids": None if ids is None else list(ids),
                },
            )
            return cur.rowcount

    def failure_groups(
        self, states: Iterable[State], examples: int = 3, limit: int = 100
    ) -> list[FailureGroup]:
        with self._transaction() as cur:
            cur.execute(
                FAILURE_GROUPS,
                {"states": [int(s) for s in states], "examples": examples, "limit": limit},
            )
            rows = cur.fetchall()
        return [FailureGroup(State(state), reason, n, ids) for state, reason, n, ids in rows]

    def close(self) -> None:
        with self._lock:
            self._conn.close()
