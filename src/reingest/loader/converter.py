"""ImageMetadataConverter.fromFileMetadata (grid-model.md §2.2): file metadata → ImageMetadata."""

from __future__ import annotations

import json
import re
from datetime import datetime
from typing import Any

from reingest.loader.dates import parse_random_date
from reingest.loader.exif import iso_millis
from reingest.model import FileMetadata, ImageMetadata

#: Subject codes: lower-case code → Grid subject
SUBJECTS: dict[str, str] = {
    **dict.fromkeys(("f", "biz", "max", "fin"), "finance"),
    **dict.fromkeys(("l", "lif", "odd"), "lifestyle"),
    **dict.fromkeys(("e", "ace", "ent", "cel", "entertainment", "fashion", "showbiz"), "arts"),
    **dict.fromkeys(("s", "spo"), "sport"), **dict.fromkeys(("o", "wea"), "weather"),
    **dict.fromkeys(("p", "pol"), "politics"), **dict.fromkeys(("i", "a"), "news"),
    "clj": "crime", "dis": "disaster", "edu": "education", "evn": "environment",
    "hth": "health", "hum": "human", "lab": "labour", "rel": "religion", "sci": "science",
    "soi": "social", "war": "war", **dict.fromkeys(("ani", "nat", "wld"), "nature"),
}  # fmt: skip

#: field → sources in priority order: ("xmp"|"iptc"|"exif", key)
_TEXT_FIELDS: dict[str, tuple[tuple[str, str], ...]] = {
    "description": (("xmp", "dc:description"), ("iptc", "Caption/Abstract"),
                    ("exif", "Image Description")),
    "credit": (("xmp", "photoshop:Credit"), ("iptc", "Credit")),
    "byline": (("xmp", "dc:creator"), ("iptc", "By-line"), ("exif", "Artist")),
    "bylineTitle": (("xmp", "photoshop:AuthorsPosition"), ("iptc", "By-line Title")),
    "title": (("xmp", "photoshop:Headline"), ("iptc", "Headline")),
    "copyright": (("xmp", "dc:Rights"), ("iptc", "Copyright Notice"), ("exif", "Copyright")),
    "suppliersReference": (("xmp", "photoshop:TransmissionReference"),
                           ("iptc", "Original Transmission Reference"), ("xmp", "dc:title"),
                           ("iptc", "Object Name")),
    "source": (("xmp", "photoshop:Source"), ("iptc", "Source")),
    "specialInstructions": (("xmp", "photoshop:Instructions"), ("iptc", "Special Instructions")),
    "subLocation": (("xmp", "Iptc4xmpCore:Location"), ("iptc", "Sub-location")),
    "city": (("xmp", "photoshop:City"), ("iptc", "City")),
    "state": (("xmp", "photoshop:State"), ("iptc", "Province/State")),
    "country": (("xmp", "photoshop:Country"), ("iptc", "Country/Primary Location Name"),
                ("xmp", "Iptc4xmpCore:CountryCode"), ("iptc", "Country/Primary Location Code")),
}  # fmt: skip
_DATE_SOURCES = (
    ("exifSub", "Date/Time Original Composite"), ("iptc", "Date Time Created Composite"),
    ("xmp", "photoshop:DateCreated"), ("iptc", "Date Created"),
)  # fmt: skip


def _xmp_string(value: Any) -> str | None:
    """The value if a string, else the first string element of an array (nested ones skipped)."""
    if isinstance(value, str):
        return value
    if isinstance(value, list):
        return next((v for v in value if isinstance(v, str)), None)
    return None


def _directories(fm: FileMetadata) -> dict[str, dict[str, Any]]:
    return {"xmp": fm.xmp, "iptc": fm.iptc, "exif": fm.exif, "exifSub": fm.exifSub}


def _lookup(directories: dict[str, dict[str, Any]], directory: str, key: str) -> str | None:
    value = directories[directory].get(key)
    return value if directory != "xmp" or value is None else _xmp_string(value)


def _first(
    directories: dict[str, dict[str, Any]], sources: tuple[tuple[str, str], ...]
) -> str | None:
    for directory, key in sources:
        value = directories[directory].get(key)  # _lookup, inlined: this is the hot loop
        if value is not None and directory == "xmp":
            value = _xmp_string(value)
        if value:
            return value
    return None


def _date_taken(
    directories: dict[str, dict[str, Any]], latest_allowed: datetime | None
) -> str | None:
    for directory, key in _DATE_SOURCES:
        value = _lookup(directories, directory, key)
        if value and (moment := parse_random_date(value, latest_allowed)) is not None:
            return iso_millis(moment)
    return None


def _unique(values: list[str]) -> list[str]:
    return list(dict.fromkeys(values))


def _keywords(fm: FileMetadata) -> list[str]:
    subject = fm.xmp.get("dc:subject")
    if isinstance(subject, list):
        items = [v for v in subject if isinstance(v, str)]
        if items:
            return _unique(items)
    elif subject is not None:
        return [json.dumps(subject)]  # Grid's quirk: a non-array dc:subject as JSON text
    keywords = fm.iptc.get("Keywords")
    if not keywords:
        return []
    return _unique([k.strip() for k in re.split(r"[;,]", keywords) if k.strip()])


def _subjects(fm: FileMetadata) -> list[str]:
    codes = fm.iptc.get("Supplemental Category(s)", "").split()
    codes += [fm.iptc["Category"]] if fm.iptc.get("Category") else []
    return _unique([SUBJECTS[c.lower()] for c in codes if c.lower() in SUBJECTS])


def _people(fm: FileMetadata) -> list[str]:
    people: list[str] = []
    for key in ("Iptc4xmpExt:PersonInImage", "GettyImagesGIFT:Personality"):
        value = fm.xmp.get(key)
        if isinstance(value, list):
            people += [v for v in value if isinstance(v, str)]
    return _unique(people)


def image_metadata(file_metadata: FileMetadata, latest_allowed: datetime | None) -> ImageMetadata:
    """ImageMetadata from file metadata; ``latest_allowed`` bounds dateTaken (+14 h slack)."""
    directories = _directories(file_metadata)
    fields: dict[str, Any] = {
        name: _first(directories, sources) for name, sources in _TEXT_FIELDS.items()
    }
    fields["dateTaken"] = _date_taken(directories, latest_allowed)
    fields["keywords"] = _keywords(file_metadata)
    fields["subjects"] = _subjects(file_metadata)
    fields["peopleInImage"] = _people(file_metadata)
    return ImageMetadata.model_validate(fields)
