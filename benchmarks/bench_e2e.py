"""End-to-end reingestion speed on the embedded default, against the bare projection rate.

Builds N small originals (the sample generator), then in one process on the same cores:
  baseline: project every image (loader + data-service merge), nothing else;
  reingest: `run --until-done` (claims, projection, stream, thrall, index, check).
The ids go in slices of --slice images, and each slice is timed both ways back to back, so a
busy moment on a shared machine lands on both sides instead of skewing one. Each round starts
from a lost index and a new progress table. Prints images/s for both and the ratio (target
≥ 0.7: orchestration costs ≤ 30 %).

    python benchmarks/bench_e2e.py --images 5000
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from reingest.backends import Components
from reingest.config import Settings
from reingest.originals.base import UploadRecord
from reingest.projection import Projector
from reingest.runner import run
from reingest.sample import generate_sample_library
from reingest.services.local import LocalDataServices
from reingest.states import State
from reingest.workers import settle_garbage_collector


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=5000)
    parser.add_argument("--batch-size", type=int, default=100)
    parser.add_argument("--slice", type=int, default=500, help="images timed back to back")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument(
        "--parallelism", type=int, default=1, help="projection threads per batch (1 = inline)"
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        home = Path(folder) / "home"
        sample = generate_sample_library(Path(folder) / "sample", count=args.images)
        env = {
            "REINGEST_HOME": str(home),
            "BATCH_SIZE": str(args.batch_size),
            "REINGEST_PROJECTION_PARALLELISM": str(args.parallelism),
        }
        with Components(Settings.from_env(env)) as components:
            assert isinstance(components.services, LocalDataServices)
            components.services.load(sample.services.items())
            ids = [
                components.originals.put(p.read_bytes(), UploadRecord(filename=p.name))[0]
                for p in sample.good
            ]
            projector = Projector(components.originals, components.services)
            for image_id in ids:  # as ingest would have: thumbnails made and stored once
                projector.project(image_id)
            components.index.clear()

        settle_garbage_collector()  # as `reingest run` does once started (both sides run under it)
        bare_seconds: list[float] = []
        ours_seconds: list[float] = []
        for round_number in range(args.rounds):
            progress_url = f"sqlite:///{home}/progress-{round_number}.db"
            settings = Settings.from_env({**env, "REINGEST_PROGRESS_URL": progress_url})
            with Components(settings) as components:
                components.index.clear()
                projector = Projector(components.originals, components.services)
                for start in range(0, len(ids), args.slice):
                    part = ids[start : start + args.slice]
                    started = time.perf_counter()
                    for image_id in part:
                        projector.project(image_id)
                    bare_seconds.append(time.perf_counter() - started)

                    started = time.perf_counter()
                    components.progress.add(part)
                    run(components)
                    ours_seconds.append(time.perf_counter() - started)
                verified = components.progress.counts().get(State.Verified, 0)
                assert verified == len(ids), f"only {verified} of {len(ids)} verified"

    bare = len(ids) * args.rounds / sum(bare_seconds)
    ours = len(ids) * args.rounds / sum(ours_seconds)
    paired = [b / o for b, o in zip(bare_seconds, ours_seconds, strict=True)]
    print(
        f"end-to-end reingestion, {len(ids):,} small originals, batch {args.batch_size}, "
        f"projection parallelism {args.parallelism}, one process, {args.rounds} rounds "
        f"of {len(paired) // args.rounds} slices"
    )
    print(f"{'bare projection':<22}{bare:>10,.0f} images/s")
    print(f"{'reingest run':<22}{ours:>10,.0f} images/s")
    print(f"{'ratio':<22}{ours / bare:>10.2f}   (target >= 0.70)")
    quartiles = statistics.quantiles(paired, n=4)
    print(
        f"{'ratio per slice':<22}{statistics.median(paired):>10.2f}   median "
        f"(quartiles {quartiles[0]:.2f}-{quartiles[2]:.2f}, {len(paired)} slices)"
    )


if __name__ == "__main__":
    main()
