"""Throttle: reingestion's pace follows the index's health and user edits' latency.

Reingestion shares the search index with user edits, and a cluster that is busy writing
reingested documents is slow for everyone. Each throttled loop (thrall's consumption of the
streams below the high one, reingestion's low stream and a migration's; each indexer's
batches) keeps a rate in images per second, between the operator's ``THROTTLE_MIN_RATE`` and
``THROTTLE_MAX_RATE``, and adjusts it as TCP shares a link (AIMD):

- each look that finds a problem cuts the rate to ``DECREASE`` × itself, or × the rate achieved
  lately when the loop fell well short of its rate (a rate it does not reach says nothing about
  what the index takes), once per congestion episode (a problem that began before the last cut
  is the episode that cut answered: its effect is awaited, and the rate does not grow);
- each look that finds none adds ``THROTTLE_STEP`` images/s per second since the last change.

The problems, against ``THROTTLE_LATENCY_MS`` (the most a user edit should wait):

- thrall: an index write (of any priority) slower than ``WRITE_SHARE`` of it, since an edit
  that arrives during a low batch's write waits for it and then for its own; writes the index
  refused for load (Elasticsearch's 429s, even those a retry got through); the high-priority
  stream's oldest message older than it;
- an indexer: the high-priority stream's oldest message older than it; a message older than
  half of ``LATENCY_THRESHOLD`` on a stream below (low, or a migration's, where indexers post),
  i.e. thrall, slowed by the index, consumes slower than the indexers post (at the whole
  threshold they stop altogether).

Thrall applies the rate to the streams below the high one only: smaller batches (about
``THRALL_BATCH_SECONDS`` of work each, so an edit waits behind less) and pauses between them,
while it keeps taking the high-priority stream first at every cycle, paused or not. An indexer
claims about ``INDEX_BATCH_SECONDS`` of work per batch and waits between batches.

Every throttle publishes its state (rate, bounds, cuts and the last cut's cause and reason) in
``$REINGEST_HOME/throttle/``, one file per process, which ``reingest stats``, the dashboard and
``/metrics`` read; a process that has not written for ``STALE_SECONDS``, or that no longer runs
on this host (killed), is gone.
"""

from __future__ import annotations

import math
import os
import re
import socket
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, replace
from enum import StrEnum
from pathlib import Path
from typing import Any

import orjson

from .config import Settings
from .errors import ConfigurationError
from .index.base import SearchIndex
from .streams.base import Priority, StreamLag, Streams

#: the share of the latency target one index write may take: an edit that arrives during a
#: low batch's write waits for it, then for its own write (the rest)
WRITE_SHARE = 0.75
#: a cut multiplies the rate by this (CUBIC's factor: TCP Reno's 0.5 gives up more throughput)
DECREASE = 0.7
#: thrall's low batches hold about this many seconds of work at the rate
THRALL_BATCH_SECONDS = 0.1
#: an indexer's batches hold about this many seconds of work (each claim is a transaction)
INDEX_BATCH_SECONDS = 1.0
#: the streams' lag is read at most this often (Kinesis reads records to measure it)
LOOK_EVERY_SECONDS = 2.0
#: the achieved rate a cut starts from is measured over this window
ACHIEVED_WINDOW_SECONDS = 5.0
#: a throttle's published state is rewritten at most this often (and at every cut)
PUBLISH_EVERY_SECONDS = 1.0
#: a published state older than this belongs to a process that is gone
STALE_SECONDS = 120.0
#: where the throttles publish, under the home
BOARD = "throttle"


class Cause(StrEnum):
    """Why a rate was cut (a Prometheus label: few values)."""

    REJECTED = "rejected-writes"
    SLOW_WRITES = "slow-writes"
    HIGH_LATENCY = "high-latency"
    LOW_BACKLOG = "low-backlog"


@dataclass(frozen=True)
class Limits:
    """The operator's bounds (``THROTTLE_*`` settings), in seconds and images per second."""

    min_rate: float
    max_rate: float
    #: images/s added per second while nothing is wrong
    step: float
    #: the most a user edit should wait
    latency_seconds: float
    #: an indexer cuts while the low stream's oldest message is older than this
    low_age_seconds: float

    @property
    def write_seconds(self) -> float:
        """The slowest index write that is not a problem."""
        return self.latency_seconds * WRITE_SHARE

    @classmethod
    def from_settings(cls, settings: Settings) -> Limits:
        if settings.throttle_min_rate > settings.throttle_max_rate:
            raise ConfigurationError(
                f"REINGEST_THROTTLE_MIN_RATE ({settings.throttle_min_rate:g}) is above "
                f"REINGEST_THROTTLE_MAX_RATE ({settings.throttle_max_rate:g})"
            )
        return cls(
            settings.throttle_min_rate,
            settings.throttle_max_rate,
            settings.throttle_step,
            settings.throttle_latency_ms / 1000,
            settings.latency_threshold_ms / 2000,
        )


@dataclass(frozen=True)
class Observation:
    """What one look found; None where nothing was measured."""

    write_seconds: float | None = None
    write_started: float = 0.0
    #: writes the index refused for load since the last look
    rejected: int = 0
    high_age: float | None = None
    low_age: float | None = None


@dataclass(frozen=True)
class Problem:
    cause: Cause
    reason: str
    #: when it began (the clock's time): a problem older than the last cut is not a new one
    since: float


@dataclass(frozen=True)
class Rate:
    per_second: float
    changed_at: float
    cut_at: float = -math.inf
    cut: Problem | None = None
    cuts: int = 0


def diagnose(seen: Observation, limits: Limits, now: float) -> Problem | None:
    """The first problem an observation shows, in order of urgency, or None."""
    if seen.rejected:
        reason = f"the index refused {seen.rejected} writes for load (429)"
        return Problem(Cause.REJECTED, reason, seen.write_started)
    if seen.write_seconds is not None and seen.write_seconds > limits.write_seconds:
        reason = (
            f"an index write took {seen.write_seconds:.2f} s "
            f"(more than {limits.write_seconds:.2f} s of the {limits.latency_seconds:.2f} s target)"
        )
        return Problem(Cause.SLOW_WRITES, reason, seen.write_started)
    if seen.high_age is not None and seen.high_age > limits.latency_seconds:
        reason = (
            f"a high-priority message waited {seen.high_age:.1f} s "
            f"(target {limits.latency_seconds:.1f} s)"
        )
        return Problem(Cause.HIGH_LATENCY, reason, now - seen.high_age)
    if seen.low_age is not None and seen.low_age > limits.low_age_seconds:
        reason = (
            f"the oldest message below the high stream is {seen.low_age:.0f} s old "
            f"(more than {limits.low_age_seconds:.0f} s, half of LATENCY_THRESHOLD)"
        )
        return Problem(Cause.LOW_BACKLOG, reason, now - seen.low_age)
    return None


def adjust(
    rate: Rate, problem: Problem | None, limits: Limits, now: float, achieved: float | None = None
) -> Rate:
    """Additive increase while nothing is wrong, multiplicative decrease once per problem
    (from the rate ``achieved`` lately when the loop fell short of its rate by more than the
    cut would take off: lower than that, the achieved rate only trails a rising rate), always
    within the limits."""
    if problem is None:
        grown = rate.per_second + limits.step * (now - rate.changed_at)
        return replace(rate, per_second=min(limits.max_rate, grown), changed_at=now)
    if problem.since < rate.cut_at:
        return replace(rate, changed_at=now)
    short = achieved is not None and achieved < rate.per_second * DECREASE
    start = achieved if short and achieved is not None else rate.per_second
    cut = max(limits.min_rate, min(limits.max_rate, start * DECREASE))
    return Rate(cut, now, now, problem, rate.cuts + 1)


def _age(lag: StreamLag) -> float | None:
    return lag.oldest_age_seconds if lag.depth and not lag.unknown else None


class Throttle:
    """One loop's rate: how much it may take now, and what it saw (the pure rules above)."""

    def __init__(
        self,
        role: str,
        worker: str,
        limits: Limits,
        batch_seconds: float,
        streams: Streams,
        *,
        index: SearchIndex | None = None,
        watch_low: bool = False,
        home: Path | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.role, self.worker, self.limits = role, worker, limits
        self.batch_seconds = batch_seconds
        self.streams, self.index, self.watch_low = streams, index, watch_low
        self.clock = clock
        now = clock()
        self.rate = Rate(limits.max_rate, now)
        self._next_at = now
        self._looked_at = -math.inf
        self._rejected = index.rejected_writes if index is not None else 0
        self._recent: deque[tuple[float, int]] = deque()
        self._published_at = -math.inf
        self._file = None if home is None else board(home) / f"{_file_name(worker)}.json"

    def allowance(self, batch: int) -> int:
        """How many items the loop may take now: none until its pace allows, then about
        ``batch_seconds`` of work at the rate, at most ``batch``. Looks at the streams first
        when it is time."""
        now = self.clock()
        if now - self._looked_at >= LOOK_EVERY_SECONDS:
            self._looked_at = now
            high = _age(self.streams.lag(Priority.HIGH))
            low = None
            if self.watch_low:
                below = (_age(self.streams.lag(p)) for p in Priority if p is not Priority.HIGH)
                low = max((age for age in below if age is not None), default=None)
            self._observe(Observation(high_age=high, low_age=low), now)
        if now < self._next_at:
            return 0
        return max(1, min(batch, round(self.rate.per_second * self.batch_seconds)))

    def wait_seconds(self) -> float:
        """Until the pace allows the next batch."""
        return max(0.0, self._next_at - self.clock())

    def paced(self, count: int, started: float) -> None:
        """``count`` items were taken at ``started``: the next batch waits its share."""
        self._next_at = max(self._next_at, started) + count / self.rate.per_second
        self._recent.append((started, count))

    def applied(self, priority: Priority, count: int, started: float) -> None:
        """Thrall wrote a batch to the index, started at ``started``: the write's time and
        the index's refusals are observed; a batch from below the high stream is paced."""
        if priority is not Priority.HIGH:
            self.paced(count, started)
        now = self.clock()
        rejected = 0
        if self.index is not None:
            rejected = self.index.rejected_writes - self._rejected
            self._rejected = self.index.rejected_writes
        seen = Observation(write_seconds=now - started, write_started=started, rejected=rejected)
        self._observe(seen, now)

    def _achieved(self, now: float) -> float | None:
        while self._recent and self._recent[0][0] < now - ACHIEVED_WINDOW_SECONDS:
            self._recent.popleft()
        if len(self._recent) < 2:
            return None
        span = now - self._recent[0][0]
        return sum(count for _at, count in self._recent) / span if span > 0 else None

    def _observe(self, seen: Observation, now: float) -> None:
        before = self.rate.cuts
        self.rate = adjust(
            self.rate, diagnose(seen, self.limits, now), self.limits, now, self._achieved(now)
        )
        if self.rate.cuts != before or now - self._published_at >= PUBLISH_EVERY_SECONDS:
            self._published_at = now
            self._publish()

    def state(self) -> dict[str, Any]:
        """What stats, the dashboard and /metrics show."""
        cut = self.rate.cut
        wall = time.time()
        return {
            "role": self.role,
            "worker": self.worker,
            "rate": round(self.rate.per_second, 1),
            "minRate": self.limits.min_rate,
            "maxRate": self.limits.max_rate,
            "cuts": self.rate.cuts,
            "cause": cut.cause.value if cut else None,
            "reason": cut.reason if cut else None,
            "cutAt": wall - (self.clock() - self.rate.cut_at) if cut else None,
            "updatedAt": wall,
            "host": socket.gethostname(),
            "pid": os.getpid(),
        }

    def _publish(self) -> None:
        if self._file is None:
            return
        self._file.parent.mkdir(parents=True, exist_ok=True)
        temporary = self._file.with_name(f".{self._file.name}.tmp")
        temporary.write_bytes(orjson.dumps(self.state()))
        temporary.replace(self._file)

    def close(self) -> None:
        """The process is done with it: its state is no longer shown."""
        if self._file is not None:
            self._file.unlink(missing_ok=True)

    def __enter__(self) -> Throttle:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()


def for_thrall(settings: Settings, worker: str, streams: Streams, index: SearchIndex) -> Throttle:
    """Thrall's pace below the high stream: watches its index writes and the high stream."""
    limits = Limits.from_settings(settings)
    return Throttle(
        "thrall", worker, limits, THRALL_BATCH_SECONDS, streams, index=index, home=settings.home
    )


def for_indexer(settings: Settings, worker: str, streams: Streams) -> Throttle:
    """An indexer's pace: watches every stream's lag."""
    limits = Limits.from_settings(settings)
    return Throttle(
        "index", worker, limits, INDEX_BATCH_SECONDS, streams, watch_low=True, home=settings.home
    )


def board(home: Path) -> Path:
    return home / BOARD


def _file_name(worker: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]", "_", worker)


def _running(pid: int) -> bool:
    """Whether a process of this host still runs (signal 0 asks without signalling)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's: it runs
        pass
    return True


def published(home: Path, now: float | None = None) -> list[dict[str, Any]]:
    """The states the running throttles published here (by role, then worker); stale and
    unreadable ones, and those of processes of this host that are gone, are left out."""
    now = time.time() if now is None else now
    states = []
    for path in sorted(board(home).glob("*.json")):
        try:
            state = orjson.loads(path.read_bytes())
        except (OSError, ValueError):
            continue
        if not isinstance(state, dict) or now - state.get("updatedAt", 0) > STALE_SECONDS:
            continue
        pid = state.get("pid")
        if state.get("host") == socket.gethostname() and isinstance(pid, int) and not _running(pid):
            continue
        states.append(state)
    return sorted(states, key=lambda state: (state["role"], state["worker"]))
