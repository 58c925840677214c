"""User-edit latency and reingest throughput behind an index that slows down with load, with
and without the throttle.

The index is a stand-in (``LoadedIndex``: the SQLite index, each write also sleeping
``(BASE + PER_DOC × documents) / (1 − load)``, where load is the documents written over the last
second over ``CAPACITY``), so writing faster makes every write slower, user edits' included, as
on a busy cluster. A `reingest thrall` loop (``runner.run_thrall``, in a child process) consumes
a low-priority backlog of reingest messages while this process posts user edits on the
high-priority stream (Poisson arrivals); each edit's latency is publish → its index write
returned. Slices, alternated within each round:

- ``off``: the throttle out of the way (maximum rate 10⁹/s, latency target 10⁹ ms): thrall's
  behaviour before the throttle;
- ``throttle``: the AIMD throttle with ``--bound`` as its latency target;
- ``fixed R``: the rate pinned at R images/s (minimum = maximum), for each R of ``--rates``. The
  fastest R whose edit p99 stays within the bound is what the stand-in sustains at that bound,
  the baseline the throttle's throughput is compared with.

    python benchmarks/bench_throttle.py --bound 150 --rounds 3 --seconds 15
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections import deque
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from reingest.backends import Components
from reingest.config import Settings
from reingest.dates import from_epoch, parse_iso
from reingest.index.documents import DocumentUpdate
from reingest.index.mirroring import Mirror
from reingest.index.sqlite import SqliteSearchIndex
from reingest.messages import REINGEST_IMAGE, image_payload
from reingest.runner import run_thrall
from reingest.streams.base import Priority

#: the stand-in cluster: documents per second it can write, and a write's fixed cost
CAPACITY = 2_000.0
PER_DOC = 1 / CAPACITY
BASE = 0.005
#: load above this is treated as this (the stand-in never stalls outright)
MAX_LOAD = 0.9
#: user edits posted per second (Poisson), and the first letter of their ids
EDITS_PER_SECOND = 20.0
EDIT = "e"
#: seconds a slice runs before it is measured (the throttle finds its rate)
WARM_UP = 4.0


class LoadedIndex(SqliteSearchIndex):
    """The SQLite index, every write stretched as a busy cluster stretches it; records each
    user edit's latency (publish time, in its lastModified, → its write returned)."""

    def __init__(self, url: str) -> None:
        super().__init__(url)
        self.written: deque[tuple[float, int]] = deque()
        self.edit_latencies: list[float] = []

    def load(self, now: float) -> float:
        while self.written and self.written[0][0] < now - 1.0:
            self.written.popleft()
        return min(MAX_LOAD, sum(n for _at, n in self.written) / CAPACITY)

    def apply(self, updates: Sequence[DocumentUpdate], mirrors: Sequence[Mirror] = ()) -> set[str]:
        started = time.monotonic()
        time.sleep((BASE + PER_DOC * len(updates)) / (1 - self.load(started)))
        deleted = super().apply(updates, mirrors)
        self.written.append((time.monotonic(), len(updates)))
        done = time.time()
        for update in updates:
            if update.image_id.startswith(EDIT):
                self.edit_latencies.append(done - _epoch(update.last_modified))
        return deleted


def _epoch(iso: str) -> float:
    return parse_iso(iso).timestamp()


def image(image_id: str, title: str) -> bytes:
    return json.dumps(
        {
            "id": image_id,
            "uploadTime": "2024-01-01T00:00:00.000Z",
            "uploadedBy": "bench",
            "source": {"file": "file:///bench", "size": 10_000, "mimeType": "image/jpeg"},
            "metadata": {"title": title, "description": "x" * 600},
            "originalMetadata": {"title": title, "description": "x" * 600},
        }
    ).encode()


# ---------------------------------------------------------------- the child: one thrall


def serve_thrall(home: str, out: str) -> None:
    """``runner.run_thrall`` on the stand-in index until SIGTERM; then the edits' latencies."""
    stop = False

    def on_term(*_args: Any) -> None:
        nonlocal stop
        stop = True

    signal.signal(signal.SIGTERM, on_term)
    settings = Settings.from_env({**os.environ, "REINGEST_HOME": home})
    with Components(settings) as components:
        index = LoadedIndex(settings.index_url)
        components.index = index
        run_thrall(components, should_stop=lambda: stop)
        Path(out).write_text(json.dumps(index.edit_latencies))


# ---------------------------------------------------------------- the parent: one slice


def throttle_env(mode: str, bound_ms: int, step: float) -> dict[str, str]:
    if mode == "off":
        return {"REINGEST_THROTTLE_MAX_RATE": "1e9", "REINGEST_THROTTLE_LATENCY_MS": "1000000000"}
    if mode == "throttle":
        return {"REINGEST_THROTTLE_LATENCY_MS": str(bound_ms), "REINGEST_THROTTLE_STEP": str(step)}
    rate = mode.removeprefix("fixed ")
    return {
        "REINGEST_THROTTLE_MIN_RATE": rate,
        "REINGEST_THROTTLE_MAX_RATE": rate,
        "REINGEST_THROTTLE_LATENCY_MS": str(bound_ms),
    }


def run_slice(mode: str, args: argparse.Namespace, rng: random.Random) -> dict[str, Any]:
    """One thrall under ``mode``: (edit latencies, low messages applied per second)."""
    backlog = int(CAPACITY * (WARM_UP + args.seconds) + 5_000)  # more than any mode consumes
    with tempfile.TemporaryDirectory() as folder:
        home = Path(folder)
        out = home / "latencies.json"
        env = {
            **os.environ,
            "REINGEST_HOME": str(home),
            **throttle_env(mode, args.bound, args.step),
        }
        with Components(Settings.from_env({"REINGEST_HOME": str(home)})) as components:
            streams = components.streams
            for start in range(0, backlog, 10_000):
                ids = range(start, min(start + 10_000, backlog))
                streams.publish(
                    Priority.LOW,
                    [image_payload(REINGEST_IMAGE, image(f"{n:040x}", "reingested")) for n in ids],
                )
            child = subprocess.Popen(
                [sys.executable, __file__, "--child", str(home), str(out)], env=env
            )
            try:
                time.sleep(WARM_UP)
                depth_before = streams.lag(Priority.LOW).depth
                measured_from = time.time()
                measured_until = measured_from + args.seconds
                n = 0
                while (now := time.time()) < measured_until:
                    edit_id = f"{EDIT}{n:039x}"
                    payload = image_payload(REINGEST_IMAGE, image(edit_id, "edit"), from_epoch(now))
                    streams.publish(Priority.HIGH, [payload])
                    n += 1
                    time.sleep(rng.expovariate(EDITS_PER_SECOND))
                depth_after = streams.lag(Priority.LOW).depth
                elapsed = time.time() - measured_from
                time.sleep(1.0)  # the last edits land
            finally:
                child.send_signal(signal.SIGTERM)
                child.wait(60)
        latencies = json.loads(out.read_text())
    return {
        "latencies": latencies,
        "edits": n,
        "throughput": (depth_before - depth_after) / elapsed,
    }


def p99(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[max(0, int(len(ordered) * 0.99) - 1)] * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bound", type=int, default=150, help="edit p99 bound, ms")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=15.0, help="measured seconds per slice")
    parser.add_argument("--step", type=float, default=100.0, help="REINGEST_THROTTLE_STEP")
    parser.add_argument("--rates", type=int, nargs="+", default=[600, 800, 1000, 1200, 1400])
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        serve_thrall(*args.child)
        return
    rng = random.Random(args.seed)
    modes = ["off", "throttle", *(f"fixed {rate}" for rate in args.rates)]
    results: dict[str, list[dict[str, Any]]] = {mode: [] for mode in modes}
    for round_number in range(args.rounds):
        order = modes if round_number % 2 == 0 else modes[::-1]
        for mode in order:
            result = run_slice(mode, args, rng)
            results[mode].append(result)
            print(
                f"round {round_number + 1} {mode:<12} edit p99 {p99(result['latencies']):7.1f} ms"
                f"  throughput {result['throughput']:7.1f}/s  ({len(result['latencies'])} edits)",
                flush=True,
            )
    rows = {}
    for mode, slices in results.items():
        latencies = [value for one in slices for value in one["latencies"]]
        rows[mode] = {
            "p50": statistics.median(latencies) * 1000,
            "p99": p99(latencies),
            "throughput": statistics.median(one["throughput"] for one in slices),
        }
    print()
    print(
        f"stand-in: {CAPACITY:,.0f} docs/s capacity, writes {BASE * 1000:.0f} ms + "
        f"{PER_DOC * 1000:.1f} ms/doc, ÷ (1 − load); {EDITS_PER_SECOND:.0f} edits/s; "
        f"{args.rounds} rounds of {args.seconds:.0f} s per mode (after {WARM_UP:.0f} s warm-up)"
    )
    print(f"{'mode':<14}{'edit p50 ms':>12}{'edit p99 ms':>12}{'images/s':>10}")
    for mode, row in rows.items():
        print(f"{mode:<14}{row['p50']:>12.1f}{row['p99']:>12.1f}{row['throughput']:>10.1f}")
    within = [
        mode for mode in modes if mode.startswith("fixed") and rows[mode]["p99"] <= args.bound
    ]
    throttle = rows["throttle"]
    print()
    print(f"bound: edit p99 ≤ {args.bound} ms")
    print(
        f"throttle: edit p99 {throttle['p99']:.1f} ms "
        f"({'within' if throttle['p99'] <= args.bound else 'OVER'} the bound), "
        f"{throttle['throughput']:.1f} images/s"
    )
    if within:
        best = max(within, key=lambda mode: rows[mode]["throughput"])
        sustained = rows[best]["throughput"]
        print(
            f"sustained at the bound (fastest fixed rate within it, {best}): "
            f"{sustained:.1f} images/s"
        )
        print(
            f"ratio throttle / sustained: {throttle['throughput'] / sustained:.2f} (target ≥ 0.8)"
        )
    else:
        print("no fixed rate kept the edit p99 within the bound: widen --rates")
    off = rows["off"]
    print(f"without the throttle: edit p99 {off['p99']:.1f} ms, {off['throughput']:.1f} images/s")


if __name__ == "__main__":
    main()
