"""The export feed builder: valid RFC 5545 that our own parser and icalendar read back exactly."""
from __future__ import annotations

from datetime import date, datetime, timedelta

import icalendar

from jobs.ical.export import PRODID, ExportedStay, build_export_calendar, cached_export_calendar
from jobs.ical.parse import parse_feed

TODAY = date(2026, 3, 1)
CHANGED = datetime(2026, 2, 20, 9, 30, 15, 123456)


def stay(code: str, in_days: int, nights: int) -> ExportedStay:
    """A stay starting in_days after TODAY."""
    start = TODAY + timedelta(days=in_days)
    return ExportedStay(code, start, start + timedelta(days=nights), CHANGED)


STAYS = (stay("OA-AAAAAAAAAA", 3, 4), stay("MB-BBBBBBBBBB", 7, 1), stay("OA-CCCCCCCCCC", 40, 14))


def test_calendar_carries_the_rfc_5545_header_and_our_name():
    cal = icalendar.Calendar.from_ical(build_export_calendar("Sea View Flat", STAYS))
    assert str(cal["VERSION"]) == "2.0"
    assert str(cal["PRODID"]) == PRODID == "-//Only-apartments//Calendar Sync Console//EN"
    assert str(cal["CALSCALE"]) == "GREGORIAN"
    assert str(cal["METHOD"]) == "PUBLISH"
    assert cal["X-WR-CALNAME"].to_ical() == b"Sea View Flat"


def test_each_stay_is_an_all_day_event_with_exclusive_end_read_back_exactly_by_icalendar():
    body = build_export_calendar("Flat", STAYS)
    events = icalendar.Calendar.from_ical(body).walk("VEVENT")
    assert [(e.decoded("DTSTART"), e.decoded("DTEND")) for e in events] == \
        [(s.check_in, s.check_out) for s in STAYS]
    assert all(type(e.decoded("DTSTART")) is date for e in events)  # dates, not midnights
    assert b"DTSTART;VALUE=DATE:20260304\r\nDTEND;VALUE=DATE:20260308\r\n" in body


def test_our_own_parser_reads_back_the_same_nights_and_uids():
    body = build_export_calendar("Flat", STAYS)
    parsed = parse_feed(body, "ical", "Europe/Madrid", TODAY)
    assert [(s.uid, s.check_in, s.check_out) for s in parsed.stays] == \
        [(f"{s.code}@only-apartments.com", s.check_in, s.check_out) for s in STAYS]
    assert parsed.events_total == 3 and parsed.ignored == [] and parsed.warnings == []


def test_parse_round_trip_holds_in_a_zone_far_from_utc():
    body = build_export_calendar("Flat", STAYS)
    parsed = parse_feed(body, "ical", "Pacific/Kiritimati", TODAY)
    assert [(s.check_in, s.check_out) for s in parsed.stays] == [(s.check_in, s.check_out) for s in STAYS]


def test_summary_is_reserved_and_dtstamp_is_the_stays_last_change_in_utc():
    events = icalendar.Calendar.from_ical(build_export_calendar("Flat", STAYS)).walk("VEVENT")
    assert {str(e["SUMMARY"]) for e in events} == {"Reserved"}
    assert {e["DTSTAMP"].to_ical() for e in events} == {b"20260220T093015Z"}


def test_uids_are_unique_per_reservation_and_the_same_on_every_build():
    first = icalendar.Calendar.from_ical(build_export_calendar("Flat", STAYS)).walk("VEVENT")
    second = icalendar.Calendar.from_ical(build_export_calendar("Flat", STAYS)).walk("VEVENT")
    uids = [str(e["UID"]) for e in first]
    assert uids == [str(e["UID"]) for e in second]
    assert len(set(uids)) == len(STAYS)
    assert build_export_calendar("Flat", STAYS) == build_export_calendar("Flat", STAYS)


def test_lines_end_in_crlf_and_long_names_are_folded_within_75_octets():
    name = "Ático dúplex con vistas al mar, terraza; piscina y garaje — Calle de la Playa 12, Málaga"
    body = build_export_calendar(name, STAYS)
    assert body.endswith(b"END:VCALENDAR\r\n")
    assert b"\n" not in body.replace(b"\r\n", b"")
    lines = body.split(b"\r\n")
    assert all(len(line) <= 75 for line in lines)
    assert any(line.startswith(b" ") for line in lines)  # the name really was folded
    unfolded = body.replace(b"\r\n ", b"")
    # TEXT escaping: a platform must not read the comma or semicolon as a list separator.
    assert "X-WR-CALNAME:Ático dúplex con vistas al mar\\, terraza\\; piscina".encode() in unfolded


def test_a_property_without_stays_is_a_valid_empty_calendar():
    body = build_export_calendar("Flat", ())
    assert icalendar.Calendar.from_ical(body).walk("VEVENT") == []
    parsed = parse_feed(body, "ical", "Europe/Madrid", TODAY)
    assert parsed.stays == [] and parsed.events_total == 0


def test_cached_build_returns_the_same_body_and_follows_content_changes():
    assert cached_export_calendar("Flat", STAYS) == build_export_calendar("Flat", STAYS)
    moved = STAYS[:2] + (stay("OA-CCCCCCCCCC", 41, 14),)
    assert b"20260411" in cached_export_calendar("Flat", moved)
    assert b"20260411" not in cached_export_calendar("Flat", STAYS)
