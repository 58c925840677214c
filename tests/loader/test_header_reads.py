"""Header reads project exactly as whole reads, and read little.

Each original is projected from a store twice over: read whole (window 0) and read from a first
window on (``get_ranged``: the rest fetched where the file's structure points), with windows from
16 bytes (nearly every structure fetched on demand) to the default. The projections, thumbnails
included, or the failures must be equal: for every Grid fixture, the sample library and the
loader fuzzer's mutations (its seeds and mutations, ``test_fuzz.py``).
"""

from __future__ import annotations

import io
import random
import struct
from collections.abc import Callable, Iterator
from itertools import count, repeat
from pathlib import Path
from typing import Any

import pytest
from grid_fixtures import FIXTURES
from hostile_files import (
    ASCII,
    SHORT,
    jpeg_fill_bytes,
    jpeg_tiny_segments,
    png_chunk,
    png_tiny_chunks,
    tiff_shared_text,
)
from PIL import Image
from test_fuzz import FORMATS, SEED, mutate, png_spans

from reingest.backends import Components
from reingest.loader import build_image
from reingest.originals.base import OriginalsStore, StoredOriginal, UploadRecord
from reingest.originals.file import FileOriginalsStore
from reingest.originals.source import MAX_FETCHES, WAVE, WINDOW, RangedSource
from reingest.projection import Projector
from reingest.sample import generate_sample_library
from reingest.services.base import DataServices
from reingest.services.local import LocalDataServices

#: ``store``, once per backend
pytest_plugins = ["originals_support"]

UPLOAD_TIME = "2024-01-01T00:00:00.000Z"
WINDOWS = (16, 700, 65_536, WINDOW)
#: mutated files per format compared (the fuzzer's first cases, with its seed)
FUZZ_CASES = 150
Outcome = tuple[Any, ...]


def failure(error: Exception) -> Outcome:
    return type(error).__name__, str(error)


def projected(store: OriginalsStore, services: DataServices, image_id: str, window: int) -> Any:
    """The projection and the thumbnail it made (none was stored), or the failure."""
    if isinstance(store, FileOriginalsStore):
        store.thumbnail_path(image_id).unlink(missing_ok=True)
    try:
        image = Projector(store, services, window=window).project(image_id)
    except Exception as error:
        return failure(error)
    return image.to_json(), store.get_thumbnail(image_id)


def assert_projected_alike(
    store: OriginalsStore, services: DataServices, ids: list[str], windows: tuple[int, ...]
) -> None:
    for image_id in ids:
        whole = projected(store, services, image_id, 0)
        for window in windows:
            assert projected(store, services, image_id, window) == whole, (image_id, window)


def loaded(stored: StoredOriginal) -> Any:
    """The loader's image (no processors, as the fuzzer projects), or the failure."""
    try:
        return build_image(stored, UPLOAD_TIME, processors=()).to_json()
    except Exception as error:
        return failure(error)


def test_every_grid_fixture_projects_alike_from_header_reads(
    store: OriginalsStore, components: Components
) -> None:
    files = [p for p in sorted(FIXTURES.rglob("*")) if p.is_file() and p.suffix != ".md"]
    files.remove(FIXTURES / "expected.json")
    ids = {store.put(path.read_bytes(), UploadRecord(filename=path.name))[0] for path in files}
    assert len(ids) > 25
    # S3 reads the same bytes (the originals suite checks its ranges): fewer, bigger windows
    windows = WINDOWS if isinstance(store, FileOriginalsStore) else WINDOWS[1::2]
    assert_projected_alike(store, components.services, sorted(ids), windows)


def test_the_sample_library_projects_alike_from_header_reads(
    tmp_path: Path, components: Components
) -> None:
    sample = generate_sample_library(tmp_path / "sample", count=24)
    assert isinstance(components.services, LocalDataServices)
    components.services.load(sample.services.items())
    store = components.originals
    ids = [
        store.put(path.read_bytes(), UploadRecord(filename=path.name))[0]
        for path in [*sample.good, *sample.broken]
    ]
    assert {path.suffix for path in sample.good} == {".jpg", ".png", ".tif"}
    assert_projected_alike(store, components.services, ids, WINDOWS)


@pytest.mark.parametrize("kind", FORMATS)
def test_the_fuzzers_mutations_load_alike_from_header_reads(
    kind: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level("ERROR")  # the loader's warnings are expected here
    store = FileOriginalsStore(tmp_path.as_uri())
    originals = [(path.name, path.read_bytes()) for path in FORMATS[kind]]
    for case in range(FUZZ_CASES):
        rng = random.Random(f"{SEED}:{kind}:{case}")
        name, original = rng.choice(originals)
        image_id, _ = store.put(mutate(rng, original), UploadRecord(filename=name))
        whole = loaded(store.get(image_id))
        for window in (16, 700):
            assert loaded(store.get_ranged(image_id, window)) == whole, (case, window)


# -- what header reads cost ----------------------------------------------------------------------


Waves = list[list[tuple[int, int]]]


def counted(data: bytes, window: int, request_cost: int = 0) -> tuple[RangedSource, Waves]:
    """``data`` read from its first ``window`` bytes on, 4 KiB at a time, and each wave of
    ranges it is read in past the window, as it is asked for."""
    waves: Waves = []

    def fetch(ranges: list[tuple[int, int]]) -> list[bytes]:
        waves.append(ranges)
        return [data[start:end] for start, end in ranges]

    return RangedSource(data[:window], len(data), fetch, 4096, request_cost), waves


def ranged(data: bytes, window: int, request_cost: int = 0) -> RangedSource:
    return counted(data, window, request_cost)[0]


def photo(fmt: str, size: tuple[int, int] = (1600, 1200)) -> bytes:
    """A noise picture (so it stays big once compressed) with EXIF."""
    noise = random.Random(size[0]).randbytes(size[0] * size[1] * 3)
    exif = Image.Exif()
    exif[0x013B] = "Header Reads"  # Artist
    exif.get_ifd(0x8769)[0x9003] = "2024:05:06 07:08:09"  # DateTimeOriginal
    out = io.BytesIO()
    Image.frombytes("RGB", size, noise).save(out, fmt, exif=exif, quality=95)
    return out.getvalue()


@pytest.mark.parametrize("fmt", ["JPEG", "PNG", "TIFF"])
def test_a_multi_megabyte_original_is_read_by_its_header(fmt: str) -> None:
    data = photo(fmt)
    source = ranged(data, WINDOW)
    stored = StoredOriginal("id", source, "file:///x", UploadRecord(), UPLOAD_TIME)
    image = build_image(stored, UPLOAD_TIME, processors=())
    assert image.fileMetadata.exif["Artist"] == "Header Reads"
    assert len(data) > 2_000_000 and image.source.size == len(data)
    if fmt == "PNG":  # the window, then a read per chunk header past it (a block, or 8 bytes)
        past_the_window = [span for span in png_spans(data) if span[0] + 8 > WINDOW]
        assert 1 < source.requests <= 1 + len(past_the_window)
        assert source.bytes_read <= WINDOW + 4096 * len(past_the_window)
    else:  # the window (Pillow writes a TIFF's IFD first), then JPEG: its end-of-image marker
        assert source.requests == (2 if fmt == "JPEG" else 1)
        assert source.bytes_read <= WINDOW + 2 * 4096
    assert source.bytes_read < len(data) / 8


def scattered_tiff(size: int = 4 << 20) -> bytes:
    """A TIFF whose text tags point a megabyte apart, or past its end, or run past it."""
    texts = [0x010D, 0x010E, 0x010F, 0x0110, 0x0131, 0x013B, 0x8298]
    entries = [(0x0100, SHORT, 1, 1), (0x0101, SHORT, 1, 1)]
    entries += [(tag, ASCII, 8, (n + 1) << 20) for n, tag in enumerate(texts[:3])]
    entries += [(texts[3], ASCII, 8, 0xFFFFFFF0), (texts[4], ASCII, 0x7FFFFFFF, 64)]
    entries += [(texts[5], ASCII, 16, size - 8)]
    table = struct.pack("<H", len(entries)) + b"".join(
        struct.pack("<HHII", tag, typ, count, value) for tag, typ, count, value in entries
    )
    data = bytearray(b"II*\x00" + struct.pack("<I", 8) + table + bytes(4))
    data += bytes(size - len(data))
    for n in range(3):
        data[(n + 1) << 20 : ((n + 1) << 20) + 8] = b"text %d\x00" % n
    return bytes(data)


HOSTILE: dict[str, tuple[str, Callable[[], bytes]]] = {
    "text tags scattered and past the end": ("scattered.tif", scattered_tiff),
    "ten text tags over one 2 MB text": ("texts.tif", lambda: tiff_shared_text(2 << 20)),
    "2 MB of JPEG fill bytes": ("fill.jpg", lambda: jpeg_fill_bytes(2 << 20)),
    "200,000 empty JPEG segments": ("segments.jpg", lambda: jpeg_tiny_segments(200_000)),
    "100,000 empty PNG chunks": ("chunks.png", lambda: png_tiny_chunks(100_000)),
    "a JPEG with no end-of-image marker": ("open.jpg", lambda: photo("JPEG")[:-2] + b"\x00\x00"),
    "a PNG chunk 4 GB long": (
        "long.png",
        lambda: (
            photo("PNG", (300, 200))[:-12] + struct.pack(">I", 0xFFFFFFF0) + b"tEXt" + b"x" * 99
        ),
    ),
}


@pytest.mark.parametrize("name", HOSTILE)
def test_a_hostile_file_costs_bounded_header_reads(
    name: str, caplog: pytest.LogCaptureFixture
) -> None:
    """Whatever a file points at, reads stop at its end, and past MAX_FETCHES fetches the rest
    is read whole: at most twice its bytes, in at most MAX_FETCHES + 2 requests."""
    caplog.set_level("ERROR")
    filename, build = HOSTILE[name]
    data = build()
    upload = UploadRecord(filename=filename)
    whole = loaded(StoredOriginal("id", data, "file:///x", upload, UPLOAD_TIME))
    source = ranged(data, 4096)
    assert loaded(StoredOriginal("id", source, "file:///x", upload, UPLOAD_TIME)) == whole
    assert source.requests <= MAX_FETCHES + 2 and source.bytes_read <= 2 * len(data)


def test_tags_pointing_far_apart_cost_a_block_each() -> None:
    data = scattered_tiff()
    source = ranged(data, 4096)
    image = loaded(StoredOriginal("id", source, "file:///x", UploadRecord(), UPLOAD_TIME))
    assert image["fileMetadata"]["exif"]["Make"] == "text 2"
    assert "Model" not in image["fileMetadata"]["exif"]  # past the end: dropped, never read
    # the window, where IFD0's 1024 entries at most could be (the DNG check), a block per text
    assert source.requests == 1 + 1 + 3
    assert source.bytes_read <= 4096 + (12 * 1024 + 4096) + 3 * 4096


def rechunked(data: bytes, sizes: Iterator[int]) -> bytes:
    """``data``, a PNG, with its image data in IDAT chunks of ``sizes`` bytes and its other
    chunks after them (where only a walk through every chunk header finds them)."""
    chunks = [data[start:end] for start, end in png_spans(data)]
    image_data = b"".join(chunk[8:-4] for chunk in chunks if chunk[4:8] == b"IDAT")
    idats, at = [], 0
    while at < len(image_data):
        size = next(sizes)
        idats.append(png_chunk(b"IDAT", image_data[at : at + size]))
        at += size
    others = [chunk for chunk in chunks[1:] if chunk[4:8] not in (b"IDAT", b"IEND")]
    return data[:8] + chunks[0] + b"".join(idats + others) + png_chunk(b"IEND", b"")


def headers_past(data: bytes, window: int) -> int:
    """The chunk headers of a PNG that its first ``window`` bytes do not hold."""
    return sum(1 for start, _ in png_spans(data) if start + 8 > window)


def assert_loaded_alike(data: bytes, source: RangedSource) -> None:
    """Loaded from ``source``, ``data`` gives what it gives read whole, its EXIF included."""
    whole = loaded(StoredOriginal("id", data, "file:///x", UploadRecord(), UPLOAD_TIME))
    assert whole["fileMetadata"]["exif"]["Artist"] == "Header Reads"
    assert loaded(StoredOriginal("id", source, "file:///x", UploadRecord(), UPLOAD_TIME)) == whole


def test_where_requests_are_dear_a_pngs_chunk_headers_are_read_in_waves() -> None:
    """A request costing a megabyte (S3's default), the chunk headers of this PNG's image data
    (64 KiB chunks, as Pillow writes) are read WAVE at a time, as its stride predicts them:
    a few round trips and a few bytes each, not a round trip each nor the whole file."""
    data = rechunked(photo("PNG"), repeat(1 << 16))
    source, waves = counted(data, WINDOW, request_cost=1 << 20)
    assert_loaded_alike(data, source)
    headers = headers_past(data, WINDOW)
    assert headers > WAVE and max(len(wave) for wave in waves) == WAVE
    # waves of predicted headers, then the metadata past the image data (not predicted)
    assert len(waves) == -(-headers // WAVE) + 1
    assert source.requests <= 1 + headers  # each header read once, whether predicted or not
    assert source.bytes_read <= WINDOW + 4096 * len(waves) + 8 * headers < len(data) / 10


def test_where_a_round_trip_costs_more_than_the_rest_a_png_is_read_whole_past_its_window() -> None:
    """Requests costing 8 MiB, the two waves this PNG's chunk headers take would cost more than
    the rest of it: it is read in one request."""
    data = rechunked(photo("PNG"), repeat(1 << 16))
    source, waves = counted(data, WINDOW, request_cost=8 << 20)
    assert_loaded_alike(data, source)
    assert waves == [[(WINDOW, len(data))]] and source.bytes_read == len(data)


@pytest.mark.parametrize("request_cost", [0, 1 << 20])
@pytest.mark.parametrize("window", [4096, WINDOW])
def test_image_data_chunks_of_uneven_sizes_read_as_they_do_whole(
    window: int, request_cost: int
) -> None:
    """Chunks of random sizes (32 to 128 KiB): predictions miss, and so each wave after one
    that missed predicts a read (a read or two per header, not a wave each) until the walk
    ends, or the rest is read whole where round trips cost (the ski-rental rule)."""
    sizes = random.Random(7)
    data = rechunked(photo("PNG"), iter(lambda: sizes.randrange(1 << 15, 1 << 17), 0))
    source, waves = counted(data, window, request_cost)
    assert_loaded_alike(data, source)
    assert all(len(wave) <= 2 for wave in waves[1:])
    assert source.requests <= MAX_FETCHES + 2 and source.bytes_read <= 2 * len(data)
    if request_cost:  # never charged more than the rest costs before it is read whole
        assert len(waves) <= 2 + len(data) // request_cost
    else:  # walked to IEND: a block per header, and the predictions that missed
        headers = headers_past(data, window)
        assert len(waves) >= headers - 1 and source.bytes_read < window + 4104 * headers


@pytest.mark.parametrize("request_cost", [0, 1 << 20])
def test_image_data_chunks_mostly_alike_are_still_read_in_waves(request_cost: int) -> None:
    """Every 20th chunk shorter: the predictions past it miss, but the stride they hit with
    goes on from where the walker asks next, so a wave covers about 20 chunk headers."""
    data = rechunked(photo("PNG"), (1 << 16 if n % 20 else 5000 for n in count(1)))
    source, waves = counted(data, WINDOW, request_cost)
    assert_loaded_alike(data, source)
    headers = headers_past(data, WINDOW)
    assert len(waves) <= 2 + headers // 20 and source.requests <= 1 + 2 * headers
    assert source.bytes_read < len(data) / 10


@pytest.mark.parametrize("request_cost", [0, 1 << 20])
def test_a_png_of_one_byte_image_data_chunks_is_read_whole_at_once(request_cost: int) -> None:
    """Its walk would take a hundred thousand reads, past MAX_FETCHES: the rest is read in one
    request as soon as the stride shows it (no request, no memory per chunk)."""
    data = rechunked(photo("PNG", (300, 200)), repeat(1))
    assert headers_past(data, WINDOW) > 100_000
    source, waves = counted(data, WINDOW, request_cost)
    whole = loaded(StoredOriginal("id", data, "file:///x", UploadRecord(), UPLOAD_TIME))
    assert loaded(StoredOriginal("id", source, "file:///x", UploadRecord(), UPLOAD_TIME)) == whole
    assert waves == [[(WINDOW, len(data))]]


def test_once_fetches_cost_what_the_rest_would_the_rest_is_read_at_once() -> None:
    """Requests costing 2 MiB, the third fetch past the window of this 4 MB TIFF (after the
    DNG check's and the first text's) brings the charges over the 2 + 4 MB the rest costs."""
    data = scattered_tiff()
    source = ranged(data, 4096, request_cost=2 << 20)
    image = loaded(StoredOriginal("id", source, "file:///x", UploadRecord(), UPLOAD_TIME))
    assert image["fileMetadata"]["exif"]["Make"] == "text 2"
    assert source.requests == 1 + 2 + 1  # the window, two fetches, the rest
    assert len(data) < source.bytes_read < len(data) + 2 * (12 * 1024 + 4096)
