"""Crash safety and exclusive claims, with real processes."""

from __future__ import annotations

import json
import random
import signal
import subprocess
import time
from pathlib import Path

import pytest

from reingest.index.sqlite import SqliteSearchIndex
from reingest.originals.file import FileOriginalsStore
from reingest.progress.sqlite import SqliteProgressTable
from reingest.runner import remaining
from reingest.sample import generate_sample_library
from reingest.states import ACTIVE_STATES, State

from .conftest import Cli, cli_env, reingest_command, start_run, states_by_id, stats

pytestmark = pytest.mark.slow


def ingest_sample(cli: Cli, home: Path, tmp_path: Path, count: int) -> list[str]:
    sample = generate_sample_library(tmp_path / "sample", count=count)
    cli("ingest", str(tmp_path / "sample"), check=False)  # exits 1: the broken files are refused
    ids = list(FileOriginalsStore((home / "originals").as_uri()).ids())
    assert len(ids) == len(sample.good)
    cli("ids", "upload", "-", stdin="\n".join(ids))
    return ids


def test_run_killed_mid_way_finishes_on_restart_with_nothing_lost(
    cli: Cli, home: Path, tmp_path: Path
) -> None:
    ids = ingest_sample(cli, home, tmp_path, count=60)
    progress = SqliteProgressTable(f"sqlite:///{home}/progress.db")

    victim = start_run(home, REINGEST_LEASE_SECONDS="2", BATCH_SIZE="4")
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


def test_separate_worker_processes_never_share_a_claim(
    cli: Cli, home: Path, tmp_path: Path
) -> None:
    """2 index workers, 2 check workers and thrall, each its own process, on one home."""
    ids = ingest_sample(cli, home, tmp_path, count=120)
    claims = tmp_path / "claims.log"
    env = cli_env(home, BATCH_SIZE="8", REINGEST_CLAIM_LOG=str(claims))
    roles = [("worker", "index"), ("worker", "index"), ("worker", "check"), ("worker", "check")]
    processes = [
        subprocess.Popen(
            reingest_command(*role, "--until-done"), env=env, stdout=subprocess.PIPE, text=True
        )
        for role in [*roles, ("thrall",)]
    ]
    for process in processes:
        assert process.wait(timeout=180) == 0
    assert stats(cli)["counts"] == {"Verified": len(ids)}

    owners_by_claim: dict[tuple[str, str], list[str]] = {}
    for line in claims.read_text().splitlines():
        _stamp, owner, state, image_id = line.split()
        owners_by_claim.setdefault((state, image_id), []).append(owner)
    indexed = {
        image_id: owners for (state, image_id), owners in owners_by_claim.items() if state == "1"
    }
    # no lease expired (300 s), so each id was claimed for indexing exactly once, by one worker
    assert sorted(indexed) == sorted(ids)
    assert all(len(owners) == 1 for owners in indexed.values())
    # only the two index workers claimed for indexing (how the work splits between them depends
    # on process start-up under load; exclusivity is the point)
    index_owners = {owner for owners in indexed.values() for owner in owners}
    assert 1 <= len(index_owners) <= 2 and all(o.startswith("index@") for o in index_owners)
    assert {image_id for state, image_id in owners_by_claim if state == "5"} == set(ids)


def test_random_sigkills_over_many_runs_lose_nothing(cli: Cli, home: Path, tmp_path: Path) -> None:
    """Kill `reingest run` at random moments of its work, 20 times over; every id still ends
    Verified exactly once. Each kill waits for the run to be under way (its first state change),
    then a random extra moment; if a run ever gets to the end first, everything is queued again."""
    rng = random.Random(2026)
    ids = ingest_sample(cli, home, tmp_path, count=160)
    progress = SqliteProgressTable(f"sqlite:///{home}/progress.db")
    env = cli_env(home, BATCH_SIZE="2", REINGEST_LEASE_SECONDS="0.5")
    interrupted = 0
    for _ in range(20):
        before = progress.counts()
        process = subprocess.Popen(
            reingest_command("run", "--until-done"),
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 30
        while progress.counts() == before and time.monotonic() < deadline:
            time.sleep(0.01)
        time.sleep(rng.uniform(0.0, 0.3))
        process.send_signal(signal.SIGKILL)
        process.wait()
        counts = progress.counts()
        assert sum(counts.values()) == len(ids)
        if remaining(counts):
            interrupted += 1
        else:
            progress.reset(list(State), State.NotStarted)
    # most kills land mid-run (on a loaded machine a few runs end first, and are queued again)
    assert interrupted >= 10, f"only {interrupted} of 20 kills landed mid-run"
    cli("run", "--until-done", BATCH_SIZE="2", REINGEST_LEASE_SECONDS="0.5")
    summary = stats(cli)
    assert summary["total"] == len(ids)
    assert summary["counts"] == {"Verified": len(ids)}
    assert progress.counts() == progress.recount()
    progress.close()
    index = SqliteSearchIndex(f"sqlite:///{home}/index.db")
    assert index.count() == len(ids)
    index.close()
