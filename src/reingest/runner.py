"""The run loop: index → thrall → check, over and over, until nothing is left.

This is the embedded stand-in for the original's scheduled Lambdas plus a thrall consumer; with
``every`` it fires index batches on a schedule like the original's EventBridge rule.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Mapping
from contextlib import ExitStack
from dataclasses import dataclass, field, replace

from .backends import Components
from .batch_check import CheckReport, check_batch
from .batch_index import IndexReport, index_batch
from .states import ACTIVE_STATES, TERMINAL_STATES, State
from .thrall import consume_once, drain
from .throttle import Throttle, for_indexer, for_thrall
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
    settings, streams, index = components.settings, components.streams, components.index
    indexer, consumer, checker = (worker_name(r) for r in ("index", "thrall", "check"))
    with (
        for_indexer(settings, indexer, streams) as index_pace,
        for_thrall(settings, consumer, streams, index) as thrall_pace,
    ):
        return _run(
            components,
            (indexer, consumer, checker),
            (index_pace, thrall_pace),
            until_done=until_done,
            every=every,
            on_tick=on_tick,
            should_stop=should_stop,
        )


def _run(
    components: Components,
    workers: tuple[str, str, str],
    throttles: tuple[Throttle, Throttle],
    *,
    until_done: bool,
    every: float | None,
    on_tick: Callable[[RunSummary], None] | None,
    should_stop: Callable[[], bool],
) -> RunSummary:
    settings = components.settings
    progress, streams, index = components.progress, components.streams, components.index
    indexer, consumer, checker = workers
    index_pace, thrall_pace = throttles
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
        if time.monotonic() >= next_index_at and (
            report := _paced_index_batch(components, index_pace, indexer)
        ):
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
            throttle=thrall_pace,
        )
        worked += applied + dead
        check = check_batch(progress, index, streams, settings, checker)
        worked += _ended(check.outcomes)
        summary.settled += _ended(check.outcomes)
        if not worked:
            time.sleep(_pause(IDLE_SLEEP_SECONDS, index_pace, thrall_pace))
    summary.seconds = time.monotonic() - started
    return summary


def _pause(idle: float, *throttles: Throttle) -> float:
    """How long an idle loop sleeps: ``idle``, or less when a throttle's pause ends sooner
    (the work it held back is due then)."""
    due = [wait for throttle in throttles if (wait := throttle.wait_seconds()) > 0]
    return min([idle, *due])


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
    outcomes: Counter[State] = Counter()
    with ExitStack() as stack:
        pace = None
        if role == "index":
            pace = stack.enter_context(for_indexer(settings, owner, components.streams))
        while not should_stop():
            report: IndexReport | CheckReport | None
            if pace is not None:
                report = _paced_index_batch(components, pace, owner)
                if report is None:
                    time.sleep(_pause(IDLE_SLEEP_SECONDS, pace))
                    continue
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


def _paced_index_batch(components: Components, pace: Throttle, owner: str) -> IndexReport | None:
    """One index batch as big as the throttle allows now, or None during its pause."""
    settings = components.settings
    allowed = pace.allowance(settings.batch_size)
    if not allowed:
        return None
    started = time.monotonic()
    report = index_batch(
        components.progress,
        components.projector,
        components.streams,
        replace(settings, batch_size=allowed),
        owner,
        components.index,
    )
    pace.paced(len(report.claimed), started)
    return report


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
    streams, index = components.streams, components.index
    with for_thrall(components.settings, consumer, streams, index) as pace:
        while not should_stop():
            # looked at before consuming: indexers publish before they settle, so once nothing
            # is left to index, every message already sits in the streams for this cycle to see
            finished_indexing = until_done and _nothing_left(components, "thrall")
            cycle = consume_once(
                streams,
                index,
                consumer,
                components.settings.lease_seconds,
                originals=components.originals,
                throttle=pace,
            )
            applied += cycle.applied
            dead += cycle.dead
            if not cycle.idle:
                idle_sleep = THRALL_IDLE_FIRST_SECONDS
                continue
            # messages leased to a consumer that died come back when their lease ends
            if finished_indexing and not streams.pending():
                break
            time.sleep(_pause(idle_sleep, pace))
            idle_sleep = min(idle_sleep * 2, THRALL_IDLE_MAX_SECONDS)
    return applied, dead
