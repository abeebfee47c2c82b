"""How long a feed says its answer stays fresh (Cache-Control max-age, or Expires): a hint for the schedule."""
from __future__ import annotations

import re
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

_MAX_AGE = re.compile(r"(?:^|,)\s*(?:s-)?max-age\s*=\s*\"?(\d+)", re.IGNORECASE)
_NO_CACHE = re.compile(r"(?:^|,)\s*(?:no-cache|no-store)\b", re.IGNORECASE)


def _when(value: str | None) -> datetime | None:
    try:
        when = parsedate_to_datetime(value) if value else None
    except (TypeError, ValueError, IndexError):
        return None
    return when.replace(tzinfo=UTC) if when and when.tzinfo is None else when


def cache_max_age(cache_control: str | None, expires: str | None, date: str | None = None,
                  now: datetime | None = None) -> float | None:
    """Seconds the answer stays fresh by its headers; None without a usable hint (no-cache: none)."""
    if cache_control:
        if _NO_CACHE.search(cache_control):
            return None
        ages = [int(m) for m in _MAX_AGE.findall(cache_control)]
        if ages:
            return float(min(ages)) or None
    until = _when(expires)
    if until is None:
        return None
    since = _when(date) or now or datetime.now(UTC)
    left = (until - since).total_seconds()
    return left if left > 0 else None
