"""An independent reading of a feed: icalendar + recurring-ical-events over the whole body, with our rules
(which events block, nights in the property's zone, the window), to compare parse_feed with."""
from __future__ import annotations

from datetime import date, timedelta
from zoneinfo import ZoneInfo

import icalendar
import recurring_ical_events

from jobs.ical.nights import NotAStay, to_nights
from jobs.ical.profiles import PROFILES
from tests.jobs.feeds import TODAY


def library_nights(body: bytes, timezone: str, source: str = "ical", today: date = TODAY,
                   horizon_days: int = 550) -> list[tuple[date, date]]:
    """The blocking nights of every instance in the window, as the library expands the feed, sorted."""
    zone, end = ZoneInfo(timezone), today + timedelta(days=horizon_days)
    profile = PROFILES[source]
    calendar = icalendar.Calendar.from_ical(body)
    found = []
    for instance in recurring_ical_events.of(calendar, skip_bad_series=True).between(today - timedelta(days=1),
                                                                                   end + timedelta(days=1)):
        summary = str(instance["SUMMARY"]).strip() if "SUMMARY" in instance else None
        if profile.ignore_reason(summary, str(instance.get("STATUS", "")).strip().upper()) is not None:
            continue
        if "DTSTART" not in instance:
            continue  # an event without a start is no stay for us either
        start = instance["DTSTART"].dt
        stop = instance["DTEND"].dt if "DTEND" in instance else None
        try:
            check_in, check_out = to_nights(start, stop, zone)
        except NotAStay:
            continue
        if check_out > today and check_in < end:
            found.append((check_in, check_out))
    return sorted(found)


def library_series_nights(body: bytes, timezone: str, today: date = TODAY,
                          horizon_days: int = 550) -> dict[str, set[tuple[date, date]]]:
    """Every event's nights in the window by UID (all events blocking), as the library expands the feed."""
    zone, end = ZoneInfo(timezone), today + timedelta(days=horizon_days)
    found: dict[str, set[tuple[date, date]]] = {}
    calendar = icalendar.Calendar.from_ical(body)
    for instance in recurring_ical_events.of(calendar).between(today - timedelta(days=1), end + timedelta(days=1)):
        stop = instance["DTEND"].dt if "DTEND" in instance else None
        try:
            check_in, check_out = to_nights(instance["DTSTART"].dt, stop, zone)
        except NotAStay:
            continue
        if check_out > today and check_in < end:
            found.setdefault(str(instance["UID"]), set()).add((check_in, check_out))
    return found
