"""Throughput of separate worker processes: embedded (SQLite) vs PostgreSQL + Redis.

For each backend and each worker count N, a fresh home reingests the same originals with N index
workers, N check workers and N thrall consumers (separate processes, `--until-done`), timed from
start to the last exit. Prints images/s and the ratio to N = 1 for that backend. PostgreSQL and
Redis are throw-away servers started here (Debian's postgresql and redis-server).

    python benchmarks/bench_scaling.py --images 2000 --workers 1 2 4
"""

from __future__ import annotations

import argparse
import contextlib
import os
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from reingest.loader.thumbnail import make_thumbnail
from reingest.originals.base import UploadRecord
from reingest.originals.file import FileOriginalsStore
from reingest.sample import generate_sample_library
from servers import throwaway_postgres, throwaway_redis

#: the whole pipeline, N of each; or the indexers alone (projection + publish), N of them
PIPELINE = (("worker", "index"), ("worker", "check"), ("thrall",))
INDEXERS = (("worker", "index"),)


def reingest(*args: str, env: dict[str, str], stdin: str | None = None) -> None:
    subprocess.run(
        [sys.executable, "-m", "reingest", *args],
        env=env,
        input=stdin,
        text=True,
        check=True,
        capture_output=True,
    )


def run_once(
    originals: list[tuple[bytes, bytes]],
    workers: int,
    urls: dict[str, str],
    roles: tuple[tuple[str, ...], ...],
) -> float:
    with tempfile.TemporaryDirectory() as folder:
        env = {
            **os.environ,
            "REINGEST_HOME": folder,
            "BATCH_SIZE": "50",
            "REINGEST_PROJECTION_PARALLELISM": "1",
            **urls,
        }
        store = FileOriginalsStore(Path(folder, "originals").as_uri())
        ids = []
        for data, thumbnail in originals:  # stored as an upload stores them, thumbnail included
            image_id = store.put(data, UploadRecord())[0]
            store.put_thumbnail(image_id, thumbnail)
            ids.append(image_id)
        reingest("ids", "upload", "-", env=env, stdin="\n".join(ids))
        started = time.perf_counter()
        processes = [
            subprocess.Popen(
                [sys.executable, "-m", "reingest", *role, "--until-done"],
                env=env,
                stdout=subprocess.DEVNULL,
            )
            for role in roles
            for _ in range(workers)
        ]
        for process in processes:
            if process.wait() != 0:
                raise RuntimeError(f"a worker failed: {process.args}")
        return len(ids) / (time.perf_counter() - started)


@contextlib.contextmanager
def backends(name: str) -> Iterator[dict[str, str]]:
    if name == "embedded":
        yield {}
        return
    with throwaway_postgres() as postgres, throwaway_redis() as redis:
        yield {"PG": postgres, "REDIS": redis}


def urls_for(name: str, servers: dict[str, str]) -> dict[str, str]:
    if name == "embedded":
        return {}
    import psycopg

    database = f"bench_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(servers["PG"], autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{database}"')
    return {
        "REINGEST_PROGRESS_URL": servers["PG"].rsplit("/", 1)[0] + f"/{database}",
        "REINGEST_STREAM_URL": f"{servers['REDIS']}?prefix={database}",
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=2000)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2, 4])
    parser.add_argument("--backends", nargs="+", default=["embedded", "postgres+redis"])
    parser.add_argument(
        "--indexers-only",
        action="store_true",
        help="N index workers and nothing else: how projection + publishing scale",
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        sample = generate_sample_library(Path(folder), count=args.images)
        originals = [(data, make_thumbnail(data)) for data in (p.read_bytes() for p in sample.good)]
    who = "N index workers alone" if args.indexers_only else "N index + N check + N thrall"
    print(f"{len(originals):,} originals; {who}, {os.cpu_count()} cores")
    print(f"{'backend':<18}{'N':>3}{'images/s':>12}{'vs N=1':>9}")
    for name in args.backends:
        with backends(name) as servers:
            base = None
            for workers in args.workers:
                roles = INDEXERS if args.indexers_only else PIPELINE
                rate = run_once(originals, workers, urls_for(name, servers), roles)
                base = base or rate
                print(f"{name:<18}{workers:>3}{rate:>12,.0f}{rate / base:>9.2f}")


if __name__ == "__main__":
    main()
