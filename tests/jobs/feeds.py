"""Builders of real-looking iCal feeds (shapes of each channel's real feeds), for tests and benchmarks."""
from __future__ import annotations

import random
import re
from collections.abc import Callable
from datetime import date, datetime, timedelta

from jobs.ical.parse import parse_feed
from jobs.rules.stays import ParsedFeed

AIRBNB_PRODID = "-//Airbnb Inc//Hosting Calendar 1.0//EN"
AIRBNB_LEGACY_PRODID_LINE = "PRODID;X-RICAL-TZSOURCE=TZINFO:-//Airbnb Inc//Hosting Calendar 0.8.8//EN"
VRBO_PRODID = "-//HomeAway.com, Inc.//EN"
TODAY = date(2026, 3, 1)  # "today" of the parse tests
GOOGLE_PRODID = "-//Google Inc//Google Calendar 70.9054//EN"

MADRID_VTIMEZONE = [
    "BEGIN:VTIMEZONE", "TZID:Europe/Madrid", "X-LIC-LOCATION:Europe/Madrid",
    "BEGIN:DAYLIGHT", "TZOFFSETFROM:+0100", "TZOFFSETTO:+0200", "TZNAME:CEST", "DTSTART:19700329T020000",
    "RRULE:FREQ=YEARLY;BYMONTH=3;BYDAY=-1SU", "END:DAYLIGHT",
    "BEGIN:STANDARD", "TZOFFSETFROM:+0200", "TZOFFSETTO:+0100", "TZNAME:CET", "DTSTART:19701025T030000",
    "RRULE:FREQ=YEARLY;BYMONTH=10;BYDAY=-1SU", "END:STANDARD",
    "END:VTIMEZONE",
]


def fold(line: str) -> bytes:
    """Fold one content line at 75 octets, as RFC 5545 generators do: even inside a multi-byte character."""
    raw = line.encode("utf-8")
    parts = [raw[:75]]
    raw = raw[75:]
    while raw:
        parts.append(b" " + raw[:74])
        raw = raw[74:]
    return b"\r\n".join(parts)


def calendar(lines: list[str], *, newline: str = "\r\n", folded: bool = True, end: bool = True) -> bytes:
    """Wrap content lines (headers and events) in a VCALENDAR and serialise them."""
    body = ["BEGIN:VCALENDAR", *lines] + (["END:VCALENDAR"] if end else [])
    encoded = [fold(line) if folded else line.encode("utf-8") for line in body]
    return newline.encode().join(encoded).replace(b"\r\n", newline.encode()) + newline.encode()


def d(day: date) -> str:
    """A DATE value."""
    return day.strftime("%Y%m%d")


def dt(moment: datetime, utc: bool = False) -> str:
    """A DATE-TIME value (UTC form with utc=True)."""
    return moment.strftime("%Y%m%dT%H%M%S") + ("Z" if utc else "")


def event(uid: str, start: str, end: str | None, summary: str | None, *extra: str) -> list[str]:
    """One VEVENT's lines; start/end are whole property texts after the name (e.g. ';VALUE=DATE:20250101')."""
    lines = ["BEGIN:VEVENT", f"DTSTART{start}"]
    if end is not None:
        lines.append(f"DTEND{end}")
    if summary is not None:
        lines.append(f"SUMMARY:{summary}")
    return lines + [f"UID:{uid}", *extra, "END:VEVENT"]


def all_day(day: date) -> str:
    """';VALUE=DATE:yyyymmdd' for an all-day DTSTART/DTEND."""
    return f";VALUE=DATE:{d(day)}"


def airbnb_feed(stays: list[tuple[date, date, str]]) -> bytes:
    """Current Airbnb export: Reserved bookings with DESCRIPTION, and 'Airbnb (Not available)' blocks."""
    lines = [f"PRODID:{AIRBNB_PRODID}", "CALSCALE:GREGORIAN", "VERSION:2.0"]
    for n, (start, end, summary) in enumerate(stays):
        uid = f"{n:012x}-{'ab' * 16}@airbnb.com"
        extra = ["DTSTAMP:20250301T101010Z"]
        if summary == "Reserved":
            extra.append("DESCRIPTION:Reservation URL: https://www.airbnb.com/hosting/reservations/details/"
                         "HMABCD1234\\nPhone Number (Last 4 Digits): 1234")
        lines += event(uid, all_day(start), all_day(end), summary, *extra)
    return calendar(lines)


def airbnb_legacy_feed(stays: list[tuple[date, date, str]]) -> bytes:
    """Legacy Airbnb export: a parameter on PRODID, no DTSTAMP, 'Guest Name (HM..)' summaries."""
    lines = [AIRBNB_LEGACY_PRODID_LINE, "CALSCALE:GREGORIAN", "VERSION:2.0"]
    for n, (start, end, summary) in enumerate(stays):
        lines += event(f"{n:012x}-{'cd' * 16}@airbnb.com", all_day(start), all_day(end), summary)
    return calendar(lines)


def vrbo_feed(stays: list[tuple[date, date, str]], old_dates: bool = False) -> bytes:
    """Vrbo/HomeAway export; old_dates writes DTSTART:yyyymmdd without VALUE=DATE, as old exports did."""
    lines = [f"PRODID:{VRBO_PRODID}", "VERSION:2.0", "CALSCALE:GREGORIAN"]
    for n, (start, end, summary) in enumerate(stays):
        form = (lambda day: f":{d(day)}") if old_dates else all_day
        lines += event(f"6f1c2a7e-0000-4000-8000-{n:012d}", form(start), form(end), summary,
                       "DTSTAMP:20250301T101010Z")
    return calendar(lines)


def booking_feed(stays: list[tuple[date, date]], backslashes: int = 1, newline: str = "\n") -> bytes:
    """Booking.com export: 'CLOSED - Not available', escaped comma in PRODID, bare LF line ends."""
    prodid = "-//admin.booking.com" + "\\" * backslashes + ", b.v.//NONSGML v1.0//EN"
    lines = ["VERSION:2.0", f"PRODID:{prodid}", "METHOD:PUBLISH"]
    for n, (start, end) in enumerate(stays):
        lines += event(f"{n:032x}@booking.com", all_day(start), all_day(end), "CLOSED - Not available")
    return calendar(lines, newline=newline)


def google_header() -> list[str]:
    """The lines Google puts before its events."""
    return [f"PRODID:{GOOGLE_PRODID}", "VERSION:2.0", "CALSCALE:GREGORIAN", "METHOD:PUBLISH",
            "X-WR-CALNAME:Apartamento Sol", "X-WR-TIMEZONE:Europe/Madrid", *MADRID_VTIMEZONE]


def google_event(uid: str, start: str, end: str | None, summary: str | None, *extra: str) -> list[str]:
    """A Google event with the bookkeeping properties Google writes."""
    return event(uid, start, end, summary, "DTSTAMP:20250301T101010Z", "CREATED:20190101T090000Z",
                 "LAST-MODIFIED:20190102T090000Z", "SEQUENCE:0", "STATUS:CONFIRMED", "TRANSP:OPAQUE", *extra)


def google_history_feed(today: date, events: int = 2000, seed: int = 7) -> bytes:
    """A Google calendar holding years of history (mostly past events, a few repeating) and a few future ones."""
    rng = random.Random(seed)
    lines = google_header()
    first = today - timedelta(days=365 * 6)
    for n in range(events):
        uid = f"{rng.getrandbits(80):020x}@google.com"
        future = n % 200 == 0
        start = today + timedelta(days=rng.randint(0, 300)) if future else first + timedelta(days=n)
        summary = rng.choice(["Reserved", "Reserved", "Limpieza", "Dentist", "Reserved "])
        extra = ["DESCRIPTION:Llegada tarde\\, llaves en el buzón."]
        if n % 400 == 1:
            extra.append("RRULE:FREQ=WEEKLY;BYDAY=MO" + (";UNTIL=20200101T000000Z" if n % 800 == 1 else ""))
        if n % 3:
            lines += google_event(uid, all_day(start), all_day(start + timedelta(days=rng.randint(1, 9))),
                                  summary, *extra)
        else:
            begin = datetime(start.year, start.month, start.day, 16, 0)
            lines += google_event(uid, f";TZID=Europe/Madrid:{dt(begin)}",
                                  f";TZID=Europe/Madrid:{dt(begin + timedelta(days=rng.randint(1, 6), hours=-5))}",
                                  summary, *extra)
    return calendar(lines)


# --- for the parse tests --------------------------------------------------------------------------------------

def day(offset: int) -> date:
    """A date relative to TODAY."""
    return TODAY + timedelta(days=offset)


def nights(parsed: ParsedFeed) -> list[tuple[date, date]]:
    """The (check_in, check_out) pairs of a parsed feed."""
    return [(stay.check_in, stay.check_out) for stay in parsed.stays]


def google(*events: list[str]) -> bytes:
    """A Google calendar with these events."""
    return calendar(google_header() + [line for ev in events for line in ev])


def parse(body: bytes, source: str = "ical", timezone: str = "Europe/Madrid", **kwargs) -> ParsedFeed:
    """parse_feed with the test's today."""
    return parse_feed(body, source, timezone, TODAY, **kwargs)


def weekly_series() -> bytes:
    """A weekly timed 'Reserved' series with an EXDATE, a moved (longer) instance and a cancelled instance."""
    first = day(2)

    def at(offset: int, time: str = "160000") -> str:
        return f";TZID=Europe/Madrid:{first + timedelta(days=offset):%Y%m%d}T{time}"

    cancelled = google_event("w@google.com", at(21), at(23, "110000"), "Reserved", f"RECURRENCE-ID{at(21)}")
    return google(
        google_event("w@google.com", at(0), at(2, "110000"), "Reserved", "RRULE:FREQ=WEEKLY;COUNT=6",
                     f"EXDATE{at(14)}"),
        google_event("w@google.com", at(7), at(10, "110000"), "Reserved", f"RECURRENCE-ID{at(7)}"),
        [line.replace("STATUS:CONFIRMED", "STATUS:CANCELLED") for line in cancelled],
    )


def recase_names(body: bytes, case: Callable[[str], str], only: tuple[str, ...] = ()) -> bytes:
    """The body with content line names (not parameters or values) rewritten by `case`; `only` limits which."""
    def rewrite(match: re.Match[bytes]) -> bytes:
        name = match.group(1).decode()
        return case(name).encode() if not only or name.upper() in only else match.group(1)
    return re.sub(rb"(?m)^([A-Za-z][A-Za-z0-9-]*)(?=[;:])", rewrite, body)


def alternating_case(name: str) -> str:
    """'DTSTART' -> 'DtStArT': a mixed case no generator should write, but RFC 5545 allows."""
    return "".join(char.lower() if n % 2 else char.upper() for n, char in enumerate(name))
