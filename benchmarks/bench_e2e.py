"""End-to-end reingestion speed on the embedded default, against the bare projection rate.

Builds N small originals (the sample generator), then in one process on the same cores:
  baseline: project every image once (loader + data-service merge), nothing else;
  reingest: `run --until-done` from a lost index (claims, projection, stream, thrall, index,
  check), the progress table reset to NotStarted first.
The two alternate for --rounds rounds and each keeps its best time, so a busy moment on a shared
machine does not land on one side only. Prints images/s for both and the ratio (target ≥ 0.7:
orchestration costs ≤ 30 %).

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
from reingest.ids import upload_ids
from reingest.originals.base import UploadRecord
from reingest.projection import Projector
from reingest.runner import run
from reingest.sample import generate_sample_library
from reingest.services.local import LocalDataServices
from reingest.states import State


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=5000)
    parser.add_argument("--batch-size", type=int, default=100)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument(
        "--parallelism", type=int, default=1, help="projection threads per batch (1 = inline)"
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        home = Path(folder) / "home"
        sample = generate_sample_library(Path(folder) / "sample", count=args.images)
        settings = Settings.from_env(
            {
                "REINGEST_HOME": str(home),
                "BATCH_SIZE": str(args.batch_size),
                "REINGEST_PROJECTION_PARALLELISM": str(args.parallelism),
            }
        )
        with Components(settings) as components:
            assert isinstance(components.services, LocalDataServices)
            components.services.load(sample.services.items())
            ids = [
                components.originals.put(p.read_bytes(), UploadRecord(filename=p.name))[0]
                for p in sample.good
            ]
            projector = Projector(components.originals, components.services)
            for image_id in ids:  # as ingest would have: thumbnails made and stored once
                projector.project(image_id)
            upload_ids(components.progress, ids)
            bare_seconds: list[float] = []
            ours_seconds: list[float] = []
            for _round in range(args.rounds):
                started = time.perf_counter()
                for image_id in ids:
                    projector.project(image_id)
                bare_seconds.append(time.perf_counter() - started)

                components.index.clear()
                components.progress.reset(list(State), State.NotStarted)
                started = time.perf_counter()
                summary = run(components)
                ours_seconds.append(time.perf_counter() - started)
                verified = components.progress.counts().get(State.Verified, 0)
                assert verified == len(ids), f"only {verified} of {len(ids)} verified"
    bare, ours = len(ids) / min(bare_seconds), len(ids) / min(ours_seconds)
    print(
        f"end-to-end reingestion, {len(ids):,} small originals, batch {args.batch_size}, "
        f"projection parallelism {args.parallelism}, one process, best of {args.rounds} rounds"
    )
    print(f"{'bare projection':<22}{bare:>10,.0f} images/s")
    print(f"{'reingest run':<22}{ours:>10,.0f} images/s   ({summary.loops} loops per run)")
    print(f"{'ratio':<22}{ours / bare:>10.2f}   (target >= 0.70)")
    paired = [b / o for b, o in zip(bare_seconds, ours_seconds, strict=True)]
    print(
        f"{'ratio per round':<22}{', '.join(f'{r:.2f}' for r in paired)} "
        f"(median {statistics.median(paired):.2f})"
    )


if __name__ == "__main__":
    main()
