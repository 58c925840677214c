"""How many projections batch-index keeps in flight: enough to hide the network's latency, no
more, within the operator's maximum (``REINGEST_PROJECTION_MAX_IN_FLIGHT``).

Little's law: in flight = throughput × latency. One process computes one image at a time (the
GIL), ``cpu`` seconds each, so it goes at most 1/cpu images/s, and keeping it busy while each
image waits ``latency`` seconds takes ``latency / cpu`` images in flight. Two kinds of waits
are hidden two ways:

- **read ahead**: what HTTP clients fetch (the data services' seven GETs, a remote projection)
  is asked for ``read_ahead`` images before it is needed (``ReadAhead``), from one I/O thread
  (``curl_pool``), so the projecting thread finds it ready. Its latency is what libcurl timed
  (``note_latency``);
- **threads**: a wait that cannot be started early (reading the original from a remote store)
  is covered by projecting in ``threads`` threads. Its duration is timed around the call
  (``waiting``).

With the embedded services and local originals both are nothing: one thread, inline, as fast as
the CPU goes. More threads than the waits need would only cost: they queue for the GIL, and
every switch between them costs CPU (measured: with two threads and nothing to wait for, an
image took 1.6× the CPU). ``HEADROOM`` more than Little's law asks absorbs jitter.

Each term is measured per image in the thread that projects it: its CPU time (not its wall time,
which also counts its queueing for the GIL), as a running mean; the waits as running floors
(``unloaded``). All are kept per projector across batches, so a batch starts where the last one
left off.
"""

from __future__ import annotations

import math
import threading
import time
import weakref
from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from queue import SimpleQueue
from typing import Generic, NamedTuple, TypeVar

Item = TypeVar("Item")
Result = TypeVar("Result")
T = TypeVar("T")

#: extra in flight, as a share of what the waits need: covers latency jitter
HEADROOM = 1.5
#: weight of the newest image in the running means (about the last 16 images count)
NEWEST_WEIGHT = 1 / 16
#: how far the latency floor rises towards a higher latency, per image
FLOOR_RISE = 1 / 64
#: the fewest images read ahead when anything is: answers come in bunches (the I/O thread
#: hands them over only when it gets the GIL, which the projecting thread lets go of between
#: stretches of Python), and a shallower read-ahead waits for every bunch. Against a stand-in
#: answering at once, 1 ahead ran at 0.49–0.54 of the embedded services' rate, 8 at 0.55–0.68.
MIN_READ_AHEAD = 8


class _Ledger(threading.local):
    """What this thread has waited so far, by kind."""

    latency = 0.0
    blocked = 0.0


_ledger = _Ledger()


def note_latency(seconds: float) -> None:
    """HTTP clients: the current image's read-ahead data took ``seconds`` to arrive."""
    _ledger.latency += seconds


@contextmanager
def waiting() -> Iterator[None]:
    """Around a call that may block this thread on something not read ahead (a remote
    original): the time it spends off the CPU counts as blocked."""
    started, cpu = time.perf_counter(), time.thread_time()
    try:
        yield
    finally:
        _ledger.blocked += max(0.0, (time.perf_counter() - started) - (time.thread_time() - cpu))


def unloaded(floor: float | None, wait: float) -> float:
    """A wait as it is when nothing queues: the lowest seen lately (a new low at once, a higher
    one slowly, ``FLOOR_RISE`` of the way per image), as BBR sizes a TCP window on the minimum
    round trip rather than the average. What a wait adds above its minimum is mostly our own
    load: requests queueing at a busy server (a stand-in Grid answering at once on the same two
    cores went from 0.5 ms to 12 ms that way, read further and further ahead), or a thread
    queueing for the GIL behind the other threads (which, counted as blocking, called for ever
    more threads, even for local originals). More in flight would only lengthen those queues."""
    if floor is None or wait <= floor:
        return wait
    return floor + (wait - floor) * FLOOR_RISE


class Needs(NamedTuple):
    threads: int
    read_ahead: int


def needed_in_flight(cpu: float, latency: float, blocked: float, maximum: int) -> Needs:
    """Threads and read-ahead for images that each take ``cpu`` seconds of CPU, whose read-ahead
    data takes ``latency`` seconds to arrive, and that block their thread ``blocked`` seconds
    (Little's law, see the module docstring); together at most ``maximum``. A thread that
    blocks for less than a third of its CPU time gets no company: switching would cost more.
    Reading ahead at all means at least ``MIN_READ_AHEAD``."""
    if cpu <= 0:
        return Needs(1, maximum - 1 if latency > 0 else 0)
    threads = max(1, min(maximum, round(1 + HEADROOM * blocked / cpu)))
    if latency <= 0:
        return Needs(threads, 0)
    read_ahead = max(MIN_READ_AHEAD, math.ceil(HEADROOM * latency / cpu))
    return Needs(threads, min(maximum - threads, read_ahead))


class AdaptiveLimit:
    """One projector's CPU, latency and blocking per image, and what they need."""

    def __init__(self) -> None:
        self.cpu = 0.0
        #: the waits' floors; None until an image measured one
        self.latency: float | None = None
        self.blocked: float | None = None
        self.needs = Needs(1, 0)
        #: the most images in flight at once (threads + read ahead) in the last ``map``
        self.peak = 0

    @property
    def limit(self) -> int:
        return self.needs.threads + self.needs.read_ahead

    def observe(self, cpu: float, latency: float, blocked: float, maximum: int) -> None:
        """One image's measures: ``cpu`` feeds a running mean, the waits running floors
        (``unloaded``); ``latency`` only when the image read anything ahead."""
        self.cpu += (cpu - self.cpu) * (NEWEST_WEIGHT if self.cpu else 1.0)
        self.blocked = unloaded(self.blocked, blocked)
        if latency > 0:
            self.latency = unloaded(self.latency, latency)
        self.needs = self._needs(maximum)

    def _needs(self, maximum: int) -> Needs:
        return needed_in_flight(self.cpu, self.latency or 0.0, self.blocked or 0.0, maximum)

    def map(
        self,
        work: Callable[[Item], Result],
        items: Sequence[Item],
        maximum: int,
        read_ahead: Callable[[Sequence[Item]], None],
    ) -> list[Result]:
        """``work`` over ``items``, results in order: ``read_ahead`` is handed the items
        ``needs.read_ahead`` before their turn, and ``needs.threads`` run at once (while that
        is 1, in this thread)."""
        self.needs = self._needs(maximum)
        self.peak = 0
        results: dict[int, Result] = {}
        finished: SimpleQueue[Future[_Measured[Result]]] = SimpleQueue()
        ahead = started = in_flight = 0
        with ThreadPoolExecutor(maximum, thread_name_prefix="projection") as pool:
            while started < len(items) or in_flight:
                wanted = min(len(items), started - in_flight + self.limit)
                if wanted > ahead:
                    read_ahead(items[ahead:wanted])
                    ahead = wanted
                self.peak = max(self.peak, ahead - started + in_flight)
                if self.needs.threads == 1 and not in_flight:
                    done = _measured(work, items[started], started)
                    started += 1
                else:
                    while started < len(items) and in_flight < self.needs.threads:
                        future = pool.submit(_measured, work, items[started], started)
                        future.add_done_callback(finished.put)
                        started += 1
                        in_flight += 1
                    done = finished.get().result()
                    in_flight -= 1
                self.observe(done.cpu, done.latency, done.blocked, maximum)
                results[done.position] = done.result
        return [results[position] for position in range(len(items))]


class _Measured(NamedTuple, Generic[Result]):
    position: int
    result: Result
    cpu: float
    latency: float
    blocked: float


def _measured(work: Callable[[Item], Result], item: Item, position: int) -> _Measured[Result]:
    """``work(item)`` with the CPU time it took in this thread and the waits it noted."""
    cpu, latency, blocked = time.thread_time(), _ledger.latency, _ledger.blocked
    result = work(item)
    return _Measured(
        position,
        result,
        time.thread_time() - cpu,
        _ledger.latency - latency,
        _ledger.blocked - blocked,
    )


_limits: weakref.WeakKeyDictionary[object, AdaptiveLimit] = weakref.WeakKeyDictionary()
_limits_lock = threading.Lock()


def limit_for(projector: object) -> AdaptiveLimit:
    """The learned limit of ``projector`` (each has its own latency), forgotten with it."""
    with _limits_lock:
        return _limits.setdefault(projector, AdaptiveLimit())


class ReadAhead(Generic[T]):
    """Futures started before they are needed, by key (an image id): ``take`` hands over the
    one started for a key, or starts it then. A key read ahead but never taken (its image
    failed before it got there) is dropped once ``capacity`` newer ones wait."""

    def __init__(self, start: Callable[[str], Future[T]], capacity: int = 1024) -> None:
        self._start = start
        self._capacity = capacity
        self._futures: OrderedDict[str, Future[T]] = OrderedDict()
        self._lock = threading.Lock()

    def prefetch(self, keys: Iterable[str]) -> None:
        with self._lock:
            for key in keys:
                if key not in self._futures:
                    self._futures[key] = self._start(key)
            while len(self._futures) > self._capacity:
                self._futures.popitem(last=False)

    def take(self, key: str) -> Future[T]:
        with self._lock:
            future = self._futures.pop(key, None)
        return future if future is not None else self._start(key)
