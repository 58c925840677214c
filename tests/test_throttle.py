"""The throttle: the AIMD rules as pure functions, the pace a loop keeps, thrall slowing its
consumption of the low stream behind a slow index (never the high stream's), and the state
that ``reingest stats``, ``reingest metrics`` show."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Iterator

import pytest
from typer.testing import CliRunner

from reingest.backends import Components
from reingest.cli import app
from reingest.config import Settings
from reingest.errors import ConfigurationError
from reingest.index.sqlite import SqliteSearchIndex
from reingest.messages import REINGEST_IMAGE, image_payload
from reingest.streams.base import Priority
from reingest.thrall import consume_once
from reingest.throttle import (
    DECREASE,
    STALE_SECONDS,
    Cause,
    Limits,
    Observation,
    Problem,
    Rate,
    Throttle,
    adjust,
    board,
    diagnose,
    for_thrall,
    published,
)

LIMITS = Limits(min_rate=10, max_rate=1000, step=5, latency_seconds=1.0, low_age_seconds=30)


# ------------------------------------------------------------------ the rules, pure


def test_a_healthy_look_adds_the_step_per_second_up_to_the_maximum() -> None:
    rate = Rate(100, changed_at=0.0)
    rate = adjust(rate, None, LIMITS, now=2.0)
    assert (rate.per_second, rate.changed_at, rate.cuts) == (110, 2.0, 0)
    assert adjust(rate, None, LIMITS, now=1000.0).per_second == LIMITS.max_rate


def test_a_problem_cuts_the_rate_once_per_episode_and_never_below_the_minimum() -> None:
    slow = Problem(Cause.SLOW_WRITES, "slow", since=9.0)
    rate = adjust(Rate(100, changed_at=0.0), slow, LIMITS, now=10.0)
    assert rate.per_second == pytest.approx(100 * DECREASE)
    assert (rate.cut_at, rate.cut, rate.cuts) == (10.0, slow, 1)
    # the same episode (it began before the cut): the cut's effect is awaited, no growth either
    again = adjust(rate, Problem(Cause.HIGH_LATENCY, "old edit", since=9.5), LIMITS, now=12.0)
    assert (again.per_second, again.cuts, again.changed_at) == (rate.per_second, 1, 12.0)
    # a new one cuts again, down to the minimum at most
    for n in range(20):
        again = adjust(again, Problem(Cause.SLOW_WRITES, "slow", 13.0 + n), LIMITS, 13.5 + n)
    assert again.per_second == LIMITS.min_rate and again.cuts == 21


def test_a_cut_starts_from_the_rate_achieved_when_the_loop_fell_well_short_of_its_rate() -> None:
    slow = Problem(Cause.SLOW_WRITES, "slow", since=1.0)

    def cut(rate: float, achieved: float) -> float:
        return adjust(Rate(rate, 0.0), slow, LIMITS, 2.0, achieved).per_second

    assert cut(1000, achieved=200) == pytest.approx(200 * DECREASE)  # far from its rate
    # an achieved rate that only trails a rising rate, or exceeds it, is not a measure
    assert cut(1000, achieved=800) == pytest.approx(1000 * DECREASE)
    assert cut(100, achieved=500) == pytest.approx(100 * DECREASE)


def test_each_problem_is_named_with_its_reason_most_urgent_first() -> None:
    assert diagnose(Observation(write_seconds=0.75, high_age=1.0, low_age=30), LIMITS, 100) is None
    every = Observation(write_seconds=0.8, write_started=99.0, rejected=3, high_age=2.0, low_age=40)
    problem = diagnose(every, LIMITS, now=100)
    assert problem == Problem(
        Cause.REJECTED, "the index refused 3 writes for load (429)", since=99.0
    )
    slow = diagnose(Observation(write_seconds=0.8, write_started=99.0, high_age=2.0), LIMITS, 100)
    assert slow is not None and slow.cause is Cause.SLOW_WRITES and slow.since == 99.0
    assert slow.reason == "an index write took 0.80 s (more than 0.75 s of the 1.00 s target)"
    waiting = diagnose(Observation(high_age=2.0, low_age=40), LIMITS, now=100)
    assert waiting == Problem(
        Cause.HIGH_LATENCY, "a high-priority message waited 2.0 s (target 1.0 s)", since=98.0
    )
    backlog = diagnose(Observation(low_age=40), LIMITS, now=100)
    assert backlog is not None and backlog.cause is Cause.LOW_BACKLOG and backlog.since == 60


def test_limits_come_from_the_settings_and_a_minimum_above_the_maximum_is_refused() -> None:
    settings = Settings.from_env(
        {"REINGEST_THROTTLE_LATENCY_MS": "400", "REINGEST_THROTTLE_MAX_RATE": "50"}
    )
    limits = Limits.from_settings(settings)
    assert (limits.latency_seconds, limits.max_rate) == (0.4, 50)
    assert limits.write_seconds == pytest.approx(0.3)
    assert limits.low_age_seconds == settings.latency_threshold_ms / 2000
    with pytest.raises(ConfigurationError, match="MIN_RATE \\(60\\) is above"):
        Limits.from_settings(
            Settings.from_env(
                {"REINGEST_THROTTLE_MIN_RATE": "60", "REINGEST_THROTTLE_MAX_RATE": "50"}
            )
        )


# ------------------------------------------------------------------ a loop's pace


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_batches_are_sized_to_the_rate_and_paced(components: Components) -> None:
    clock = Clock()
    pace = Throttle("thrall", "t", LIMITS, 0.1, components.streams, clock=clock)
    assert pace.allowance(200) == 100  # 0.1 s of work at 1000/s
    pace.paced(100, started=clock.now)
    assert pace.allowance(200) == 0 and pace.wait_seconds() == pytest.approx(0.1)
    clock.now += 0.1
    assert pace.allowance(200) == 100
    # a high-priority batch is observed, never paced
    pace.applied(Priority.HIGH, 1, started=clock.now)
    assert pace.wait_seconds() == 0


def test_a_slow_write_cuts_the_rate_and_shrinks_the_low_batches(components: Components) -> None:
    clock = Clock()
    pace = Throttle("thrall", "t", LIMITS, 0.1, components.streams, clock=clock)
    started = clock.now
    clock.now += 0.9  # a 0.9 s write: over 3/4 of the 1 s target
    pace.applied(Priority.LOW, 100, started)
    assert pace.rate.cut is not None and pace.rate.cut.cause is Cause.SLOW_WRITES
    assert pace.rate.per_second == pytest.approx(1000 * DECREASE)
    assert pace.allowance(200) == 70  # 0.1 s of work at 700/s
    pace.paced(70, clock.now)
    assert pace.wait_seconds() == pytest.approx(0.1)


def test_writes_the_index_refused_for_load_cut_the_rate(components: Components) -> None:
    index = components.index
    clock = Clock()
    pace = Throttle("thrall", "t", LIMITS, 0.1, components.streams, index=index, clock=clock)
    index.rejected_writes += 4  # as the Elasticsearch index counts its 429s
    pace.applied(Priority.LOW, 10, clock.now)
    assert pace.rate.cut is not None and pace.rate.cut.cause is Cause.REJECTED
    assert "refused 4 writes" in pace.rate.cut.reason
    clock.now += 3
    pace.applied(Priority.LOW, 10, clock.now)  # only new refusals count
    assert pace.rate.cuts == 1


def test_an_indexer_is_cut_by_an_old_edit_or_an_old_backlog_below_the_high_stream(
    components: Components,
) -> None:
    streams = components.streams
    streams.publish(Priority.MIGRATION, [b"{}"])  # where indexers post during a migration
    time.sleep(0.01)
    tight = Limits(10, 1000, 5, latency_seconds=1.0, low_age_seconds=0.001)
    pace = Throttle("index", "i", tight, 1.0, streams, watch_low=True)
    pace.allowance(100)
    assert pace.rate.cut is not None and pace.rate.cut.cause is Cause.LOW_BACKLOG
    assert pace.rate.cut.reason.startswith("the oldest message below the high stream is 0 s old")
    streams.publish(Priority.HIGH, [b"{}"])
    time.sleep(0.01)
    impatient = Limits(10, 1000, 5, latency_seconds=0.001, low_age_seconds=30)
    pace = Throttle("index", "i", impatient, 1.0, streams, watch_low=True)
    pace.allowance(100)
    assert pace.rate.cut is not None and pace.rate.cut.cause is Cause.HIGH_LATENCY


# ------------------------------------------------------------------ thrall behind a slow index


class SlowIndex(SqliteSearchIndex):
    """Each write takes 1 ms per document on top of SQLite's own time."""

    def apply(self, updates, mirrors=()):  # type: ignore[no-untyped-def]
        time.sleep(0.001 * len(updates))
        return super().apply(updates, mirrors)


def payload(n: int, title: str) -> bytes:
    image = {
        "id": f"{n:040x}",
        "uploadTime": "2024-01-01T00:00:00.000Z",
        "uploadedBy": "u",
        "source": {"file": "file:///x"},
        "metadata": {"title": title},
        "originalMetadata": {"title": title},
    }
    return image_payload(REINGEST_IMAGE, json.dumps(image).encode())


@pytest.fixture
def slow(settings: Settings) -> Iterator[Components]:
    throttled = Settings.from_env(
        {
            "REINGEST_HOME": str(settings.home),
            "REINGEST_THROTTLE_LATENCY_MS": "100",
            "REINGEST_THROTTLE_MAX_RATE": "2000",
            "REINGEST_THROTTLE_STEP": "1",
        }
    )
    with Components(throttled) as opened:
        opened.index = SlowIndex(throttled.index_url)
        yield opened


def test_thrall_slows_low_traffic_behind_a_slow_index_and_never_holds_back_high(
    slow: Components,
) -> None:
    streams, index = slow.streams, slow.index
    streams.publish(Priority.LOW, [payload(n, "reingested") for n in range(1_500)])
    pace = for_thrall(slow.settings, "thrall-test", streams, index)
    low_batches: list[int] = []
    while len(low_batches) < 6:
        cycle = consume_once(streams, index, "t", 30, throttle=pace)
        if cycle.idle:
            time.sleep(pace.wait_seconds())
        else:
            low_batches.append(cycle.applied)
    assert low_batches[0] == 200  # 0.1 s of work at the 2000/s it starts at
    # the 200 and 140 documents' writes took over 75 ms (3/4 of the 100 ms target): two cuts
    assert pace.rate.cuts >= 2 and low_batches[1] == 140
    assert pace.rate.cut is not None and pace.rate.cut.cause is Cause.SLOW_WRITES
    assert max(low_batches[2:]) <= 0.7**2 * 200
    # however long the low stream's pause, an edit is taken at once
    streams.publish(Priority.LOW, [payload(n, "reingested") for n in range(2_000, 2_100)])
    pace.paced(10_000, time.monotonic())  # seconds of pause at this rate
    streams.publish(Priority.HIGH, [payload(99_999, "edit")])
    edit = consume_once(streams, index, "t", 30, throttle=pace)
    assert edit.priority is Priority.HIGH and edit.applied == 1
    assert index.get(f"{99_999:040x}") is not None
    assert consume_once(streams, index, "t", 30, throttle=pace).idle  # low waits for its pace
    assert streams.lag(Priority.LOW).depth >= 100


# ------------------------------------------------------------------ what operators see


def test_stats_and_metrics_show_each_throttles_rate_and_why_it_was_last_cut(
    components: Components, settings: Settings
) -> None:
    with for_thrall(settings, "thrall@host:1:abc", components.streams, components.index) as pace:
        pace.applied(Priority.LOW, 200, time.monotonic() - 0.9)  # a write of over 0.75 s
        env = {"REINGEST_HOME": str(settings.home), "COLUMNS": "250"}
        stats = json.loads(CliRunner().invoke(app, ["stats", "--json"], env=env).output)
        [shown] = stats["throttle"]
        assert shown["role"] == "thrall" and shown["worker"] == "thrall@host:1:abc"
        assert shown["rate"] == pytest.approx(settings.throttle_max_rate * DECREASE, abs=0.1)
        assert shown["cause"] == "slow-writes" and shown["reason"].startswith(
            "an index write took 0.9"
        )
        table = CliRunner().invoke(app, ["stats"], env=env).output
        assert "Throttle (images/s)" in table and "7,000.0" in table  # (the reason may wrap)
        metrics = CliRunner().invoke(app, ["metrics"], env=env).output
        labels = 'role="thrall",worker="thrall@host:1:abc"'
        assert f"reingest_throttle_rate{{{labels}}} 7000.0" in metrics
        assert f"reingest_throttle_cuts{{{labels}}} 1.0" in metrics
        assert f'reingest_throttle_last_cut_timestamp_seconds{{cause="slow-writes",{labels}}}' in (
            metrics
        )
    # a throttle whose loop ended is no longer shown
    assert published(settings.home) == []
    assert "throttle" not in json.loads(
        CliRunner().invoke(app, ["stats", "--json"], env=env).output
    )


def test_a_state_nobody_refreshed_for_a_while_or_of_a_killed_process_is_left_out(
    components: Components, settings: Settings
) -> None:
    pace = for_thrall(settings, "gone", components.streams, components.index)
    pace.applied(Priority.LOW, 10, time.monotonic() - 1)
    assert [one["worker"] for one in published(settings.home)] == ["gone"]
    assert published(settings.home, now=time.time() + STALE_SECONDS + 1) == []
    ended = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        check=True,
        capture_output=True,
        text=True,
    )
    [path] = board(settings.home).glob("*.json")
    path.write_text(json.dumps({**json.loads(path.read_text()), "pid": int(ended.stdout)}))
    assert published(settings.home) == []  # killed (SIGKILL leaves its file behind)
