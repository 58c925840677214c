"""IPTC IIM datasets as metadata-extractor's IptcDirectory names and describes them."""

from __future__ import annotations

import logging
import re
import struct
from datetime import datetime, timedelta, timezone

from reingest.loader.exif import decode_text, iso_millis, java_trim

TAG_NAMES: dict[tuple[int, int], str] = {
    (1, 0): "Enveloped Record Version", (1, 5): "Destination", (1, 20): "File Format",
    (1, 22): "File Version", (1, 30): "Service Identifier", (1, 40): "Envelope Number",
    (1, 50): "Product Identifier", (1, 60): "Envelope Priority", (1, 70): "Date Sent",
    (1, 80): "Time Sent", (1, 90): "Coded Character Set", (1, 100): "Unique Object Name",
    (1, 120): "ARM Identifier", (1, 122): "ARM Version",
    (2, 0): "Application Record Version", (2, 3): "Object Type Reference",
    (2, 4): "Object Attribute Reference", (2, 5): "Object Name", (2, 7): "Edit Status",
    (2, 8): "Editorial Update", (2, 10): "Urgency", (2, 12): "Subject Reference",
    (2, 15): "Category", (2, 20): "Supplemental Category(s)", (2, 22): "Fixture Identifier",
    (2, 25): "Keywords", (2, 26): "Content Location Code", (2, 27): "Content Location Name",
    (2, 30): "Release Date", (2, 35): "Release Time", (2, 37): "Expiration Date",
    (2, 38): "Expiration Time", (2, 40): "Special Instructions", (2, 42): "Action Advised",
    (2, 45): "Reference Service", (2, 47): "Reference Date", (2, 50): "Reference Number",
    (2, 55): "Date Created", (2, 60): "Time Created", (2, 62): "Digital Date Created",
    (2, 63): "Digital Time Created", (2, 65): "Originating Program", (2, 70): "Program Version",
    (2, 75): "Object Cycle", (2, 80): "By-line", (2, 85): "By-line Title", (2, 90): "City",
    (2, 92): "Sub-location", (2, 95): "Province/State",
    (2, 100): "Country/Primary Location Code", (2, 101): "Country/Primary Location Name",
    (2, 103): "Original Transmission Reference", (2, 105): "Headline", (2, 110): "Credit",
    (2, 115): "Source", (2, 116): "Copyright Notice", (2, 118): "Contact",
    (2, 120): "Caption/Abstract", (2, 121): "Local Caption", (2, 122): "Caption Writer/Editor",
    (2, 125): "Rasterized Caption", (2, 130): "Image Type", (2, 131): "Image Orientation",
    (2, 135): "Language Identifier", (2, 150): "Audio Type", (2, 151): "Audio Sampling Rate",
    (2, 152): "Audio Sampling Resolution", (2, 153): "Audio Duration", (2, 154): "Audio Outcue",
    (2, 184): "Job Identifier", (2, 185): "Master Document Identifier",
    (2, 186): "Short Document Identifier", (2, 187): "Unique Document Identifier",
    (2, 188): "Owner Identifier", (2, 200): "Object Data Preview File Format",
    (2, 201): "Object Data Preview File Format Version", (2, 202): "Object Data Preview Data",
}  # fmt: skip

CHARSET = (1, 90)
_SHORTS = frozenset({(1, 0), (1, 22), (1, 122), (2, 0), (2, 70)})
_URGENCY = (2, 10)
_KEYWORDS = (2, 25)
_DATES = frozenset({(1, 70), (2, 30), (2, 37), (2, 47), (2, 55), (2, 62)})
_TIMES = frozenset({(1, 80), (2, 35), (2, 38), (2, 60), (2, 63)})
_COMPOSITES = {
    "Date Time Created Composite": ((2, 55), (2, 60)),
    "Digital Date Time Created Composite": ((2, 62), (2, 63)),
}
_DATE_TIME = re.compile(r"(\d{4})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})(?:([+-])(\d{2})(\d{2}))?")

Value = str | int | list[str]
#: datasets read per file (writers use tens; thousands of keywords are already odd) and
#: Photoshop resources looked through for the IPTC one: past them, the rest is left out
MAX_DATASETS = 10_000
MAX_RESOURCES = 10_000

log = logging.getLogger(__name__)


def _charset(raw: bytes) -> str | None:
    """ISO 2022 escape → Python codec, as metadata-extractor's Iso2022Converter."""
    if raw[:3] == b"\x1b%G":
        return "utf-8"
    if raw[:1] == b"\x1b" and raw[1:4] == b"\xe2\x80\xa2" and raw[4:5] == b"A":
        return "latin-1"
    return None


def parse_iim(data: bytes) -> dict[tuple[int, int], Value]:
    """Datasets keyed by (record, dataset); repeats become lists. Stops at the first gap."""
    values: dict[tuple[int, int], Value] = {}
    codec: str | None = None
    pos = 0
    for _ in range(MAX_DATASETS):
        if pos + 5 > len(data) or data[pos] != 0x1C:
            return values
        record, dataset = data[pos + 1], data[pos + 2]
        length = data[pos + 3] << 8 | data[pos + 4]
        pos += 5
        if length & 0x8000:  # extended dataset: the length is in the next bytes
            width = length & 0x7FFF
            if width > 4:
                break
            length = int.from_bytes(data[pos : pos + width], "big")
            pos += width
        raw = data[pos : pos + length]
        pos += length
        key = (record, dataset)
        if key == CHARSET:
            codec = _charset(raw)
            values[key] = (
                "UTF-8" if codec == "utf-8" else "ISO-8859-1" if codec else decode_text(raw)
            )
        elif key in _SHORTS and len(raw) == 2:
            values[key] = struct.unpack(">H", raw)[0]
        elif key == _URGENCY and raw:
            values[key] = raw[0]
        else:
            text = raw.decode(codec, "replace") if codec else decode_text(raw)
            previous = values.get(key)
            if previous is None:
                values[key] = text
            elif isinstance(previous, list):
                previous.append(text)
            else:
                values[key] = [str(previous), text]
    else:
        if pos + 5 <= len(data) and data[pos] == 0x1C:
            log.warning("IPTC datasets after the first %d dropped", MAX_DATASETS)
    return values


def _describe(key: tuple[int, int], value: Value) -> str:
    if isinstance(value, list):
        if key == _KEYWORDS:
            return ";".join(value)
        return f"[{len(value)} values]" if len(value) > 16 else " ".join(value)
    text = str(value)
    if key in _DATES and len(text) == 8:
        return f"{text[:4]}:{text[4:6]}:{text[6:]}"
    if key in _TIMES and len(text) in (6, 11):
        return f"{text[:2]}:{text[2:4]}:{text[4:]}"
    return text


def _composite(date: Value | None, time: Value | None) -> str | None:
    """IptcDirectory.getDate: ``yyyyMMddHHmmssZ`` from a date and a time dataset."""
    if not isinstance(date, str) or not isinstance(time, str):
        return None
    match = _DATE_TIME.fullmatch(date + time)
    if match is None:
        return None
    year, month, day, hour, minute, second = (int(g) for g in match.groups()[:6])
    sign, off_h, off_m = match.groups()[6:]
    offset = timedelta(hours=int(off_h or 0), minutes=int(off_m or 0))
    zone = timezone(-offset if sign == "-" else offset)
    try:
        return iso_millis(datetime(year, month, day, hour, minute, second, tzinfo=zone))
    except (ValueError, OverflowError):
        return None


def iptc_map(data: bytes) -> dict[str, str]:
    """Grid's iptc map: named datasets, trimmed, non-empty, plus the two date composites."""
    values = parse_iim(data)
    out: dict[str, str] = {}
    for key, value in values.items():
        name = TAG_NAMES.get(key)
        if name is not None and (text := java_trim(_describe(key, value))):
            out[name] = text
    for name, (date_key, time_key) in _COMPOSITES.items():
        composite = _composite(values.get(date_key), values.get(time_key))
        if composite is not None:
            out[name] = composite
    return out


def iim_from_photoshop(irb: bytes) -> bytes | None:
    """The IPTC block (resource 0x0404) of a Photoshop Image Resource Block sequence."""
    pos = 0
    for _ in range(MAX_RESOURCES):
        if pos + 12 > len(irb) or irb[pos : pos + 4] != b"8BIM":
            return None
        (resource,) = struct.unpack(">H", irb[pos + 4 : pos + 6])
        name_len = irb[pos + 6]
        pos += 6 + ((name_len + 2) & ~1)  # Pascal name padded to an even length
        if pos + 4 > len(irb):
            break
        (size,) = struct.unpack(">I", irb[pos : pos + 4])
        pos += 4
        if resource == 0x0404:
            return irb[pos : pos + size]
        pos += size + (size & 1)
    log.warning("IPTC not found in the first %d Photoshop resources", MAX_RESOURCES)
    return None
