"""Audit speed beside the bare projection rate, and the id-set merge's memory at scale.

    python benchmarks/bench_audit.py --images 300 --ids 10000000

1. A generated library of ``--images`` originals is indexed through a real run; then, back to
   back in one process, the bare projection (``Projector.project`` of every id, nothing else)
   and a full audit (projection + ``get_many`` + thrall's rule + diff) are timed: images/s each
   and their ratio.
2. In a fresh process, two ascending streams of ``--ids`` synthetic ids each (generators, no
   files; a third of them on both sides) are merged: ids/s and peak RSS, beside the same
   process's RSS before the merge.
"""

from __future__ import annotations

import argparse
import contextlib
import multiprocessing
import resource
import tempfile
import time
from pathlib import Path


def library_rates(images: int) -> None:
    from reingest.audit import Auditor
    from reingest.backends import Components
    from reingest.config import Settings
    from reingest.ids import queue_full_reindex
    from reingest.quickstart import store_sample_library
    from reingest.runner import run
    from reingest.sample import generate_sample_library

    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp) / "home"
        env = {"REINGEST_HOME": str(home), "REINGEST_PROJECTION_PARALLELISM": "1"}
        with Components(Settings.from_env(env)) as components:
            sample = generate_sample_library(Path(tmp) / "sample", count=images)
            store_sample_library(components, sample)
            queue_full_reindex(components.progress, components.originals)
            run(components, until_done=True)
            ids = list(components.originals.ids())
            projector = components.local_projector

            started = time.perf_counter()
            for image_id in ids:
                with contextlib.suppress(Exception):  # broken files: the audit pays for them too
                    projector.project(image_id)
            bare = len(ids) / (time.perf_counter() - started)

            started = time.perf_counter()
            report = Auditor(
                components.index, components.originals, projector, components.settings
            ).run()
            audited = report.checked / (time.perf_counter() - started)
    print(
        f"library: {len(ids)} originals ({report.checked} checked, {report.drifted.count} drifted)"
    )
    print(f"bare projection   {bare:8.1f} images/s")
    print(f"audit             {audited:8.1f} images/s  ({audited / bare:.2f}× the bare projection)")


def _merge(ids: int, queue: multiprocessing.Queue) -> None:  # type: ignore[type-arg]
    from reingest.audit import merge_ids

    def stream(step: int) -> object:
        return (f"{n:040x}" for n in range(0, ids * step, step))

    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    started = time.perf_counter()
    seen = 0
    for _ in merge_ids(stream(2), stream(3)):  # type: ignore[arg-type]
        seen += 1
    seconds = time.perf_counter() - started
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    queue.put((seen, seconds, before, peak))


def merge_memory(ids: int) -> None:
    context = multiprocessing.get_context("spawn")
    queue = context.Queue()
    child = context.Process(target=_merge, args=(ids, queue))
    child.start()
    seen, seconds, before, peak = queue.get()
    child.join()
    print(
        f"id-set merge: 2 × {ids:,} ids → {seen:,} distinct in {seconds:.1f}s "
        f"({2 * ids / seconds / 1e6:.2f}M ids/s read); peak RSS {peak / 1024:.1f} MB "
        f"(process before the merge: {before / 1024:.1f} MB)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--images", type=int, default=300)
    parser.add_argument("--ids", type=int, default=10_000_000)
    args = parser.parse_args()
    library_rates(args.images)
    merge_memory(args.ids)


if __name__ == "__main__":
    main()
