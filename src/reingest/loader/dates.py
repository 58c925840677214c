"""Grid's ``parseRandomDate`` and XMP ``cleanDate`` (grid-model.md §2.2).

Each Joda pattern becomes a regex; the first format that parses *and* lies inside the bounds
wins, so the order of ``_FORMATS`` is the behaviour.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone, tzinfo
from zoneinfo import ZoneInfo

from reingest.loader.exif import iso_millis

LOWER_BOUND = datetime(1, 1, 3, tzinfo=UTC)
LOCAL_TIME_SLACK = timedelta(hours=14)
BST = timezone(timedelta(hours=1))

#: Joda's default zone names (DateTimeUtils.getDefaultTimeZoneNames)
_ZONE_NAMES: dict[str, tzinfo] = {
    "UT": UTC, "UTC": UTC, "GMT": UTC, "Z": UTC,
    "EST": ZoneInfo("America/New_York"), "EDT": ZoneInfo("America/New_York"),
    "CST": ZoneInfo("America/Chicago"), "CDT": ZoneInfo("America/Chicago"),
    "MST": ZoneInfo("America/Denver"), "MDT": ZoneInfo("America/Denver"),
    "PST": ZoneInfo("America/Los_Angeles"), "PDT": ZoneInfo("America/Los_Angeles"),
}  # fmt: skip
_MONTHS = {
    m: i
    for i, m in enumerate(
        ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"], 1
    )
}
_DAYS = {"mon", "tue", "wed", "thu", "fri", "sat", "sun"}

_Y = r"(?P<y>[-+]?\d{1,9})"  # a year not followed by a digit field: variable width, signed
_YF = r"(?P<y>\d{4})"  # a year followed by a digit field: fixed width
_D = r"(?P<mo>\d{1,2})-(?P<d>\d{1,2})"
_HMS = r"(?P<h>\d{1,2}):(?P<mi>\d{1,2}):(?P<s>\d{1,2})"
_MS = r"(?P<ms>\d{1,9})"
_ZZ = r"(?P<z>Z|[+-]\d{2}:?\d{2})"
_TEXT = r"(?P<dow>\w{3}) (?P<mon>\w{3}) (?P<d>\d{1,2}) " + _HMS
_ISO = (
    r"(?P<y>[-+]?\d{4,9})(?:-(?P<mo>\d{2})(?:-(?P<d>\d{2}))?)?"
    r"(?:T(?P<h>\d{2})(?::?(?P<mi>\d{2})(?::?(?P<s>\d{2})(?:[.,](?P<ms>\d{1,9}))?)?)?)?"
    r"(?P<z>Z|[+-]\d{2}(?::?\d{2})?)?"
)

_FORMATS: list[re.Pattern[str]] = [
    re.compile(p)
    for p in (
        rf"{_Y}-{_D}T{_HMS}\.{_MS}{_ZZ}",  # 1  yyyy-MM-dd'T'HH:mm:ss.SSSZZ
        rf"{_Y}-{_D}T{_HMS} {_ZZ}",  # 2  yyyy-MM-dd'T'HH:mm:ss' 'ZZ
        rf"{_Y}-{_D}T{_HMS}{_ZZ}",  # 3  yyyy-MM-dd'T'HH:mm:ssZZ
        rf"{_Y}-{_D}T{_HMS}",  # 4  yyyy-MM-dd'T'HH:mm:ss (UTC)
        rf"{_Y}-{_D}T{_HMS}\.{_MS}",  # 5  yyyy-MM-dd'T'HH:mm:ss.SSS (UTC)
        rf"{_Y}-{_D}T(?P<h>\d{{1,2}}):(?P<mi>\d{{1,2}})\.{_MS}{_ZZ}",  # 6  HH:mm.SSSZZ
        rf"{_Y}-{_D}T(?P<h>\d{{1,2}}):(?P<mi>\d{{1,2}}){_ZZ}",  # 7  HH:mmZZ
        rf"{_TEXT}\.{_MS} (?P<zn>[A-Za-z]+) {_Y}",  # 8  E MMM dd HH:mm:ss.SSS z yyyy
        rf"{_TEXT} (?P<zn>[A-Za-z]+) {_Y}",  # 9  E MMM dd HH:mm:ss z yyyy
        rf"{_TEXT}\.{_MS} (?P<bst>BST) {_Y}",  # 10 ... with a literal BST
        rf"{_TEXT} (?P<bst>BST) {_Y}",  # 10
        rf"{_YF}(?P<mo>\d{{2}})(?P<d>\d{{1,2}})",  # 11 yyyyMMdd
        rf"{_YF}(?P<mo>\d{{1,2}})",  # 12 yyyyMM
        rf"{_YF}(?P<d>\d{{2}})(?P<mo>\d{{1,2}})",  # 13 yyyyddMM
        _Y,  # 14 yyyy
        rf"{_Y}-(?P<mo>\d{{1,2}})",  # 15 yyyy-MM
        rf"{_Y}:(?P<mo>\d{{1,2}}):(?P<d>\d{{1,2}})",  # 16 yyyy:MM:dd
        rf"{_Y}-{_D}",  # 17 yyyy-MM-dd
        _ISO,  # 18 ISO date (UTC)
    )
]


def _zone(fields: dict[str, str | None]) -> tzinfo | None:
    if fields.get("bst"):
        return BST
    name = fields.get("zn")
    if name is not None:
        return _ZONE_NAMES.get(name.upper())
    offset = fields.get("z")
    if offset is None or offset == "Z":
        return UTC
    digits = offset[1:].replace(":", "").ljust(4, "0")
    hours, minutes = int(digits[:2]), int(digits[2:4])
    if hours > 23 or minutes > 59:  # Joda's offset parser refuses them: the format fails
        return None
    delta = timedelta(hours=hours, minutes=minutes)
    return timezone(-delta if offset[0] == "-" else delta)


def _build(fields: dict[str, str | None]) -> datetime | None:
    """The instant the matched fields describe, or None when a field is out of range."""
    if fields.get("dow") is not None:
        if str(fields["dow"]).lower() not in _DAYS:
            return None
        month: int | None = _MONTHS.get(str(fields["mon"]).lower())
        if month is None:
            return None
    else:
        month = int(fields.get("mo") or 1)
    zone = _zone(fields)
    if zone is None:
        return None
    fraction = fields.get("ms") or ""
    try:
        local = datetime(
            int(fields["y"] or ""),
            month,
            int(fields.get("d") or 1),
            int(fields.get("h") or 0),
            int(fields.get("mi") or 0),
            int(fields.get("s") or 0),
            int(fraction.ljust(6, "0")[:6]) if fraction else 0,
        )
        return local.replace(tzinfo=zone).astimezone(UTC)
    except (ValueError, OverflowError):
        return None


def _candidates(value: str) -> Iterator[datetime]:
    """Every format's reading of ``value``, in format order (lazily: most callers stop early)."""
    for pattern in _FORMATS:
        match = pattern.fullmatch(value)
        if match is not None and (moment := _build(match.groupdict())) is not None:
            yield moment


def parse_random_date(value: str, latest_allowed: datetime | None = None) -> datetime | None:
    """The first reading strictly after 0001-01-03 and before ``latest_allowed`` + 14 h."""
    upper = latest_allowed + LOCAL_TIME_SLACK if latest_allowed is not None else None
    for moment in _candidates(value.strip()):
        if moment > LOWER_BOUND and (upper is None or moment < upper):
            return moment
    return None


def clean_date(value: str) -> str:
    """XMP ``cleanDate``: fix ``YYYY0000``/``YYYYMM00``, then print as ISO UTC if it parses."""
    if len(value) == 8 and value.endswith("0000"):
        value = value[:4] + "0101"
    elif len(value) == 8 and value.endswith("00"):
        value = value[:6] + "01"
    found = next(_candidates(value), None)
    return iso_millis(found) if found is not None else value
