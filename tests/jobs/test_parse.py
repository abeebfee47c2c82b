"""parse_feed on each channel's feeds, on dates and times, and on which events block (shapes from FORMATS.md)."""
from __future__ import annotations

from datetime import datetime

import pytest

from jobs.stays import Stay, SyncFailure
from tests.jobs.feeds import (
    AIRBNB_PRODID, airbnb_feed, airbnb_legacy_feed, all_day, booking_feed, calendar, day, event, google,
    google_event, nights, parse, vrbo_feed,
)


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
