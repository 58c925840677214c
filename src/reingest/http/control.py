"""What the server process owns besides routes: the scheduler thread (``runner.run``, as
``reingest run`` does) and a ring buffer of progress samples for throughput and ETA."""

from __future__ import annotations

import itertools
import logging
import threading
import time
from collections import deque
from dataclasses import dataclass
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
        """Ids settled per second over the last ``window`` seconds; None without two samples."""
        with self._lock:
            if not self.samples:
                return None
            recent = [s for s in self.samples if s.at >= self.samples[-1].at - window]
        if len(recent) < 2 or recent[-1].at <= recent[0].at:
            return None
        return max(0, recent[-1].done - recent[0].done) / (recent[-1].at - recent[0].at)

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
        "etaSeconds": left / rate if rate and left else (0.0 if total and not left else None),
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
        "failures": [
            {
                "state": group.state.name,
                "stateId": group.state.value,
                "reason": group.reason,
                "count": group.count,
                "examples": group.examples,
            }
            for group in components.progress.failure_groups(FAILURE_STATES)
        ],
    }
