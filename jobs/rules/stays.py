"""Plain data shared by the sync pipeline steps (fetch -> parse -> reconcile -> detect -> score)."""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from email.utils import parsedate_to_datetime

# Why an event does not block dates (IgnoredEvent.reason).
NOT_RESERVED = 'not titled "Reserved"'
CANCELLED = "cancelled (STATUS:CANCELLED)"


@dataclass(frozen=True)
class Stay:
    """One blocked stay from an external calendar: nights [check_in, check_out)."""

    uid: str
    check_in: date
    check_out: date
    summary: str = ""


@dataclass(frozen=True)
class IgnoredEvent:
    """An event that was read but does not block dates, with the reason in plain words."""

    summary: str
    reason: str
    uid: str = ""  # the event's UID (a repeating event's own UID, without `#date`), when it has one
    check_in: date | None = None  # its nights, when they could be read
    check_out: date | None = None


@dataclass(frozen=True)
class UnreadableEvent:
    """An event of the feed that could not be read; the block stored for its UID, if any, is kept."""

    uid: str
    summary: str
    line: int  # where its BEGIN:VEVENT is in the feed (1 = first line), 0 when unknown
    reason: str  # a sentence for the property team
    detail: str = ""  # the parsing library's own words, for the tech team


@dataclass(frozen=True)
class FeedWarning:
    """Something a person should know about a feed that did not stop the sync."""

    kind: str  # warning kinds (docs/outcomes.md): suspicious_empty, ignored_events, free_busy_only
    message: str


@dataclass
class ParsedFeed:
    """What a feed holds for us: its blocking stays, what was ignored and why, and warnings."""

    stays: list[Stay]
    events_total: int
    ignored: list[IgnoredEvent] = field(default_factory=list)
    warnings: list[FeedWarning] = field(default_factory=list)
    prodid: str = ""
    notes: list[str] = field(default_factory=list)  # worth knowing, not a warning (e.g. an invalid TZID)
    # UIDs of blocking events whose dates could not be read: the blocks stored for them must be kept as they are
    # (reconcile_blocks keep_uids), or an event we misread would delete a booking. A UID `u` also covers the
    # `u#yyyymmdd` blocks of its instances.
    unreadable_uids: list[str] = field(default_factory=list)
    unreadable: list[UnreadableEvent] = field(default_factory=list)  # every event that could not be read

    @property
    def doubt(self) -> str:
        """Why the reconcile guard should hold this feed's changes (most of its events unreadable), or ''."""
        count = len(self.unreadable)
        if count and count * 2 > self.events_total:
            return (f"{count} of the calendar's {self.events_total} events cannot be read, so the feed "
                    f"itself may be broken.")
        return ""


class SyncFailure(Exception):
    """A classified failure of one sync step; `kind` is an error kind (docs/outcomes.md)."""

    def __init__(self, kind: str, message: str, http_status: int | None = None,
                 retry_after: float | None = None):
        super().__init__(message)
        self.kind = kind
        self.message = message
        self.http_status = http_status
        self.retry_after = retry_after  # seconds, when the remote asked us to wait


def parse_retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """Seconds a remote asked us to wait (SyncFailure.retry_after) from its Retry-After header:
    delta-seconds (a fraction or a negative number tolerated) or an HTTP-date; None when absent or bad."""
    text = (value or "").strip()
    if not text:
        return None
    try:
        seconds = float(text)
    except ValueError:
        pass
    else:
        return max(0.0, seconds) if math.isfinite(seconds) else None
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:  # "-0000": UTC by another name
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())
