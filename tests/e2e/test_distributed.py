"""The scale-out deployment: many worker processes on one PostgreSQL and one Redis.

2 index workers, 2 check workers and 2 thrall consumers reingest 2,000 images; one of each is
killed with SIGKILL mid-run; the rest finish the job with every id Verified exactly once.
"""

from __future__ import annotations

import signal
import subprocess
import time
from itertools import pairwise
from pathlib import Path

import pytest

from reingest.index.sqlite import SqliteSearchIndex
from reingest.originals.base import UploadRecord
from reingest.originals.file import FileOriginalsStore
from reingest.progress.postgres import PostgresProgressTable
from reingest.sample import generate_sample_library
from reingest.states import State

from .conftest import Cli, cli_env, reingest_command, stats

pytestmark = pytest.mark.slow
pytest_plugins = ["servers"]

IMAGES = 2_000
LEASE_SECONDS = 3.0


def test_workers_on_postgres_and_redis_survive_one_kill_of_each(
    cli: Cli, home: Path, tmp_path: Path, postgres_url: str, redis_url: str
) -> None:
    sample = generate_sample_library(tmp_path / "sample", count=IMAGES)
    store = FileOriginalsStore((home / "originals").as_uri())
    ids = [store.put(p.read_bytes(), UploadRecord(filename=p.name))[0] for p in sample.good]
    claims = tmp_path / "claims.log"
    urls = {
        "REINGEST_PROGRESS_URL": postgres_url,
        "REINGEST_STREAM_URL": redis_url,
        "REINGEST_LEASE_SECONDS": str(LEASE_SECONDS),
        "REINGEST_CLAIM_LOG": str(claims),
        "BATCH_SIZE": "25",
    }
    cli("ids", "upload", "-", stdin="\n".join(ids), **urls)

    env = cli_env(home, **urls)
    roles = [("worker", "index"), ("worker", "check"), ("thrall",)]
    doomed = [subprocess.Popen(reingest_command(*role), env=env) for role in roles]
    survivors = [
        subprocess.Popen(reingest_command(*role, "--until-done"), env=env) for role in roles
    ]
    progress = PostgresProgressTable(postgres_url)
    deadline = time.monotonic() + 120
    while progress.counts().get(State.Verified, 0) < IMAGES // 5:
        assert time.monotonic() < deadline, f"no progress: {progress.counts()}"
        time.sleep(0.1)
    for process in doomed:
        process.send_signal(signal.SIGKILL)
        process.wait()
    assert progress.counts().get(State.Verified, 0) < IMAGES, "finished before the kills"

    for process in survivors:
        assert process.wait(timeout=600) == 0
    summary = stats(cli, **urls)
    assert summary == {"counts": {"Verified": IMAGES}, "total": IMAGES}
    assert progress.counts() == progress.recount()
    progress.close()
    index = SqliteSearchIndex(f"sqlite:///{home}/index.db")
    assert index.count() == IMAGES
    index.close()

    # an id leaves InProgress only by being settled (never back to 0) or by its lease running
    # out, so a second indexing claim means the first owner's lease had ended: never two owners
    indexing: dict[str, list[float]] = {}
    for line in claims.read_text().splitlines():
        stamp, _owner, state, image_id = line.split()
        if state == str(State.InProgress.value):
            indexing.setdefault(image_id, []).append(float(stamp))
    assert set(indexing) == set(ids)
    for stamps in indexing.values():
        stamps.sort()
        # (log lines are stamped just after each claim, so allow for a busy machine's delay;
        # two live owners would be claims moments apart, not most of a lease)
        assert all(later - earlier >= LEASE_SECONDS / 2 for earlier, later in pairwise(stamps))
