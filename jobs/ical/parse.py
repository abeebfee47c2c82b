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
- Only a body that is no calendar fails the feed (HTML, XML, JSON, binary, no BEGIN:VCALENDAR, cut short: see
  sniff.py and scan.py), and so does a feed past its work budget (too_complex, see budget.py). Within a
  calendar, one event never sinks the others: every event that can be read becomes a stay, and a blocking
  event that cannot be read (no DTSTART, an unparsable date, duration or repeat rule, an end before its start,
  a misspelt END line) is listed in ParsedFeed.unreadable (UID, summary, line, the reason in a sentence, the
  library's words in `detail`). Its UID goes to ParsedFeed.unreadable_uids, so reconcile keeps the block stored
  for it exactly as it is, and it is reported as an ignored event (UNREADABLE_PREFIX ... UNREADABLE_KEPT) with
  an `ignored_events` warning. When most events cannot be read, ParsedFeed.doubt asks the guard to hold the
  change. A non-blocking event (cancelled, or not "Reserved" in Google) with bad dates is merely ignored.
- Which events block: every event of the feed except cancelled ones (STATUS:CANCELLED), and for Google only
  those titled "Reserved" (trimmed, any case). STATUS:TENTATIVE events block: they are holds (Vrbo's
  "Provisoire - ..." tentative holds, which `?nonTentative` drops), and a hold sells the nights all the same.
  TRANSP:TRANSPARENT ("show as free") is not read: in a generic feed such an event still blocks, since rental
  platforms do not use it to mean "available"; in Google the "Reserved" rule alone decides.
- Floating times (no TZID, no Z) mean the calendar's X-WR-TIMEZONE when it names a zone (see jobs/ical/nights.py).
- Every text that leaves the parser is cleaned of what a database refuses (NUL, lone surrogates).
"""
from __future__ import annotations

from dataclasses import replace
from datetime import date, datetime, timedelta
from operator import attrgetter

from jobs.ical.budget import MAX_CPU_SECONDS_PER_FEED, MAX_INSTANCES_PER_FEED, WorkBudget
from jobs.ical.collect import UNREADABLE_KEPT, UNREADABLE_PREFIX, FeedReading
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
from jobs.ical.scan import RawEvent, ScannedCalendar, clean_text, line_of_event, normalise_body, scan_calendar
from jobs.ical.series import read_series
from jobs.ical.sniff import drop_nul_bytes, reject_non_ical
from jobs.rules.stays import NOT_RESERVED, FeedWarning, ParsedFeed, Stay, SyncFailure, UnreadableEvent

__all__ = ["UNREADABLE_KEPT", "UNREADABLE_PREFIX", "parse_feed"]


def parse_feed(body: bytes, source: str, timezone: str, today: date, horizon_days: int = 550,
               content_type: str | None = None, max_instances: int = MAX_INSTANCES_PER_FEED,
               max_cpu_seconds: float = MAX_CPU_SECONDS_PER_FEED) -> ParsedFeed:
    """Turn a fetched feed body into blocking stays, ignored events and warnings; SyncFailure if unreadable."""
    budget = WorkBudget(max_instances, max_cpu_seconds)
    profile = PROFILES.get(source, PROFILES["ical"])
    zone = property_zone(timezone)
    normalised = normalise_body(body)
    if normalised == b"\n":
        if profile.empty_body_is_empty_calendar:
            return ParsedFeed(stays=[], events_total=0)
        raise SyncFailure("invalid_ical", f"The {profile.label} address returned an empty body, not a calendar.")
    normalised = drop_nul_bytes(normalised, content_type)
    reject_non_ical(normalised, content_type)
    cutoff = (today - timedelta(days=2)).strftime("%Y%m%d")
    scanned = scan_calendar(normalised, cutoff)
    del normalised
    notes: list[str] = []
    zones = ZoneResolver(zone, feed_zones(scanned), notes, floating=scanned.wr_timezone)
    reading = FeedReading(zone, today, today + timedelta(days=horizon_days), budget)
    for raw in scanned.events:
        if raw.problem:
            _read_broken(raw, scanned, profile, reading)
        elif not raw.recurring:
            _read_single(raw, scanned, profile, zones, reading)
    budget.check_time()
    read_series(scanned, profile, zones, reading, cutoff)
    return _cleaned(ParsedFeed(
        stays=_final_stays(reading), events_total=scanned.events_total, ignored=list(reading.ignored.values()),
        warnings=_warnings(profile, scanned, reading), prodid=scanned.prodid, notes=notes,
        unreadable_uids=list(reading.unreadable), unreadable=reading.unreadable_events))


def _read_broken(raw: RawEvent, scanned: ScannedCalendar, profile: SourceProfile, reading: FeedReading) -> None:
    """An event whose structure is broken: unreadable when it may block, else ignored."""
    reason = profile.ignore_reason(raw.summary, raw.status)
    if reason is None:
        reading.cannot_read(raw.uid, raw.summary, raw.problem, line_of_event(scanned, raw))
    else:
        reading.ignore(raw.uid or f"@{raw.span[0]}", raw.summary, reason, raw.uid)


def _read_single(raw: RawEvent, scanned: ScannedCalendar, profile: SourceProfile, zones: ZoneResolver,
                 reading: FeedReading) -> None:
    """Turn one non-repeating event into a stay, or an ignored event, or nothing (outside the window)."""
    reason = profile.ignore_reason(raw.summary, raw.status)
    try:
        nights = _event_nights(raw, zones)
    except ValueError as error:  # NotAStay too: its message is already a sentence
        if reason is None:
            why = str(error) if isinstance(error, NotAStay) else f"it has an unreadable date or duration ({error})"
            reading.cannot_read(raw.uid, raw.summary, why, line_of_event(scanned, raw))
        else:
            reading.ignore(raw.uid or f"@{raw.span[0]}", raw.summary, reason, raw.uid)
        return
    if not reading.in_window(*nights):
        return
    if reason is not None:
        reading.ignore(raw.uid or f"@{raw.span[0]}", raw.summary, reason, raw.uid, nights)
        return
    check_in, check_out = nights
    uid = raw.uid or f"nouid-{check_in:%Y%m%d}-{check_out:%Y%m%d}"
    reading.keep(reading.singles, (uid, check_in), Stay(uid, check_in, check_out, raw.summary or ""))


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


def _final_stays(result: FeedReading) -> list[Stay]:
    """One stay per (uid, check_in); a UID repeated with other dates gets `#yyyymmdd` so every uid is unique."""
    per_uid: dict[str, int] = {}
    for uid, _ in result.singles:
        per_uid[uid] = per_uid.get(uid, 0) + 1
    final: dict[str, Stay] = dict(result.instances)
    for (uid, check_in), stay in result.singles.items():
        if per_uid[uid] > 1:
            stay = Stay(f"{uid}#{check_in:%Y%m%d}", stay.check_in, stay.check_out, stay.summary)
        result.keep(final, stay.uid, stay)
    # By check-in, then uid: two stable single-key sorts are three times quicker than one on
    # (check_in, uid) tuples, which cost a long history ~70 ms of its ~300.
    stays = sorted(final.values(), key=attrgetter("uid"))
    stays.sort(key=attrgetter("check_in"))
    return stays


def _warnings(profile: SourceProfile, scanned: ScannedCalendar, result: FeedReading) -> list[FeedWarning]:
    """The warnings (docs/outcomes.md) a person should see about this feed."""
    warnings: list[FeedWarning] = []
    if profile.reserved_only and scanned.events_total and scanned.titles() <= {"", "busy"}:
        warnings.append(FeedWarning("free_busy_only", FREE_BUSY_ADVICE))
    not_reserved = sum(1 for event in result.ignored.values() if event.reason == NOT_RESERVED)
    if profile.reserved_only and not_reserved:
        noun = "event" if not_reserved == 1 else "events"
        warnings.append(FeedWarning("ignored_events", f'{not_reserved} {noun} ignored: {NOT_RESERVED}'))
    if result.unreadable_events:
        count = len(result.unreadable_events)
        noun = "event" if count == 1 else "events"
        warnings.append(FeedWarning("ignored_events", (
            f"{count} blocking {noun} cannot be read: the blocks already stored for them are kept unchanged "
            f"until the owner fixes the {'event' if count == 1 else 'events'} in {profile.label}.")))
    return warnings


def _cleaned(parsed: ParsedFeed) -> ParsedFeed:
    """The parsed feed with every text cleaned of what a database refuses (NUL, lone surrogates)."""
    texts = [parsed.prodid, *parsed.notes, *parsed.unreadable_uids, *(w.message for w in parsed.warnings),
             *(f"{e.uid}{e.summary}{e.reason}{e.detail}" for e in parsed.unreadable),
             *(f"{e.uid}{e.summary}{e.reason}" for e in parsed.ignored),
             *map(attrgetter("uid"), parsed.stays), *set(map(attrgetter("summary"), parsed.stays))]
    if _clean("".join(texts)):  # one look at every text: the body lost its NULs already, so this is the rule
        return parsed
    parsed.stays = [stay if _clean(stay.uid, stay.summary) else
                    replace(stay, uid=clean_text(stay.uid), summary=clean_text(stay.summary)) for stay in parsed.stays]
    parsed.ignored = [event if _clean(event.uid, event.summary, event.reason) else
                      replace(event, uid=clean_text(event.uid), summary=clean_text(event.summary),
                              reason=clean_text(event.reason)) for event in parsed.ignored]
    parsed.unreadable = [event if _clean(event.uid, event.summary, event.reason, event.detail) else
                         UnreadableEvent(clean_text(event.uid), clean_text(event.summary), event.line,
                                         clean_text(event.reason), clean_text(event.detail))
                         for event in parsed.unreadable]
    parsed.warnings = [FeedWarning(warning.kind, clean_text(warning.message)) for warning in parsed.warnings]
    parsed.notes = [clean_text(note) for note in parsed.notes]
    parsed.unreadable_uids = [clean_text(uid) for uid in parsed.unreadable_uids]
    parsed.prodid = clean_text(parsed.prodid)
    return parsed


def _clean(*texts: str) -> bool:
    """Whether none of these texts holds a character a database refuses."""
    return clean_text("".join(texts)) == "".join(texts)
