"""Event dates and times turned into nights [check_in, check_out) in the property's time zone.

Rules (docs/sync-rules.md, "Parsing"):
- All-day values (VALUE=DATE, or a bare 8-digit value as old Vrbo exports write) stay dates: never through UTC.
  No end means one night; an end on or before the start is not a stay.
- Timed values (UTC `Z`, TZID, or floating) become local dates in the property's time zone:
  check_in = local date of the start, check_out = local date of the end (an end at local midnight is that
  date, so 15:00 -> 11:00 and 00:00 -> 00:00 stays both end on the checkout day), and at least one night:
  an afternoon appointment blocks that night. An end before the start is not a stay.
- Floating times (no TZID, no Z) mean the calendar's X-WR-TIMEZONE when it names a known zone, as Google
  Calendar and Apple Calendar read them; otherwise (none, or not a zone: a note says so) the property's zone.
- TZID: an IANA name; else a VTIMEZONE of the feed with that name; else a Windows zone name ("W. Europe
  Standard Time", as Outlook and Exchange write) mapped to its IANA zone; else a libical "globally unique"
  `/vendor/.../Area/City` name; else a fixed offset (`GMT+05:30`); else the property's zone, with a note.
- Letters in values are case-insensitive too (RFC 5545 3.1): `20260301t100000z` is read like `20260301T100000Z`.
"""
from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta, timezone, tzinfo
from zoneinfo import ZoneInfo

import icalendar
from icalendar.timezone.windows_to_olson import WINDOWS_TO_OLSON

from jobs.ical.scan import ScannedCalendar, decode_value

_VALUE = re.compile(r"(\d{4})-?(\d{2})-?(\d{2})(?:[Tt](\d{2})(\d{2})(\d{2})?([Zz])?)?\s*$")
_PARAM = re.compile(r';([^=;:]+)=("[^"]*"|[^;]*)')
_OFFSET = re.compile(r"^(?:GMT|UTC|UT)?\s*([+-])(\d{1,2})(?::?(\d{2}))?$", re.I)
_DURATION = re.compile(r"^([+-])?P(?:(\d+)W)?(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+)S)?)?$", re.I)
ONE_DAY = timedelta(days=1)


class NotAStay(ValueError):
    """An event whose dates cannot make a stay; the message says why in plain words."""


def split_property(text: str) -> tuple[dict[str, str], str]:
    """Split ';NAME=VALUE...:value' into upper-cased params and the value.

    Date values never hold a colon, so the last colon separates them: this also reads the invalid but real
    `DTSTART;TZID=GMT+05:30:20250101T100000` (an unquoted colon in a parameter).
    """
    head, _, value = text.rpartition(":")
    params = {name.strip().upper(): raw.strip('"') for name, raw in _PARAM.findall(head)}
    return params, value.strip()


class ZoneResolver:
    """Turns TZID parameters into time zones, with fallbacks for the invalid ones real feeds carry."""

    def __init__(self, property_zone: ZoneInfo, feed_zone: Callable[[str], tzinfo | None], notes: list[str],
                 floating: str = ""):
        self.property_zone = property_zone
        self._feed_zone = feed_zone  # a VTIMEZONE of the feed, for names that are not IANA names
        self._notes = notes
        self._cache: dict[str, tzinfo] = {}
        # What floating times mean: the calendar's X-WR-TIMEZONE when it is a zone, else property time (None).
        self.floating_zone: tzinfo | None = None
        if floating.strip():
            self.floating_zone = iana_zone(floating.strip()) or windows_zone(floating)
            if self.floating_zone is None:
                notes.append(f"X-WR-TIMEZONE {floating.strip()[:64]!r} is not a time zone name: floating times "
                             f"were read in the property's time zone ({property_zone.key}).")

    def note(self, text: str) -> None:
        """Record a parser note once."""
        if text not in self._notes:
            self._notes.append(text)

    def zone(self, tzid: str) -> tzinfo:
        """The time zone a TZID means; unknown ones fall back (offset, else property zone) with a note."""
        if tzid not in self._cache:
            self._cache[tzid] = self._resolve(tzid.strip().strip('"'))
        return self._cache[tzid]

    def is_known(self, tzid: str) -> bool:
        """Whether a TZID resolves without fallback (an IANA name or a VTIMEZONE of the feed)."""
        return iana_zone(tzid) is not None or self._feed_zone(tzid) is not None

    def iana_name(self, tzid: str) -> str | None:
        """For a TZID that is not known (see is_known): the IANA name it is read as, None for a fixed offset."""
        zone = self.zone(tzid)
        return zone.key if isinstance(zone, ZoneInfo) else None

    def localise(self, when: date | datetime | None) -> date | datetime | None:
        """A floating datetime put in the zone floating times mean (unchanged when that is property time)."""
        if isinstance(when, datetime) and when.tzinfo is None and self.floating_zone is not None:
            return when.replace(tzinfo=self.floating_zone)
        return when

    def _resolve(self, tzid: str) -> tzinfo:
        """Resolve one TZID (see zone)."""
        found = iana_zone(tzid) or self._feed_zone(tzid) or windows_zone(tzid) or _vendor_path_zone(tzid)
        if found is not None:
            return found
        offset = parse_offset(tzid)
        if offset is not None:
            self._notes.append(f"TZID {tzid!r} is not a time zone name: read as the fixed offset {offset}.")
            return offset
        self._notes.append(f"Unknown TZID {tzid!r}: its times were read in the property's time zone "
                           f"({self.property_zone.key}).")
        return self.property_zone


# Windows time zone names (Outlook, Exchange and feeds built on .NET write them in TZID, often without a
# VTIMEZONE) -> IANA zones: the Unicode CLDR windowsZones table as icalendar ships it (pinned version).
_WINDOWS_ZONES = {name.casefold(): iana for name, iana in WINDOWS_TO_OLSON.items()}


def windows_zone(name: str) -> ZoneInfo | None:
    """The IANA zone of a Windows time zone name (any case, surrounding spaces or quotes ignored), or None."""
    iana = _WINDOWS_ZONES.get(name.strip().strip('"').strip().casefold())
    return iana_zone(iana) if iana else None


def _vendor_path_zone(tzid: str) -> ZoneInfo | None:
    """The zone of a libical-style `/vendor/.../Area/City` TZID (Evolution, Thunderbird), longest suffix first."""
    if not tzid.startswith("/"):
        return None
    parts = [part for part in tzid.split("/") if part]
    for start in range(1, len(parts)):
        found = iana_zone("/".join(parts[start:]))
        if found is not None:
            return found
    return None


def iana_zone(name: str) -> ZoneInfo | None:
    """The IANA zone of that name, or None (also for names ZoneInfo rejects as paths)."""
    if not name or len(name) > 64 or name.startswith(("/", ".")):
        return None
    try:
        return ZoneInfo(name)
    except (ValueError, KeyError, OSError):
        return None


def parse_offset(tzid: str) -> timezone | None:
    """A fixed offset from TZIDs like 'GMT+05:30', 'UTC-3' or '+0100', else None."""
    match = _OFFSET.match(tzid.strip())
    if not match:
        return None
    sign, hours, minutes = match.group(1), int(match.group(2)), int(match.group(3) or 0)
    if hours > 14 or minutes > 59:
        return None
    delta = timedelta(hours=hours, minutes=minutes)
    return timezone(-delta if sign == "-" else delta, f"UTC{sign}{hours:02d}:{minutes:02d}")


def read_when(text: str, zones: ZoneResolver) -> date | datetime:
    """A DTSTART/DTEND text as a date (all-day) or a datetime (naive when it is property time); ValueError if bad."""
    params, value = split_property(text)
    match = _VALUE.match(value)
    if not match:
        raise ValueError(f"unreadable date {value[:40]!r}")
    year, month, day, hour, minute, second, utc = match.groups()
    if hour is None:
        return date(int(year), int(month), int(day))
    if params.get("VALUE", "").upper() == "DATE":
        # A date-time labelled as a date: read as the time that is written, on one-off and repeating events alike
        # (recurrence.repair_lines drops the label for the library), since that is what the generator wrote.
        zones.note(f"A date-time value labelled VALUE=DATE ({value[:20]!r}) was read as the date-time it is.")
    moment = datetime(int(year), int(month), int(day), int(hour), int(minute), int(second or 0))
    if utc:
        return moment.replace(tzinfo=UTC)
    if "TZID" in params:
        return moment.replace(tzinfo=zones.zone(params["TZID"]))
    return zones.localise(moment)


def read_duration(text: str) -> timedelta:
    """A DURATION text (e.g. ':P3D', ':PT2H30M') as a timedelta; ValueError if bad."""
    match = _DURATION.match(split_property(text)[1])
    if not match or not any(match.groups()[1:]):
        raise ValueError(f"unreadable duration {text[:40]!r}")
    weeks, days, hours, minutes, seconds = (int(part or 0) for part in match.groups()[1:])
    try:
        delta = timedelta(weeks=weeks, days=days, hours=hours, minutes=minutes, seconds=seconds)
    except OverflowError as error:
        raise ValueError(f"duration out of range {text[:40]!r}") from error
    return -delta if match.group(1) == "-" else delta


def end_from_duration(start: date | datetime, duration: timedelta) -> date | datetime:
    """The end of an event given by DURATION; an all-day event counts started days (OverflowError past 9999)."""
    if isinstance(start, datetime):
        return start + duration
    return start + timedelta(days=duration.days + (1 if duration.seconds else 0))


def to_nights(start: date | datetime, end: date | datetime | None, zone: tzinfo) -> tuple[date, date]:
    """The nights [check_in, check_out) of an event in the property's zone; NotAStay if its dates make none."""
    try:
        return _nights(start, end, zone)
    except OverflowError as error:  # the very ends of the calendar (years 1 and 9999): no stay is there
        raise NotAStay("its dates are out of range") from error


def _nights(start: date | datetime, end: date | datetime | None, zone: tzinfo) -> tuple[date, date]:
    """to_nights without the range guard."""
    if not isinstance(start, datetime) and (end is None or not isinstance(end, datetime)):
        end = start + ONE_DAY if end is None else end
        if end <= start:
            raise NotAStay("it ends on or before the day it starts")
        return start, end
    end = start if end is None else end
    if isinstance(start, datetime) and isinstance(end, datetime) and _aware(end, zone) < _aware(start, zone):
        raise NotAStay("it ends before it starts")
    check_in, check_out = local_date(start, zone), local_date(end, zone)
    if check_out < check_in:
        raise NotAStay("it ends before it starts")
    return check_in, max(check_out, check_in + ONE_DAY)


def local_date(when: date | datetime, zone: tzinfo) -> date:
    """The date of a value in the property's zone (naive datetimes are already property time)."""
    if isinstance(when, datetime):
        return when.astimezone(zone).date() if when.tzinfo else when.date()
    return when


def _aware(moment: datetime, zone: tzinfo) -> datetime:
    """A datetime with a zone (floating times belong to the property's zone), so any two compare."""
    return moment if moment.tzinfo else moment.replace(tzinfo=zone)


def property_zone(name: str) -> ZoneInfo:
    """The property's IANA time zone; ValueError for a bad name (our data, not the feed's fault)."""
    try:
        return ZoneInfo(name)
    except (ValueError, KeyError, OSError) as error:
        raise ValueError(f"unknown property time zone {name!r}") from error


def feed_zones(scanned: ScannedCalendar) -> Callable[[str], tzinfo | None]:
    """A lookup of the feed's own VTIMEZONE definitions, built into time zones only when first asked for."""
    cache: dict[str, tzinfo | None] = {}

    def lookup(tzid: str) -> tzinfo | None:
        if tzid not in cache:
            cache[tzid] = None
            if tzid in scanned.timezones:
                start, end = scanned.timezones[tzid]
                try:
                    cache[tzid] = icalendar.Timezone.from_ical(decode_value(scanned.body[start:end])).to_tz()
                except Exception:  # a broken VTIMEZONE is one more invalid TZID: the resolver falls back
                    cache[tzid] = None
        return cache[tzid]
    return lookup
