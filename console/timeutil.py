"""Time in one convention: naive UTC datetimes in the database, ISO 8601 with Z on the wire, relative
words on pages."""
from __future__ import annotations

from datetime import UTC, date, datetime, time
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError


def utcnow() -> datetime:
    """Now, as a naive UTC datetime (what every DateTime column holds)."""
    return datetime.now(UTC).replace(tzinfo=None)


def naive_utc(value: datetime | None) -> datetime | None:
    """A UTC moment, naive or aware (RQ keeps either), as the naive UTC every column holds."""
    if value is None or value.tzinfo is None:
        return value
    return value.astimezone(UTC).replace(tzinfo=None)


def local_today(zone: str, now: datetime | None = None) -> date:
    """Today's date on a property's clock (UTC's when the zone is unknown)."""
    moment = (now or utcnow()).replace(tzinfo=UTC)
    try:
        return moment.astimezone(ZoneInfo(zone)).date()
    except (ZoneInfoNotFoundError, ValueError):
        return moment.date()


def local_midnight(day: date, zone: str) -> datetime:
    """When `day` begins on a property's clock, as naive UTC (UTC's midnight when the zone is unknown)."""
    try:
        return datetime.combine(day, time(), ZoneInfo(zone)).astimezone(UTC).replace(tzinfo=None)
    except (ZoneInfoNotFoundError, ValueError):
        return datetime.combine(day, time())


def iso(value: datetime | None) -> str | None:
    """A stored naive-UTC datetime as ISO 8601 UTC text, or None."""
    if value is None:
        return None
    return naive_utc(value).replace(microsecond=0).isoformat() + "Z"


def ago(value: str | datetime | None, now: datetime | None = None) -> str:
    """How long ago or how soon, in words: "just now", "1 minute ago", "3 hours ago", "in 2 days"."""
    if value is None:
        return "never"
    if isinstance(value, str):
        value = datetime.fromisoformat(value.replace("Z", "+00:00"))
    seconds = ((now or utcnow()) - naive_utc(value)).total_seconds()
    if seconds < 0:  # to come: rounded, so a token made to last 30 days says "in 30 days", not 29
        return "in " + _span(_rounded(-seconds))
    return "just now" if seconds < 60 else _span(seconds) + " ago"


def exact_utc(value: str | datetime | None) -> str:
    """The exact moment as people read it, "2026-11-23 09:00:05 UTC" (the hover text of a relative time)."""
    if value is None:
        return ""
    text = value if isinstance(value, str) else iso(value)
    return text.replace("T", " ").replace("Z", "")[:19] + " UTC"


def _rounded(seconds: float) -> float:
    """A span to the nearest unit `_span` names (minute, hour or day)."""
    unit = 60 if seconds < 3600 else 3600 if seconds < 48 * 3600 else 86400
    return round(seconds / unit) * unit


def _span(seconds: float) -> str:
    if seconds < 3600:
        return plural(max(1, int(seconds // 60)), "minute")
    if seconds < 48 * 3600:
        return plural(int(seconds // 3600), "hour")
    return plural(int(seconds // 86400), "day")


def plural(count: int, word: str, words: str | None = None) -> str:
    """The count with its noun in the right number: "1 night", "2 nights", "0 nights"."""
    return f"{count} {word if count == 1 else (words or word + 's')}"
