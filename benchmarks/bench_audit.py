"""Audit speed beside the bare projection rate, and the id-set merge's memory at scale.

    python benchmarks/bench_audit.py --images 1000 --ids 10000000

1. A generated library of ``--images`` originals is indexed through a real run; then, slice by
   slice and back to back in one process (``--rounds`` times), the bare projection
   (``Projector.project`` of every id, nothing else) and the audit's work on the same ids
   (projection + ``get_many`` + thrall's rule + compare) are timed: images/s each and their
   ratio; then one whole ``Auditor.run()`` (id listing and merge included).
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


def library_rates(images: int, rounds: int, slice_size: int) -> None:
    from reingest.audit import Auditor, findings
    from reingest.backends import Components
    from reingest.batching import chunked
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
            projector, settings = components.local_projector, components.settings
            bare_seconds = audit_seconds = 0.0
            # slices timed back to back, so a busy moment on a shared machine lands on both
            for _round in range(rounds):
                for part in chunked(ids, slice_size):
                    started = time.perf_counter()
                    for image_id in part:
                        with contextlib.suppress(Exception):  # the audit pays for broken ones too
                            projector.project(image_id)
                    bare_seconds += time.perf_counter() - started
                    started = time.perf_counter()
                    for batch in chunked(part, settings.batch_size):
                        findings(batch, components.index, projector, settings)
                    audit_seconds += time.perf_counter() - started
            started = time.perf_counter()
            report = Auditor(components.index, components.originals, projector, settings).run()
            whole = report.checked / (time.perf_counter() - started)
    bare = len(ids) * rounds / bare_seconds
    audited = len(ids) * rounds / audit_seconds
    print(
        f"library: {len(ids)} originals ({report.checked} checked, {report.drifted.count} drifted)"
    )
    print(f"bare projection   {bare:8.1f} images/s")
    print(f"audit             {audited:8.1f} images/s  ({audited / bare:.2f}× the bare projection)")
    print(f"a whole audit     {whole:8.1f} images/s  (id listing and merge included, one run)")


def _merge(ids: int, queue: multiprocessing.Queue) -> None:  # type: ignore[type-arg]
    from reingest.id_sources import merge_ids

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
    parser.add_argument("--images", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--slice", type=int, default=200, help="images timed back to back")
    parser.add_argument("--ids", type=int, default=10_000_000)
    args = parser.parse_args()
    library_rates(args.images, args.rounds, args.slice)
    merge_memory(args.ids)


if __name__ == "__main__":
    main()
