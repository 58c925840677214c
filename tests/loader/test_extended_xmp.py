"""ExtendedXMP in JPEGs: XMP over 64 KB split across ``xmp/extension`` APP1 segments, read as
metadata-extractor's XmpReader reads it (reassembled for the GUID the main packet names, then
merged after the main packet, which wins per key)."""

from __future__ import annotations

import hashlib
import io
import json
import logging
import struct
import time
from pathlib import Path

import pytest
from PIL import Image
from typer.testing import CliRunner

from reingest.cli import app
from reingest.loader import image_metadata, read_file
from reingest.loader.containers import XMP_EXTENSION_HEADER, XMP_JPEG_HEADER
from reingest.loader.xmp import MAX_EXTENDED_CHUNKS, MAX_XMP_BYTES

NAMESPACES = (
    'xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#" '
    'xmlns:dc="http://purl.org/dc/elements/1.1/" '
    'xmlns:photoshop="http://ns.adobe.com/photoshop/1.0/" '
    'xmlns:xmpNote="http://ns.adobe.com/xmp/note/"'
)
SUBJECTS = [f"keyword {i:04d}" for i in range(6000)]
DESCRIPTION = "A long caption. " * 3000  # 48,000 characters: dc:description is never redacted
#: the packet over 64 KB that Photoshop would move out of the main one
EXTENDED = (
    f'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF {NAMESPACES}>'
    '<rdf:Description rdf:about="" photoshop:Credit="Extended Credit" photoshop:City="Elsewhere">'
    f'<dc:description><rdf:Alt><rdf:li xml:lang="x-default">{DESCRIPTION}</rdf:li></rdf:Alt>'
    "</dc:description><dc:subject><rdf:Bag>"
    + "".join(f"<rdf:li>{s}</rdf:li>" for s in SUBJECTS)
    + "</rdf:Bag></dc:subject></rdf:Description></rdf:RDF></x:xmpmeta>"
).encode()
GUID = hashlib.md5(EXTENDED).hexdigest().upper()
CHUNK = 65_400  # Adobe's chunk size: a 65,533-byte segment body less the 75-byte preamble


def main_packet(guid: str | None = GUID) -> bytes:
    note = f' xmpNote:HasExtendedXMP="{guid}"' if guid else ""
    return (
        f'<?xpacket begin="" id="W5M0MpCehiHzreSzNTczkc9d"?><x:xmpmeta xmlns:x="adobe:ns:meta/">'
        f'<rdf:RDF {NAMESPACES}><rdf:Description rdf:about=""{note} photoshop:City="London">'
        '<dc:title><rdf:Alt><rdf:li xml:lang="x-default">Main title</rdf:li></rdf:Alt></dc:title>'
        '</rdf:Description></rdf:RDF></x:xmpmeta><?xpacket end="w"?>'
    ).encode()


def chunks(packet: bytes = EXTENDED, guid: str = GUID, size: int = CHUNK) -> list[bytes]:
    """The ExtendedXMP segment bodies: signature, GUID, full length, offset, portion."""
    return [
        XMP_EXTENSION_HEADER
        + guid.encode()
        + struct.pack(">II", len(packet), offset)
        + packet[offset : offset + size]
        for offset in range(0, len(packet), size)
    ]


def jpeg(*app1: bytes) -> bytes:
    """A real 16x16 JPEG from Pillow with the given APP1 bodies spliced in after SOI."""
    out = io.BytesIO()
    Image.new("RGB", (16, 16), (200, 30, 30)).save(out, "JPEG")
    base = out.getvalue()
    segments = b"".join(b"\xff\xe1" + struct.pack(">H", len(body) + 2) + body for body in app1)
    return base[:2] + segments + base[2:]


def xmp_of(data: bytes) -> dict[str, object]:
    return read_file(data, "extended.jpg").file_metadata.xmp


def test_the_fixture_really_needs_extended_xmp() -> None:
    assert len(EXTENDED) > 3 * CHUNK and len(chunks()) == 4
    assert all(len(body) <= 65_533 for body in chunks())  # each fits one APP1 segment


def test_extended_xmp_is_merged_into_file_metadata_and_metadata() -> None:
    data = jpeg(XMP_JPEG_HEADER + main_packet(), *chunks())
    facts = read_file(data, "extended.jpg")
    xmp = facts.file_metadata.xmp
    assert xmp["photoshop:Credit"] == "Extended Credit"
    assert xmp["dc:subject"] == SUBJECTS
    assert xmp["dc:description"] == [DESCRIPTION.strip(), ["{'xml:lang':'x-default'}"]]
    assert xmp["photoshop:City"] == "London"  # the main packet wins over the extended one
    assert xmp["dc:title"] == ["Main title", ["{'xml:lang':'x-default'}"]]
    assert xmp["xmpNote:HasExtendedXMP"] == GUID  # stays visible, as in metadata-extractor
    metadata = image_metadata(facts.file_metadata, None)
    assert metadata.credit == "Extended Credit"
    assert metadata.description == DESCRIPTION.strip()
    assert metadata.keywords == SUBJECTS
    assert metadata.city == "London"


def test_chunks_in_any_order_are_placed_by_their_offsets() -> None:
    parts = chunks()
    shuffled = jpeg(XMP_JPEG_HEADER + main_packet(), parts[2], parts[0], parts[3], parts[1])
    assert xmp_of(shuffled) == xmp_of(jpeg(XMP_JPEG_HEADER + main_packet(), *parts))


def test_chunks_for_another_guid_are_ignored() -> None:
    other = EXTENDED.replace(b"Extended Credit", b"Imposter Credit")
    stale = chunks(other, hashlib.md5(other).hexdigest().upper())
    xmp = xmp_of(jpeg(XMP_JPEG_HEADER + main_packet(), *stale[:2], *chunks(), *stale[2:]))
    assert xmp["photoshop:Credit"] == "Extended Credit"
    assert xmp["dc:subject"] == SUBJECTS


def test_the_guid_is_matched_not_the_md5_checked() -> None:
    """metadata-extractor compares the GUID with HasExtendedXMP and never hashes the packet."""
    guid = "0123456789ABCDEF0123456789ABCDEF"
    xmp = xmp_of(jpeg(XMP_JPEG_HEADER + main_packet(guid), *chunks(guid=guid)))
    assert xmp["photoshop:Credit"] == "Extended Credit"
    lower = xmp_of(jpeg(XMP_JPEG_HEADER + main_packet(GUID.lower()), *chunks()))
    assert "photoshop:Credit" not in lower  # the comparison is case-sensitive


def test_a_missing_chunk_skips_the_extended_part_but_keeps_the_main_packet(
    caplog: pytest.LogCaptureFixture,
) -> None:
    parts = chunks()
    with caplog.at_level(logging.WARNING):
        xmp = xmp_of(jpeg(XMP_JPEG_HEADER + main_packet(), parts[0], parts[1], parts[3]))
    assert "gap at byte 130800" in caplog.text
    assert "photoshop:Credit" not in xmp and "dc:subject" not in xmp
    assert xmp["photoshop:City"] == "London" and xmp["xmpNote:HasExtendedXMP"] == GUID
    truncated = xmp_of(jpeg(XMP_JPEG_HEADER + main_packet(), *parts[:3]))  # the last one lost
    assert "dc:subject" not in truncated and truncated["photoshop:City"] == "London"


def test_a_chunk_with_another_length_or_past_the_end_is_ignored() -> None:
    parts = chunks()
    wrong_length = bytearray(parts[1])
    struct.pack_into(">I", wrong_length, len(XMP_EXTENSION_HEADER) + 32, len(EXTENDED) + 1)
    past_the_end = bytearray(parts[1])
    struct.pack_into(">I", past_the_end, len(XMP_EXTENSION_HEADER) + 36, len(EXTENDED) - 10)
    for bad in (bytes(wrong_length), bytes(past_the_end)):
        with_bad = xmp_of(jpeg(XMP_JPEG_HEADER + main_packet(), parts[0], bad, *parts[1:]))
        assert with_bad["photoshop:Credit"] == "Extended Credit"  # the good copy still lands
        only_bad = xmp_of(jpeg(XMP_JPEG_HEADER + main_packet(), parts[0], bad, *parts[2:]))
        assert "photoshop:Credit" not in only_bad and only_bad["photoshop:City"] == "London"


def test_chunks_are_only_taken_after_the_main_packet_that_names_them() -> None:
    """metadata-extractor learns the GUID from the main packet, so earlier chunks are missed."""
    before = xmp_of(jpeg(*chunks(), XMP_JPEG_HEADER + main_packet()))
    assert "photoshop:Credit" not in before and before["photoshop:City"] == "London"
    unnamed = xmp_of(jpeg(XMP_JPEG_HEADER + main_packet(None), *chunks()))
    assert "photoshop:Credit" not in unnamed


def test_hostile_extended_xmp_costs_one_value_in_bounded_time() -> None:
    huge = b" " * (MAX_XMP_BYTES + 1)
    too_big = chunks(huge, GUID)
    tiny = chunks(EXTENDED, GUID, size=len(EXTENDED) // (MAX_EXTENDED_CHUNKS + 10))
    claims_4gb = XMP_EXTENSION_HEADER + GUID.encode() + struct.pack(">II", 2**32 - 1, 0) + b"x"
    for parts in (too_big, tiny, [claims_4gb]):
        started = time.monotonic()
        facts = read_file(jpeg(XMP_JPEG_HEADER + main_packet(), *parts), "hostile.jpg")
        assert time.monotonic() - started < 1.0
        assert facts.dimensions.width == 16
        assert "photoshop:Credit" not in facts.file_metadata.xmp
        assert facts.file_metadata.xmp["photoshop:City"] == "London"


def test_project_file_prints_the_extended_values(tmp_path: Path) -> None:
    path = tmp_path / "extended.jpg"
    path.write_bytes(jpeg(XMP_JPEG_HEADER + main_packet(), *reversed(chunks())))
    result = CliRunner().invoke(
        app, ["project-file", str(path)], env={"REINGEST_HOME": str(tmp_path / "home")}
    )
    assert result.exit_code == 0, result.output
    image = json.loads(result.output)
    assert image["fileMetadata"]["xmp"]["photoshop:Credit"] == "Extended Credit"
    assert image["metadata"]["credit"] == "Extended Credit"
    assert image["metadata"]["keywords"] == SUBJECTS
    assert image["metadata"]["description"] == DESCRIPTION.strip()
