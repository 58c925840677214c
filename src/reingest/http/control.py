"""What the server process owns besides routes: the scheduler thread (``runner.run``, as
``reingest run`` does), a ring buffer of progress samples for throughput and ETA, and the long
operations the dashboard starts (``Tasks``)."""

from __future__ import annotations

import itertools
import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ..backends import Components
from ..runner import RunSummary, remaining, run
from ..states import FAILURE_STATES, State
from ..streams.base import Priority
from ..throttle import published

log = logging.getLogger(__name__)

#: how long stop() waits for the current cycle to finish
STOP_WAIT_SECONDS = 60.0


class Scheduler:
    """``runner.run`` in a background thread; started and stopped from the dashboard or API."""

    def __init__(self, components: Components) -> None:
        self.components = components
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self.until_done = True
        self.summary: RunSummary | None = None
        self.started_at: float | None = None
        self.finished_at: float | None = None
        self.error: str | None = None

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def start(self, until_done: bool = True) -> bool:
        """False if it was already running."""
        with self._lock:
            if self.running:
                return False
            self._stop.clear()
            self.until_done = until_done
            self.summary, self.error, self.finished_at = None, None, None
            self.started_at = time.time()
            self._thread = threading.Thread(
                target=self._run, name="reingest-scheduler", daemon=True
            )
            self._thread.start()
            return True

    def stop(self, wait: float | None = STOP_WAIT_SECONDS) -> bool:
        """Ask the loop to end after its current cycle; True once it has."""
        self._stop.set()
        thread = self._thread
        if thread is not None and wait:
            thread.join(wait)
        return not self.running

    def _run(self) -> None:
        try:
            self.summary = run(
                self.components,
                until_done=self.until_done,
                on_tick=self._tick,
                should_stop=self._stop.is_set,
            )
        except Exception as error:  # the thread has no caller to raise to: show it instead
            log.exception("scheduler stopped by an error")
            self.error = f"{type(error).__name__}: {error}"
        finally:
            self.finished_at = time.time()

    def _tick(self, summary: RunSummary) -> None:
        self.summary = summary

    def status(self) -> dict[str, Any]:
        return {
            "running": self.running,
            "untilDone": self.until_done,
            "startedAt": self.started_at,
            "finishedAt": None if self.running else self.finished_at,
            "loops": self.summary.loops if self.summary else 0,
            "settled": self.summary.settled if self.summary else 0,
            "error": self.error,
        }


@dataclass(frozen=True)
class Sample:
    at: float
    done: int
    total: int


class ThroughputSampler:
    """Ids in an end state, sampled over time (on page loads and by a background task)."""

    def __init__(self, size: int = 360, min_interval: float = 5.0) -> None:
        self.samples: deque[Sample] = deque(maxlen=size)
        self.min_interval = min_interval
        self._lock = threading.Lock()

    def sample(self, counts: dict[State, int], now: float | None = None) -> None:
        at = time.time() if now is None else now
        total = sum(counts.values())
        sample = Sample(at, total - remaining(counts), total)
        with self._lock:
            # frequent page loads must not flood the buffer (or shorten its time span)
            if not self.samples or at - self.samples[-1].at >= self.min_interval:
                self.samples.append(sample)

    def rate(self, window: float = 600.0) -> float | None:
        """Ids settled per second over the last ``window`` seconds; None without two samples.
        Only rises count: a reset (a retry, a migration's start) moves ids back without
        undoing the work done before it."""
        with self._lock:
            if not self.samples:
                return None
            recent = [s for s in self.samples if s.at >= self.samples[-1].at - window]
        if len(recent) < 2 or recent[-1].at <= recent[0].at:
            return None
        settled = sum(max(0, b.done - a.done) for a, b in itertools.pairwise(recent))
        return settled / (recent[-1].at - recent[0].at)

    def series(self) -> list[tuple[float, float]]:
        """(time, ids/s) between consecutive samples, for the chart."""
        with self._lock:
            samples = list(self.samples)
        return [
            (b.at, max(0, b.done - a.done) / (b.at - a.at))
            for a, b in itertools.pairwise(samples)
            if b.at > a.at
        ]


def overview(components: Components, sampler: ThroughputSampler) -> dict[str, Any]:
    """Everything the dashboard and ``/admin/stats`` show, read from the stores."""
    counts = components.progress.counts()
    sampler.sample(counts)
    total = sum(counts.values())
    left = remaining(counts)
    rate = sampler.rate()
    return {
        "counts": {state.name: counts.get(state, 0) for state in State if counts.get(state)},
        "total": total,
        "done": total - left,
        "remaining": left,
        "ratePerSecond": rate,
        "etaSeconds": eta(left, total, rate),
        "lag": {
            priority.value: {
                "depth": lag.depth,
                "oldestAgeSeconds": lag.oldest_age_seconds,
            }
            for priority in Priority
            for lag in [components.streams.lag(priority)]
        },
        "deadLetters": components.streams.dead_letter_count(),
        "throttle": published(components.settings.home),
        "failures": failure_groups(components),
    }


def eta(left: int, total: int, rate: float | None) -> float | None:
    """Seconds until ``left`` ids settle at ``rate``: 0 when none is left, None when unknown."""
    if not left:
        return 0.0 if total else None
    return left / rate if rate else None


def failure_groups(components: Components) -> list[dict[str, Any]]:
    """The progress table's failures by state and reason, with example ids (the retry
    buttons send ``stateId`` and ``reason`` back)."""
    return [
        {
            "state": group.state.name,
            "stateId": group.state.value,
            "reason": group.reason,
            "count": group.count,
            "examples": group.examples,
        }
        for group in components.progress.failure_groups(FAILURE_STATES)
    ]


@dataclass
class Task:
    """One run of a long operation (a migration's start, an audit with repair) in its own
    thread, so the request that started it answers at once; the dashboard shows how it ended."""

    name: str
    started_at: float = field(default_factory=time.time)
    finished_at: float | None = None
    result: Any = None
    error: str | None = None
    _done: threading.Event = field(default_factory=threading.Event, repr=False)

    @property
    def running(self) -> bool:
        return not self._done.is_set()

    def wait(self, timeout: float | None = None) -> bool:
        """True once the task has ended (within ``timeout`` seconds)."""
        return self._done.wait(timeout)

    def run(self, work: Callable[[], Any], ended: Callable[[Task], None]) -> None:
        """``work``, then ``ended`` hears of it before any waiter wakes up."""
        try:
            self.result = work()
        except Exception as error:  # the thread has no caller to raise to: show it instead
            log.exception("%s failed", self.name)
            self.error = f"{type(error).__name__}: {error}"
        finally:
            self.finished_at = time.time()
            ended(self)
            self._done.set()


class Tasks:
    """The last task of each name, and the last that ended; at most one of a name runs at a
    time."""

    def __init__(self) -> None:
        self._last: dict[str, Task] = {}
        self._ended: dict[str, Task] = {}
        self._lock = threading.Lock()

    def start(self, name: str, work: Callable[[], Any]) -> tuple[Task, bool]:
        """Run ``work`` in a thread; when one of this name still runs, that one and False."""
        with self._lock:
            last = self._last.get(name)
            if last is not None and last.running:
                return last, False
            task = self._last[name] = Task(name)
        thread = threading.Thread(
            target=task.run, args=(work, self._record), name=f"reingest-{name}", daemon=True
        )
        thread.start()
        return task, True

    def _record(self, task: Task) -> None:
        self._ended[task.name] = task

    def last(self, name: str) -> Task | None:
        return self._last.get(name)

    def ended(self, name: str) -> Task | None:
        """The last task of this name that ended (while a newer one may run)."""
        return self._ended.get(name)

    @property
    def running(self) -> bool:
        return any(task.running for task in list(self._last.values()))
