"""Repeating events (RRULE, RDATE, overrides) read over the window, one series at a time, within the budget.

A series is a UID's master event and its RECURRENCE-ID overrides. For each:
- its instances are counted from its rule before anything is expanded (rrules.instances_between); a blocking
  series charges them to the feed's budget, so a feed that would make millions fails as too_complex at once;
- its rule starts near the window (rrules.rebased_start), not at a DTSTART years back;
- a series that blocks nothing (cancelled, or not "Reserved" in Google) is expanded only up to its first
  instance in the window, which is all the ignored-events report shows (its title and nights);
- a series the library cannot read is one unreadable event (its stored blocks are kept), not a failed feed;
  its partial instances are dropped, so a half-read series never looks like cancellations.
"""
from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from jobs.ical.budget import CHECK_EVERY
from jobs.ical.collect import FeedReading
from jobs.ical.nights import (
    NotAStay,
    ZoneResolver,
    end_from_duration,
    read_duration,
    read_when,
    split_property,
    to_nights,
)
from jobs.ical.profiles import SourceProfile
from jobs.ical.quick import QuickSeries, quick_occurrences, quick_series, quick_stays
from jobs.ical.recurrence import (
    ExpansionError,
    Occurrence,
    essential_lines,
    load_series,
    moved_start,
    occurrences,
    repair_lines,
)
from jobs.ical.rrules import instances_between, parse_rule, rebased_start
from jobs.ical.scan import RawEvent, ScannedCalendar, decode_value, line_of_event
from jobs.rules.stays import Stay

TOO_OFTEN = "it repeats too often to be read"
_MARGIN = timedelta(days=1)  # the library is asked for a day more each side: zones shift dates by up to a day


@dataclass
class _Plan:
    """One series, ready for the library: its VEVENT blocks and what it will cost."""

    key: str
    members: list[RawEvent]
    blocking: bool
    blocks: list[str] = field(default_factory=list)
    estimate: int = 0
    problem: str = ""  # why the whole series makes no stay (its master ends before it starts)
    reversed_keys: dict[str, str] = field(default_factory=dict)  # instance key -> why its override makes no stay
    rule_start: date | datetime | None = None  # where the master's rule starts (None: at its DTSTART)
    quick: QuickSeries | None = None  # read without the library (quick.py)
    counted: bool = True  # whether estimate bounds the instances (False: a rule we could not read ourselves)


def read_series(scanned: ScannedCalendar, profile: SourceProfile, zones: ZoneResolver, reading: FeedReading,
                cutoff: str) -> None:
    """Expand the feed's repeating events over the window into stays, ignored and unreadable events."""
    plans = [plan for key, members in _group(scanned, cutoff).items()
             if (plan := _plan(key, members, scanned, profile, zones, reading)) is not None]
    if not plans:
        return
    for plan in plans:
        if plan.quick is not None and plan.blocking:
            # One series' keys are its own (uid#date, a date once): no duplicate to choose between.
            reading.instances.update((stay.uid, stay) for stay in quick_stays(
                plan.quick, reading.today, reading.horizon_end, reading.zone, zones.floating_zone,
                reading.budget.check_time))
        elif plan.quick is not None:
            reading.budget.check_time()
            window = (reading.today - _MARGIN, reading.horizon_end + _MARGIN)
            _expand(plan, lambda start, end, quick=plan.quick: quick_occurrences(quick, start, end), window,
                    profile=profile, zones=zones, reading=reading)
    slow = [plan for plan in plans if plan.quick is None]
    if not slow:
        return
    timezones = [decode_value(scanned.body[start:end]) for start, end in scanned.timezones.values()]
    try:
        library = load_series([block for plan in slow for block in plan.blocks], timezones)
    except ExpansionError:  # one series the library cannot read spoils the lot: read them one by one
        library = {}
    for plan in slow:
        reading.budget.check_time()
        series = library.get(plan.key)
        try:
            if series is None:
                series = load_series(plan.blocks, timezones).get(plan.key)
            if series is not None:
                spans = _spans(plan, reading)
                _expand(plan, lambda start, end, series=series: occurrences(series, start, end), *spans,
                        profile=profile, zones=zones, reading=reading)
        except ExpansionError as error:
            _unreadable(plan, scanned, profile, reading, str(error))


def _spans(plan: _Plan, reading: FeedReading) -> list[tuple[date, date]]:
    """The spans to expand a series over: the window, or for a series that blocks nothing its first month first
    (the library computes every start of a span before it yields one)."""
    start, end = reading.today - _MARGIN, reading.horizon_end + _MARGIN
    if plan.blocking or end - start <= timedelta(days=62):
        return [(start, end)]
    return [(start, start + timedelta(days=32)), (start + timedelta(days=31), end)]


def _group(scanned: ScannedCalendar, cutoff: str) -> dict[str, list[RawEvent]]:
    """The feed's repeating events by series key (UID; a UID-less event is a series of its own)."""
    groups: dict[str, list[RawEvent]] = {}
    for raw in scanned.events:
        if raw.recurring and not raw.problem:
            key = raw.uid or f"nouid-{hashlib.sha1(scanned.body[slice(*raw.span)]).hexdigest()[:20]}"
            groups.setdefault(key, []).append(raw)
    return {key: members for key, members in groups.items() if not _series_is_over(members, cutoff)}


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


def _plan(key: str, members: list[RawEvent], scanned: ScannedCalendar, profile: SourceProfile,
          zones: ZoneResolver, reading: FeedReading) -> _Plan | None:
    """Prepare one series: repaired blocks, its rule started near the window, its cost charged (None: skip)."""
    plan = _Plan(key, members, any(profile.ignore_reason(raw.summary, raw.status) is None for raw in members))
    window_start = datetime.combine(reading.today - _MARGIN, datetime.min.time())
    window_end = datetime.combine(reading.horizon_end + _MARGIN, datetime.min.time())
    plan.estimate = sum(1 for raw in members if raw.override)
    for raw in members:
        _check_dates(plan, raw, zones, reading)
        block = repair_lines(essential_lines(decode_value(scanned.body[slice(*raw.span)])), zones)
        if not raw.uid:
            block = block.replace("BEGIN:VEVENT", f"BEGIN:VEVENT\r\nUID:{key}", 1)
        if not raw.override and raw.rrule is not None:
            block = _with_rule_planned(plan, raw, block, zones, window_start, window_end)
        if not raw.override and raw.rdate is not None:
            plan.estimate += block.upper().count("\nRDATE") + raw.rdate.count(",")
        plan.blocks.append(block)
    if sum(1 for raw in members if not raw.override and raw.rrule is not None) > 1:
        plan.rule_start = None  # two masters for one UID: the library decides, from their own dates
    if len(members) == 1 and plan.counted and not plan.problem:
        plan.quick = quick_series(members[0], plan.blocks[0], plan.rule_start, zones, key)
    if plan.quick is None and plan.rule_start is not None:
        master = next(n for n, raw in enumerate(members) if not raw.override and raw.rrule is not None)
        plan.blocks[master] = moved_start(plan.blocks[master], _wall(read_when(members[master].dtstart or "", zones)),
                                     plan.rule_start)
    if plan.problem and plan.blocking:  # the library would swap its start and end: we do not (nights.py)
        reading.cannot_read(members[0].uid, members[0].summary, plan.problem, line_of_event(scanned, members[0]))
        return None
    if plan.blocking:
        reading.budget.spend(plan.estimate, _describe(members[0]))
    elif plan.estimate > reading.budget.max_instances:  # blocks nothing: explained, not expanded
        reading.ignore(key, members[0].summary, TOO_OFTEN, members[0].uid)
        return None
    return plan


def _with_rule_planned(plan: _Plan, raw: RawEvent, block: str, zones: ZoneResolver, window_start: datetime,
                       window_end: datetime) -> str:
    """Count the master's instances up to the window's end, and start its rule near the window when it can."""
    rule = parse_rule(split_property(raw.rrule or "")[1])
    try:
        start = read_when(raw.dtstart or "", zones)
    except ValueError:
        start = None
    if rule is None or start is None or block.upper().count("\nRRULE") != 1 or "\nEXRULE" in block.upper():
        plan.counted = False  # the library reads it or says why it cannot; instances are counted as they come
        return block
    wall = _wall(start)
    moved = rebased_start(rule, wall, window_start - _length(raw, start, zones) - 2 * _MARGIN)
    if moved is not None:
        plan.rule_start = moved  # the block's DTSTART is moved only if the library reads it (_plan)
    plan.estimate += instances_between(rule, _as_datetime(moved or wall), window_end)
    return block


def _check_dates(plan: _Plan, raw: RawEvent, zones: ZoneResolver, reading: FeedReading) -> None:
    """Note a member whose end is before its start: the library would swap them, we read no stay there."""
    try:
        start = read_when(raw.dtstart or "", zones)
        if raw.dtend is not None:
            end = read_when(raw.dtend, zones)
        elif raw.duration is not None:
            end = end_from_duration(start, read_duration(raw.duration))
        else:
            return
        to_nights(start, end, reading.zone)
    except NotAStay as why:
        if raw.override:
            rid = split_property(raw.recurrence_id or "")[1][:8]
            plan.reversed_keys[f"{raw.uid}#{rid}"] = str(why)
        else:
            plan.problem = str(why)
    except (ValueError, OverflowError):
        return  # the library reads it or says why it cannot


def _wall(when: date | datetime) -> date | datetime:
    """A start as the wall-clock time written in the feed (the rule repeats in that time)."""
    return when.replace(tzinfo=None) if isinstance(when, datetime) else when


def _as_datetime(when: date | datetime) -> datetime:
    return when if isinstance(when, datetime) else datetime(when.year, when.month, when.day)


def _length(raw: RawEvent, start: date | datetime, zones: ZoneResolver) -> timedelta:
    """How long the master lasts (wall clock), 0 when its end cannot be read."""
    try:
        if raw.dtend is not None:
            end = read_when(raw.dtend, zones)
            if isinstance(end, datetime) == isinstance(start, datetime):
                return max(_as_datetime(_wall(end)) - _as_datetime(_wall(start)), timedelta(0))
        elif raw.duration is not None:
            return abs(read_duration(raw.duration))
    except (ValueError, OverflowError):
        pass
    return timedelta(days=1)


def _expand(plan: _Plan, expand: Callable[[date, date], Iterator[Occurrence]], *spans: tuple[date, date],
            profile: SourceProfile, zones: ZoneResolver, reading: FeedReading) -> None:
    """Read one series' instances over the spans (a non-blocking one up to its first in the window)."""
    found: list[Occurrence] = []
    for occurrence in (occurrence for span in spans for occurrence in expand(*span)):
        if occurrence.uid in plan.reversed_keys:  # an override that ends before it starts: no stay, block kept
            if plan.blocking:
                reading.cannot_read(occurrence.uid, occurrence.summary, plan.reversed_keys[occurrence.uid], 0)
            continue
        found.append(occurrence)
        if len(found) % CHECK_EVERY == 0:
            reading.budget.check_time()
            if not plan.counted and plan.blocking:
                reading.budget.spend(CHECK_EVERY, _describe(plan.members[0]))
        if not plan.blocking and _read_occurrence(occurrence, profile, zones, reading):
            return  # the report shows one instance of an ignored series: no need for the others
    if plan.blocking:
        for occurrence in found:
            _read_occurrence(occurrence, profile, zones, reading)


def _unreadable(plan: _Plan, scanned: ScannedCalendar, profile: SourceProfile, reading: FeedReading,
                detail: str) -> None:
    """A series the library cannot read: an unreadable event when it blocks, else an ignored one."""
    first = plan.members[0]
    why = "its repeat rule or dates cannot be read"
    if plan.blocking:
        reading.cannot_read(first.uid, first.summary, why, line_of_event(scanned, first), detail)
    else:
        reading.ignore(plan.key, first.summary, profile.ignore_reason(first.summary, first.status) or why,
                       first.uid)


def _read_occurrence(occurrence: Occurrence, profile: SourceProfile, zones: ZoneResolver,
                     reading: FeedReading) -> bool:
    """Turn one instance into a stay, an ignored event, or nothing; True when it was ignored in the window."""
    series = occurrence.uid.rpartition("#")[0]
    reason = profile.ignore_reason(occurrence.summary, occurrence.status)
    try:
        nights = to_nights(zones.localise(occurrence.start), zones.localise(occurrence.end), reading.zone)
    except NotAStay as why:
        if reason is None and series:
            reading.cannot_read(occurrence.uid, occurrence.summary, str(why), 0)
        else:
            reading.ignore(series, occurrence.summary, reason or str(why), series)
        return False
    if not reading.in_window(*nights):
        return False
    if reason is not None:
        reading.ignore(series, occurrence.summary, reason, series, nights)
        return True
    reading.keep(reading.instances, occurrence.uid, Stay(occurrence.uid, *nights, occurrence.summary or ""))
    return False


def _describe(raw: RawEvent) -> str:
    """How to name an event in a message."""
    return f"the event {raw.summary!r} (UID {raw.uid!r})" if raw.uid else f"the event {raw.summary!r}"
