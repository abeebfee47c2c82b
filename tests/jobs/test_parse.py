"""parse_feed through real-looking feeds (shapes from FORMATS.md)."""
from __future__ import annotations

from datetime import date, datetime, timedelta

import pytest

from jobs.parse import parse_feed
from jobs.stays import Stay, SyncFailure
from tests.jobs.feeds import (
    AIRBNB_PRODID, airbnb_feed, airbnb_legacy_feed, all_day, booking_feed, calendar, event, fold, google_event,
    google_header, vrbo_feed,
)

TODAY = date(2026, 3, 1)


def day(offset: int) -> date:
    """A date relative to TODAY."""
    return TODAY + timedelta(days=offset)


def nights(parsed) -> list[tuple[date, date]]:
    """The (check_in, check_out) pairs of a parsed feed."""
    return [(stay.check_in, stay.check_out) for stay in parsed.stays]


def google(*events: list[str]) -> bytes:
    """A Google calendar with these events."""
    return calendar(google_header() + [line for ev in events for line in ev])


def parse(body: bytes, source: str = "ical", timezone: str = "Europe/Madrid", **kwargs):
    """parse_feed with the test's today."""
    return parse_feed(body, source, timezone, TODAY, **kwargs)


# --- channels ---------------------------------------------------------------------------------------------------

def test_airbnb_current_feed_blocks_reservations_and_unavailable_ranges():
    body = airbnb_feed([(day(3), day(7), "Reserved"), (day(10), day(40), "Airbnb (Not available)"),
                        (day(-30), day(-25), "Reserved")])
    parsed = parse(body, "airbnb")
    assert nights(parsed) == [(day(3), day(7)), (day(10), day(40))]
    assert [stay.summary for stay in parsed.stays] == ["Reserved", "Airbnb (Not available)"]
    assert parsed.prodid == AIRBNB_PRODID
    assert parsed.ignored == [] and parsed.warnings == []


def test_events_total_counts_every_vevent_including_past_ones():
    body = airbnb_feed([(day(3), day(7), "Reserved"), (day(-30), day(-25), "Reserved"),
                        (day(-400), day(-390), "Not available")])
    parsed = parse(body, "airbnb")
    assert parsed.events_total == 3
    assert len(parsed.stays) == 1


def test_airbnb_legacy_prodid_parameter_and_missing_dtstamp_are_read():
    body = airbnb_legacy_feed([(day(1), day(4), "Jane Doe (HMABCD1234)"), (day(5), day(6), "Not available")])
    parsed = parse(body, "airbnb")
    assert parsed.prodid == "-//Airbnb Inc//Hosting Calendar 0.8.8//EN"
    assert nights(parsed) == [(day(1), day(4)), (day(5), day(6))]
    assert parsed.stays[0].summary == "Jane Doe (HMABCD1234)"


def test_vrbo_french_summaries_block_and_keep_their_accents():
    body = vrbo_feed([(day(2), day(9), "Réservée - Amélie"), (day(9), day(12), "Indisponible"),
                      (day(20), day(22), "Provisoire - Luc")])
    parsed = parse(body, "vrbo")
    assert [stay.summary for stay in parsed.stays] == ["Réservée - Amélie", "Indisponible", "Provisoire - Luc"]
    assert parsed.prodid == "-//HomeAway.com, Inc.//EN"


def test_vrbo_old_date_form_without_value_date_is_all_day():
    body = vrbo_feed([(day(2), day(9), "Reserved - Bob")], old_dates=True)
    parsed = parse(body, "vrbo", timezone="Pacific/Honolulu")
    assert nights(parsed) == [(day(2), day(9))]


@pytest.mark.parametrize("backslashes", [1, 3, 6])
def test_booking_escaped_prodid_and_bare_lf_line_ends_are_read(backslashes):
    body = booking_feed([(day(1), day(3)), (day(8), day(15))], backslashes=backslashes, newline="\n")
    assert b"\r" not in body
    parsed = parse(body, "booking")
    assert nights(parsed) == [(day(1), day(3)), (day(8), day(15))]
    assert parsed.prodid.startswith("-//admin.booking.com\\") and parsed.prodid.endswith("//NONSGML v1.0//EN")
    assert all(stay.summary == "CLOSED - Not available" for stay in parsed.stays)


@pytest.mark.parametrize("body", [b"", b"  \r\n\n\t ", b"\xef\xbb\xbf\r\n"])
def test_booking_empty_body_is_an_empty_calendar(body):
    parsed = parse(body, "booking")
    assert parsed.stays == [] and parsed.events_total == 0 and parsed.ignored == []


@pytest.mark.parametrize("source", ["airbnb", "google", "vrbo", "ical"])
def test_empty_body_from_other_sources_is_invalid_ical(source):
    with pytest.raises(SyncFailure) as failure:
        parse(b"\r\n", source)
    assert failure.value.kind == "invalid_ical"
    assert "empty" in failure.value.message


def test_agoda_summary_with_language_parameter_and_leading_space_is_trimmed():
    body = calendar(["PRODID:-//ycs.agoda.com//EN", "VERSION:2.0",
                     "BEGIN:VEVENT", f"DTSTART;VALUE=DATE:{day(4):%Y%m%d}", f"DTEND;VALUE=DATE:{day(6):%Y%m%d}",
                     "SUMMARY;LANGUAGE=en-us: BOOKED", "UID:agoda-1", "END:VEVENT"])
    parsed = parse(body, "ical")
    assert parsed.stays == [Stay("agoda-1", day(4), day(6), "BOOKED")]


# --- dates and times --------------------------------------------------------------------------------------------

@pytest.mark.parametrize("zone", ["Pacific/Auckland", "America/Los_Angeles", "Pacific/Kiritimati", "UTC"])
def test_all_day_dates_are_never_shifted_through_utc(zone):
    body = airbnb_feed([(day(5), day(8), "Reserved")])
    assert nights(parse(body, "airbnb", timezone=zone)) == [(day(5), day(8))]


def test_all_day_event_without_dtend_is_one_night():
    body = calendar(["PRODID:x", *event("one", all_day(day(5)), None, "Blocked")])
    assert nights(parse(body)) == [(day(5), day(6))]


def test_all_day_event_ending_on_its_start_day_is_ignored_with_a_reason():
    body = calendar(["PRODID:x", *event("bad", all_day(day(5)), all_day(day(5)), "Blocked"),
                     *event("worse", all_day(day(9)), all_day(day(7)), "Blocked")])
    parsed = parse(body)
    assert parsed.stays == []
    assert {event.summary for event in parsed.ignored} == {"Blocked"}
    assert all("ends on or before" in event.reason for event in parsed.ignored)


def test_all_day_duration_gives_the_nights():
    body = calendar(["PRODID:x", *event("dur", all_day(day(5)), None, "Blocked", "DURATION:P3D")])
    assert nights(parse(body)) == [(day(5), day(8))]


def test_google_timed_events_with_tzid_become_nights_in_the_property_zone():
    start = datetime.combine(day(10), datetime.min.time()).replace(hour=15)
    end = datetime.combine(day(13), datetime.min.time()).replace(hour=11)
    body = google(google_event("t1@google.com", f";TZID=Europe/Madrid:{start:%Y%m%dT%H%M%S}",
                               f";TZID=Europe/Madrid:{end:%Y%m%dT%H%M%S}", "Reserved"))
    assert nights(parse(body, "google")) == [(day(10), day(13))]
    # The same instants seen from Tokyo (8 hours ahead): 23:00 -> 19:00 local, still the same days.
    assert nights(parse(body, "google", timezone="Asia/Tokyo")) == [(day(10), day(13))]
    # From Honolulu: 04:00 -> 00:00 local, and a checkout at local midnight is that day.
    assert nights(parse(body, "google", timezone="Pacific/Honolulu")) == [(day(10), day(13))]


def test_utc_timed_event_is_converted_to_the_property_zone_date():
    body = google(google_event("u1@google.com", f":{day(10):%Y%m%d}T230000Z", f":{day(12):%Y%m%d}T090000Z",
                               "Reserved"))
    # 23:00 UTC is 00:00 the next day in Madrid (CET): check-in moves to day 11.
    assert nights(parse(body, "google")) == [(day(11), day(12))]
    assert nights(parse(body, "google", timezone="UTC")) == [(day(10), day(12))]


def test_timed_event_ending_at_local_midnight_checks_out_that_day():
    body = google(google_event("m1@google.com", f";TZID=Europe/Madrid:{day(3):%Y%m%d}T000000",
                               f";TZID=Europe/Madrid:{day(5):%Y%m%d}T000000", "Reserved"))
    assert nights(parse(body, "google")) == [(day(3), day(5))]


def test_short_timed_event_blocks_at_least_one_night():
    body = google(google_event("s1@google.com", f":{day(3):%Y%m%d}T140000", f":{day(3):%Y%m%d}T160000",
                               "Reserved"))
    assert nights(parse(body, "google")) == [(day(3), day(4))]


def test_timed_event_ending_before_it_starts_is_ignored_with_a_reason():
    body = google(google_event("b1@google.com", f":{day(3):%Y%m%d}T140000", f":{day(2):%Y%m%d}T160000",
                               "Reserved"))
    parsed = parse(body, "google")
    assert parsed.stays == []
    assert parsed.ignored[0].reason == "it ends before it starts"


def test_invalid_offset_tzid_is_read_as_a_fixed_offset_with_a_note():
    body = calendar(["PRODID:x", *event("gmt1", f";TZID=GMT+05:30:{day(3):%Y%m%d}T020000",
                                        f";TZID=GMT+05:30:{day(6):%Y%m%d}T100000", "Booked")])
    parsed = parse(body, timezone="UTC")
    # 02:00 at +05:30 is 20:30 UTC the previous day.
    assert nights(parsed) == [(day(2), day(6))]
    assert any("GMT+05:30" in note for note in parsed.notes)


def test_unknown_tzid_falls_back_to_the_property_zone_with_a_note():
    body = calendar(["PRODID:x", *event("unk", f';TZID="Mars/Olympus":{day(3):%Y%m%d}T230000',
                                        f";TZID=Mars/Olympus:{day(6):%Y%m%d}T100000", "Booked")])
    parsed = parse(body, timezone="Europe/Madrid")
    assert nights(parsed) == [(day(3), day(6))]
    assert any("Mars/Olympus" in note for note in parsed.notes)


def test_custom_named_vtimezone_of_the_feed_is_used():
    outlook_zone = ["BEGIN:VTIMEZONE", "TZID:W. Europe Standard Time",
                    "BEGIN:STANDARD", "DTSTART:16010101T030000", "TZOFFSETFROM:+0200", "TZOFFSETTO:+0100",
                    "RRULE:FREQ=YEARLY;BYDAY=-1SU;BYMONTH=10", "END:STANDARD",
                    "BEGIN:DAYLIGHT", "DTSTART:16010101T020000", "TZOFFSETFROM:+0100", "TZOFFSETTO:+0200",
                    "RRULE:FREQ=YEARLY;BYDAY=-1SU;BYMONTH=3", "END:DAYLIGHT", "END:VTIMEZONE"]
    body = calendar(["PRODID:-//Microsoft Corporation//Outlook 16.0 MIMEDIR//EN", *outlook_zone,
                     *event("o1", f';TZID="W. Europe Standard Time":{day(3):%Y%m%d}T003000',
                            f';TZID="W. Europe Standard Time":{day(5):%Y%m%d}T100000', "Booked")])
    parsed = parse(body, timezone="UTC")
    # 00:30 at UTC+1 is 23:30 UTC the day before.
    assert nights(parsed) == [(day(2), day(5))]
    assert parsed.notes == []


def test_unknown_property_time_zone_is_a_value_error_not_a_feed_failure():
    with pytest.raises(ValueError, match="Nowhere/City"):
        parse(airbnb_feed([(day(1), day(2), "Reserved")]), "airbnb", timezone="Nowhere/City")


def test_unreadable_date_in_a_blocking_event_fails_the_feed():
    body = calendar(["PRODID:x", *event("bad", ";VALUE=DATE:2026-13-45", all_day(day(4)), "Blocked")])
    with pytest.raises(SyncFailure) as failure:
        parse(body)
    assert failure.value.kind == "invalid_ical"
    assert "unreadable date" in failure.value.message


def test_unreadable_date_in_an_ignored_google_event_only_ignores_it():
    body = google(google_event("d1@google.com", ":notadate", ":neither", "Dentist"),
                  google_event("r1@google.com", all_day(day(2)), all_day(day(4)), "Reserved"))
    parsed = parse(body, "google")
    assert nights(parsed) == [(day(2), day(4))]
    assert [event.summary for event in parsed.ignored] == ["Dentist"]


# --- which events block -----------------------------------------------------------------------------------------

def test_google_only_events_titled_reserved_block_and_others_are_explained():
    body = google(google_event("a@google.com", all_day(day(1)), all_day(day(3)), "Reserved"),
                  google_event("b@google.com", all_day(day(4)), all_day(day(6)), "  reserved "),
                  google_event("c@google.com", all_day(day(7)), all_day(day(8)), "RESERVED"),
                  google_event("d@google.com", all_day(day(9)), all_day(day(10)), "Dentist"),
                  google_event("e@google.com", all_day(day(11)), all_day(day(12)), "Reserved for family"))
    parsed = parse(body, "google")
    assert nights(parsed) == [(day(1), day(3)), (day(4), day(6)), (day(7), day(8))]
    assert [(event.summary, event.reason) for event in parsed.ignored] == [
        ("Dentist", 'not titled "Reserved"'), ("Reserved for family", 'not titled "Reserved"')]
    assert [(w.kind, w.message) for w in parsed.warnings] == [
        ("ignored_events", '2 events ignored: not titled "Reserved"')]


def test_past_ignored_events_are_not_reported():
    body = google(google_event("old@google.com", all_day(day(-90)), all_day(day(-89)), "Dentist"))
    parsed = parse(body, "google")
    assert parsed.ignored == [] and parsed.warnings == [] and parsed.events_total == 1


def test_free_busy_only_google_calendar_warns_with_advice():
    body = google(google_event("a@google.com", all_day(day(1)), all_day(day(3)), "Busy"),
                  google_event("b@google.com", all_day(day(5)), all_day(day(6)), None))
    parsed = parse(body, "google")
    assert parsed.stays == []
    kinds = [w.kind for w in parsed.warnings]
    assert "free_busy_only" in kinds
    assert "See all event details" in parsed.warnings[kinds.index("free_busy_only")].message


def test_busy_titles_outside_google_still_block():
    body = calendar(["PRODID:x", *event("a", all_day(day(1)), all_day(day(3)), "Busy")])
    parsed = parse(body, "ical")
    assert nights(parsed) == [(day(1), day(3))] and parsed.warnings == []


def test_cancelled_event_does_not_block():
    body = calendar(["PRODID:x", *event("c1", all_day(day(1)), all_day(day(3)), "Blocked", "STATUS:CANCELLED"),
                     *event("c2", all_day(day(4)), all_day(day(5)), "Blocked", "STATUS:CONFIRMED")])
    parsed = parse(body)
    assert nights(parsed) == [(day(4), day(5))]
    assert parsed.ignored[0].reason.startswith("cancelled")


def test_stays_in_the_past_and_beyond_the_horizon_are_dropped_silently():
    body = airbnb_feed([(day(-10), day(0), "Reserved"), (day(-1), day(2), "Reserved"),
                        (day(100), day(103), "Reserved"), (day(600), day(605), "Reserved")])
    parsed = parse(body, "airbnb")
    assert nights(parsed) == [(day(-1), day(2)), (day(100), day(103))]
    assert parsed.ignored == []
    assert nights(parse(body, "airbnb", horizon_days=60)) == [(day(-1), day(2))]


def test_duplicate_uids_keep_one_stay_per_check_in_with_unique_uids():
    twice = event("dup@x", all_day(day(1)), all_day(day(3)), "Blocked")
    body = calendar(["PRODID:x", *twice, *twice,
                     *event("dup@x", all_day(day(1)), all_day(day(4)), "Blocked"),
                     *event("dup@x", all_day(day(10)), all_day(day(12)), "Blocked")])
    parsed = parse(body)
    assert nights(parsed) == [(day(1), day(4)), (day(10), day(12))]
    uids = [stay.uid for stay in parsed.stays]
    assert len(set(uids)) == 2 and all(uid.startswith("dup@x#") for uid in uids)


def test_event_without_uid_gets_a_stable_uid_from_its_dates():
    body = calendar(["PRODID:x", "BEGIN:VEVENT", f"DTSTART;VALUE=DATE:{day(2):%Y%m%d}",
                     f"DTEND;VALUE=DATE:{day(4):%Y%m%d}", "SUMMARY:Blocked", "END:VEVENT"])
    assert parse(body).stays[0].uid == parse(body).stays[0].uid == f"nouid-{day(2):%Y%m%d}-{day(4):%Y%m%d}"


def test_alarm_summary_does_not_replace_the_event_summary():
    body = google(["BEGIN:VEVENT", f"DTSTART;VALUE=DATE:{day(2):%Y%m%d}", f"DTEND;VALUE=DATE:{day(4):%Y%m%d}",
                   "BEGIN:VALARM", "ACTION:EMAIL", "SUMMARY:Alarm notification", "DESCRIPTION:x",
                   "TRIGGER:-P1D", "END:VALARM", "SUMMARY:Reserved", "UID:alarm@google.com", "END:VEVENT"])
    assert parse(body, "google").stays == [Stay("alarm@google.com", day(2), day(4), "Reserved")]


# --- repeating events -------------------------------------------------------------------------------------------

def _weekly_series() -> bytes:
    """A weekly timed 'Reserved' series with an EXDATE, a moved (longer) instance and a cancelled instance."""
    first = day(2)

    def at(offset: int, time: str = "160000") -> str:
        return f";TZID=Europe/Madrid:{first + timedelta(days=offset):%Y%m%d}T{time}"

    cancelled = google_event("w@google.com", at(21), at(23, "110000"), "Reserved", f"RECURRENCE-ID{at(21)}")
    return google(
        google_event("w@google.com", at(0), at(2, "110000"), "Reserved", "RRULE:FREQ=WEEKLY;COUNT=6",
                     f"EXDATE{at(14)}"),
        google_event("w@google.com", at(7), at(10, "110000"), "Reserved", f"RECURRENCE-ID{at(7)}"),
        [line.replace("STATUS:CONFIRMED", "STATUS:CANCELLED") for line in cancelled],
    )


def test_recurring_event_expands_with_exdate_override_and_cancelled_instance():
    parsed = parse(_weekly_series(), "google")
    first = day(2)
    assert nights(parsed) == [
        (first, first + timedelta(days=2)),
        (first + timedelta(days=7), first + timedelta(days=10)),  # the moved (longer) instance
        (first + timedelta(days=28), first + timedelta(days=30)),
        (first + timedelta(days=35), first + timedelta(days=37)),
    ]
    assert parsed.events_total == 3
    assert [event.reason for event in parsed.ignored] == ["cancelled (STATUS:CANCELLED)"]


def test_recurring_instance_uids_are_unique_and_stable():
    first, second = parse(_weekly_series(), "google"), parse(_weekly_series(), "google")
    uids = [stay.uid for stay in first.stays]
    assert uids == [stay.uid for stay in second.stays]
    assert len(set(uids)) == len(uids)
    assert uids[1] == f"w@google.com#{day(9):%Y%m%d}"  # the moved instance keeps its original date


def test_all_day_yearly_series_started_long_ago_expands_in_the_window():
    body = calendar(["PRODID:x", *event("y", all_day(date(2015, 3, 5)), all_day(date(2015, 3, 8)), "Blocked",
                                        "RRULE:FREQ=YEARLY")])
    assert nights(parse(body, timezone="Pacific/Auckland")) == [(date(2026, 3, 5), date(2026, 3, 8)),
                                                                (date(2027, 3, 5), date(2027, 3, 8))]


def test_series_that_ended_long_ago_gives_nothing():
    body = calendar(["PRODID:x", *event("old", all_day(date(2019, 1, 7)), all_day(date(2019, 1, 8)), "Blocked",
                                        "RRULE:FREQ=WEEKLY;UNTIL=20200101T000000Z")])
    parsed = parse(body)
    assert parsed.stays == [] and parsed.events_total == 1


def test_recurring_event_with_offset_tzid_expands_in_utc():
    body = calendar(["PRODID:x", *event("r-gmt", f";TZID=GMT+05:30:{day(3):%Y%m%d}T020000",
                                        f";TZID=GMT+05:30:{day(3):%Y%m%d}T100000", "Booked",
                                        "RRULE:FREQ=DAILY;COUNT=2")])
    parsed = parse(body, timezone="UTC")
    assert nights(parsed) == [(day(2), day(3)), (day(3), day(4))]
    assert any("GMT+05:30" in note for note in parsed.notes)


def test_repeat_more_often_than_daily_is_ignored_instead_of_expanded_for_ages():
    body = calendar(["PRODID:x", *event("sec", ":20100101T100000Z", ":20100101T110000Z", "Blocked",
                                        "RRULE:FREQ=SECONDLY")])
    parsed = parse(body)
    assert parsed.stays == []
    assert [event.reason for event in parsed.ignored] == ["it repeats more often than daily"]


def test_dates_at_the_end_of_the_calendar_are_ignored_not_crashing():
    body = calendar(["PRODID:x", *event("end", ":99991231", None, "Blocked")])
    assert [event.reason for event in parse(body).ignored] == ["its dates are out of range"]


def test_google_repeating_event_not_titled_reserved_is_ignored_once():
    body = google(google_event("yoga@google.com", all_day(day(1)), all_day(day(2)), "Yoga", "RRULE:FREQ=WEEKLY"))
    parsed = parse(body, "google")
    assert parsed.stays == []
    assert [(event.summary, event.reason) for event in parsed.ignored] == [("Yoga", 'not titled "Reserved"')]


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


def test_unbalanced_begin_end_is_invalid_ical():
    body = calendar(["PRODID:x", "BEGIN:VEVENT", f"DTSTART;VALUE=DATE:{day(1):%Y%m%d}", "UID:a",
                     "END:VTODO", "END:VEVENT"])
    failure = _failure(body, "ical")
    assert failure.kind == "invalid_ical" and "END:VTODO" in failure.message


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


def test_lower_case_property_names_are_read():
    body = calendar(["PRODID:x", *event("lc", all_day(day(1)), all_day(day(2)), "Blocked")]).lower()
    parsed = parse(body)
    assert nights(parsed) == [(day(1), day(2))] and parsed.stays[0].summary == "blocked"


def test_unfolded_crlf_and_unfolded_lf_feeds_agree():
    stays = [(day(1), day(3), "Reserved - " + "x" * 90), (day(4), day(6), "Blocked")]
    crlf = vrbo_feed(stays)
    lf = crlf.replace(b"\r\n", b"\n")
    assert parse(crlf, "vrbo").stays == parse(lf, "vrbo").stays


# --- the fast path agrees with a full parse ---------------------------------------------------------------------

def _naive_nights(body: bytes, timezone: str) -> list[tuple[date, date]]:
    """Reserved nights in the window by a full icalendar parse and expansion (the slow reference)."""
    import icalendar
    import recurring_ical_events
    from zoneinfo import ZoneInfo

    from jobs.nights import to_nights

    zone, end = ZoneInfo(timezone), TODAY + timedelta(days=550)
    found = set()
    for instance in recurring_ical_events.of(icalendar.Calendar.from_ical(body)).between(TODAY - timedelta(days=1),
                                                                                         end + timedelta(days=1)):
        if str(instance.get("SUMMARY", "")).strip().casefold() != "reserved" or instance.get("STATUS") == "CANCELLED":
            continue
        check_in, check_out = to_nights(instance["DTSTART"].dt, instance["DTEND"].dt, zone)
        if check_out > TODAY and check_in < end:
            found.add((check_in, check_out))
    return sorted(found)


@pytest.mark.parametrize("timezone", ["Europe/Madrid", "America/New_York"])
def test_google_history_feed_gives_the_same_nights_as_a_full_parse(timezone):
    from tests.jobs.feeds import google_history_feed

    body = google_history_feed(TODAY, events=600)
    parsed = parse(body, "google", timezone=timezone)
    assert parsed.events_total == 600
    assert sorted(set(nights(parsed))) == _naive_nights(body, timezone)
    assert len(parsed.stays) > 10


# --- fuzzing ----------------------------------------------------------------------------------------------------

from hypothesis import HealthCheck, given, settings, strategies as st  # noqa: E402

_SEEDS = [
    airbnb_feed([(day(3), day(7), "Reserved"), (day(10), day(40), "Airbnb (Not available)")]),
    airbnb_legacy_feed([(day(1), day(4), "Jane Doe (HMABCD1234)")]),
    vrbo_feed([(day(2), day(9), "Réservée - Amélie"), (day(9), day(12), "Indisponible")], old_dates=True),
    booking_feed([(day(1), day(3)), (day(8), day(15))], backslashes=3),
    _weekly_series(),
    calendar(["PRODID:x", *event("gmt1", f";TZID=GMT+05:30:{day(3):%Y%m%d}T020000",
                                 f";TZID=GMT+05:30:{day(6):%Y%m%d}T100000", "Booked", "RRULE:FREQ=DAILY;COUNT=3")]),
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
        assert failure.kind in {"not_ical", "invalid_ical"}
        assert failure.message
        return
    for stay in parsed.stays:
        assert stay.check_in < stay.check_out
    assert len({stay.uid for stay in parsed.stays}) == len(parsed.stays)
