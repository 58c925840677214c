"""Hostile input costs one value, never the image: each odd value is dropped (or kept raw, as
metadata-extractor keeps it), its good neighbours survive, the Image serialises to valid UTF-8,
and files built to be expensive stay within the per-file bounds."""

from __future__ import annotations

import struct
import time
import tracemalloc
from collections.abc import Callable
from typing import Any

import orjson
import pytest
from hostile_files import (
    DOUBLE,
    FLOAT,
    SHORT,
    UNDEFINED,
    UPLOAD_TIME,
    ascii_tag,
    deep_rdf,
    exif_segment,
    iptc_segment,
    iptc_tiny_datasets,
    jpeg_fill_bytes,
    jpeg_tiny_segments,
    jpeg_with,
    png_icc_bombs,
    png_text_bombs,
    tiff_icc_text_bombs,
    tiff_shared_rationals,
    tiff_shared_text,
    xmp_packet,
    xmp_segment,
)

from reingest.errors import CorruptFile
from reingest.loader import build_image
from reingest.loader.containers import MAX_SEGMENTS
from reingest.loader.xmp import REDACTED
from reingest.originals.base import StoredOriginal, UploadRecord, image_id_of

BOUNDED = 5.0  # seconds: the per-file bound, loosely, as a guard rather than a benchmark
MEMORY = 512 * 1024 * 1024


def project(data: bytes, filename: str) -> dict[str, Any]:
    """What ``reingest project-file`` prints, checked to serialise as valid UTF-8 JSON."""
    stored = StoredOriginal(
        image_id_of(data), data, "file:///hostile", UploadRecord(filename=filename), UPLOAD_TIME
    )
    image = build_image(stored, UPLOAD_TIME, processors=()).to_json()
    orjson.dumps(image)  # refuses lone surrogates
    return image


def bounded(build: Callable[[], bytes], filename: str) -> dict[str, Any]:
    """The projection of a built file, within the time and memory bounds."""
    data = build()
    tracemalloc.start()
    try:
        started = time.perf_counter()
        image = project(data, filename)
        elapsed = time.perf_counter() - started
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert elapsed < BOUNDED
    assert peak < MEMORY
    return image


def exif_jpeg(*sub: tuple[int, int, int, bytes]) -> bytes:
    """A JPEG with an Artist in IFD0 and these SubIFD tags beside a good Exposure Time."""
    exposure = (0x829A, 5, 1, struct.pack("<II", 1, 250))
    return jpeg_with([exif_segment([ascii_tag(0x013B, "Ann Artist")], [exposure, *sub])])


def test_an_iptc_date_at_plus_99_hours_is_no_date_taken() -> None:
    """Joda refuses an offset over 23 hours, so the format fails and the next source wins."""
    data = jpeg_with([iptc_segment([(2, 55, b"2020-01-01T00:00:00+99:00"), (2, 90, b"London")])])
    image = project(data, "iptc-offset.jpg")
    assert image["fileMetadata"]["iptc"]["Date Created"] == "2020-01-01T00:00:00+99:00"  # raw
    assert "dateTaken" not in image["metadata"]
    assert image["metadata"]["city"] == "London"


def test_an_exif_offset_of_99_hours_reads_the_date_in_utc() -> None:
    """metadata-extractor's TimeZone.getTimeZone("GMT+99:00") falls back to GMT."""
    image = project(
        exif_jpeg(ascii_tag(0x9003, "2020:01:01 10:00:00"), ascii_tag(0x9011, "+99:00")),
        "exif-offset.jpg",
    )
    sub = image["fileMetadata"]["exifSub"]
    assert sub["Offset Time Original"] == "+99:00"
    assert sub["Date/Time Original Composite"] == "2020-01-01T10:00:00.000Z"
    assert image["metadata"]["dateTaken"] == "2020-01-01T10:00:00.000Z"
    assert image["metadata"]["byline"] == "Ann Artist"


def test_an_xmp_date_at_plus_25_hours_is_kept_raw() -> None:
    packet = xmp_packet(
        "", 'photoshop:DateCreated="2020-01-01T00:00:00+25:00" photoshop:City="Kings Place"'
    )
    image = project(jpeg_with([xmp_segment(packet)]), "xmp-date.jpg")
    xmp = image["fileMetadata"]["xmp"]
    assert xmp["photoshop:DateCreated"] == "2020-01-01T00:00:00+25:00"
    assert xmp["photoshop:City"] == "Kings Place"
    assert "dateTaken" not in image["metadata"]


def test_a_year_9999_date_ten_hours_behind_utc_is_printed_past_9999() -> None:
    """The instant is in year 10000, which Joda prints; it is too late to be dateTaken."""
    image = project(
        exif_jpeg(ascii_tag(0x9003, "9999:12:31 23:00:00"), ascii_tag(0x9011, "-10:00")),
        "year-9999.jpg",
    )
    sub = image["fileMetadata"]["exifSub"]
    assert sub["Date/Time Original Composite"] == "10000-01-01T09:00:00.000Z"
    assert sub["Exposure Time"] == "1/250 sec"
    assert "dateTaken" not in image["metadata"]


def test_a_300_byte_user_comment_of_shorts_keeps_their_low_bytes() -> None:
    """metadata-extractor's getByteArray keeps the low eight bits of each number."""
    shorts = struct.pack("<150H", *[0x4100 | ord("a")] * 150)
    image = project(exif_jpeg((0x9286, SHORT, 150, shorts)), "user-comment.jpg")
    assert image["fileMetadata"]["exifSub"]["User Comment"] == "a" * 150
    assert image["fileMetadata"]["exif"]["Artist"] == "Ann Artist"


@pytest.mark.parametrize(("typ", "packed"), [(FLOAT, struct.pack("<f", float("nan"))),
                                             (DOUBLE, struct.pack("<d", float("inf")))])  # fmt: skip
def test_a_nan_or_infinite_focal_length_is_dropped_or_java_cast(typ: int, packed: bytes) -> None:
    """Focal Length wants a rational (none: dropped); Focal Length 35 casts as Java does."""
    image = project(exif_jpeg((0x920A, typ, 1, packed), (0xA405, typ, 1, packed)), "nan.jpg")
    sub = image["fileMetadata"]["exifSub"]
    assert "Focal Length" not in sub
    assert sub["Focal Length 35"] in ("Unknown", "2147483647 mm")  # (int) NaN = 0
    assert sub["Exposure Time"] == "1/250 sec"


def test_a_surrogate_exif_version_becomes_a_replacement_character() -> None:
    image = project(exif_jpeg((0x9000, SHORT, 1, struct.pack("<HH", 0xD800, 0))), "ver.jpg")
    assert image["fileMetadata"]["exifSub"]["Exif Version"] == "\ufffd"
    assert image["fileMetadata"]["exifSub"]["Exposure Time"] == "1/250 sec"


def test_deeply_nested_rdf_loses_only_the_deep_property() -> None:
    image = project(jpeg_with([xmp_segment(deep_rdf(1000))]), "deep.jpg")
    xmp = image["fileMetadata"]["xmp"]
    assert xmp["photoshop:City"] == "Kings Place"
    assert "dc:x" not in xmp


def test_an_undecodable_exif_header_costs_the_exif_not_the_image() -> None:
    data = jpeg_with([(0xE1, b"Exif\x00\x00II*\x00\xff\xff\xff\x7f"), xmp_segment(xmp_packet(
        "", 'photoshop:City="Kings Place"'))])  # fmt: skip
    image = project(data, "bad-exif.jpg")
    assert image["fileMetadata"]["xmp"]["photoshop:City"] == "Kings Place"
    assert image["fileMetadata"]["exif"] == {}


def test_compressed_xmp_chunks_inflate_within_the_file_budget() -> None:
    """120 iTXt chunks of 16 MiB each (2 MB on disk): the small packet is read, the rest
    is skipped once the file's 32 MiB inflation budget is spent."""
    image = bounded(png_text_bombs, "itxt-bombs.png")
    assert image["fileMetadata"]["xmp"]["photoshop:City"] == "Kings Place"


def test_repeated_icc_chunks_are_inflated_once() -> None:
    image = bounded(lambda: png_icc_bombs(120, 1024 * 1024), "iccp-bombs.png")
    assert image["fileMetadata"]["colourModelInformation"]["iccProfileName"] == "bomb"


def test_rational_tags_sharing_a_16_mb_region_read_only_their_first_values() -> None:
    image = bounded(tiff_shared_rationals, "rationals.tif")
    exif = image["fileMetadata"]["exif"]
    assert exif["Artist"] == "Artist"
    assert exif["X Resolution"] == "72 dots"
    assert exif["White Point"] == "[2097152 values]"


def test_text_tags_sharing_a_16_mb_region_spend_the_file_budget_once() -> None:
    image = bounded(tiff_shared_text, "texts.tif")
    exif = image["fileMetadata"]["exif"]
    assert exif["Artist"] == "Artist"  # small values are never refused
    assert len(exif["Document Name"]) == 16 * 1024 * 1024
    assert "Image Description" not in exif and "Copyright" not in exif


def test_icc_text_tags_over_one_big_text_are_redacted_without_decoding() -> None:
    image = bounded(tiff_icc_text_bombs, "icc-texts.tif")
    assert image["fileMetadata"]["icc"]["Profile Description"] == REDACTED
    assert image["fileMetadata"]["exif"]["Artist"] == "Artist"


def test_iptc_datasets_past_the_limit_are_dropped() -> None:
    image = bounded(lambda: iptc_tiny_datasets(100), "iptc-datasets.jpg")
    assert image["fileMetadata"]["iptc"]["City"] == "London"


def test_fifty_megabytes_of_fill_bytes_are_skipped_at_once() -> None:
    image = bounded(jpeg_fill_bytes, "fill.jpg")
    assert image["source"]["dimensions"] == {"width": 8, "height": 8}


def test_a_million_empty_segments_make_the_container_unusable() -> None:
    started = time.perf_counter()
    with pytest.raises(CorruptFile, match=f"more than {MAX_SEGMENTS} marker segments"):
        project(jpeg_tiny_segments(1_000_000), "segments.jpg")
    assert time.perf_counter() - started < BOUNDED


def test_a_long_user_comment_is_kept() -> None:
    comment = b"ASCII\x00\x00\x00" + b"x" * 60_000
    image = project(exif_jpeg((0x9286, UNDEFINED, len(comment), comment)), "comment.jpg")
    assert image["fileMetadata"]["exifSub"]["User Comment"] == "x" * 60_000
