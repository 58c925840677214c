"""Every fixture image against expected.json: outcome, asset facts, ImageMetadata, file maps."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest
from grid_fixtures import EXPECTED

from reingest.errors import CorruptFile, UnsupportedFileType
from reingest.loader import image_metadata, read_file
from reingest.loader.image import source_asset

ReadFixture = Callable[[str], bytes]
#: a projection's latestAllowedDateTime; every fixture predates it
UPLOAD_TIME = datetime(2026, 1, 1, tzinfo=UTC)
SET_FIELDS = {"keywords", "peopleInImage"}
OK_FILES = [name for name, e in EXPECTED.items() if e["outcome"] == "ok"]
ERRORS = {"unsupported": UnsupportedFileType, "corrupt": CorruptFile}


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_outcome(name: str, fixture_bytes: ReadFixture) -> None:
    expected = EXPECTED[name]
    data = fixture_bytes(name)
    if expected["outcome"] == "ok":
        facts = read_file(data, name.rsplit("/", 1)[-1])
        assert facts.mime_type == expected["mimeType"]
        assert facts.size == len(data)
        return
    with pytest.raises(ERRORS[expected["outcome"]]) as raised:
        read_file(data, name)
    message = expected.get("error", {}).get("message")
    if expected["outcome"] == "corrupt" and message:
        assert str(raised.value) == message


@pytest.mark.parametrize("name", OK_FILES)
def test_asset_facts(name: str, fixture_bytes: ReadFixture) -> None:
    expected = EXPECTED[name]
    facts = read_file(fixture_bytes(name), name)
    asset = source_asset(
        "file:x", facts.mime_type, facts.size, facts.dimensions, facts.exif_orientation
    )
    dims = expected["dimensions"]
    assert (facts.dimensions.width, facts.dimensions.height) == (dims["width"], dims["height"])
    assert facts.exif_orientation == expected["exifOrientation"]
    assert asset.orientation == expected["orientation"]
    assert facts.file_metadata.colourModel == expected["colourModel"]
    if "orientedDimensions" in expected:
        oriented = expected["orientedDimensions"]
        assert asset.orientedDimensions is not None
        assert asset.orientedDimensions.width == oriented["width"]
        assert asset.orientedDimensions.height == oriented["height"]
    else:
        assert asset.orientedDimensions is None


def _metadata_cases() -> list[Any]:
    return [
        pytest.param(name, field, id=f"{name}:{field}")
        for name in OK_FILES
        for field in EXPECTED[name]["metadata"]
    ]


@pytest.mark.parametrize(("name", "field"), _metadata_cases())
def test_image_metadata_field(name: str, field: str, fixture_bytes: ReadFixture) -> None:
    facts = read_file(fixture_bytes(name), name)
    ours = image_metadata(facts.file_metadata, UPLOAD_TIME).to_json().get(field)
    theirs = EXPECTED[name]["metadata"][field]["value"]
    if field in SET_FIELDS:
        assert set(ours or []) == set(theirs)
    else:
        assert ours == theirs


#: files whose every ImageMetadata field expected.json lists (others give only the sets)
FULLY_DESCRIBED = [n for n in OK_FILES if len(EXPECTED[n]["metadata"]) > len(SET_FIELDS) + 1]


@pytest.mark.parametrize("name", FULLY_DESCRIBED)
def test_no_unexpected_metadata_fields(name: str, fixture_bytes: ReadFixture) -> None:
    """Fields expected.json leaves out must be absent from ours too."""
    expected = EXPECTED[name]["metadata"]
    facts = read_file(fixture_bytes(name), name)
    ours = image_metadata(facts.file_metadata, UPLOAD_TIME).to_json()
    assert set(ours) == set(expected) | {"keywords", "subjects", "peopleInImage"}


def _compare_map(kind: str, ours: dict[str, Any], theirs: Any) -> None:
    if kind.endswith("Subset"):
        assert {k: ours.get(k) for k in theirs} == theirs
    elif kind == "exifSubKeyCount":
        assert len(ours) == theirs
    elif kind == "xmpPartial":
        for key, spec in theirs.items():
            value = ours[key]
            assert isinstance(value, list) == spec["isArray"]
            assert value[0].startswith(spec["firstElementStartsWith"])
            assert len(value[0]) == spec["firstElementLength"]
    else:
        assert ours == theirs


_SOURCE_MAP = {
    "iptc": "iptc", "exif": "exif", "exifSub": "exifSub", "exifSubSubset": "exifSub",
    "exifSubKeyCount": "exifSub", "getty": "getty", "xmp": "xmp", "xmpSubset": "xmp",
    "xmpPartial": "xmp", "iccSubset": "icc",
    "colourModelInformationSubset": "colourModelInformation",
}  # fmt: skip


def _map_cases() -> list[Any]:
    return [
        pytest.param(name, kind, id=f"{name}:{kind}")
        for name in OK_FILES
        for kind in EXPECTED[name].get("fileMetadata", {})
        if kind != "basis"
    ]


@pytest.mark.parametrize(("name", "kind"), _map_cases())
def test_file_metadata_map(name: str, kind: str, fixture_bytes: ReadFixture) -> None:
    facts = read_file(fixture_bytes(name), name)
    ours = getattr(facts.file_metadata, _SOURCE_MAP[kind])
    _compare_map(kind, ours, EXPECTED[name]["fileMetadata"][kind])
