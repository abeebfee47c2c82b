"""parse_feed on repeating events, and the fast path checked against a full icalendar parse."""
from __future__ import annotations

from datetime import date, timedelta

import pytest

from jobs.rules.stays import SyncFailure
from tests.jobs.feeds import (
    TODAY,
    all_day,
    calendar,
    day,
    event,
    google,
    google_event,
    google_header,
    nights,
    parse,
    weekly_series,
)

# --- repeating events -------------------------------------------------------------------------------------------

def test_recurring_event_expands_with_exdate_override_and_cancelled_instance():
    parsed = parse(weekly_series(), "google")
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
    first, second = parse(weekly_series(), "google"), parse(weekly_series(), "google")
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


def test_blocking_event_repeating_every_second_is_too_complex_not_expanded_for_ages():
    # Issue 10: the budget counts instances, not FREQ (this used to be ignored, freeing the nights it blocks).
    body = calendar(["PRODID:x", *event("sec", ":20100101T100000Z", ":20100101T110000Z", "Blocked",
                                        "RRULE:FREQ=SECONDLY")])
    with pytest.raises(SyncFailure) as failure:
        parse(body)
    assert failure.value.kind == "too_complex" and "'Blocked'" in failure.value.message


def test_ignored_google_event_repeating_every_second_is_explained_not_expanded():
    body = google(google_event("sec@google.com", ":20100101T100000Z", ":20100101T110000Z", "Pills",
                               "RRULE:FREQ=SECONDLY"))
    parsed = parse(body, "google")
    assert parsed.stays == [] and [event.reason for event in parsed.ignored] == ["it repeats too often to be read"]


def test_dates_at_the_end_of_the_calendar_are_ignored_not_crashing():
    body = calendar(["PRODID:x", *event("end", ":99991231", None, "Blocked")])
    parsed = parse(body)
    assert [event.reason for event in parsed.ignored] == [
        "cannot be read: its dates are out of range; the block already stored for it, if any, is kept unchanged"]
    assert parsed.unreadable_uids == ["end"]


def test_google_repeating_event_not_titled_reserved_is_ignored_once():
    body = google(google_event("yoga@google.com", all_day(day(1)), all_day(day(2)), "Yoga", "RRULE:FREQ=WEEKLY"))
    parsed = parse(body, "google")
    assert parsed.stays == []
    assert [(event.summary, event.reason) for event in parsed.ignored] == [("Yoga", 'not titled "Reserved"')]


# --- the fast path agrees with a full parse ---------------------------------------------------------------------

def _naive_nights(body: bytes, timezone: str) -> list[tuple[date, date]]:
    """Reserved nights in the window by a full icalendar parse and expansion (the slow reference)."""
    from zoneinfo import ZoneInfo

    import icalendar
    import recurring_ical_events

    from jobs.ical.nights import to_nights

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


# --- time zones of repeating events agree with single ones ------------------------------------------------------

def _with_x_wr_timezone(zone: str, *events: list[str]) -> bytes:
    """A Google calendar whose X-WR-TIMEZONE is `zone`, with these events."""
    header = [f"X-WR-TIMEZONE:{zone}" if line.startswith("X-WR-TIMEZONE") else line for line in google_header()]
    return calendar(header + [line for ev in events for line in ev])


def test_floating_repeating_event_means_the_x_wr_timezone_like_a_single_one():
    repeating = google_event("fr@google.com", f":{day(10):%Y%m%d}T200000", f":{day(12):%Y%m%d}T100000",
                             "Reserved", "RRULE:FREQ=WEEKLY;COUNT=2")
    single = google_event("fs@google.com", f":{day(10):%Y%m%d}T200000", f":{day(12):%Y%m%d}T100000", "Reserved")
    for zone, first in (("America/New_York", (day(11), day(12))), ("Europe/Madrid", (day(10), day(12)))):
        assert nights(parse(_with_x_wr_timezone(zone, repeating), "google")) == [
            first, (first[0] + timedelta(days=7), first[1] + timedelta(days=7))]
        assert nights(parse(_with_x_wr_timezone(zone, single), "google")) == [first]


def test_windows_tzid_in_a_repeating_event_is_read_as_its_iana_zone():
    tzid = '"Eastern Standard Time"'
    body = calendar(["PRODID:-//Microsoft Corporation//Outlook 16.0 MIMEDIR//EN",
                     *event("win-r", f";TZID={tzid}:{day(3):%Y%m%d}T220000", f";TZID={tzid}:{day(5):%Y%m%d}T100000",
                            "Booked", "RRULE:FREQ=DAILY;COUNT=2")])
    parsed = parse(body, timezone="Europe/Madrid")
    # 22:00 in New York (EST before 8 March) is 04:00 the next day in Madrid.
    assert nights(parsed) == [(day(4), day(5)), (day(5), day(6))]
    assert parsed.notes == []


def test_unknown_tzid_in_a_repeating_event_is_property_time_not_the_x_wr_timezone():
    repeating = google_event("ur@google.com", f";TZID=Mars/Olympus:{day(10):%Y%m%d}T200000",
                             f";TZID=Mars/Olympus:{day(12):%Y%m%d}T100000", "Reserved", "RRULE:FREQ=WEEKLY;COUNT=1")
    single = google_event("us@google.com", f";TZID=Mars/Olympus:{day(10):%Y%m%d}T200000",
                          f";TZID=Mars/Olympus:{day(12):%Y%m%d}T100000", "Reserved")
    for ev in (repeating, single):
        parsed = parse(_with_x_wr_timezone("Asia/Tokyo", ev), "google", timezone="Europe/Madrid")
        assert nights(parsed) == [(day(10), day(12))]
        assert any("Mars/Olympus" in note for note in parsed.notes)


def test_repeating_instance_whose_dates_make_no_stay_keeps_its_stored_block():
    series = google_event("w@google.com", all_day(day(2)), all_day(day(4)), "Reserved", "RRULE:FREQ=WEEKLY;COUNT=3")
    # The second instance was edited to end on the day it starts.
    edited = google_event("w@google.com", all_day(day(9)), all_day(day(9)), "Reserved",
                          f"RECURRENCE-ID;VALUE=DATE:{day(9):%Y%m%d}")
    parsed = parse(google(series, edited), "google")
    assert nights(parsed) == [(day(2), day(4)), (day(16), day(18))]
    assert parsed.unreadable_uids == [f"w@google.com#{day(9):%Y%m%d}"]  # the instance's block uid
    [ignored] = parsed.ignored
    assert ignored.uid == "w@google.com" and ignored.reason.startswith("cannot be read: it ends on or before")
