"""Recurring events (RRULE, RDATE, EXDATE, RECURRENCE-ID overrides) expanded by recurring-ical-events.

Only the few events that repeat reach this module (with the VTIMEZONEs they use); everything else is read by
the fast scan, because a full icalendar parse of a calendar's whole history is far too slow. TZIDs are read as
the fast scan reads them (repair_tzids), and floating instances are put in the zone floating times mean by the
caller (ZoneResolver.localise), so a repeating event and a single one with the same times give the same nights.
"""
from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timezone
from typing import Any

import icalendar
import recurring_ical_events

from jobs.ical.nights import ZoneResolver, parse_offset, split_property

# What expansion needs; the rest (DESCRIPTION, VALARMs...) is left out so the library copies small components.
_KEPT_LINE = re.compile(r"^(?:UID|DTSTART|DTEND|DURATION|RRULE|RDATE|EXDATE|EXRULE|RECURRENCE-ID|STATUS|SUMMARY|"
                        r"SEQUENCE)[;:][^\r\n]*", re.M | re.I)
_SUBCOMPONENT = re.compile(r"^BEGIN:(?!VEVENT)([\w-]+).*?^END:\1[^\r\n]*", re.M | re.S | re.I)
_TZID_LINE = re.compile(r"^(DTSTART|DTEND|EXDATE|RDATE|RECURRENCE-ID)(;[^\r\n]*TZID=[^\r\n]*)", re.M | re.I)
_UTC = UTC
_EMPTY_DATES = re.compile(r"^(?:EXDATE|RDATE|EXRULE)(?:;[^\r\n:]*)?:[ \t]*\r?\n", re.M | re.I)
_DATE_LABEL_ON_TIME = re.compile(r"^((?:DTSTART|DTEND|EXDATE|RDATE|RECURRENCE-ID)(?:;[^\r\n:]*)?);VALUE=DATE"
                                 r"((?:;[^\r\n:]*)?:\s*\d{8}T)", re.M | re.I)
_PLUS_DURATION = re.compile(r"^(DURATION(?:;[^\r\n:]*)?:\s*)\+", re.M | re.I)


@dataclass(frozen=True)
class Occurrence:
    """One instance of a repeating event, as the library expanded it."""

    uid: str  # `uid#yyyymmdd` of the original (RECURRENCE-ID) date: stable when the instance moves
    summary: str | None
    status: str
    start: date | datetime
    end: date | datetime | None


class ExpansionError(Exception):
    """The library could not read or expand these events."""


def essential_lines(block: str) -> str:
    """A VEVENT block reduced to the properties that expansion and classification read (not its alarms)."""
    body = _SUBCOMPONENT.sub("", block[block.find("\n"):])  # also drops the block's own BEGIN line
    return "\r\n".join(["BEGIN:VEVENT", *_KEPT_LINE.findall(body), "END:VEVENT"])


def repair_lines(block: str, zones: ZoneResolver) -> str:
    """The block with its date lines in forms the library reads as the fast path reads them.

    An empty EXDATE or RDATE says nothing and is dropped; a date-time value labelled VALUE=DATE is read as the
    date-time that is written (nights.read_when does the same); a `+` before a DURATION is dropped; TZIDs as in
    repair_tzids.
    """
    block = _EMPTY_DATES.sub("", block)
    block = _DATE_LABEL_ON_TIME.sub(r"\1\2", block)
    block = _PLUS_DURATION.sub(r"\1", block)
    return repair_tzids(block, zones)


def repair_tzids(block: str, zones: ZoneResolver) -> str:
    """Rewrite date lines whose TZID the library cannot resolve to the zone the fast path reads them in.

    Windows names and `/vendor/.../Area/City` paths become their IANA name, unknown names the property's zone
    (not floating time: floating times may mean the calendar's X-WR-TIMEZONE), fixed offsets UTC values.
    """
    def repair(match: re.Match[str]) -> str:
        name, rest = match.group(1), match.group(2)
        params, value = split_property(rest)
        tzid = params.get("TZID", "")
        if zones.is_known(tzid):
            return match.group(0)
        iana = zones.iana_name(tzid)  # also records the note explaining a fallback
        kept = "".join(f";{key}={val}" for key, val in params.items() if key != "TZID")
        if iana is not None:
            return f"{name}{kept};TZID={iana}:{value}"
        offset = parse_offset(tzid)
        if offset is not None and params.get("VALUE", "").upper() != "DATE":
            value = ",".join(_to_utc(part, offset) for part in value.split(","))
        return f"{name}{kept}:{value}"
    return _TZID_LINE.sub(repair, block)


def _to_utc(value: str, offset: timezone) -> str:
    """A local DATE-TIME value at a fixed offset, written in UTC; left alone if it does not parse."""
    try:
        moment = datetime.strptime(value.strip()[:15].upper(), "%Y%m%dT%H%M%S").replace(tzinfo=offset)
    except ValueError:
        return value
    return moment.astimezone(_UTC).strftime("%Y%m%dT%H%M%SZ")


def moved_start(block: str, old: date | datetime, new: date | datetime) -> str:
    """The block with DTSTART at `new` and DTEND moved as much (same wall-clock length)."""
    shift = _midnight(new) - _midnight(old)
    lines = []
    for line in block.split("\r\n"):
        name = line[:7].upper()
        if name == "DTSTART" or line[:5].upper() == "DTEND":
            head, _, value = line.rpartition(":")
            try:
                when = datetime.strptime(value.strip()[:15].upper(), "%Y%m%dT%H%M%S" if "T" in value.upper()
                                         else "%Y%m%d")
            except ValueError:
                return block  # a value we cannot move: leave the rule where it was
            moved = when + shift
            text = moved.strftime("%Y%m%dT%H%M%S") if "T" in value.upper() else moved.strftime("%Y%m%d")
            line = f"{head}:{text}{'Z' if value.strip().upper().endswith('Z') else ''}"
        lines.append(line)
    return "\r\n".join(lines)


def _midnight(when: date | datetime) -> datetime:
    return when if isinstance(when, datetime) else datetime(when.year, when.month, when.day)


def load_series(events: list[str], timezones: list[str]) -> dict[str, Any]:
    """The library's series (a UID's master and overrides) of these VEVENT blocks, by UID; ExpansionError."""
    text = "\r\n".join(["BEGIN:VCALENDAR", "VERSION:2.0", "PRODID:-//calendar sync//EN", *timezones, *events,
                        "END:VCALENDAR"])
    try:
        calendar = icalendar.Calendar.from_ical(text)
        return {str(series.uid): series for series in recurring_ical_events.of(calendar).series}
    except Exception as error:  # the library raises many kinds (ValueError, KeyError, its own): all mean "unreadable"
        raise ExpansionError(f"{type(error).__name__}: {error}") from error


def occurrences(series: Any, start: date, end: date) -> Iterator[Occurrence]:
    """The instances of one library series overlapping [start, end), one at a time; ExpansionError if it fails.

    One at a time, so the caller can stop early (one instance is all an ignored series needs) and watch its
    work budget while the library expands.
    """
    try:
        for occurrence in series.between(start, end):
            yield _plain(occurrence)
    except Exception as error:  # as in load_series
        raise ExpansionError(f"{type(error).__name__}: {error}") from error


def _plain(occurrence: Any) -> Occurrence:
    """One library occurrence as plain values, read from the component it came from (master or override).

    The instance key is the date the rule gave the instance (its RECURRENCE-ID): an instance moved by an
    override keeps its key, and so do the later instances a RANGE=THISANDFUTURE override moves (each its own
    date, the override's shift taken off), so they do not collapse into one.
    """
    adapter = occurrence._adapter
    component = adapter._component
    if adapter.this_and_future:
        rid = occurrence.start - adapter.move_recurrences_by
    else:
        rid = component["RECURRENCE-ID"].dt if "RECURRENCE-ID" in component else occurrence.start
    summary = str(component["SUMMARY"]).strip() if "SUMMARY" in component else None
    return Occurrence(uid=f"{component.get('UID', '')}#{rid.strftime('%Y%m%d')}", summary=summary,
                      status=str(component.get("STATUS", "")).strip().upper(), start=occurrence.start,
                      end=occurrence.end)
