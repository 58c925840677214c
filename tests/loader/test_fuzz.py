"""Seeded, time-bounded, structure-aware fuzzing of the loader on Grid's fixture images.

Each case mutates one fixture where its structure lives (a byte inside a JPEG segment, PNG
chunk or TIFF IFD entry; a segment's length; an entry's type, count or offset; a duplicated
chunk; a truncation) and projects it as ``reingest project-file`` does (``build_image``). Every
outcome must be an Image that serialises to valid UTF-8 JSON, or a LoaderError whose reason
speaks of the file, never of Python. A failure names its seed and case, which replay alone.

The CI run is bounded by time; a longer campaign, e.g. ten minutes from another seed:

    REINGEST_FUZZ_SECONDS=600 REINGEST_FUZZ_SEED=7 .venv/bin/pytest -q tests/loader/test_fuzz.py
"""

from __future__ import annotations

import os
import random
import re
import struct
import time
from collections.abc import Callable

import orjson
import pytest
from grid_fixtures import FIXTURES

from reingest.errors import LoaderError
from reingest.loader import build_image
from reingest.originals.base import StoredOriginal, UploadRecord, image_id_of

SEED = int(os.environ.get("REINGEST_FUZZ_SEED", "0"))
SECONDS = float(os.environ.get("REINGEST_FUZZ_SECONDS", "8"))  # per format: ~25 s in all
CASES = int(os.environ.get("REINGEST_FUZZ_CASES", "1000000"))
UPLOAD_TIME = "2024-01-01T00:00:00.000Z"
#: a reason that names a Python exception type (ValueError, struct.error…) or a traceback
PYTHONIC = re.compile(r"\b[A-Z]\w*(?:Error|Exception)\b|struct\.error|Traceback|\bint\(\)")
FORMATS = {
    "jpeg": sorted(p for p in FIXTURES.glob("*.jpg") if 0 < p.stat().st_size < 1_000_000),
    "png": sorted([*FIXTURES.glob("*.png"), *FIXTURES.glob("pngsuite/*.png")]),
    "tiff": sorted(FIXTURES.glob("*.tif")),
}
Span = tuple[int, int]  # [start, end) of one structure's bytes


def jpeg_spans(data: bytes) -> list[Span]:
    """Each marker segment before the scan (marker included)."""
    spans, pos = [], 2
    while pos + 4 <= len(data) and data[pos] == 0xFF and data[pos + 1] != 0xDA:
        end = pos + 2 + (data[pos + 2] << 8 | data[pos + 3])
        spans.append((pos, min(end, len(data))))
        pos = end
    return spans


def png_spans(data: bytes) -> list[Span]:
    """Each chunk (length, type, body and CRC)."""
    spans, pos = [], 8
    while pos + 12 <= len(data):
        (length,) = struct.unpack_from(">I", data, pos)
        spans.append((pos, min(pos + 12 + length, len(data))))
        pos += 12 + length
    return spans


def tiff_spans(data: bytes, base: int = 0) -> list[Span]:
    """Each 12-byte entry of IFD0 and of the Exif SubIFD (offsets from ``base``)."""
    order = "<" if data[base : base + 2] == b"II" else ">"
    spans: list[Span] = []
    offset = struct.unpack_from(order + "I", data, base + 4)[0]
    for _ in range(2):
        start = base + offset
        if not (offset > 0 and start + 2 <= len(data)):
            break
        (count,) = struct.unpack_from(order + "H", data, start)
        entries = [(start + 2 + 12 * i, start + 14 + 12 * i) for i in range(min(count, 400))]
        spans += [s for s in entries if s[1] <= len(data)]
        pointer = next((s for s in spans if data[s[0] : s[0] + 2] in (b"i\x87", b"\x87i")), None)
        if pointer is None or pointer[0] < start:
            break
        offset = struct.unpack_from(order + "I", data, pointer[0] + 8)[0]
    return spans


def structures(data: bytes) -> list[Span]:
    if data[:2] == b"\xff\xd8":
        spans = jpeg_spans(data)
        exif = next((s for s in spans if data[s[0] + 4 : s[0] + 10] == b"Exif\x00\x00"), None)
        return spans + (tiff_spans(data, exif[0] + 10) if exif else [])
    if data[:4] == b"\x89PNG":
        return png_spans(data)
    return tiff_spans(data)


def _flip(rng: random.Random, data: bytearray, span: Span) -> None:
    for _ in range(rng.randint(1, 4)):
        data[rng.randrange(*span)] = rng.randrange(256)


def _length(rng: random.Random, data: bytearray, span: Span) -> None:
    """A length, count or offset field: a JPEG/PNG length, or a TIFF entry's count/offset."""
    start = span[0] + rng.choice([2, 0, 4, 8])
    value = rng.choice([0, 1, 2, 0xFF, 0xFFFF, 0x7FFFFFFF, 0xFFFFFFFF, rng.randrange(1 << 32)])
    width = min(4, span[1] - start)
    if width > 0:
        data[start : start + width] = value.to_bytes(4, "big")[-width:]


def _entry_type(rng: random.Random, data: bytearray, span: Span) -> None:
    if span[1] - span[0] == 12:  # a TIFF entry: its type (either byte order)
        data[span[0] + 2 : span[0] + 4] = bytes(rng.sample([0, rng.randrange(14)], 2))


def _duplicate(rng: random.Random, data: bytearray, span: Span) -> None:
    data[span[0] : span[0]] = data[span[0] : span[1]] * rng.choice([1, 2, 50])


Mutation = Callable[[random.Random, bytearray, Span], None]
MUTATIONS: tuple[Mutation, ...] = (_flip, _flip, _length, _entry_type, _duplicate)


def mutate(rng: random.Random, original: bytes) -> bytes:
    data = bytearray(original)
    spans = structures(original) or [(0, len(original))]
    for _ in range(rng.randint(1, 3)):
        rng.choice(MUTATIONS)(rng, data, rng.choice(spans))
    if rng.random() < 0.1:
        del data[rng.randrange(len(data) + 1) :]
    return bytes(data)


def check(data: bytes, filename: str) -> None:
    stored = StoredOriginal(
        image_id_of(data), data, "file:///fuzz", UploadRecord(filename=filename), UPLOAD_TIME
    )
    try:
        image = build_image(stored, UPLOAD_TIME, processors=())
    except LoaderError as error:
        assert not PYTHONIC.search(str(error)), str(error)
        return
    orjson.dumps(image.to_json())
    image.to_json_bytes().decode("utf-8")


@pytest.mark.parametrize("kind", FORMATS)
def test_mutated_fixtures_project_or_fail_with_a_file_reason(
    kind: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level("ERROR")  # the loader's warnings are expected here
    originals = [(path.name, path.read_bytes()) for path in FORMATS[kind]]
    deadline = time.monotonic() + SECONDS
    case = 0
    while case < CASES and time.monotonic() < deadline:
        rng = random.Random(f"{SEED}:{kind}:{case}")
        name, original = rng.choice(originals)
        data = mutate(rng, original)
        try:
            check(data, name)
        except Exception as error:
            raise AssertionError(
                f"{kind} case {case} (REINGEST_FUZZ_SEED={SEED}) from {name}: {error!r}"
            ) from error
        case += 1
    assert case > 0
