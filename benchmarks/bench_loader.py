"""Loader speed: files/s for our loader beside exiftool and Pillow, measured in the same run.

The corpus is Grid's fixture images (the readable ones) copied until there are at least
``--files`` of them, plus a few multi-megabyte JPEGs (the two exif-orientated fixtures and
generated 3000x2000 photos carrying EXIF and XMP). Every loop reads each file from disk.

    .venv/bin/python benchmarks/bench_loader.py
"""

from __future__ import annotations

import argparse
import io
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from PIL import Image, IptcImagePlugin

from reingest.errors import LoaderError
from reingest.loader import image_metadata, read_file

FIXTURES = Path(__file__).resolve().parents[1] / "tests" / "fixtures" / "grid-images"
XMP_PACKET = (
    '<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF '
    'xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
    '<rdf:Description rdf:about="" xmlns:dc="http://purl.org/dc/elements/1.1/" '
    'xmlns:photoshop="http://ns.adobe.com/photoshop/1.0/" photoshop:City="London">'
    "<dc:creator><rdf:Seq><rdf:li>Bench Photographer</rdf:li></rdf:Seq></dc:creator>"
    "<dc:subject><rdf:Bag><rdf:li>bench</rdf:li><rdf:li>loader</rdf:li></rdf:Bag></dc:subject>"
    "</rdf:Description></rdf:RDF></x:xmpmeta>"
)


def readable_fixtures() -> list[Path]:
    """Fixture images our loader reads (the broken and unsupported ones are left out)."""
    found = []
    for path in sorted(FIXTURES.rglob("*")):
        if path.is_file() and path.suffix.lower() in (".jpg", ".png", ".tif"):
            try:
                read_file(path.read_bytes(), path.name)
            except LoaderError:
                continue
            found.append(path)
    return found


def generated_photo(seed: int) -> bytes:
    """A 3000x2000 JPEG of noise (so it stays multi-megabyte) with EXIF and XMP."""
    noise = random.Random(seed).randbytes(3000 * 2000 * 3)
    image = Image.frombytes("RGB", (3000, 2000), noise)
    exif = Image.Exif()
    exif[0x013B] = "Bench Photographer"  # Artist
    exif[0x0112] = 6  # Orientation
    exif.get_ifd(0x8769)[0x9003] = "2024:05:06 07:08:09"  # DateTimeOriginal
    out = io.BytesIO()
    image.save(out, "JPEG", quality=85, exif=exif, xmp=XMP_PACKET.encode())
    return out.getvalue()


def build_corpus(folder: Path, at_least: int, generated: int) -> list[Path]:
    sources = readable_fixtures()
    if not sources:
        sys.exit(f"no fixture images found under {FIXTURES}")
    small = [p for p in sources if p.stat().st_size < 1_000_000]
    files: list[Path] = []
    copy = 0
    while len(files) < at_least:
        for source in small:
            target = folder / f"{copy:04d}-{source.name}"
            shutil.copyfile(source, target)
            files.append(target)
        copy += 1
    for source in (p for p in sources if p not in small):
        target = folder / f"big-{source.name}"
        shutil.copyfile(source, target)
        files.append(target)
    for seed in range(generated):
        target = folder / f"generated-{seed}.jpg"
        target.write_bytes(generated_photo(seed))
        files.append(target)
    return files


Loop = Callable[[Path], None]
OURS = "ours (read_file + image_metadata)"


def ours(path: Path) -> None:
    facts = read_file(path.read_bytes(), path.name)
    image_metadata(facts.file_metadata, None)


def pillow_bare(path: Path) -> None:
    with Image.open(path) as image:
        _ = image.size


def pillow_metadata(path: Path) -> None:
    with Image.open(path) as image:
        _ = image.size
        image.getexif()
        IptcImagePlugin.getiptcinfo(image)
        image.info.get("xmp") or image.info.get("XML:com.adobe.xmp")


def measure(loops: dict[str, Loop], files: list[Path], rounds: int) -> dict[str, float]:
    """Files per CPU-second of each loop, best of ``rounds`` passes taken in turn, so that a
    busy neighbour on a shared machine slows every loop alike and none of them alone."""
    best = dict.fromkeys(loops, float("inf"))
    for _ in range(rounds):
        for name, loop in loops.items():
            started = time.process_time()
            for path in files:
                loop(path)
            best[name] = min(best[name], time.process_time() - started)
    return {name: len(files) / seconds for name, seconds in best.items()}


def exiftool_rate(folder: Path, count: int) -> float | None:
    """Files per CPU-second of ``exiftool -j`` over the folder in one process (its user +
    system time); installs exiftool when root."""
    if shutil.which("exiftool") is None and os.geteuid() == 0:
        print("installing exiftool (apt-get install -y libimage-exiftool-perl)...", flush=True)
        subprocess.run(
            ["apt-get", "install", "-y", "-q", "libimage-exiftool-perl"],
            check=False,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
    if shutil.which("exiftool") is None:
        return None
    before = os.times()
    subprocess.run(["exiftool", "-j", "-q", str(folder)], check=True, stdout=subprocess.DEVNULL)
    after = os.times()
    return count / (
        after.children_user + after.children_system - before.children_user - before.children_system
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=2000, help="small files (at least)")
    parser.add_argument("--generated", type=int, default=4, help="3000x2000 JPEGs to add")
    parser.add_argument("--rounds", type=int, default=5, help="passes per Python loop (best)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-loader-") as temporary:
        folder = Path(temporary)
        files = build_corpus(folder, args.files, args.generated)
        megabytes = sum(p.stat().st_size for p in files) / 1e6
        big = sum(1 for p in files if p.stat().st_size >= 1_000_000)
        print(f"corpus: {len(files)} files, {megabytes:.0f} MB ({big} of them >= 1 MB)")
        loops: dict[str, Loop] = {
            OURS: ours,
            "Pillow bare (open + size)": pillow_bare,
            "Pillow + EXIF/IPTC/XMP": pillow_metadata,
        }
        rates = measure(loops, files, args.rounds)
        exiftool = exiftool_rate(folder, len(files))
    mine = rates[OURS]
    print(f"{'loop (files per CPU-second)':<36}{'files/s':>10}{'ours / it':>12}")
    for name, rate in rates.items():
        print(f"{name:<36}{rate:>10,.0f}{mine / rate:>12.2f}")
    if exiftool is None:
        print(f"{'exiftool -j':<36}{'skipped (exiftool missing, not root to install it)':>10}")
    else:
        print(f"{'exiftool -j (one process)':<36}{exiftool:>10,.0f}{mine / exiftool:>12.2f}")
    print("targets: ours >= 3 x exiftool; ours >= 0.8 x Pillow (with metadata at least)")


if __name__ == "__main__":
    main()
