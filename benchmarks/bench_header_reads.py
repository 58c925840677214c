"""Header reads: bytes read and images/s projecting originals from a first window on (only the
structures past it fetched), against reading each original whole, from file:// and s3://.

The corpus: --images multi-megabyte originals, JPEG, TIFF and PNG in turn (4-7 MB JPEGs,
5-11 MB uncompressed TIFFs, 4-7 MB PNGs of grainy gradients), each with an sRGB ICC profile and
EXIF, IPTC and XMP written by exiv2 (as the sample library's). They are stored in a folder
(file://) and in a bucket of a throw-away moto server (s3://, as the tests use), read both with
S3's default request cost (`s3`: a round trip costs a megabyte, so a PNG's chunk headers are
read in waves of parallel GETs where those cost less than its rest, else its rest in one GET)
and with none (`s3 rc=0`: the fewest bytes whatever the round trips); thumbnails are stored
first, as ingest does, so a projection reads only what the loader needs. Bytes, requests and
round trips (a call's ranges count once: S3 makes their GETs in parallel) are counted at the
store, and every projection made by header reads is checked to equal the one made by whole
reads (target: header reads <= 10 % of the bytes of whole reads, same projections).

Each round projects every image both ways in slices of --slice images, header and whole reads
back to back (alternating which goes first), so a busy moment on a shared machine lands on both;
images/s are medians over the slices. moto answers a GET in ~6 ms of its own CPU (on the same
cores) and streams ~800 MB/s over loopback, which flatters whole reads; the last line models
S3 in a region instead (20 ms a round trip, 90 MB/s a stream) from the round trips and bytes
counted. The client's CPU per image (this process's; moto runs in its own) comes on top; moto
closes the connection after each answer, so every ranged GET on libcurl connects anew here,
which S3 does not make it do (it keeps connections alive).

    .venv/bin/python benchmarks/bench_header_reads.py [--images 15] [--rounds 3]
"""

from __future__ import annotations

import argparse
import io
import os
import random
import statistics
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PIL import Image, ImageCms

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from aws import CREDENTIALS, throwaway_moto
from reingest.loader.thumbnail import make_thumbnail
from reingest.originals.base import OriginalsStore, StoredOriginal, UploadRecord
from reingest.originals.file import FileOriginalsStore
from reingest.originals.s3 import S3OriginalsStore
from reingest.originals.source import WINDOW, Source, whole
from reingest.projection import Projector
from reingest.sample import embed_metadata
from reingest.services.local import LocalDataServices

FORMATS = ("JPEG", "TIFF", "PNG")
#: width range per format (3:2 pictures) and save options
SHAPES: dict[str, tuple[int, int, dict[str, Any]]] = {
    "JPEG": (3000, 4000, {"quality": 92}),
    "TIFF": (1600, 2200, {}),
    "PNG": (1500, 2000, {}),
}
TARGET = 0.10
#: a GET's first byte and one stream's throughput from S3 in the same region, for the model
S3_LATENCY, S3_BANDWIDTH = 0.020, 90e6


def photo(fmt: str, seed: int, icc: bytes) -> bytes:
    """A grainy gradient (so it stays multi-megabyte) with ICC, EXIF, IPTC and XMP."""
    rng = random.Random(seed)
    low, high, options = SHAPES[fmt]
    width = rng.randrange(low, high)
    size = (width, width * 2 // 3)
    gradient = Image.linear_gradient("L").resize(size)
    channels = [
        Image.blend(
            gradient.rotate(90 * c).resize(size), Image.effect_noise(size, 30 + 10 * c), 0.5
        )
        for c in range(3)
    ]
    out = io.BytesIO()
    Image.merge("RGB", channels).save(out, fmt, icc_profile=icc, **options)
    return embed_metadata(out.getvalue(), seed)


class Counted(OriginalsStore):
    """Counts the requests made for originals, their round trips (the ranges read at once count
    once) and the bytes they bring (thumbnails aside)."""

    requests = 0
    round_trips = 0
    bytes_read = 0

    def get(self, image_id: str) -> StoredOriginal:
        stored = super().get(image_id)
        self._count(1, len(whole(stored.data)))
        return stored

    def get_ranged(self, image_id: str, window: int) -> StoredOriginal:
        stored = super().get_ranged(image_id, window)
        data = stored.data
        self._count(1, min(window, data.size) if isinstance(data, Source) else len(data))
        return stored

    def read_ranges(self, image_id: str, ranges: list[tuple[int, int]]) -> list[bytes]:
        answers = super().read_ranges(image_id, ranges)
        self._count(len(answers), sum(len(data) for data in answers))
        return answers

    def _count(self, requests: int, size: int) -> None:
        self.requests += requests
        self.round_trips += 1
        self.bytes_read += size


class CountedFile(Counted, FileOriginalsStore):
    pass


class CountedS3(Counted, S3OriginalsStore):
    pass


@contextmanager
def stores(folder: Path) -> Iterator[dict[str, Counted]]:
    """A folder, and a bucket on a throw-away moto server read with S3's request cost (the
    default) and with none (the fewest bytes)."""
    with throwaway_moto() as endpoint:
        os.environ.update(CREDENTIALS)
        os.environ["AWS_ENDPOINT_URL"] = endpoint
        s3 = CountedS3("s3://originals")
        s3.client.create_bucket(Bucket="originals")
        yield {
            "file": CountedFile((folder / "originals").as_uri()),
            "s3": s3,
            "s3 rc=0": CountedS3("s3://originals?request_cost=0"),
        }


@dataclass
class Costs:
    """What projecting some images cost: images, requests, round trips, bytes, and the CPU
    time of this process (the client: moto runs in a process of its own)."""

    images: int = 0
    requests: int = 0
    round_trips: int = 0
    bytes_read: int = 0
    cpu: float = 0.0

    def add(self, other: Costs) -> None:
        self.images += other.images
        self.requests += other.requests
        self.round_trips += other.round_trips
        self.bytes_read += other.bytes_read
        self.cpu += other.cpu


def project(projector: Projector, store: Counted, image_id: str) -> tuple[Any, Costs]:
    """The projection, and the requests, round trips, bytes and client CPU it took."""
    before = Costs(0, store.requests, store.round_trips, store.bytes_read, time.process_time())
    image = projector.project(image_id).to_json()
    return image, Costs(
        1,
        store.requests - before.requests,
        store.round_trips - before.round_trips,
        store.bytes_read - before.bytes_read,
        time.process_time() - before.cpu,
    )


def timed(projector: Projector, ids: list[str]) -> float:
    """Images per second projecting ``ids``."""
    started = time.perf_counter()
    for image_id in ids:
        projector.project(image_id)
    return len(ids) / (time.perf_counter() - started)


def measure(
    store: Counted, modes: dict[str, Projector], corpus: list[tuple[str, str]], args: Any
) -> tuple[dict[tuple[str, str], Costs], dict[str, float], int]:
    """Costs per (mode, format), median images/s per mode, and projections that differ."""
    costs: dict[tuple[str, str], Costs] = defaultdict(Costs)
    differ = 0
    for image_id, fmt in corpus:
        made = {}
        for mode, projector in modes.items():
            made[mode], cost = project(projector, store, image_id)
            for key in ((mode, fmt), (mode, "all")):
                costs[key].add(cost)
        differ += made["header"] != made["whole"]
    rates: dict[str, list[float]] = {mode: [] for mode in modes}
    ids = [image_id for image_id, _ in corpus]
    for round_number in range(args.rounds):
        order = list(modes) if round_number % 2 == 0 else list(reversed(modes))
        for start in range(0, len(ids), args.slice):
            for mode in order:
                rates[mode].append(timed(modes[mode], ids[start : start + args.slice]))
    return costs, {mode: statistics.median(r) for mode, r in rates.items()}, differ


def row(name: str, fmt: str, header: Costs, whole_read: Costs, speeds: str = "") -> str:
    ratio = header.bytes_read / whole_read.bytes_read
    return (
        f"{name:<9}{fmt:<6}{header.bytes_read / header.images / 1e3:>14,.0f}"
        f"{whole_read.bytes_read / whole_read.images / 1e3:>14,.0f}{ratio:>8.1%}"
        f"{header.requests / header.images:>10.1f}{header.round_trips / header.images:>10.1f}"
        f"{1000 * header.cpu / header.images:>9.1f}{1000 * whole_read.cpu / whole_read.images:>9.1f}"
        f"{speeds}"
    )


def modelled_ms(costs: Costs) -> float:
    """Milliseconds per image fetching from S3 in a region, one round trip at a time."""
    seconds = costs.round_trips * S3_LATENCY + costs.bytes_read / S3_BANDWIDTH
    return 1000 * seconds / costs.images


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=15, help="originals (JPEG, TIFF, PNG)")
    parser.add_argument("--rounds", type=int, default=3, help="timed passes over the corpus")
    parser.add_argument("--slice", type=int, default=3, help="images timed back to back")
    parser.add_argument("--window", type=int, default=WINDOW, help="first bytes read")
    args = parser.parse_args()
    icc = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    originals = [(FORMATS[n % 3], photo(FORMATS[n % 3], n, icc)) for n in range(args.images)]
    sizes = {fmt: [len(data) for f, data in originals if f == fmt] for fmt in FORMATS}
    shown = ", ".join(f"{len(sizes[f])} {f} of {statistics.mean(sizes[f]) / 1e6:.1f} MB"
                      for f in FORMATS if sizes[f])  # fmt: skip
    total = sum(len(data) for _, data in originals) / 1e6
    print(f"corpus: {len(originals)} originals, {total:.0f} MB ({shown} on average)")
    print(f"{'store':<9}{'format':<6}{'header KB/img':>14}{'whole KB/img':>14}{'ratio':>8}"
          f"{'req/img':>10}{'trips/img':>10}{'CPU ms':>9}{'(whole)':>9}"
          f"{'header img/s':>14}{'whole img/s':>13}"
          f"{'speed-up':>10}")  # fmt: skip
    ratios, models, differ = [], [], 0
    with tempfile.TemporaryDirectory(prefix="bench-header-reads-") as folder:
        services = LocalDataServices(f"sqlite:///{folder}/services.db")
        with stores(Path(folder)) as opened:
            for name, store in opened.items():
                corpus = []
                for fmt, data in originals:  # stored as an upload stores them, thumbnail too
                    image_id, _ = store.put(data, UploadRecord(filename=f"bench.{fmt.lower()}"))
                    store.put_thumbnail(image_id, make_thumbnail(data))
                    corpus.append((image_id, fmt))
                modes = {
                    "header": Projector(store, services, window=args.window),
                    "whole": Projector(store, services, window=0),
                }
                costs, rates, different = measure(store, modes, corpus, args)
                differ += different
                for fmt in FORMATS:
                    if costs[("header", fmt)].images:
                        print(row(name, fmt, costs[("header", fmt)], costs[("whole", fmt)]))
                header, whole_read = costs[("header", "all")], costs[("whole", "all")]
                speeds = (f"{rates['header']:>14.1f}{rates['whole']:>13.1f}"
                          f"{rates['header'] / rates['whole']:>10.2f}")  # fmt: skip
                print(row(name, "all", header, whole_read, speeds))
                ratios.append(f"{name} {header.bytes_read / whole_read.bytes_read:.1%}")
                if name.startswith("s3"):
                    models.append(
                        f"{name} {modelled_ms(header):.0f} vs {modelled_ms(whole_read):.0f}"
                    )
    print(f"target: header reads <= {TARGET:.0%} of the bytes of whole reads: {', '.join(ratios)}")
    print(f"modelled for S3 in a region ({S3_LATENCY * 1000:.0f} ms a round trip, "
          f"{S3_BANDWIDTH / 1e6:.0f} MB/s), ms per image, header vs whole: {'; '.join(models)}")  # fmt: skip
    pairs = len(originals) * len(opened)
    print(f"projections: {pairs - differ} of {pairs} identical, header reads vs whole reads")
    if differ:
        sys.exit(1)


if __name__ == "__main__":
    main()
