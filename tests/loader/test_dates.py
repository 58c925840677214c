"""parseRandomDate and cleanDate against the table asserted by Grid's converter tests."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from reingest.loader.dates import clean_date, parse_random_date


def utc(*fields: int, tz: timezone = UTC) -> datetime:
    return datetime(*fields, tzinfo=tz).astimezone(UTC)  # type: ignore[misc]


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2001-02-03T04:05:06 +00:00", utc(2001, 2, 3, 4, 5, 6)),
        ("2001-02-03T04:05.006+00:00", utc(2001, 2, 3, 4, 5, 0, 6000)),
        (
            "Tue Dec 16 01:23:45 PDT 2014",
            utc(2014, 12, 16, 1, 23, 45, tz=timezone(timedelta(hours=-8))),
        ),
        ("Tue Jul 03 04:05:06 BST 2001", utc(2001, 7, 3, 3, 5, 6)),
        ("20012802", utc(2001, 2, 28)),
        ("20012", utc(2001, 2, 1)),
        ("2000-02-31", None),
        ("-0003-01-01", None),
        ("2015:04:02", utc(2015, 4, 2)),
        ("2015-01-22T00:00:00.000Z", utc(2015, 1, 22)),
    ],
)
def test_parse_random_date(value: str, expected: datetime | None) -> None:
    assert parse_random_date(value) == expected


def test_upper_bound_rejects_dates_after_the_latest_allowed() -> None:
    assert parse_random_date("2021-01-01", latest_allowed=utc(2020, 12, 31)) is None


def test_upper_bound_allows_fourteen_hours_of_local_time() -> None:
    latest = utc(2021, 1, 1)
    assert parse_random_date("2021-01-01T13:59:59", latest) == utc(2021, 1, 1, 13, 59, 59)
    assert parse_random_date("2021-01-01T14:00:00", latest) is None


def test_a_format_failing_the_bounds_falls_through_to_the_next() -> None:
    """Grid's code-comment example: yyyyMMdd would be after the max, yyyyddMM is not."""
    assert parse_random_date("20211201", latest_allowed=utc(2021, 1, 22)) == utc(2021, 1, 12)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2014-12-16", "2014-12-16T00:00:00.000Z"),
        ("2014-12-16T01:02Z", "2014-12-16T01:02:00.000Z"),
        ("Sat Aug 16 01:02:03 BST 2014", "2014-08-16T00:02:03.000Z"),
        ("19250000", "1925-01-01T00:00:00.000Z"),
        ("banana", "banana"),
        ("0001-01-01T00:00:00 +00:00", "0001-01-01T00:00:00.000Z"),
    ],
)
def test_clean_date(value: str, expected: str) -> None:
    assert clean_date(value) == expected
