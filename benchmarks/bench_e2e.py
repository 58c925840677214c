"""End-to-end reingestion speed on the embedded default, against the bare projection rate.

Builds N small originals (the sample generator), then in one process on the same cores:
  baseline: project every image once (loader + data-service merge), nothing else;
  reingest: ids upload + `run --until-done` (claims, projection, stream, thrall, index, check).
Prints images/s for both and the ratio (target ≥ 0.7: orchestration costs ≤ 30 %).

    python benchmarks/bench_e2e.py --images 5000
"""

from __future__ import annotations

import argparse
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
            started = time.perf_counter()
            for image_id in ids:
                projector.project(image_id)
            bare = len(ids) / (time.perf_counter() - started)

            started = time.perf_counter()
            upload_ids(components.progress, ids)
            summary = run(components)
            seconds = time.perf_counter() - started
            verified = components.progress.counts().get(State.Verified, 0)
        assert verified == len(ids), f"only {verified} of {len(ids)} verified"
    ours = verified / seconds
    print(
        f"end-to-end reingestion, {len(ids):,} small originals, batch {args.batch_size}, "
        f"projection parallelism {args.parallelism}, one process"
    )
    print(f"{'bare projection':<22}{bare:>10,.0f} images/s")
    print(f"{'reingest run':<22}{ours:>10,.0f} images/s   ({summary.loops} loops, {seconds:.1f}s)")
    print(f"{'ratio':<22}{ours / bare:>10.2f}   (target >= 0.70)")


if __name__ == "__main__":
    main()
