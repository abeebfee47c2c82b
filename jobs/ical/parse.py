"""Parse an iCal feed body into the stays that block the property's dates (pure: no Flask, database or network).

Rules chosen here (the dry run shows their results to people):
- events_total counts every VEVENT component of the feed, past ones and RECURRENCE-ID overrides included: it
  is the number anyone can check by counting BEGIN:VEVENT in the file.
- Stays are kept whole when they overlap [today, today + horizon_days): check_out > today and
  check_in < today + horizon_days. Stays wholly in the past or beyond the horizon are dropped silently; ignored
  events are only reported when they fall in that same window (a 2019 dentist appointment is irrelevant).
- Timed events become nights in the property's zone (see jobs/ical/nights.py).
- An empty (or whitespace-only) body is an empty calendar for Booking.com, which sends exactly that when nothing
  is booked; for every other source it is invalid_ical, because an empty 200 there means a broken export, and
  reading it as "no bookings" would delete real blocks.
- Names are case-insensitive (`DtStart`, `begin:vevent` are read), see jobs/ical/scan.py.
- A blocking event must never free nights that are sold because we could not read it:
  - an unparsable date, duration or repeat rule fails the whole feed (invalid_ical, naming the event): every
    stored block is kept and the team sees which event the owner must fix;
  - an event whose dates make no stay (no DTSTART, an end before its start, dates out of range, an instance
    that ends before it starts) is ignored, but its UID goes to ParsedFeed.unreadable_uids and reconcile keeps
    the block stored for it exactly as it is (neither removed nor updated). It is reported as an ignored event
    whose reason says so (UNREADABLE_PREFIX ... UNREADABLE_KEPT), with an `ignored_events` warning. Without a UID
    nothing tells which stored block it was: it is only ignored.
  A non-blocking event (cancelled, or not "Reserved" in Google) with bad dates is merely ignored.
- Which events block: every event of the feed except cancelled ones (STATUS:CANCELLED), and for Google only
  those titled "Reserved" (trimmed, any case). STATUS:TENTATIVE events block: they are holds (Vrbo's
  "Provisoire - ..." tentative holds, which `?nonTentative` drops), and a hold sells the nights all the same.
  TRANSP:TRANSPARENT ("show as free") is not read: in a generic feed such an event still blocks, since rental
  platforms do not use it to mean "available"; in Google the "Reserved" rule alone decides.
- Floating times (no TZID, no Z) mean the calendar's X-WR-TIMEZONE when it names a zone (see jobs/ical/nights.py).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from jobs.ical.nights import (
    NotAStay,
    ZoneResolver,
    end_from_duration,
    feed_zones,
    property_zone,
    read_duration,
    read_when,
    to_nights,
)
from jobs.ical.profiles import FREE_BUSY_ADVICE, PROFILES, SourceProfile
from jobs.ical.recurrence import ExpansionError, Occurrence, essential_lines, expand, repair_tzids
from jobs.ical.scan import (
    RawEvent,
    ScannedCalendar,
    decode_value,
    normalise_body,
    reject_non_ical,
    scan_calendar,
)
from jobs.rules.stays import NOT_RESERVED, FeedWarning, IgnoredEvent, ParsedFeed, Stay, SyncFailure

# The reason of a blocking event whose nights cannot be read (its stored block is kept).
UNREADABLE_PREFIX = "cannot be read: "
UNREADABLE_KEPT = "the block already stored for it, if any, is kept unchanged"
@dataclass
class _Result:
    """Stays and ignored events gathered while reading one feed."""

    zone: ZoneInfo
    today: date
    horizon_end: date
    singles: dict[tuple[str, date], Stay] = field(default_factory=dict)
    instances: dict[str, Stay] = field(default_factory=dict)
    ignored: dict[tuple[str, str, str], IgnoredEvent] = field(default_factory=dict)
    unreadable: dict[str, None] = field(default_factory=dict)  # UIDs, in the order met

    def in_window(self, check_in: date, check_out: date) -> bool:
        """Whether a stay overlaps [today, horizon end)."""
        return check_out > self.today and check_in < self.horizon_end

    def ignore(self, key: str, summary: str | None, reason: str, uid: str = "",
               nights: tuple[date, date] | None = None) -> None:
        """Record an ignored event once (a repeating one once per series and reason)."""
        check_in, check_out = nights or (None, None)
        self.ignored.setdefault((key, summary or "", reason),
                                IgnoredEvent(summary or "", reason, uid, check_in, check_out))

    def unreadable_block(self, uid: str, summary: str | None, why: str) -> None:
        """A blocking event whose nights cannot be read: the block stored under its UID must be kept."""
        self.unreadable[uid] = None
        self.ignore(uid, summary, f"{UNREADABLE_PREFIX}{why}; {UNREADABLE_KEPT}", uid.rpartition("#")[0] or uid)

    def keep(self, table: dict[Any, Stay], key: Any, stay: Stay) -> None:
        """Keep one stay per key; of duplicates, the longest (blocking more is the safe side)."""
        if key not in table or stay.check_out > table[key].check_out:
            table[key] = stay


def parse_feed(body: bytes, source: str, timezone: str, today: date, horizon_days: int = 550,
               content_type: str | None = None) -> ParsedFeed:
    """Turn a fetched feed body into blocking stays, ignored events and warnings; SyncFailure if unreadable."""
    profile = PROFILES.get(source, PROFILES["ical"])
    zone = property_zone(timezone)
    normalised = normalise_body(body)
    if normalised == b"\n":
        if profile.empty_body_is_empty_calendar:
            return ParsedFeed(stays=[], events_total=0)
        raise SyncFailure("invalid_ical", f"The {profile.label} address returned an empty body, not a calendar.")
    reject_non_ical(normalised, content_type)
    cutoff = (today - timedelta(days=2)).strftime("%Y%m%d")
    scanned = scan_calendar(normalised, cutoff)
    del normalised
    notes: list[str] = []
    zones = ZoneResolver(zone, feed_zones(scanned), notes, floating=scanned.wr_timezone)
    result = _Result(zone, today, today + timedelta(days=horizon_days))
    for raw in scanned.events:
        if not raw.recurring:
            _read_single(raw, profile, zones, result)
    _read_series(scanned, profile, zones, result, cutoff)
    return ParsedFeed(stays=_final_stays(result), events_total=scanned.events_total,
                      ignored=list(result.ignored.values()), warnings=_warnings(profile, scanned, result),
                      prodid=scanned.prodid, notes=notes, unreadable_uids=list(result.unreadable))


def _read_single(raw: RawEvent, profile: SourceProfile, zones: ZoneResolver, result: _Result) -> None:
    """Turn one non-repeating event into a stay, or an ignored event, or nothing (outside the window)."""
    reason = profile.ignore_reason(raw.summary, raw.status)
    try:
        nights = _event_nights(raw, zones)
    except NotAStay as why:
        nights, why_not = None, str(why)
    except ValueError as error:
        if reason is None:
            raise SyncFailure("invalid_ical", f"Event {_describe(raw)} has an unreadable date: {error}.") from error
        nights, why_not = None, ""
    if nights is None:
        if reason is None and raw.uid:
            result.unreadable_block(raw.uid, raw.summary, why_not)
        else:
            result.ignore(raw.uid or f"@{raw.span[0]}", raw.summary, reason or why_not, raw.uid)
        return
    if not result.in_window(*nights):
        return
    if reason is not None:
        result.ignore(raw.uid or f"@{raw.span[0]}", raw.summary, reason, raw.uid, nights)
        return
    check_in, check_out = nights
    uid = raw.uid or f"nouid-{check_in:%Y%m%d}-{check_out:%Y%m%d}"
    result.keep(result.singles, (uid, check_in), Stay(uid, check_in, check_out, raw.summary or ""))


def _event_nights(raw: RawEvent, zones: ZoneResolver) -> tuple[date, date]:
    """The nights of a scanned event; NotAStay or ValueError when its dates make none."""
    if raw.dtstart is None:
        raise NotAStay("it has no start date (DTSTART)")
    start = read_when(raw.dtstart, zones)
    end: date | datetime | None = None
    if raw.dtend is not None:
        end = read_when(raw.dtend, zones)
    elif raw.duration is not None:
        try:
            end = end_from_duration(start, read_duration(raw.duration))
        except OverflowError as error:
            raise NotAStay("its dates are out of range") from error
    return to_nights(start, end, zones.property_zone)


def _describe(raw: RawEvent) -> str:
    """How to name an event in a message."""
    return f"{raw.summary!r} (UID {raw.uid!r})" if raw.uid else repr(raw.summary)


def _read_series(scanned: ScannedCalendar, profile: SourceProfile, zones: ZoneResolver, result: _Result,
                 cutoff: str) -> None:
    """Expand the repeating events over the window, all at once, or series by series if that fails."""
    series: dict[str, list[RawEvent]] = {}
    for raw in scanned.events:
        if raw.recurring:
            series.setdefault(raw.uid, []).append(raw)
    series = {uid: members for uid, members in series.items() if not _series_is_over(members, cutoff)}
    for uid, members in list(series.items()):
        problem = _unexpandable(members)
        if problem:  # expanding these would take the library minutes: explain instead
            result.ignore(uid, members[0].summary, problem, uid)
            del series[uid]
    if not series:
        return
    try:
        occurrences = _expand(scanned, zones, [m for members in series.values() for m in members], result)
    except ExpansionError:
        occurrences = []
        for members in series.values():
            occurrences += _expand_one_series(scanned, members, profile, zones, result)
    for occurrence in occurrences:
        _read_occurrence(occurrence, profile, zones, result)


def _unexpandable(members: list[RawEvent]) -> str | None:
    """Why a series cannot be expanded in reasonable time (and is no stay anyway), or None."""
    for raw in members:
        rule = (raw.rrule or "").upper()
        if any(f"FREQ={freq}" in rule for freq in ("SECONDLY", "MINUTELY", "HOURLY")):
            return "it repeats more often than daily"
        year = (raw.dtstart or "")[(raw.dtstart or "").rfind(":") + 1:][:4]
        if rule and year.isdigit() and year < "1900":
            return "its repeat rule starts before 1900"
    return None


def _series_is_over(members: list[RawEvent], cutoff: str) -> bool:
    """Whether a series ended before the cutoff: an RRULE with an old UNTIL, no RDATE, no late override."""
    for raw in members:
        if raw.rdate is not None or (raw.rrule is not None and "UNTIL=" not in raw.rrule.upper()):
            return False
        if raw.rrule is not None:
            until = raw.rrule.upper().split("UNTIL=", 1)[1][:8]
            if not (until.isdigit() and until < cutoff):
                return False
        for when in (raw.dtstart, raw.dtend):
            day = when[when.rfind(":") + 1:][:8] if when else ""
            if not (day.isdigit() and day < cutoff):
                return False
    return True


def _expand(scanned: ScannedCalendar, zones: ZoneResolver, members: list[RawEvent],
            result: _Result) -> list[Occurrence]:
    """Hand these events (and the feed's VTIMEZONEs) to recurring-ical-events, a day of margin each side."""
    blocks = [repair_tzids(essential_lines(decode_value(scanned.body[start:end])), zones) for start, end in
              (raw.span for raw in members)]
    timezones = [decode_value(scanned.body[start:end]) for start, end in scanned.timezones.values()]
    return expand(blocks, timezones, result.today - timedelta(days=1), result.horizon_end + timedelta(days=1))


def _expand_one_series(scanned: ScannedCalendar, members: list[RawEvent], profile: SourceProfile,
                       zones: ZoneResolver, result: _Result) -> list[Occurrence]:
    """Expand one series; if it is unreadable, fail the feed when it blocks dates, else ignore it."""
    try:
        return _expand(scanned, zones, members, result)
    except ExpansionError as error:
        first = members[0]
        if any(profile.ignore_reason(raw.summary, raw.status) is None for raw in members):
            raise SyncFailure("invalid_ical", f"Repeating event {_describe(first)} cannot be read: {error}.") from error
        result.ignore(first.uid, first.summary, "its repeat rule cannot be read", first.uid)
        return []


def _read_occurrence(occurrence: Occurrence, profile: SourceProfile, zones: ZoneResolver, result: _Result) -> None:
    """Turn one instance of a repeating event into a stay, an ignored event, or nothing."""
    series = occurrence.uid.rpartition("#")[0]
    reason = profile.ignore_reason(occurrence.summary, occurrence.status)
    try:
        nights = to_nights(zones.localise(occurrence.start), zones.localise(occurrence.end), result.zone)
    except NotAStay as why:
        if reason is None and series:
            result.unreadable_block(occurrence.uid, occurrence.summary, str(why))
        else:
            result.ignore(series, occurrence.summary, reason or str(why), series)
        return
    if not result.in_window(*nights):
        return
    if reason is not None:
        result.ignore(series, occurrence.summary, reason, series, nights)
        return
    result.keep(result.instances, occurrence.uid, Stay(occurrence.uid, *nights, occurrence.summary or ""))


def _final_stays(result: _Result) -> list[Stay]:
    """One stay per (uid, check_in); a UID repeated with other dates gets `#yyyymmdd` so every uid is unique."""
    per_uid: dict[str, int] = {}
    for uid, _ in result.singles:
        per_uid[uid] = per_uid.get(uid, 0) + 1
    final: dict[str, Stay] = dict(result.instances)
    for (uid, check_in), stay in result.singles.items():
        if per_uid[uid] > 1:
            stay = Stay(f"{uid}#{check_in:%Y%m%d}", stay.check_in, stay.check_out, stay.summary)
        result.keep(final, stay.uid, stay)
    return sorted(final.values(), key=lambda stay: (stay.check_in, stay.uid))


def _warnings(profile: SourceProfile, scanned: ScannedCalendar, result: _Result) -> list[FeedWarning]:
    """The CONTRACT warnings a person should see about this feed."""
    warnings: list[FeedWarning] = []
    if profile.reserved_only and scanned.events_total and scanned.titles() <= {"", "busy"}:
        warnings.append(FeedWarning("free_busy_only", FREE_BUSY_ADVICE))
    not_reserved = sum(1 for event in result.ignored.values() if event.reason == NOT_RESERVED)
    if profile.reserved_only and not_reserved:
        noun = "event" if not_reserved == 1 else "events"
        warnings.append(FeedWarning("ignored_events", f'{not_reserved} {noun} ignored: {NOT_RESERVED}'))
    if result.unreadable:
        count = len(result.unreadable)
        noun = "event whose dates" if count == 1 else "events whose dates"
        warnings.append(FeedWarning("ignored_events", (
            f"{count} blocking {noun} cannot be read: the blocks already stored for them are kept unchanged "
            f"until the owner fixes the {'event' if count == 1 else 'events'} in {profile.label}.")))
    return warnings
