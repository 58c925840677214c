"""Cost of hostile files: each built file is projected (``build_image``, as ``reingest
project-file``) in a fresh process, which reports its time and peak RSS above the process's own
after start-up, within a timeout. The per-file bound is 5 s and 512 MB.

    .venv/bin/python benchmarks/bench_hostile.py [--timeout 30]
    PYTHONPATH=/path/to/other/checkout/src .venv/bin/python benchmarks/bench_hostile.py

The files are those of tests/loader/hostile_files.py.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "loader"))

import hostile_files as h

FILES: dict[str, tuple[str, h.Builder]] = {
    "120 iTXt chunks of 16 MiB": ("itxt.png", h.png_text_bombs),
    "120 iCCP chunks of 16 MiB": ("iccp.png", h.png_icc_bombs),
    "16 rationals over 4 MB": ("rationals-4.tif", lambda: h.tiff_shared_rationals(4 << 20)),
    "16 rationals over 16 MB": ("rationals-16.tif", h.tiff_shared_rationals),
    "10 ASCII tags over 16 MB": ("texts.tif", h.tiff_shared_text),
    "256 ICC texts over 16 MB": ("icc.tif", h.tiff_icc_text_bombs),
    "IPTC: 9M 5-byte datasets": ("iptc.jpg", h.iptc_tiny_datasets),
    "48 MB of JPEG fill bytes": ("fill.jpg", h.jpeg_fill_bytes),
    "4M empty JPEG segments": ("segments.jpg", h.jpeg_tiny_segments),
    "4M empty PNG chunks": ("chunks.png", h.png_tiny_chunks),
    "XMP nested 1000 deep": ("deep.png", lambda: h.png_with([h.png_chunk(
        b"iTXt", b"XML:com.adobe.xmp\x00\x00\x00\x00\x00" + h.deep_rdf(1000))])),
}  # fmt: skip

CHILD = """
import resource, sys, time
from reingest.loader import build_image
from reingest.originals.base import StoredOriginal, UploadRecord, image_id_of
data = open(sys.argv[1], "rb").read()
name = sys.argv[2]
stored = StoredOriginal(image_id_of(data), data, "file:///x", UploadRecord(filename=name), "t")
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
started = time.perf_counter()
try:
    try:
        image = build_image(stored, "2024-01-01T00:00:00.000Z", processors=())
    except TypeError:  # a checkout from before the processor chain
        image = build_image(stored, "2024-01-01T00:00:00.000Z")
    image.to_json_bytes()
    outcome = "Image"
except Exception as error:
    outcome = f"{type(error).__name__}: {str(error)[:70]}"
elapsed = time.perf_counter() - started
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before
print(f"{elapsed:8.2f} s {peak / 1024:8.0f} MB  {outcome}")
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--timeout", type=float, default=30.0, help="seconds per file")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        for label, (name, build) in FILES.items():
            path = Path(tmp) / name
            path.write_bytes(build())
            size = path.stat().st_size / 1e6
            try:
                done = subprocess.run(
                    [sys.executable, "-c", CHILD, str(path), name],
                    capture_output=True,
                    text=True,
                    timeout=args.timeout,
                    check=False,
                )
                result = done.stdout.strip() or done.stderr.strip().splitlines()[-1]
            except subprocess.TimeoutExpired:
                result = f"> {args.timeout:.0f} s (killed)"
            print(f"{label:28} {size:6.1f} MB file  {result}", flush=True)


if __name__ == "__main__":
    main()
