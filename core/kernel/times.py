"""The one way the Hub writes time: UTC, ISO 8601, ending in `Z` (`2024-01-15T10:30:00Z`)."""

from __future__ import annotations

from datetime import date, datetime, timezone


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


def utc_today() -> date:
    return utcnow().date()


def iso(value: datetime | float | None) -> str | None:
    """`value` (a datetime, or unix seconds) in UTC with a `Z` (naive datetimes are taken as
    UTC); None stays None."""
    if value is None:
        return None
    if not isinstance(value, datetime):
        value = datetime.fromtimestamp(float(value), timezone.utc)
    elif value.tzinfo is None:
        value = value.replace(tzinfo=timezone.utc)
    return value.astimezone(timezone.utc).isoformat().replace("+00:00", "Z")


def iso_now() -> str:
    return iso(utcnow())
