"""Bad inputs give a typed LoaderError quickly, never another exception."""

from __future__ import annotations

import contextlib
import io
import os
import random
import struct
import time
import zlib
from collections.abc import Callable

import pytest
from PIL import Image

from reingest.errors import CorruptFile, LoaderError, UnsupportedFileType
from reingest.loader import read_file
from reingest.loader.containers import XMP_JPEG_HEADER
from reingest.loader.xmp import MAX_XMP_BYTES, REDACTED

ReadFixture = Callable[[str], bytes]
TIME_LIMIT = 1.0  # seconds; a header-only reader needs milliseconds


def _png_chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def bomb_png() -> bytes:
    """A 100-byte PNG that declares 100000 x 100000 pixels."""
    ihdr = struct.pack(">IIBBBBB", 100_000, 100_000, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _png_chunk(b"IHDR", ihdr)
        + _png_chunk(b"IDAT", zlib.compress(b"\x00" * 64))
        + _png_chunk(b"IEND", b"")
    )


def expect(error: type[LoaderError], data: bytes, name: str | None, message: str = "") -> None:
    started = time.perf_counter()
    with pytest.raises(error) as raised:
        read_file(data, name)
    assert time.perf_counter() - started < TIME_LIMIT
    assert message in str(raised.value)


def test_empty_file_named_as_an_image_is_corrupt() -> None:
    expect(CorruptFile, b"", "x.jpg", "File format could not be determined")


def test_empty_file_with_an_unknown_name_is_unsupported() -> None:
    expect(UnsupportedFileType, b"", "x.stupid", "Unsupported mime-type: unknown. Supported: ")


def test_random_bytes_are_unsupported() -> None:
    expect(UnsupportedFileType, random.Random(7).randbytes(4096), None, "unknown")


def test_text_file_is_unsupported() -> None:
    expect(UnsupportedFileType, b"just some notes\n" * 20, "notes.txt", "text/plain")


def test_truncated_jpeg_is_corrupt(fixture_bytes: ReadFixture) -> None:
    data = fixture_bytes("rubbish.jpg")
    expect(CorruptFile, data[: len(data) // 2], "rubbish.jpg", "Corrupt image/jpeg: ")


@pytest.mark.parametrize("name", ["pa.jpg", "flag.tif", "longICC.png", "longXMP.jpg"])
def test_every_truncation_is_typed(name: str, fixture_bytes: ReadFixture) -> None:
    """Cut anywhere: either still readable (the cut missed what we read) or a LoaderError."""
    data = fixture_bytes(name)
    for cut in range(0, len(data), max(1, len(data) // 97)):
        with contextlib.suppress(LoaderError):
            read_file(data[:cut], name)


@pytest.mark.parametrize("seed", range(20))
def test_corrupted_bytes_are_typed(seed: int, fixture_bytes: ReadFixture) -> None:
    rng = random.Random(seed)
    data = bytearray(fixture_bytes(rng.choice(["getty.jpg", "flag.tif", "longICC.png"])))
    for _ in range(20):
        data[rng.randrange(len(data))] = rng.randrange(256)
    with contextlib.suppress(LoaderError):
        read_file(bytes(data))


@pytest.mark.parametrize(
    ("name", "mime"), [("_MG_7973-1kB.CR2", "image/x-canon-cr2"), ("_MG_7973-1kB.dng", "image/dng")]
)
def test_raw_camera_files_are_unsupported(name: str, mime: str, fixture_bytes: ReadFixture) -> None:
    expect(UnsupportedFileType, fixture_bytes(name), name, f"Unsupported mime-type: {mime}.")


def test_decompression_bomb_is_corrupt() -> None:
    expect(CorruptFile, bomb_png(), "bomb.png", "decompression-bomb limit")


def test_os_random_garbage_after_a_jpeg_signature_is_corrupt() -> None:
    expect(CorruptFile, b"\xff\xd8\xff" + os.urandom(1000), "x.jpg", "Corrupt image/jpeg: ")


def _xmp_packet(properties: int, value: str = "x") -> bytes:
    fields = "".join(f"<ns:p{i}>{value}</ns:p{i}>" for i in range(properties))
    return (
        '<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF '
        'xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"><rdf:Description '
        f'xmlns:ns="http://example.com/ns/">{fields}</rdf:Description></rdf:RDF></x:xmpmeta>'
    ).encode()


def _jpeg_with(segments: list[tuple[int, bytes]]) -> bytes:
    """A 1x1 JPEG with the given (marker, body) segments inserted after SOI."""
    out = io.BytesIO()
    Image.new("RGB", (1, 1)).save(out, "JPEG")
    base = out.getvalue()
    inserted = b"".join(
        bytes([0xFF, marker]) + struct.pack(">H", len(body) + 2) + body for marker, body in segments
    )
    return base[:2] + inserted + base[2:]


def _png_with_xmp(packet: bytes) -> bytes:
    ihdr = struct.pack(">IIBBBBB", 1, 1, 8, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _png_chunk(b"IHDR", ihdr)
        + _png_chunk(b"iTXt", b"XML:com.adobe.xmp\x00\x00\x00\x00\x00" + packet)
        + _png_chunk(b"IDAT", zlib.compress(b"\x00\x00"))
        + _png_chunk(b"IEND", b"")
    )


BOUNDED = 5.0  # seconds: generous for a loaded CI machine; unbounded work takes far longer


def test_a_ten_megabyte_xmp_packet_is_skipped_with_a_warning(
    caplog: pytest.LogCaptureFixture,
) -> None:
    packet = _xmp_packet(200_000, "y" * 40)
    assert len(packet) > 10_000_000
    started = time.perf_counter()
    facts = read_file(_png_with_xmp(packet), "big-xmp.png")
    assert time.perf_counter() - started < BOUNDED
    assert facts.file_metadata.xmp == {}
    assert "XMP packet of" in caplog.text and f"exceeds {MAX_XMP_BYTES} bytes" in caplog.text


def test_xmp_within_the_budget_is_read() -> None:
    facts = read_file(_png_with_xmp(_xmp_packet(3)), "small-xmp.png")
    assert facts.file_metadata.xmp == {"ns:p0": "x", "ns:p1": "x", "ns:p2": "x"}


def test_hundreds_of_app_segments_are_bounded() -> None:
    """500 XMP segments (30 MB) and 500 Photoshop segments: only the first 2 MiB of XMP is
    parsed and the Photoshop blocks are joined once, not quadratically."""
    xmp = XMP_JPEG_HEADER + _xmp_packet(1, "z" * 60_000)
    photoshop = b"Photoshop 3.0\x00" + b"\x00" * 60_000
    data = _jpeg_with([(0xE1, xmp)] * 500 + [(0xED, photoshop)] * 500)
    started = time.perf_counter()
    facts = read_file(data, "many-segments.jpg")
    assert time.perf_counter() - started < BOUNDED
    assert facts.file_metadata.xmp["ns:p0"] == REDACTED  # the first packet was read


def test_an_xmp_packet_with_a_dtd_is_ignored() -> None:
    """Entity declarations (billion laughs) never reach the XML parser."""
    bomb = (
        b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaaaaaaaa">'
        + b"".join(f'<!ENTITY {c} "&{p};&{p};&{p};&{p};&{p};&{p};&{p};&{p};&{p};&{p};">'.encode()
                   for p, c in zip("abcdefgh", "bcdefghi", strict=True))
        + b"]>" + _xmp_packet(1, "&i;")
    )  # fmt: skip
    harmless = b'<!DOCTYPE x [<!ENTITY a "hello">]>' + _xmp_packet(
        1, "&a;"
    )  # expat would expand it
    for packet in (
        bomb,
        bomb.decode().encode("utf-16"),
        harmless,
        harmless.decode().encode("utf-16-be"),
    ):
        facts = read_file(_png_with_xmp(packet), "bomb-xmp.png")
        assert facts.file_metadata.xmp == {}
