"""Bad inputs give a typed LoaderError quickly, never another exception."""

from __future__ import annotations

import contextlib
import os
import random
import struct
import time
import zlib
from collections.abc import Callable

import pytest

from reingest.errors import CorruptFile, LoaderError, UnsupportedFileType
from reingest.loader import read_file

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
