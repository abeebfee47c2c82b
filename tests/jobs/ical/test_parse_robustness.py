"""parse_feed on what is not a calendar, on tolerated oddities, and on mutated feeds."""
from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from jobs.rules.stays import SyncFailure
from tests.jobs.feeds import (
    airbnb_feed,
    airbnb_legacy_feed,
    all_day,
    alternating_case,
    booking_feed,
    calendar,
    day,
    event,
    fold,
    nights,
    parse,
    recase_names,
    vrbo_feed,
    weekly_series,
)

# --- what is not a calendar -------------------------------------------------------------------------------------

def _failure(body: bytes, source: str = "google", **kwargs) -> SyncFailure:
    """The SyncFailure parse_feed raises for this body."""
    with pytest.raises(SyncFailure) as failure:
        parse(body, source, **kwargs)
    return failure.value


def test_html_404_page_is_not_ical_and_the_message_names_its_title():
    page = (b"<!DOCTYPE html>\n<html lang=en><head><meta charset=utf-8><title>Error 404 (Not Found)!!1</title>"
            b"</head><body><p>The requested URL was not found on this server.</p></body></html>")
    failure = _failure(page, content_type="text/html; charset=UTF-8")
    assert failure.kind == "not_ical"
    assert "HTML page" in failure.message and "Error 404 (Not Found)!!1" in failure.message
    assert "text/html" in failure.message


def test_google_xml_feed_is_not_ical():
    xml = (b"<?xml version='1.0' encoding='UTF-8'?><feed xmlns='http://www.w3.org/2005/Atom'>"
           b"<id>http://www.google.com/calendar/feeds/x/public/basic</id></feed>")
    failure = _failure(xml)
    assert failure.kind == "not_ical" and "XML" in failure.message and "<feed>" in failure.message


def test_json_body_is_not_ical():
    failure = _failure(b'{"error": {"code": 403, "message": "Forbidden"}}', "airbnb")
    assert failure.kind == "not_ical" and "JSON" in failure.message


@pytest.mark.parametrize("body", [b"hello world, this is not a calendar", b"\x00\x01\x02\xff\xfe\x00garbage",
                                  b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR"])
def test_garbage_is_not_ical(body):
    assert _failure(body, "ical").kind == "not_ical"


def test_events_without_vcalendar_are_invalid_ical():
    body = b"\r\n".join(line.encode() for line in event("a", all_day(day(1)), all_day(day(2)), "Blocked"))
    assert _failure(body, "ical").kind == "invalid_ical"


def test_calendar_missing_end_vcalendar_is_invalid_ical_not_a_short_calendar():
    body = airbnb_feed([(day(1), day(3), "Reserved"), (day(5), day(8), "Reserved")])
    cut = body[: body.rindex(b"END:VCALENDAR")]
    failure = _failure(cut, "airbnb")
    assert failure.kind == "invalid_ical" and "cut short" in failure.message
    assert _failure(body[: body.rindex(b"END:VEVENT")], "airbnb").kind == "invalid_ical"


def test_end_line_closing_nothing_makes_its_event_unreadable_not_the_feed():
    # Issue 13: this used to fail the whole feed as invalid_ical.
    body = calendar(["PRODID:x", "BEGIN:VEVENT", f"DTSTART;VALUE=DATE:{day(1):%Y%m%d}", "UID:a",
                     "END:VTODO", "END:VEVENT", *event("b", all_day(day(3)), all_day(day(5)), "Blocked")])
    parsed = parse(body, "ical")
    assert nights(parsed) == [(day(3), day(5))] and parsed.unreadable_uids == ["a"]
    [unreadable] = parsed.unreadable
    assert unreadable.line == 3
    assert unreadable.reason == "Its line 6, END:VTODO, closes nothing (the event starts at line 3)."


def test_calendar_inside_a_calendar_is_still_invalid_ical():
    body = calendar(["PRODID:x", "BEGIN:VCALENDAR", *event("b", all_day(day(3)), all_day(day(5)), "Blocked")])
    assert _failure(body, "ical").kind == "invalid_ical"


# --- tolerated oddities -----------------------------------------------------------------------------------------

def test_folding_inside_a_multibyte_character_is_undone():
    summary = "Réservée - " + "é" * 40 + " Zoë"
    line = f"SUMMARY:{summary}"
    folded = fold(line)
    assert any(b"\r\n " in folded[i:i + 3] for i in range(len(folded)))
    head, _, tail = folded.partition(b"\r\n ")
    assert head[-1] >= 0x80 and tail[0] >= 0x80  # the fold splits a two-byte character
    body = vrbo_feed([(day(1), day(2), summary)])
    assert parse(body, "vrbo").stays[0].summary == summary


def test_utf8_bom_and_latin1_bytes_are_tolerated():
    body = b"\xef\xbb\xbf" + vrbo_feed([(day(1), day(2), "Indisponible")]).replace(
        b"Indisponible", "Réservée".encode("latin-1"))
    assert parse(body, "vrbo").stays[0].summary == "Réservée"


def test_trailing_garbage_after_end_vcalendar_is_ignored():
    body = airbnb_feed([(day(1), day(3), "Reserved")]) + b"<!-- served by cache-42 in 0.003s -->\nEND:VEVENT\n"
    assert nights(parse(body, "airbnb")) == [(day(1), day(3))]


def test_repeated_method_lines_and_missing_dtstamp_are_tolerated():
    body = calendar(["PRODID:-//gen//EN", "METHOD:PUBLISH", "METHOD:PUBLISH", "VERSION:2.0",
                     *event("m", all_day(day(1)), all_day(day(2)), "Blocked")])
    assert nights(parse(body)) == [(day(1), day(2))]


def test_unreadable_event_among_good_ones_is_reported_not_fatal():
    body = _SEEDS[-1]
    parsed = parse(body, "ical", timezone="Europe/Madrid")
    # W. Europe 22:00 is 22:00 in Madrid; floating 20:00 in New York (X-WR-TIMEZONE) is the next day there.
    assert nights(parsed) == [(day(3), day(5)), (day(6), day(7))]
    assert parsed.unreadable_uids == ["nostart"] and parsed.notes == []


def test_lower_case_property_names_are_read():
    body = calendar(["PRODID:x", *event("lc", all_day(day(1)), all_day(day(2)), "Blocked")]).lower()
    parsed = parse(body)
    assert nights(parsed) == [(day(1), day(2))] and parsed.stays[0].summary == "blocked"


def test_unfolded_crlf_and_unfolded_lf_feeds_agree():
    stays = [(day(1), day(3), "Reserved - " + "x" * 90), (day(4), day(6), "Blocked")]
    crlf = vrbo_feed(stays)
    lf = crlf.replace(b"\r\n", b"\n")
    assert parse(crlf, "vrbo").stays == parse(lf, "vrbo").stays


# --- fuzzing ----------------------------------------------------------------------------------------------------

_SEEDS = [
    airbnb_feed([(day(3), day(7), "Reserved"), (day(10), day(40), "Airbnb (Not available)")]),
    airbnb_legacy_feed([(day(1), day(4), "Jane Doe (HMABCD1234)")]),
    vrbo_feed([(day(2), day(9), "Réservée - Amélie"), (day(9), day(12), "Indisponible")], old_dates=True),
    booking_feed([(day(1), day(3)), (day(8), day(15))], backslashes=3),
    weekly_series(),
    calendar(["PRODID:x", *event("gmt1", f";TZID=GMT+05:30:{day(3):%Y%m%d}T020000",
                                 f";TZID=GMT+05:30:{day(6):%Y%m%d}T100000", "Booked", "RRULE:FREQ=DAILY;COUNT=3")]),
    recase_names(airbnb_feed([(day(3), day(7), "Reserved"), (day(9), day(10), "Not available")]), alternating_case),
    calendar(["PRODID:x", "X-WR-TIMEZONE:America/New_York",
              *event("w1", f';TZID="W. Europe Standard Time":{day(3):%Y%m%d}T220000', None, "Booked",
                     "DURATION:P2D"),
              *event("f1", f":{day(5):%Y%m%d}T200000", f":{day(7):%Y%m%d}T100000", "Booked"),
              "BEGIN:VEVENT", f"DTEND;VALUE=DATE:{day(9):%Y%m%d}", "SUMMARY:Booked", "UID:nostart", "END:VEVENT"]),
]
_SOURCES = ["airbnb", "vrbo", "booking", "google", "ical"]


@st.composite
def mutated_feeds(draw) -> bytes:
    """A real-looking feed with lines dropped, duplicated, swapped or cut, and bytes flipped."""
    lines = draw(st.sampled_from(_SEEDS)).split(b"\n")
    for _ in range(draw(st.integers(1, 4))):
        op = draw(st.sampled_from(["drop", "duplicate", "swap", "truncate_line", "truncate_body", "flip"]))
        at = draw(st.integers(0, len(lines) - 1))
        if op == "drop" and len(lines) > 1:
            del lines[at]
        elif op == "duplicate":
            lines.insert(at, lines[at])
        elif op == "swap":
            other = draw(st.integers(0, len(lines) - 1))
            lines[at], lines[other] = lines[other], lines[at]
        elif op == "truncate_line":
            lines[at] = lines[at][: draw(st.integers(0, max(0, len(lines[at]))))]
        elif op == "truncate_body":
            lines = lines[: at + 1]
        elif op == "flip" and lines[at]:
            pos = draw(st.integers(0, len(lines[at]) - 1))
            line = bytearray(lines[at])
            line[pos] = draw(st.integers(0, 255))
            lines[at] = bytes(line)
    return b"\n".join(lines)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(body=mutated_feeds(), source=st.sampled_from(_SOURCES))
def test_mutated_feeds_parse_or_fail_with_an_ical_failure_kind(body, source):
    try:
        parsed = parse(body, source)
    except SyncFailure as failure:
        assert failure.kind in {"not_ical", "invalid_ical", "too_complex"}
        assert failure.message
        return
    for stay in parsed.stays:
        assert stay.check_in < stay.check_out
    assert len({stay.uid for stay in parsed.stays}) == len(parsed.stays)
    assert all(parsed.unreadable_uids) and len(set(parsed.unreadable_uids)) == len(parsed.unreadable_uids)
