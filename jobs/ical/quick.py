"""The common series read without the expansion library: one event, one RRULE, EXDATEs at most.

Most running series in a calendar's history are this simple (a weekly class, a daily reminder), and the library
costs about 40 microseconds an instance, mostly for objects we do not need; dateutil, which it uses to read the
rule, costs 2. So for these series we call dateutil ourselves and apply the library's own rules around it:
- DTSTART is an instance even when the rule does not make it (rruleset.rdate(start) in the library);
- UNTIL is compared as the library does: a date for all-day series, a UTC moment for zoned ones (a local UNTIL
  read as UTC), wall-clock time for floating ones;
- an EXDATE removes an instance when their recurrence ids meet (UTC and wall time), or a date EXDATE its day;
- the end is the start plus the master's wall-clock length.
Anything else (overrides, RDATE, EXRULE, several RRULEs, a DTEND in another zone, a value we do not read) goes
to the library. tests/jobs/ical/test_parse_speed.py checks this path against the library on every series.
"""
from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, tzinfo

from dateutil.rrule import rrule, rrulestr

from jobs.ical.nights import ZoneResolver, read_duration, read_when, split_property
from jobs.ical.recurrence import Occurrence
from jobs.ical.rrules import plain_moments
from jobs.ical.scan import RawEvent
from jobs.rules.stays import Stay

_EXDATE = re.compile(r"^EXDATE([^:\r\n]*):([^\r\n]*)", re.M | re.I)
_UNTIL = re.compile(r";?UNTIL=([^;]*)", re.I)
_UTC = UTC


@dataclass
class QuickSeries:
    """One simple series ready to expand: its rule (UNTIL taken out), first start and length."""

    uid: str
    summary: str | None
    status: str
    rule: rrule
    plain: Callable[[], Iterator[datetime] | None]  # the rule's starts by arithmetic, when it is that plain
    first: date | datetime  # the original DTSTART, an instance of its own
    zone: tzinfo | None  # the start's zone; None for floating times and all-day dates
    length: timedelta
    until: date | datetime | None
    exdate_ids: set[datetime]
    exdate_days: set[date]


def quick_series(raw: RawEvent, block: str, rule_start: date | datetime | None, zones: ZoneResolver,
                 key: str) -> QuickSeries | None:
    """The series of a lone master event when it is simple enough (module docstring), else None.

    rule_start: where to start the rule (rrules.rebased_start), None for its DTSTART.
    """
    upper = block.upper()
    if raw.override or raw.rdate is not None or upper.count("\nRRULE") != 1 or "\nEXRULE" in upper:
        return None
    try:
        start = read_when(raw.dtstart or "", zones)
        length = _length(raw, start, zones)
        if length is None:
            return None
        if _floating(raw.dtstart or "") and isinstance(start, datetime):
            start = start.replace(tzinfo=None)  # the library keeps floating times naive: so do its rules
        value = split_property(raw.rrule or "")[1]
        until = _until(_UNTIL.search(value), start)
        wall = start.replace(tzinfo=None) if isinstance(start, datetime) else start
        begin = rule_start or wall
        begin = begin if isinstance(begin, datetime) else datetime(begin.year, begin.month, begin.day)
        rule = rrulestr(_UNTIL.sub("", value), dtstart=begin, cache=False)
        ids, days = _exdates(block, zones)
    except (ValueError, TypeError, OverflowError):
        return None  # the library reads it, or says why it cannot
    if not isinstance(rule, rrule) or "COUNT=-" in value.upper():
        return None
    zone = start.tzinfo if isinstance(start, datetime) else None
    if zone is None and any("TZID" in params.upper() or value.strip().upper().endswith("Z")
                            for params, value in _EXDATE.findall(block)):
        return None  # a zoned EXDATE puts a floating or all-day series in its zone, in the library: let it
    plain_value = _UNTIL.sub("", value)
    return QuickSeries(key, raw.summary, raw.status, rule, lambda: plain_moments(plain_value, begin), start, zone,
                       length, until, ids, days)


def _length(raw: RawEvent, start: date | datetime, zones: ZoneResolver) -> timedelta | None:
    """The master's wall-clock length, or None when the library's reading could differ (zones, types)."""
    if raw.dtend is not None:
        end = read_when(raw.dtend, zones)
        if isinstance(end, datetime) != isinstance(start, datetime):
            return None
        if isinstance(end, datetime) and end.tzinfo is not start.tzinfo:
            return None
        return end.replace(tzinfo=None) - start.replace(tzinfo=None) if isinstance(end, datetime) else end - start
    if raw.duration is not None:
        duration = read_duration(raw.duration)
        return duration if isinstance(start, datetime) or not duration.seconds else None
    return timedelta(0) if isinstance(start, datetime) else timedelta(days=1)


def _floating(text: str) -> bool:
    """Whether a date-time text is floating (no TZID, no Z): the caller localises it later."""
    params, value = split_property(text)
    return "TZID" not in params and not value.upper().endswith("Z")


def _until(match: re.Match[str] | None, start: date | datetime) -> date | datetime | None:
    """UNTIL as the library compares it with this series' starts."""
    if match is None:
        return None
    text = match.group(1).strip().upper()
    moment = datetime.strptime(text[:15], "%Y%m%dT%H%M%S") if len(text) >= 15 else datetime.strptime(text[:8],
                                                                                                      "%Y%m%d")
    if not isinstance(start, datetime):
        return moment.date()
    if start.tzinfo is None:
        return moment
    return moment.replace(tzinfo=_UTC)


def _exdates(block: str, zones: ZoneResolver) -> tuple[set[datetime], set[date]]:
    """The recurrence ids and days the block's EXDATEs remove."""
    ids: set[datetime] = set()
    days: set[date] = set()
    for params, values in _EXDATE.findall(block):
        for value in values.split(","):
            if not value.strip():
                continue
            when = read_when(f"{params}:{value.strip()}", zones)
            if isinstance(when, datetime) and _floating(f"{params}:{value.strip()}"):
                when = when.replace(tzinfo=None)
            if isinstance(when, datetime):
                ids.update(_ids(when))
            else:
                days.add(when)
                ids.add(datetime(when.year, when.month, when.day))
    return ids, days


def _ids(when: date | datetime) -> tuple[datetime, ...]:
    """The library's recurrence ids of a start (util.to_recurrence_ids)."""
    if not isinstance(when, datetime):
        return (datetime(when.year, when.month, when.day),)
    if when.tzinfo is None:
        return (when,)
    return when.astimezone(_UTC).replace(tzinfo=None), when.replace(tzinfo=None)


def quick_occurrences(series: QuickSeries, start: date, end: date) -> Iterator[Occurrence]:
    """The series' instances that may overlap [start, end), in order (the rule's, then its first date)."""
    span_start = datetime(start.year, start.month, start.day) - series.length - timedelta(days=1)
    span_end = datetime(end.year, end.month, end.day) + timedelta(days=1)
    first = series.first.replace(tzinfo=None) if isinstance(series.first, datetime) else series.first
    first = first if isinstance(first, datetime) else datetime(first.year, first.month, first.day)
    if span_start <= first <= span_end:
        yield from _instance(series, first)
    for moment in series.rule.xafter(max(span_start, first), inc=True):
        if moment > span_end:
            return
        if moment != first:
            yield from _instance(series, moment)


def _instance(series: QuickSeries, wall: datetime) -> Iterator[Occurrence]:
    """One instance at this wall-clock start, unless UNTIL or an EXDATE removes it."""
    if isinstance(series.first, datetime):
        begin: date | datetime = wall.replace(tzinfo=series.zone) if series.zone else wall
        if series.until is not None and (begin.astimezone(_UTC) if series.zone else begin) > series.until:
            return
    else:
        begin = wall.date()
        if series.until is not None and begin > series.until:
            return
    if series.exdate_ids:
        day = begin.date() if isinstance(begin, datetime) else begin
        if day in series.exdate_days or series.exdate_ids.intersection(_ids(begin)):
            return
    yield Occurrence(uid=f"{series.uid}#{wall.year:04}{wall.month:02}{wall.day:02}", summary=series.summary,
                     status=series.status, start=begin, end=begin + series.length)


def quick_stays(series: QuickSeries, today: date, horizon_end: date, zone: tzinfo, floating: tzinfo | None,
                check: Callable[[], None]) -> list[Stay]:
    """The stays of a blocking simple series in [today, horizon_end): the hot loop of a long history.

    What quick_occurrences and to_nights give, computed without an object per instance: UNTIL and EXDATEs are
    turned into wall-clock times once, so each start is compared as the rule makes it; the nights are the local
    dates of the start and end in the property's zone, at least one night for timed events.
    """
    stays: list[Stay] = []
    summary, uid, length = series.summary or "", series.uid, series.length
    timed = isinstance(series.first, datetime)
    moment_zone = series.zone or floating
    same_zone = moment_zone is None or moment_zone is zone or getattr(moment_zone, "key", 0) == getattr(zone, "key", 1)
    until, removed, removed_days = _as_wall(series)
    first = _wall_datetime(series.first)
    span_start = datetime(today.year, today.month, today.day) - length - timedelta(days=2)
    span_end = datetime(horizon_end.year, horizon_end.month, horizon_end.day) + timedelta(days=1)
    plain = series.plain()
    moments = series.rule.xafter(max(span_start, first), inc=True) if plain is None else (
        moment for moment in plain if moment >= span_start)
    one_night = timedelta(days=1)
    append, prefix, days = stays.append, uid + "#", _DAY_LABELS
    if len(days) > 50_000:  # bounded: a few years of starts at any time of day
        days.clear()
    removes = bool(removed_days or removed)
    moved = not (same_zone or not timed)  # timed starts in another zone: nights are the property's dates
    for n, wall in enumerate(_with_first(first, span_start, span_end, moments)):
        if wall > span_end or (until is not None and wall > until):
            break
        if n & 255 == 255:
            check()
        if removes and (wall in removed or wall.date() in removed_days):
            continue
        if moved:
            aware = wall.replace(tzinfo=moment_zone)
            check_in, check_out = aware.astimezone(zone).date(), (aware + length).astimezone(zone).date()
        else:  # all-day dates are never moved through a zone
            check_in, check_out = wall.date(), (wall + length).date()
        if check_out <= check_in:
            if not timed:
                continue  # never here: such a series is listed as unreadable (series._check_dates)
            check_out = check_in + one_night
        if check_out > today and check_in < horizon_end:
            append(Stay(prefix + days[wall], check_in, check_out, summary))
    return stays


class _DayLabels(dict):
    """A start's "yyyymmdd" for instance uids, formatted once per start: a history's series share
    their dates, and formatting was a tenth of the hot loop."""

    def __missing__(self, wall: datetime) -> str:
        label = self[wall] = f"{wall.year:04}{wall.month:02}{wall.day:02}"
        return label


_DAY_LABELS = _DayLabels()


def _as_wall(series: QuickSeries) -> tuple[datetime | None, set[datetime], set[date]]:
    """UNTIL and the EXDATE recurrence ids as the wall-clock starts they stop or remove (ids: util.to_recurrence_ids:
    an EXDATE meets a start by its UTC time or its wall time)."""
    until = series.until
    if isinstance(until, datetime) and until.tzinfo is not None:
        until = until.astimezone(series.zone).replace(tzinfo=None)
    elif isinstance(until, date) and not isinstance(until, datetime):
        until = datetime(until.year, until.month, until.day)
    removed = set(series.exdate_ids)
    if series.zone is not None:
        removed |= {moment.replace(tzinfo=_UTC).astimezone(series.zone).replace(tzinfo=None)
                    for moment in series.exdate_ids}
    return until, removed, set(series.exdate_days)


def _wall_datetime(when: date | datetime) -> datetime:
    """A start as a naive wall-clock datetime (dates at midnight), as the rule iterates."""
    if isinstance(when, datetime):
        return when.replace(tzinfo=None)
    return datetime(when.year, when.month, when.day)


def _with_first(first: datetime, span_start: datetime, span_end: datetime,
                moments: Iterator[datetime]) -> Iterator[datetime]:
    """The rule's starts with DTSTART first (an instance even when the rule does not make it), once."""
    if span_start <= first <= span_end:
        yield first
    for moment in moments:
        if moment != first:
            yield moment
