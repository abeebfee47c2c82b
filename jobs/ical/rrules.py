"""Repeat rules read before anything is expanded: how many instances a rule can make, and where to start it.

Two things a long history needs that the expansion library does not do:
- a bound: `instances_between` is an upper bound of what a rule makes between two moments, computed from its
  parts (FREQ, INTERVAL, COUNT, UNTIL and the BY* lists that multiply instances) without expanding it, so a
  7-line feed that would make 47 million instances is refused before any is made;
- a later start: the library walks a rule from its DTSTART, so a daily series begun in 2012 costs 5,000 steps
  to reach today. `rebased_start` moves DTSTART forward by whole periods of the rule (whole INTERVALs of days,
  weeks, months or years, in wall-clock time), which leaves every later instance where it was: the rule's
  phase, its weekday, month day and time of day are the same, and BY* parts are absolute. A rule with COUNT is
  not moved (COUNT counts from the first start).
"""
from __future__ import annotations

import calendar
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from itertools import islice
from math import gcd

_SECONDS = {"SECONDLY": 1, "MINUTELY": 60, "HOURLY": 3600}
_TIME_PARTS = {"SECONDLY": (), "MINUTELY": ("BYSECOND",), "HOURLY": ("BYMINUTE", "BYSECOND")}
_DAY_TIME_PARTS = ("BYHOUR", "BYMINUTE", "BYSECOND")


@dataclass(frozen=True)
class Rule:
    """The parts of one RRULE value that decide how many instances it makes."""

    freq: str
    interval: int = 1
    count: int | None = None
    until: datetime | None = None  # wall-clock (naive), compared with the naive start
    parts: dict[str, list[str]] = field(default_factory=dict)


def parse_rule(value: str) -> Rule | None:
    """The Rule of an RRULE value ('FREQ=DAILY;INTERVAL=2'), or None when it cannot be read here."""
    parts: dict[str, list[str]] = {}
    for item in value.upper().strip().split(";"):
        name, _, text = item.partition("=")
        if name.strip():
            parts[name.strip()] = [piece.strip() for piece in text.split(",") if piece.strip()]
    freq = (parts.pop("FREQ", None) or [""])[0]
    if freq not in (*_SECONDS, "DAILY", "WEEKLY", "MONTHLY", "YEARLY"):
        return None
    try:
        interval = max(1, int((parts.pop("INTERVAL", None) or ["1"])[0]))
        count = int(parts.pop("COUNT")[0]) if "COUNT" in parts else None
    except (ValueError, IndexError):
        return None
    until = _moment((parts.pop("UNTIL", None) or [""])[0])
    return Rule(freq, interval, count, until, parts)


def _moment(text: str) -> datetime | None:
    """A DATE or DATE-TIME value as a naive datetime, or None."""
    digits = text.replace("T", "").rstrip("Z")
    try:
        return datetime.strptime(digits[:14].ljust(14, "0"), "%Y%m%d%H%M%S") if len(digits) >= 8 else None
    except ValueError:
        return None


def per_period(rule: Rule) -> int:
    """An upper bound of the instances one period of the rule makes (the BY* lists that multiply them)."""
    size = {name: len(values) for name, values in rule.parts.items()}
    if rule.freq in _SECONDS:
        count = _product(size.get(name, 1) for name in _TIME_PARTS[rule.freq])
    else:
        times = _product(size.get(name, 1) for name in _DAY_TIME_PARTS)
        days = 1
        weekdays = rule.parts.get("BYDAY", [])
        if rule.freq == "WEEKLY":
            days = len(weekdays) or 1
        elif rule.freq == "MONTHLY":
            days = size.get("BYMONTHDAY") or sum(1 if day[:-2] else 5 for day in weekdays) or 1
        elif rule.freq == "YEARLY":
            months = size.get("BYMONTH", 1)
            in_year = (size.get("BYYEARDAY") or size.get("BYWEEKNO", 0) * (len(weekdays) or 1)
                       or months * size.get("BYMONTHDAY", 0)
                       or sum(1 if day[:-2] else (5 * months if "BYMONTH" in size else 53) for day in weekdays))
            days = in_year or months
        count = times * days
    if "BYSETPOS" in size:
        count = min(count, size["BYSETPOS"])
    return max(1, count)


def _product(numbers) -> int:  # noqa: ANN001 (any iterable of ints)
    result = 1
    for number in numbers:
        result *= number
    return result


def instances_between(rule: Rule, start: datetime, end: datetime) -> int:
    """An upper bound of the instances the rule makes from `start` (its DTSTART) up to `end`."""
    if rule.until is not None:
        end = min(end, rule.until)
    if end < start:
        periods = 0
    elif rule.freq in _SECONDS:
        periods = int((end - start).total_seconds() // (_SECONDS[rule.freq] * rule.interval)) + 1
    elif rule.freq in ("DAILY", "WEEKLY"):
        periods = (end - start).days // (rule.interval * (7 if rule.freq == "WEEKLY" else 1)) + 1
    else:
        months = (end.year - start.year) * 12 + end.month - start.month
        periods = months // (rule.interval * (12 if rule.freq == "YEARLY" else 1)) + 1
    bound = periods * per_period(rule) + 1  # + 1: DTSTART is an instance even when the rule does not make it
    return bound if rule.count is None else min(bound, rule.count)


def rebased_start(rule: Rule, start: datetime | date, before: datetime) -> datetime | date | None:
    """A later DTSTART for the rule, whole periods on and still before `before`, or None if it cannot move.

    The caller passes `before` early enough that the moved DTSTART, an instance of its own even when the rule
    does not make it, ends before anything that is read.
    """
    if rule.count is not None:
        return None
    moment = start if isinstance(start, datetime) else datetime(start.year, start.month, start.day)
    if before <= moment:
        return None
    if rule.freq in ("MONTHLY", "YEARLY"):
        step = rule.interval * (12 if rule.freq == "YEARLY" else 1)
        months = ((before.year - moment.year) * 12 + before.month - moment.month) // step * step
        moved = None
        while months > 0 and moved is None:  # a day the month lacks (31st, 29 February): one step back
            moved = _add_months(moment, months)
            if moved is None or moved >= before:
                moved, months = None, months - step
        if moved is None:
            return None
    else:
        if rule.freq in _SECONDS:
            period = _SECONDS[rule.freq] * rule.interval  # whole days that are whole periods: wall time stays
            step_days = period // gcd(period, 86400)
        else:
            step_days = rule.interval * (7 if rule.freq == "WEEKLY" else 1)
        days = (before - moment).days // step_days * step_days
        if days <= 0:
            return None
        moved = moment + timedelta(days=days)
    return moved if isinstance(start, datetime) else moved.date()


def _add_months(moment: datetime, months: int) -> datetime | None:
    """The same day and time `months` later, or None when that month has no such day."""
    year, month = divmod(moment.month - 1 + months, 12)
    year += moment.year
    if year > 9999 or moment.day > calendar.monthrange(year, month + 1)[1]:
        return None
    return moment.replace(year=year, month=month + 1)


_WEEKDAYS = {"MO": 0, "TU": 1, "WE": 2, "TH": 3, "FR": 4, "SA": 5, "SU": 6}


def plain_moments(value: str, begin: datetime) -> Iterator[datetime] | None:
    """The starts of a plain daily or weekly rule (FREQ, INTERVAL, COUNT, weekly BYDAY and WKST only), by
    arithmetic; None for any other rule (dateutil reads those). UNTIL is the caller's (it is taken out)."""
    rule = parse_rule(value)
    if rule is None or rule.freq not in ("DAILY", "WEEKLY") or set(rule.parts) - {"BYDAY", "WKST"}:
        return None
    days = rule.parts.get("BYDAY", [])
    if (rule.freq == "DAILY" and days) or any(day not in _WEEKDAYS for day in days) or (rule.count or 1) < 1:
        return None
    wkst = _WEEKDAYS.get((rule.parts.get("WKST") or ["MO"])[0])
    if wkst is None:
        return None
    if rule.freq == "DAILY":
        moments = _daily(begin, rule.interval)
    else:
        weekdays = sorted({_WEEKDAYS[day] for day in days} or {begin.weekday()}, key=lambda d: (d - wkst) % 7)
        moments = _weekly(begin, rule.interval, weekdays, wkst)
    return moments if rule.count is None else islice(moments, rule.count)


def _daily(begin: datetime, interval: int) -> Iterator[datetime]:
    step = timedelta(days=interval)
    while True:
        yield begin
        begin += step


def _weekly(begin: datetime, interval: int, weekdays: list[int], wkst: int) -> Iterator[datetime]:
    """Weeks from the one holding `begin` (starting on WKST), every `interval`-th, those weekdays at its time."""
    week = begin - timedelta(days=(begin.weekday() - wkst) % 7)
    offsets = [timedelta(days=(day - wkst) % 7) for day in weekdays]
    step = timedelta(days=7 * interval)
    while True:
        for offset in offsets:
            if week + offset >= begin:
                yield week + offset
        week += step
