"""Grid's ISO dates: UTC with milliseconds on output; with or without millis, or a bare date,
on input (Joda's dateTime | dateTimeNoMillis | date)."""

from __future__ import annotations

from datetime import UTC, datetime


def format_iso(moment: datetime) -> str:
    """``2015-01-22T00:00:00.000Z``."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def parse_iso(text: str) -> datetime:
    """Parse an ISO date (naive values are UTC); raise ValueError on anything else."""
    moment = datetime.fromisoformat(text.strip())
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def now_iso() -> str:
    return format_iso(datetime.now(UTC))


def from_epoch(seconds: float) -> str:
    return format_iso(datetime.fromtimestamp(seconds, UTC))
