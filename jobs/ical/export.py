"""Build the iCal feed we publish for a property (pure: stays in, RFC 5545 bytes out).

Choices:
- Every stay is an all-day VEVENT: DTSTART;VALUE=DATE is the check-in, DTEND;VALUE=DATE the check-out, which
  iCal defines as exclusive, exactly like our [check_in, check_out) nights.
- SUMMARY is always "Reserved": the feed is public to whoever holds the URL, so it never names the guest.
- UID is the reservation code at our domain: stable across fetches (platforms match events by UID, and a UID
  that changed on every fetch would make them delete and re-create every block) and unique per reservation.
- DTSTAMP is the reservation's last change, not "now": the body then changes only when a stay changes, so its
  hash is a usable ETag and platforms polling every few minutes get 304s.
- icalendar needs about 0.3 s for 2,000 events (line folding is character by character), and platforms poll the
  same unchanged feed over and over: `cached_export_calendar` keeps the latest bodies, keyed by their content.
"""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from functools import lru_cache

import icalendar

PRODID = "-//Only-apartments//Calendar Sync Console//EN"
UID_DOMAIN = "only-apartments.com"
SUMMARY = "Reserved"


@dataclass(frozen=True)
class ExportedStay:
    """One direct booking or manual block as the export feed shows it."""

    code: str
    check_in: date
    check_out: date
    changed_at: datetime  # naive UTC, as stored


def stay_uid(code: str) -> str:
    """The event UID of a reservation: the same on every fetch, different for every reservation."""
    return f"{code}@{UID_DOMAIN}"


def _utc(value: datetime) -> datetime:
    """A stored naive-UTC datetime as an aware UTC one (serialised with a Z), whole seconds."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).replace(microsecond=0)


def _event(stay: ExportedStay) -> icalendar.Event:
    """One all-day VEVENT for a stay."""
    event = icalendar.Event()
    event.add("uid", stay_uid(stay.code))
    event.add("dtstamp", _utc(stay.changed_at))
    event.add("dtstart", stay.check_in)
    event.add("dtend", stay.check_out)
    event.add("summary", SUMMARY)  # TRANSP is left out: OPAQUE (busy) is its default
    return event


def build_export_calendar(calendar_name: str, stays: Iterable[ExportedStay]) -> bytes:
    """The RFC 5545 calendar (CRLF lines, folded by icalendar) for these stays, in the order given."""
    cal = icalendar.Calendar()
    cal.add("version", "2.0")
    cal.add("prodid", PRODID)
    cal.add("calscale", "GREGORIAN")
    cal.add("method", "PUBLISH")
    # icalendar does not know X-WR-CALNAME: say it is TEXT so commas and semicolons are escaped.
    cal.add("x-wr-calname", icalendar.vText(calendar_name))
    for stay in stays:
        cal.add_component(_event(stay))
    return cal.to_ical()


@lru_cache(maxsize=32)
def cached_export_calendar(calendar_name: str, stays: tuple[ExportedStay, ...]) -> bytes:
    """build_export_calendar, remembered for the last 32 distinct feeds (the key is the whole content)."""
    return build_export_calendar(calendar_name, stays)
