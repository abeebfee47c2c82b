"""parse_feed on each channel's feeds, on dates and times, and on which events block (real feeds' shapes)."""
from __future__ import annotations

from datetime import datetime, time
from zoneinfo import ZoneInfo

import pytest

from jobs.ical.parse import UNREADABLE_KEPT, UNREADABLE_PREFIX
from jobs.rules.stays import Stay, SyncFailure
from tests.jobs.feeds import (
    AIRBNB_PRODID,
    airbnb_feed,
    airbnb_legacy_feed,
    all_day,
    alternating_case,
    booking_feed,
    calendar,
    day,
    event,
    google,
    google_event,
    google_header,
    nights,
    parse,
    recase_names,
    vrbo_feed,
    weekly_series,
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
    assert parsed.ignored[0].reason == f"{UNREADABLE_PREFIX}it ends before it starts; {UNREADABLE_KEPT}"
    assert parsed.unreadable_uids == ["b1@google.com"]  # a "Reserved" event: its stored block is kept


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


def test_unreadable_date_in_a_blocking_event_is_listed_and_the_other_events_still_block():
    # Issue 13: one bad event used to sink the whole feed as invalid_ical.
    body = calendar(["PRODID:x", *event("good", all_day(day(1)), all_day(day(3)), "Blocked"),
                     *event("bad", ";VALUE=DATE:2026-13-45", all_day(day(4)), "Blocked")])
    parsed = parse(body)
    assert nights(parsed) == [(day(1), day(3))]
    assert parsed.unreadable_uids == ["bad"]
    [unreadable] = parsed.unreadable
    assert (unreadable.uid, unreadable.summary, unreadable.line) == ("bad", "Blocked", 9)
    assert unreadable.reason.startswith("It has an unreadable date") and unreadable.reason.endswith("at line 9).")


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


# --- names in any case (RFC 5545 3.1) ---------------------------------------------------------------------------

_CASINGS = {"lower": str.lower, "alternating": alternating_case, "capitalised": str.capitalize}


def _google_mixed() -> bytes:
    """A Google feed with a timed TZID event, a floating one, an all-day one and an ignored one."""
    return google(
        google_event("t@google.com", f";TZID=Europe/Madrid:{day(10):%Y%m%d}T230000",
                     f";TZID=Europe/Madrid:{day(12):%Y%m%d}T110000", "Reserved"),
        google_event("f@google.com", f":{day(20):%Y%m%d}T220000", f":{day(22):%Y%m%d}T100000", "Reserved"),
        google_event("a@google.com", all_day(day(30)), all_day(day(33)), " reserved "),
        google_event("x@google.com", all_day(day(4)), all_day(day(6)), "Dentist"))


_CAPITAL_FEEDS = {
    "airbnb": ("airbnb", lambda: airbnb_feed([(day(3), day(7), "Reserved"),
                                              (day(10), day(40), "Airbnb (Not available)"),
                                              (day(-30), day(-25), "Reserved")])),
    "vrbo-old-dates": ("vrbo", lambda: vrbo_feed([(day(2), day(9), "Réservée - Jean")], old_dates=True)),
    "google": ("google", _google_mixed),
    "google-series": ("google", weekly_series),
}


@pytest.mark.parametrize("casing", sorted(_CASINGS))
@pytest.mark.parametrize("feed", sorted(_CAPITAL_FEEDS))
def test_names_in_any_case_give_the_same_result_as_capitals(feed, casing):
    source, build = _CAPITAL_FEEDS[feed]
    capitals = build()
    recased = recase_names(capitals, _CASINGS[casing])
    assert b"\nBEGIN:VEVENT" not in recased and b"DTSTART" not in recased  # every name was rewritten
    expected, parsed = parse(capitals, source), parse(recased, source)
    assert expected.stays
    assert parsed.stays == expected.stays
    assert parsed.events_total == expected.events_total
    assert parsed.prodid == expected.prodid
    assert parsed.ignored == expected.ignored and parsed.warnings == expected.warnings
    assert parsed.notes == expected.notes


def test_one_mixed_case_dtstart_in_a_feed_in_capitals_is_read():
    # The feed starts with BEGIN:VCALENDAR in capitals; only the start dates are written `DtStart`.
    body = recase_names(airbnb_feed([(day(3), day(7), "Reserved"), (day(10), day(12), "Airbnb (Not available)")]),
                        lambda name: "DtStart", only=("DTSTART",))
    assert body.startswith(b"BEGIN:VCALENDAR") and body.count(b"DtStart;VALUE=DATE:") == 2
    parsed = parse(body, "airbnb")
    assert nights(parsed) == [(day(3), day(7)), (day(10), day(12))]
    assert parsed.ignored == [] and parsed.unreadable_uids == []


@pytest.mark.parametrize("begin,end", [(b"begin:VEVENT", b"end:VEVENT"), (b"begin:vevent", b"end:vevent"),
                                       (b"Begin:VEvent", b"End:VEvent"), (b"BEGIN:vevent", b"END:Vevent")])
def test_begin_and_end_vevent_lines_in_any_case_keep_their_event(begin, end):
    capitals = airbnb_feed([(day(3), day(7), "Reserved"), (day(10), day(12), "Airbnb (Not available)")])
    # Only the second event's boundary lines change, deep inside a feed that starts in capitals.
    at = capitals.index(b"BEGIN:VEVENT", capitals.index(b"BEGIN:VEVENT") + 1)
    body = capitals[:at] + capitals[at:].replace(b"BEGIN:VEVENT", begin).replace(b"END:VEVENT", end)
    parsed = parse(body, "airbnb")
    assert parsed.events_total == 2
    assert parsed.stays == parse(capitals, "airbnb").stays and len(parsed.stays) == 2


def test_lower_case_letters_in_date_time_and_duration_values_are_read():
    upper = google(google_event("u@google.com", f":{day(10):%Y%m%d}T230000Z", f":{day(12):%Y%m%d}T090000Z",
                                "Reserved"),
                   event("p@google.com", f":{day(20):%Y%m%d}T150000Z", None, "Reserved", "DURATION:P2DT1H"))
    lower = (upper.replace(b"T230000Z", b"t230000z").replace(b"T090000Z", b"t090000z")
             .replace(b"T150000Z", b"t150000z").replace(b"P2DT1H", b"p2dt1h"))
    assert lower != upper
    assert nights(parse(lower, "google")) == nights(parse(upper, "google")) == [(day(11), day(12)),
                                                                              (day(20), day(22))]


# --- floating times and X-WR-TIMEZONE ---------------------------------------------------------------------------

def _floating_google(x_wr_timezone: str | None, *events: list[str]) -> bytes:
    """A Google calendar with (or without) an X-WR-TIMEZONE line, and these events."""
    header = [line for line in google_header() if not line.startswith("X-WR-TIMEZONE")]
    if x_wr_timezone is not None:
        header.insert(4, f"X-WR-TIMEZONE:{x_wr_timezone}")
    return calendar(header + [line for ev in events for line in ev])


def _floating_event() -> list[str]:
    """A floating 20:00 -> 10:00 stay from day 10 to day 12."""
    return google_event("f@google.com", f":{day(10):%Y%m%d}T200000", f":{day(12):%Y%m%d}T100000", "Reserved")


def test_floating_times_mean_the_calendars_x_wr_timezone():
    parsed = parse(_floating_google("America/New_York", _floating_event()), "google", timezone="Europe/Madrid")
    # 20:00 in New York (EDT since 8 March) is 01:00 the next day in Madrid.
    arrival = datetime.combine(day(10), time(20), ZoneInfo("America/New_York")).astimezone(ZoneInfo("Europe/Madrid"))
    assert arrival.date() == day(11)
    assert nights(parsed) == [(day(11), day(12))]
    assert parsed.notes == []


def test_floating_times_without_x_wr_timezone_are_property_time():
    parsed = parse(_floating_google(None, _floating_event()), "google", timezone="Europe/Madrid")
    assert nights(parsed) == [(day(10), day(12))]


@pytest.mark.parametrize("bad", ["Not/AZone", "GMT+05:30x", "../../etc/passwd"])
def test_x_wr_timezone_that_is_no_zone_falls_back_to_property_time_with_a_note(bad):
    parsed = parse(_floating_google(bad, _floating_event()), "google", timezone="Europe/Madrid")
    assert nights(parsed) == [(day(10), day(12))]
    assert any("X-WR-TIMEZONE" in note and "property" in note for note in parsed.notes)


def test_x_wr_timezone_leaves_tzid_utc_and_all_day_values_alone():
    events = [google_event("z@google.com", f";TZID=Europe/Madrid:{day(3):%Y%m%d}T230000",
                           f";TZID=Europe/Madrid:{day(5):%Y%m%d}T100000", "Reserved"),
              google_event("u@google.com", f":{day(7):%Y%m%d}T230000Z", f":{day(9):%Y%m%d}T100000Z", "Reserved"),
              google_event("a@google.com", all_day(day(12)), all_day(day(14)), "Reserved")]
    tokyo, none = _floating_google("Asia/Tokyo", *events), _floating_google(None, *events)
    assert nights(parse(tokyo, "google")) == nights(parse(none, "google")) == [
        (day(3), day(5)), (day(8), day(9)), (day(12), day(14))]


# Windows names as Outlook and Exchange write them in TZID, with no VTIMEZONE in the feed.
_WINDOWS = [("Eastern Standard Time", "America/New_York"), ("W. Europe Standard Time", "Europe/Berlin"),
            ("Romance Standard Time", "Europe/Paris"), ("GMT Standard Time", "Europe/London"),
            ("Pacific Standard Time", "America/Los_Angeles"), ("Central European Standard Time", "Europe/Warsaw"),
            ("AUS Eastern Standard Time", "Australia/Sydney")]


@pytest.mark.parametrize("windows,iana", _WINDOWS)
@pytest.mark.parametrize("quoted", [False, True])
def test_windows_time_zone_names_without_vtimezone_are_read_as_their_iana_zone(windows, iana, quoted):
    tzid = f'"{windows}"' if quoted else windows
    start, end = datetime.combine(day(3), time(23, 30)), datetime.combine(day(6), time(10))
    body = calendar(["PRODID:-//Microsoft Corporation//Outlook 16.0 MIMEDIR//EN",
                     *event("w1", f";TZID={tzid}:{start:%Y%m%dT%H%M%S}", f";TZID={tzid}:{end:%Y%m%dT%H%M%S}",
                            "Booked")])
    parsed = parse(body, timezone="Asia/Tokyo")
    tokyo = ZoneInfo("Asia/Tokyo")
    expected = (start.replace(tzinfo=ZoneInfo(iana)).astimezone(tokyo).date(),
                end.replace(tzinfo=ZoneInfo(iana)).astimezone(tokyo).date())
    assert nights(parsed) == [expected]
    assert expected[0] != day(3) or iana == "Australia/Sydney"  # the zone moved the check-in (west of Tokyo)
    assert parsed.notes == []  # a known zone, not a fallback


def test_libical_vendor_path_tzid_is_read_as_its_zone():
    tzid = "/freeassociation.sourceforge.net/Tzfile/America/New_York"
    body = calendar(["PRODID:-//Ximian//NONSGML Evolution Calendar//EN",
                     *event("v1", f";TZID={tzid}:{day(3):%Y%m%d}T220000", f";TZID={tzid}:{day(5):%Y%m%d}T100000",
                            "Booked")])
    parsed = parse(body, timezone="Europe/Madrid")
    assert nights(parsed) == [(day(4), day(5))] and parsed.notes == []


# --- events we cannot read: their stored blocks must be kept ----------------------------------------------------

def test_blocking_event_without_dtstart_reports_its_uid_so_its_block_is_kept():
    body = calendar([f"PRODID:{AIRBNB_PRODID}", "VERSION:2.0",
                     *event("aaaaaaaaaaaa-1@airbnb.com", all_day(day(3)), all_day(day(7)), "Reserved"),
                     "BEGIN:VEVENT", f"DTEND;VALUE=DATE:{day(12):%Y%m%d}", "SUMMARY:Reserved",
                     "UID:bbbbbbbbbbbb-2@airbnb.com", "END:VEVENT"])
    parsed = parse(body, "airbnb")
    assert nights(parsed) == [(day(3), day(7))]
    assert parsed.unreadable_uids == ["bbbbbbbbbbbb-2@airbnb.com"]
    [ignored] = parsed.ignored
    assert (ignored.summary, ignored.uid) == ("Reserved", "bbbbbbbbbbbb-2@airbnb.com")
    assert ignored.reason == f"{UNREADABLE_PREFIX}it has no start date (DTSTART); {UNREADABLE_KEPT}"
    [warning] = parsed.warnings
    assert warning.kind == "ignored_events" and "cannot be read" in warning.message and "kept" in warning.message


def test_unreadable_events_that_block_nothing_or_have_no_uid_are_only_ignored():
    def no_start(uid, summary, *extra):
        return (["BEGIN:VEVENT", f"DTEND;VALUE=DATE:{day(9):%Y%m%d}", f"SUMMARY:{summary}"]
                + ([f"UID:{uid}"] if uid else []) + [*extra, "END:VEVENT"])
    google_body = google(no_start("dentist@google.com", "Dentist"),
                         no_start("gone@google.com", "Reserved", "STATUS:CANCELLED"))
    parsed = parse(google_body, "google")
    assert parsed.unreadable_uids == [] and parsed.stays == []
    assert sorted(i.reason for i in parsed.ignored) == ['cancelled (STATUS:CANCELLED)', 'not titled "Reserved"']
    parsed = parse(calendar(["PRODID:x", *no_start("", "Blocked")]))
    assert parsed.unreadable_uids == [] and [i.reason for i in parsed.ignored] == ["it has no start date (DTSTART)"]


def test_unparsable_date_without_uid_is_listed_without_a_block_to_keep():
    body = calendar(["PRODID:x", "BEGIN:VEVENT", "DTSTART;VALUE=DATE:2026-13-45", "SUMMARY:Blocked", "END:VEVENT"])
    parsed = parse(body)
    assert parsed.stays == [] and parsed.unreadable_uids == []
    assert [(event.uid, event.line) for event in parsed.unreadable] == [("", 3)]
    assert parsed.doubt  # its only event cannot be read: the guard holds the change


# --- real-world variants ----------------------------------------------------------------------------------------

@pytest.mark.parametrize("source,build", [
    ("airbnb", lambda: airbnb_feed([(day(3), day(7), "Reserved")])),
    ("google", weekly_series),
    ("booking", lambda: booking_feed([(day(1), day(3))], newline="\n")),
])
def test_utf8_bom_at_the_start_reads_like_no_bom(source, build):
    body = build()
    with_bom = b"\xef\xbb\xbf" + body
    assert parse(with_bom, source).stays == parse(body, source).stays != []


@pytest.mark.parametrize("source,build", [
    ("airbnb", lambda: airbnb_feed([(day(3), day(7), "Reserved"), (day(9), day(11), "Airbnb (Not available)")])),
    ("vrbo", lambda: vrbo_feed([(day(2), day(9), "Réservée - " + "Jean-Baptiste " * 8)])),  # folded
    ("google", weekly_series),
    ("google", _google_mixed),
])
def test_calendar_served_with_lf_only_reads_like_crlf(source, build):
    crlf = build()
    lf = crlf.replace(b"\r\n", b"\n")
    assert b"\r" not in lf
    if source == "vrbo":
        assert b"\n " in lf  # folded lines keep their fold with LF
    assert parse(lf, source).stays == parse(crlf, source).stays != []


def test_tentative_and_transparent_events_block_in_a_generic_feed():
    body = calendar(["PRODID:-//Lodgify//EN", "VERSION:2.0",
                     *event("t1", all_day(day(2)), all_day(day(4)), "Hold - Smith", "STATUS:TENTATIVE"),
                     *event("t2", all_day(day(5)), all_day(day(8)), "Booked", "TRANSP:TRANSPARENT"),
                     *event("t3", all_day(day(9)), all_day(day(10)), "Owner stay", "STATUS:TENTATIVE",
                            "TRANSP:TRANSPARENT"),
                     *event("t4", all_day(day(11)), all_day(day(12)), "Booked", "STATUS:CANCELLED")])
    parsed = parse(body, "ical")
    assert nights(parsed) == [(day(2), day(4)), (day(5), day(8)), (day(9), day(10))]
    assert [i.reason for i in parsed.ignored] == ["cancelled (STATUS:CANCELLED)"]


def test_vrbo_tentative_provisoire_hold_blocks():
    body = calendar(["PRODID:-//HomeAway.com, Inc.//EN", "VERSION:2.0",
                     *event("6f1c2a7e-0000-4000-8000-000000000001", f":{day(4):%Y%m%d}", f":{day(6):%Y%m%d}",
                            "Provisoire - Jean", "STATUS:TENTATIVE")])
    assert parse(body, "vrbo").stays == [Stay("6f1c2a7e-0000-4000-8000-000000000001", day(4), day(6),
                                              "Provisoire - Jean")]


def test_google_transparent_events_follow_only_the_reserved_rule():
    def transparent(uid, start, summary):
        return [line.replace("TRANSP:OPAQUE", "TRANSP:TRANSPARENT")
                for line in google_event(uid, all_day(day(start)), all_day(day(start + 2)), summary)]
    parsed = parse(google(transparent("r@google.com", 3, "Reserved"), transparent("d@google.com", 8, "Dentist"),
                          [line.replace("STATUS:CONFIRMED", "STATUS:TENTATIVE") for line in
                           google_event("t@google.com", all_day(day(12)), all_day(day(13)), "Reserved")]),
                   "google")
    assert nights(parsed) == [(day(3), day(5)), (day(12), day(13))]
    assert [(i.summary, i.reason) for i in parsed.ignored] == [("Dentist", 'not titled "Reserved"')]


def test_agoda_feed_with_language_parameter_on_summary():
    body = calendar(["VERSION:2.0", "PRODID:-//ycs.agoda.com//EN", "CALSCALE:GREGORIAN", "METHOD:PUBLISH",
                     *event("agoda-20260305-1@ycs.agoda.com", all_day(day(4)), all_day(day(6)), None,
                            "SUMMARY;LANGUAGE=en-us: BOOKED", "DTSTAMP:20260301T000000Z"),
                     *event("agoda-20260310-2@ycs.agoda.com", all_day(day(9)), all_day(day(10)), None,
                            "SUMMARY;LANGUAGE=en-us: BOOKED", "DTSTAMP:20260301T000000Z")], newline="\n")
    parsed = parse(body, "ical")
    assert [(s.check_in, s.check_out, s.summary) for s in parsed.stays] == [(day(4), day(6), "BOOKED"),
                                                                          (day(9), day(10), "BOOKED")]
    assert parsed.prodid == "-//ycs.agoda.com//EN" and parsed.ignored == []


def test_vrbo_french_reservee_and_indisponible():
    body = vrbo_feed([(day(1), day(5), "Réservée - Jean"), (day(5), day(8), "Indisponible"),
                      (day(-20), day(-15), "Réservée - Marie")], old_dates=True)
    parsed = parse(body, "vrbo", timezone="America/Martinique")
    assert [(s.check_in, s.check_out, s.summary) for s in parsed.stays] == [
        (day(1), day(5), "Réservée - Jean"), (day(5), day(8), "Indisponible")]
    assert parsed.events_total == 3


@pytest.mark.parametrize("start,expected", [
    (all_day(day(5)), (day(5), day(6))),  # DTSTART;VALUE=DATE only: one night
    (f":{day(5):%Y%m%d}", (day(5), day(6))),  # old Vrbo form without VALUE=DATE
    (f";TZID=Europe/Madrid:{day(5):%Y%m%d}T150000", (day(5), day(6))),  # a timed start only: that night
])
def test_event_with_dtstart_only(start, expected):
    body = calendar(["PRODID:x", *event("only-start", start, None, "Blocked")])
    assert nights(parse(body)) == [expected]


@pytest.mark.parametrize("start,duration,expected", [
    (all_day(day(5)), "P3D", (day(5), day(8))),
    (f":{day(5):%Y%m%d}", "P1W", (day(5), day(12))),
    (all_day(day(5)), "P1DT12H", (day(5), day(7))),  # a started day counts
    (f";TZID=Europe/Madrid:{day(5):%Y%m%d}T150000", "PT20H", (day(5), day(6))),  # 15:00 -> 11:00 next day
    (f":{day(5):%Y%m%d}T220000Z", "P2DT13H", (day(5), day(8))),  # UTC 22:00 is 23:00 in Madrid
])
def test_duration_instead_of_dtend(start, duration, expected):
    body = calendar(["PRODID:x", *event("dur", start, None, "Blocked", f"DURATION:{duration}")])
    assert nights(parse(body)) == [expected]
