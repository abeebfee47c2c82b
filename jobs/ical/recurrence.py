"""Recurring events (RRULE, RDATE, EXDATE, RECURRENCE-ID overrides) expanded by recurring-ical-events.

Only the few events that repeat reach this module (with the VTIMEZONEs they use); everything else is read by
the fast scan, because a full icalendar parse of a calendar's whole history is far too slow. TZIDs are read as
the fast scan reads them (repair_tzids), and floating instances are put in the zone floating times mean by the
caller (ZoneResolver.localise), so a repeating event and a single one with the same times give the same nights.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, timezone

import icalendar
import recurring_ical_events

from jobs.ical.nights import ZoneResolver, parse_offset, split_property

# What expansion needs; the rest (DESCRIPTION, VALARMs...) is left out so the library copies small components.
_KEPT_LINE = re.compile(r"^(?:UID|DTSTART|DTEND|DURATION|RRULE|RDATE|EXDATE|EXRULE|RECURRENCE-ID|STATUS|SUMMARY|"
                        r"SEQUENCE)[;:][^\r\n]*", re.M | re.I)
_SUBCOMPONENT = re.compile(r"^BEGIN:(?!VEVENT)([\w-]+).*?^END:\1[^\r\n]*", re.M | re.S | re.I)
_TZID_LINE = re.compile(r"^(DTSTART|DTEND|EXDATE|RDATE|RECURRENCE-ID)(;[^\r\n]*TZID=[^\r\n]*)", re.M | re.I)
_UTC = timezone.utc


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


def expand(events: list[str], timezones: list[str], start: date, end: date) -> list[Occurrence]:
    """Every instance of these VEVENT blocks overlapping [start, end); ExpansionError if the library fails."""
    text = "\r\n".join(["BEGIN:VCALENDAR", "VERSION:2.0", "PRODID:-//calendar sync//EN", *timezones, *events,
                        "END:VCALENDAR"])
    try:
        calendar = icalendar.Calendar.from_ical(text)
        instances = recurring_ical_events.of(calendar, calendar_query=_UncopiedQuery).between(start, end)
        return [_occurrence(instance) if isinstance(instance, icalendar.Component) else _uncopied(instance)
                for instance in instances]
    except Exception as error:  # the library raises many kinds (ValueError, KeyError, its own): all mean "unreadable"
        raise ExpansionError(f"{type(error).__name__}: {error}") from error


class _UncopiedQuery(recurring_ical_events.CalendarQuery):
    """A query that returns the library's occurrences without copying a component for each.

    Copying is most of the expansion time (a weekly series over 18 months is 78 copies). This hooks a private
    method; should the library drop it, between() returns components again and _occurrence reads those.
    """

    def _occurrences_to_components(self, occurrences):  # noqa: ANN001, ANN202 (the library's own signature)
        return occurrences


def _uncopied(occurrence) -> Occurrence:  # noqa: ANN001 (recurring_ical_events.occurrence.Occurrence)
    """One library occurrence as plain values, read from the component it came from (master or override)."""
    component = occurrence._adapter._component
    return _plain(component, occurrence.start, occurrence.end)


def _occurrence(instance: icalendar.Event) -> Occurrence:
    """One expanded instance (a copied component) as plain values."""
    end = instance["DTEND"].dt if "DTEND" in instance else None
    if end is None and "DURATION" in instance:
        end = instance["DTSTART"].dt + instance["DURATION"].dt
    return _plain(instance, instance["DTSTART"].dt, end)


def _plain(component: icalendar.Event, start: date | datetime, end: date | datetime | None) -> Occurrence:
    """An Occurrence from the component that describes it and its own start and end."""
    rid = component["RECURRENCE-ID"].dt if "RECURRENCE-ID" in component else start
    summary = str(component["SUMMARY"]).strip() if "SUMMARY" in component else None
    return Occurrence(uid=f"{component.get('UID', '')}#{rid.strftime('%Y%m%d')}", summary=summary,
                      status=str(component.get("STATUS", "")).strip().upper(), start=start, end=end)

