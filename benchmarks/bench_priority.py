"""High-priority latency with and without a reingestion backlog on the low-priority stream.

A `reingest thrall` process consumes a fresh home; this process posts user-edit messages on
the high stream one at a time and times how long each takes to become visible in the index,
first with empty streams, then with --backlog reingest messages waiting on the low stream.

    python benchmarks/bench_priority.py --backlog 100000 --samples 200
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from reingest.backends import Components
from reingest.config import Settings
from reingest.messages import REINGEST_IMAGE, image_payload
from reingest.model import Asset, Image, ImageMetadata
from reingest.streams.base import Priority


def image(image_id: str, title: str) -> Image:
    metadata = ImageMetadata(
        title=title, description="x" * 600, keywords=["a", "b"], subjects=[], peopleInImage=[]
    )
    return Image(
        id=image_id,
        uploadTime="2024-01-01T00:00:00.000Z",
        uploadedBy="bench",
        source=Asset(file="file:///bench", size=10_000, mimeType="image/jpeg"),
        metadata=metadata,
        originalMetadata=metadata,
    )


def latencies(components: Components, samples: int, prefix: str) -> list[float]:
    found: list[float] = []
    for n in range(samples):
        image_id = f"{prefix}{n:039x}"  # a Grid id: 40 lower-case hex digits
        started = time.perf_counter()
        components.streams.publish(
            Priority.HIGH, [image_payload(REINGEST_IMAGE, image(image_id, "edit"))]
        )
        while components.index.get(image_id) is None:
            time.sleep(0.0005)
        found.append(time.perf_counter() - started)
    return found


def describe(values: list[float]) -> tuple[float, float]:
    ordered = sorted(values)
    return statistics.median(ordered) * 1000, ordered[int(len(ordered) * 0.99) - 1] * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backlog", type=int, default=100_000)
    parser.add_argument("--samples", type=int, default=200)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        home = Path(folder)
        env = {**os.environ, "REINGEST_HOME": str(home)}
        with Components(Settings.from_env({"REINGEST_HOME": str(home)})) as components:
            thrall = subprocess.Popen(
                [sys.executable, "-m", "reingest", "thrall"], env=env, stdout=subprocess.DEVNULL
            )
            try:
                idle = latencies(components, args.samples, "a")
                payload = image_payload(REINGEST_IMAGE, image("b" * 40, "reingested"))
                for start in range(0, args.backlog, 10_000):
                    components.streams.publish(
                        Priority.LOW, [payload] * min(10_000, args.backlog - start)
                    )
                loaded = latencies(components, args.samples, "c")
                left = components.streams.lag(Priority.LOW).depth
            finally:
                thrall.terminate()
                thrall.wait()
    idle_p50, idle_p99 = describe(idle)
    load_p50, load_p99 = describe(loaded)
    print(f"high-priority latency, {args.samples} edits each (publish → visible in the index)")
    print(f"{'':<26}{'p50 ms':>10}{'p99 ms':>10}")
    print(f"{'streams empty':<26}{idle_p50:>10.1f}{idle_p99:>10.1f}")
    print(f"{f'{args.backlog:,} low waiting':<26}{load_p50:>10.1f}{load_p99:>10.1f}")
    print(f"{'ratio (loaded / empty)':<26}{load_p50 / idle_p50:>10.2f}{load_p99 / idle_p99:>10.2f}")
    print(
        f"low-priority messages still waiting at the end: {left:,} (thrall kept serving edits first)"
    )


if __name__ == "__main__":
    main()
