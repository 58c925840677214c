"""The quickstart sample library: deterministic, really tagged, and Grid-shaped service data."""

from __future__ import annotations

import hashlib
import re
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import exiv2
import pytest
from PIL import GifImagePlugin, Image, IptcImagePlugin, TiffImagePlugin

from reingest.model import (
    Collection,
    Crop,
    Edits,
    ImageStatusRecord,
    LeasesByMedia,
    SyndicationRights,
    Usage,
)
from reingest.sample import GETTY_NS, IPTC_EXT_NS, SampleLibrary, generate_sample_library

SMALL = 30
ISO = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$")
PATTERN = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}\+00:00$")
MODELS: dict[str, Any] = {
    "edits": Edits,
    "leases": LeasesByMedia,
    "status": ImageStatusRecord,
    "syndication": SyndicationRights,
}
LIST_MODELS: dict[str, Any] = {"usages": Usage, "collections": Collection, "crops": Crop}


@dataclass
class Embedded:
    """What Pillow reads back from one file, independently of exiv2."""

    exif: dict[int, Any]
    iptc: dict[tuple[int, int], Any]
    xmp: str


def read_embedded(path: Path) -> Embedded:
    with warnings.catch_warnings(), Image.open(path) as image:
        # Pillow warns that exiv2's TIFF IPTC tag is a LONG array; the data is fine.
        warnings.simplefilter("ignore")
        exif = dict(image.getexif())
        if image.format == "PNG":
            iptc = png_iptc(image.info.get("Raw profile type iptc"))
            xmp = image.info.get("XML:com.adobe.xmp", "")
        else:
            iptc = IptcImagePlugin.getiptcinfo(image) or {}
            if isinstance(image, TiffImagePlugin.TiffImageFile):
                raw = image.tag_v2.get(700)
            else:
                raw = image.info.get("xmp")
            xmp = raw.decode("utf-8") if raw else ""
    return Embedded(exif=exif, iptc=iptc, xmp=xmp)


def png_iptc(profile: str | None) -> dict[tuple[int, int], Any]:
    """Decode the ImageMagick-style text chunk just enough to list its IPTC datasets."""
    if profile is None:
        return {}
    block = bytes.fromhex("".join(profile.split("\n")[3:]))
    found: dict[tuple[int, int], Any] = {}
    for match in re.finditer(rb"\x1c([\x01\x02])(.)(..)", block, re.DOTALL):
        record, dataset = match.group(1)[0], match.group(2)[0]
        length = int.from_bytes(match.group(3), "big")
        found[(record, dataset)] = block[match.end() : match.end() + length]
    return found


@pytest.fixture(scope="module")
def library(tmp_path_factory: pytest.TempPathFactory) -> SampleLibrary:
    return generate_sample_library(tmp_path_factory.mktemp("a"), count=SMALL)


@pytest.fixture(scope="module")
def embedded(library: SampleLibrary) -> dict[str, Embedded]:
    return {path.name: read_embedded(path) for path in library.good}


def file_id(path: Path) -> str:
    return hashlib.sha1(path.read_bytes()).hexdigest()


def test_same_seed_gives_identical_bytes(library: SampleLibrary, tmp_path: Path) -> None:
    # Prefixes registered earlier in the process must not change the bytes written...
    exiv2.XmpProperties.registerNs(GETTY_NS, "prefix0")
    exiv2.XmpProperties.registerNs(IPTC_EXT_NS, "ext0")
    again = generate_sample_library(tmp_path / "b", count=SMALL)
    # ...and afterwards the IPTC extension namespace has exiv2's default prefix again.
    assert exiv2.XmpProperties.prefix(IPTC_EXT_NS) == "iptcExt"
    for first, second in zip(library.good + library.broken, again.good + again.broken, strict=True):
        assert first.name == second.name
        assert first.read_bytes() == second.read_bytes()
    assert again.services == library.services


def test_smaller_count_is_a_prefix_and_seed_matters(library: SampleLibrary, tmp_path: Path) -> None:
    prefix = generate_sample_library(tmp_path / "p", count=10)
    assert [file_id(p) for p in prefix.good] == [file_id(p) for p in library.good[:10]]
    other = generate_sample_library(tmp_path / "s", count=3, seed=8)
    assert {file_id(p) for p in other.good}.isdisjoint(file_id(p) for p in library.good)


def test_default_library_counts_and_mix(tmp_path: Path) -> None:
    lib = generate_sample_library(tmp_path)
    assert len(lib.good) == 240
    ids = [file_id(p) for p in lib.good]
    assert len(set(ids)) == 240
    suffixes = [p.suffix for p in lib.good]
    assert suffixes.count(".png") >= 5 and suffixes.count(".tif") >= 5
    assert suffixes.count(".jpg") > 150
    assert 70 <= len(lib.services) <= 90
    kinds = [k for data in lib.services.values() for k in data]
    assert 2 <= kinds.count("status") <= 5
    assert 3 <= kinds.count("syndication") <= 12
    getty = [p for p in lib.good if GETTY_NS.encode() in p.read_bytes()]
    assert 2 <= len(getty) <= 40
    assert all(b"GettyImagesGIFT:AssetID" in p.read_bytes() for p in getty)


def test_pictures_are_small_and_varied(library: SampleLibrary) -> None:
    sizes = []
    for path in library.good:
        with Image.open(path) as image:
            image.load()
            assert image.format == {".jpg": "JPEG", ".png": "PNG", ".tif": "TIFF"}[path.suffix]
            sizes.append(image.size)
    assert all(48 <= side <= 160 for size in sizes for side in size)
    assert any(w < h for w, h in sizes) and any(w > h for w, h in sizes)


def test_metadata_is_embedded_in_every_mix(embedded: dict[str, Embedded]) -> None:
    mixes = set()
    for entry in embedded.values():
        has_exif = 315 in entry.exif  # Artist
        has_iptc = (2, 80) in entry.iptc  # By-line
        has_xmp = "dc:creator" in entry.xmp
        mixes.add((has_exif, has_iptc, has_xmp))
        if has_xmp:
            assert "photoshop:Credit" in entry.xmp and "<rdf:Bag>" in entry.xmp
        if has_iptc:
            assert {(2, 120), (2, 110), (2, 105), (2, 25), (2, 15), (2, 55)} <= set(entry.iptc)
        if has_exif:
            assert {270, 271, 272, 33432} <= set(entry.exif)
    expected = {(True, True, True), (True, False, False), (False, True, False)}
    assert expected | {(False, False, True), (False, False, False)} <= mixes


def test_png_and_tiff_carry_metadata(embedded: dict[str, Embedded]) -> None:
    for suffix in (".png", ".tif"):
        tagged = [e for name, e in embedded.items() if name.endswith(suffix) and e.exif.get(315)]
        assert tagged, suffix
        assert any(e.xmp for name, e in embedded.items() if name.endswith(suffix))
        assert any(e.iptc for name, e in embedded.items() if name.endswith(suffix))


def test_orientation_and_repeated_keywords(embedded: dict[str, Embedded]) -> None:
    oriented = [e for e in embedded.values() if e.exif.get(274) == 6]
    assert oriented
    assert any(isinstance(e.iptc.get((2, 25)), list) for e in embedded.values())


def test_utf8_iptc_is_marked_and_non_ascii(embedded: dict[str, Embedded]) -> None:
    values = [v for e in embedded.values() for v in e.iptc.values()]
    flat = [b for v in values for b in (v if isinstance(v, list) else [v])]
    assert any("Zoë Łódź".encode() == b for b in flat)
    for entry in embedded.values():
        raw = [b for v in entry.iptc.values() for b in (v if isinstance(v, list) else [v])]
        if any(not b.isascii() for b in raw):
            assert entry.iptc.get((1, 90)) == b"\x1b%G"
            for b in raw:
                b.decode("utf-8")
    assert any("Iptc4xmpExt:PersonInImage" in e.xmp for e in embedded.values())


def test_broken_files(library: SampleLibrary) -> None:
    by_name = {p.name: p for p in library.broken}
    assert set(by_name) == {"truncated.jpg", "empty.jpg", "notes.jpg", "IMG_0001.CR2", "anim.gif"}
    assert all(p.parent == library.good[0].parent for p in library.broken)
    original = library.good[0].read_bytes()
    truncated = by_name["truncated.jpg"].read_bytes()
    assert truncated == original[: len(original) // 2]
    with pytest.raises(OSError), Image.open(by_name["truncated.jpg"]) as image:
        image.load()
    assert by_name["empty.jpg"].stat().st_size == 0
    assert by_name["notes.jpg"].read_bytes().isascii()
    assert by_name["IMG_0001.CR2"].read_bytes().startswith(b"II*\x00\x10\x00\x00\x00CR")
    with Image.open(by_name["anim.gif"]) as gif:
        assert isinstance(gif, GifImagePlugin.GifImageFile) and gif.n_frames == 2


def test_services_are_keyed_by_real_ids_and_valid(library: SampleLibrary) -> None:
    sizes = {}
    for path in library.good:
        with Image.open(path) as image:
            sizes[file_id(path)] = image.size
    assert library.services and set(library.services) <= set(sizes)
    for image_id, data in library.services.items():
        assert data and set(data) <= set(MODELS) | set(LIST_MODELS)
        for key, value in data.items():
            if key in LIST_MODELS:
                assert value and all(LIST_MODELS[key].model_validate(v) for v in value)
            else:
                MODELS[key].model_validate(value)
        for lease in data.get("leases", {}).get("leases", []):
            assert lease["mediaId"] == image_id and ISO.match(lease["createdAt"])
        for crop in data.get("crops", []):
            b = crop["specification"]["bounds"]
            assert crop["id"] == f"{b['x']}_{b['y']}_{b['width']}_{b['height']}"
            width, height = sizes[image_id]
            assert b["x"] + b["width"] <= width and b["y"] + b["height"] <= height
            assert b["width"] * 3 == b["height"] * 5
        for usage in data.get("usages", []):
            assert ISO.match(usage["lastModified"]) and ISO.match(usage["dateAdded"])
        for collection in data.get("collections", []):
            assert PATTERN.match(collection["actionData"]["date"])
        if "status" in data:
            assert data["status"]["id"] == image_id and data["status"]["isDeleted"] is True
        if "published" in data.get("syndication", {}):
            assert PATTERN.match(data["syndication"]["published"])
