"""The run loop: index → thrall → check, over and over, until nothing is left.

This is the embedded stand-in for the original's scheduled Lambdas plus a thrall consumer; with
``every`` it fires index batches on a schedule like the original's EventBridge rule.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from .backends import Components
from .batch_check import CheckReport, check_batch
from .batch_index import IndexReport, index_batch
from .states import ACTIVE_STATES, TERMINAL_STATES, State
from .thrall import consume_once, drain
from .workers import worker_name

#: how long to wait when a cycle found nothing to do (e.g. waiting for a dead worker's lease)
IDLE_SLEEP_SECONDS = 0.5
#: an idle thrall polls again soon, backing off to at most this (a user edit waits ≤ this)
THRALL_IDLE_FIRST_SECONDS = 0.005
THRALL_IDLE_MAX_SECONDS = 0.1
#: thrall cycles per loop, so checks and index batches interleave with consumption
THRALL_CYCLES_PER_LOOP = 20


@dataclass
class RunSummary:
    counts: dict[State, int]
    loops: int = 0
    seconds: float = 0.0
    #: ids this run moved into an end state
    settled: int = 0
    last_index_batch_seconds: float = 0.0
    #: index batches fired (with ``every``, one per interval)
    index_batches: int = 0
    skipped_batches: list[str] = field(default_factory=list)


def remaining(counts: dict[State, int]) -> int:
    return sum(n for state, n in counts.items() if state in ACTIVE_STATES)


def run(
    components: Components,
    *,
    until_done: bool = True,
    every: float | None = None,
    on_tick: Callable[[RunSummary], None] | None = None,
    should_stop: Callable[[], bool] = lambda: False,
) -> RunSummary:
    settings = components.settings
    progress, streams, index = components.progress, components.streams, components.index
    projector = components.projector
    indexer, consumer, checker = (worker_name(r) for r in ("index", "thrall", "check"))
    started = time.monotonic()
    next_index_at = 0.0
    summary = RunSummary(counts={})
    while not should_stop():
        # claims whose lease ran out still count as active here: the next batch expires them
        summary.counts = progress.counts()
        summary.seconds = time.monotonic() - started
        if on_tick:
            on_tick(summary)
        if until_done and remaining(summary.counts) == 0:
            break
        summary.loops += 1
        worked = 0
        if time.monotonic() >= next_index_at:
            report = index_batch(progress, projector, streams, settings, indexer, index)
            worked += len(report.claimed)
            summary.settled += _ended(report.outcomes)
            summary.last_index_batch_seconds = report.seconds
            summary.index_batches += 1
            if report.skipped:
                summary.skipped_batches.append(report.skipped)
            if every:
                next_index_at = time.monotonic() + every
        applied, dead = drain(
            streams,
            index,
            consumer,
            settings.lease_seconds,
            THRALL_CYCLES_PER_LOOP,
            originals=components.originals,
        )
        worked += applied + dead
        check = check_batch(progress, index, streams, settings, checker)
        worked += _ended(check.outcomes)
        summary.settled += _ended(check.outcomes)
        if not worked:
            time.sleep(IDLE_SLEEP_SECONDS)
    summary.seconds = time.monotonic() - started
    return summary


def _ended(outcomes: Mapping[State, int]) -> int:
    return sum(n for state, n in outcomes.items() if state in TERMINAL_STATES)


#: what each long-running worker still waits for; once none of these remain it may stop
WAITS_FOR = {
    "index": frozenset({State.NotStarted, State.InProgress}),
    "check": ACTIVE_STATES,
    "thrall": frozenset({State.NotStarted, State.InProgress}),
}


def _nothing_left(components: Components, role: str) -> bool:
    counts = components.progress.counts()
    return not any(counts.get(state) for state in WAITS_FOR[role])


def run_worker(
    components: Components,
    role: str,
    *,
    until_done: bool = False,
    should_stop: Callable[[], bool] = lambda: False,
) -> Counter[State]:
    """batch-index or batch-check in a loop (a distributed deployment runs many of these).
    Sleeps when a batch moved nothing forward; returns the outcomes it produced."""
    settings = components.settings
    owner = worker_name(role)
    projector = components.projector
    outcomes: Counter[State] = Counter()
    while not should_stop():
        report: IndexReport | CheckReport
        if role == "index":
            report = index_batch(
                components.progress,
                projector,
                components.streams,
                settings,
                owner,
                components.index,
            )
            moved = len(report.claimed)
        else:
            report = check_batch(
                components.progress, components.index, components.streams, settings, owner
            )
            moved = _ended(report.outcomes)
        outcomes.update(report.outcomes)
        if not moved:
            if until_done and _nothing_left(components, role):
                break
            time.sleep(IDLE_SLEEP_SECONDS)
    return outcomes


def run_thrall(
    components: Components,
    *,
    until_done: bool = False,
    should_stop: Callable[[], bool] = lambda: False,
) -> tuple[int, int]:
    """Consume until stopped (or, with until_done, until the streams are empty and no id is
    left that could still be published). Returns (applied, dead-lettered)."""
    consumer = worker_name("thrall")
    applied = dead = 0
    idle_sleep = THRALL_IDLE_FIRST_SECONDS
    while not should_stop():
        # looked at before consuming: indexers publish before they settle, so once nothing is
        # left to index, every message already sits in the streams for this cycle to see
        finished_indexing = until_done and _nothing_left(components, "thrall")
        cycle = consume_once(
            components.streams,
            components.index,
            consumer,
            components.settings.lease_seconds,
            originals=components.originals,
        )
        applied += cycle.applied
        dead += cycle.dead
        if not cycle.idle:
            idle_sleep = THRALL_IDLE_FIRST_SECONDS
            continue
        # messages leased to a consumer that died come back when their lease ends
        if finished_indexing and not components.streams.pending():
            break
        time.sleep(idle_sleep)
        idle_sleep = min(idle_sleep * 2, THRALL_IDLE_MAX_SECONDS)
    return applied, dead
