"""Time in one convention: naive UTC datetimes in the database, ISO 8601 with Z on the wire."""
from __future__ import annotations

from datetime import datetime, timezone


def utcnow() -> datetime:
    """Now, as a naive UTC datetime (what every DateTime column holds)."""
    return datetime.now(timezone.utc).replace(tzinfo=None)


def iso(value: datetime | None) -> str | None:
    """A stored naive-UTC datetime as ISO 8601 UTC text, or None."""
    if value is None:
        return None
    if value.tzinfo is not None:
        value = value.astimezone(timezone.utc).replace(tzinfo=None)
    return value.replace(microsecond=0).isoformat() + "Z"
