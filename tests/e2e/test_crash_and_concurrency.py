"""Crash safety and exclusive claims, with real processes."""

from __future__ import annotations

import json
import signal
import subprocess
import time
from pathlib import Path

import pytest

from reingest.originals.file import FileOriginalsStore
from reingest.progress.sqlite import SqliteProgressTable
from reingest.sample import generate_sample_library
from reingest.states import ACTIVE_STATES, State

from .conftest import Cli, cli_env, reingest_command, states_by_id, stats

pytestmark = pytest.mark.slow


def test_run_killed_mid_way_finishes_on_restart_with_nothing_lost(
    cli: Cli, home: Path, tmp_path: Path
) -> None:
    sample = generate_sample_library(tmp_path / "sample", count=60)
    cli("ingest", str(tmp_path / "sample"), check=False)
    progress = SqliteProgressTable(f"sqlite:///{home}/progress.db")
    ids = list(FileOriginalsStore((home / "originals").as_uri()).ids())
    assert len(ids) == len(sample.good)
    cli("ids", "upload", "-", stdin="\n".join(ids))

    env = cli_env(home, REINGEST_LEASE_SECONDS="2", BATCH_SIZE="4")
    victim = subprocess.Popen(
        reingest_command("run", "--until-done"),
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        counts = progress.counts()
        if counts.get(State.Verified, 0) >= 4 and counts.get(State.NotStarted, 0) > 0:
            break
        time.sleep(0.05)
    victim.send_signal(signal.SIGKILL)
    victim.wait()
    mid_run = progress.counts()
    assert mid_run.get(State.NotStarted, 0) > 0, "the run finished before it could be killed"

    cli("run", "--until-done", REINGEST_LEASE_SECONDS="2", BATCH_SIZE="4")
    summary = stats(cli)
    assert summary["total"] == len(ids)
    assert summary["counts"] == {"Verified": len(ids)}
    assert progress.counts() == progress.recount()
    assert all(
        state not in {s.value for s in ACTIVE_STATES} for state in states_by_id(cli).values()
    )
    progress.close()


def test_two_index_batches_at_once_never_claim_the_same_id(cli: Cli, home: Path) -> None:
    ids = [f"{i:040x}" for i in range(3_000)]
    cli("ids", "upload", "-", stdin="\n".join(ids))
    env = cli_env(home, BATCH_SIZE="1000")
    workers = [
        subprocess.Popen(
            reingest_command("index-batch", "--json"), env=env, stdout=subprocess.PIPE, text=True
        )
        for _ in range(2)
    ]
    claimed = [json.loads(worker.communicate(timeout=120)[0])["claimed"] for worker in workers]
    assert len(claimed[0]) == len(claimed[1]) == 1_000
    assert not set(claimed[0]) & set(claimed[1])
    summary = stats(cli)
    # ids with no original end NotFound; nobody else's claim was touched
    assert summary["counts"] == {"NotFound": 2_000, "NotStarted": 1_000}
