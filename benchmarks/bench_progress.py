"""Progress-table scale: ids upload rate and memory, stats latency, claim cost.

Each figure is printed beside a bare-SQLite baseline measured in the same run on the same
machine: one sorted batch insert (staging table, then INSERT ... SELECT ... ORDER BY) into a
plain table (upload), and a full GROUP BY (stats). Issue 4's scale is ``--ids 50000000``
(about 8 minutes here, 10 GB of temporary disk).

    python benchmarks/bench_progress.py --ids 1000000
"""

from __future__ import annotations

import argparse
import hashlib
import os
import resource
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def write_ids(path: Path, n: int) -> None:
    """Real-looking ids: SHA-1 digests, in random order like any list of Grid ids."""
    with path.open("w") as handle:
        for start in range(0, n, 100_000):
            handle.write(
                "".join(
                    hashlib.sha1(str(i).encode()).hexdigest() + "\n"
                    for i in range(start, min(n, start + 100_000))
                )
            )


def baseline_insert(db: Path, ids_file: Path) -> float:
    """What bare SQLite does with a sorted batch insert: every id into a staging table, then
    one INSERT ... SELECT ... ORDER BY into a plain table (no secondary index, no counters)."""
    conn = sqlite3.connect(db, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute(
        "CREATE TABLE progress (id TEXT PRIMARY KEY, state INTEGER NOT NULL DEFAULT 0) WITHOUT ROWID"
    )
    started = time.perf_counter()
    conn.execute("CREATE TEMP TABLE staging (id TEXT)")
    conn.execute("BEGIN")
    with ids_file.open() as handle:
        conn.executemany("INSERT INTO staging VALUES (?)", ((line.strip(),) for line in handle))
    conn.execute(
        "INSERT INTO progress (id) SELECT id FROM staging WHERE true ORDER BY id "
        "ON CONFLICT DO NOTHING"
    )
    conn.execute("COMMIT")
    seconds = time.perf_counter() - started
    conn.close()
    return seconds


def timed(function, repeat: int = 5) -> float:  # type: ignore[no-untyped-def]
    best = float("inf")
    for _ in range(repeat):
        started = time.perf_counter()
        function()
        best = min(best, time.perf_counter() - started)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ids", type=int, default=1_000_000)
    args = parser.parse_args()
    n = args.ids
    with tempfile.TemporaryDirectory() as folder:
        work = Path(folder)
        ids_file = work / "ids.txt"
        write_ids(ids_file, n)
        base_seconds = baseline_insert(work / "baseline.db", ids_file)
        # the command a user runs, in its own process: its peak RSS is the upload's
        started = time.perf_counter()
        subprocess.run(
            [sys.executable, "-m", "reingest", "ids", "upload", str(ids_file)],
            env={**os.environ, "REINGEST_HOME": str(work)},
            capture_output=True,
            check=True,
        )
        ours = {
            "seconds": time.perf_counter() - started,
            "peak_rss_mb": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024,
        }

        from reingest.progress.sqlite import SqliteProgressTable
        from reingest.states import State

        table = SqliteProgressTable(f"sqlite:///{work}/progress.db")
        stats_s = timed(table.counts)
        base_conn = sqlite3.connect(work / "baseline.db")
        group_s = timed(
            lambda: base_conn.execute(
                "SELECT state, COUNT(*) FROM progress GROUP BY state"
            ).fetchall(),
            3,
        )
        claim_s = timed(
            lambda: table.claim(State.NotStarted, State.InProgress, "bench", 100, 60), 20
        )
        recount_ok = table.counts() == table.recount()

    rows = [
        (
            "ids upload",
            f"{n / ours['seconds']:,.0f} ids/s",
            f"{n / base_seconds:,.0f} ids/s",
            f"{base_seconds / ours['seconds']:.2f}",
        ),
        ("upload peak RSS", f"{ours['peak_rss_mb']:.0f} MB", "", ""),
        (
            "stats",
            f"{stats_s * 1000:.2f} ms",
            f"{group_s * 1000:.1f} ms (full GROUP BY)",
            f"{group_s / stats_s:.0f}x faster",
        ),
        ("claim 100 ids", f"{claim_s * 1000:.2f} ms", "", ""),
    ]
    print(f"progress table, {n:,} ids (counters match a full count: {recount_ok})")
    print(f"{'measure':<18}{'reingest':<22}{'bare SQLite baseline':<34}ratio")
    for row in rows:
        print(f"{row[0]:<18}{row[1]:<22}{row[2]:<34}{row[3]}")
    print(
        f"(max RSS of this parent process: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB)"
    )


if __name__ == "__main__":
    main()
