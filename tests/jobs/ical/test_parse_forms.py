"""Issue 13: per-event tolerance, and the recurrence forms real feeds write (each from RFC 5545's text)."""
from __future__ import annotations

from datetime import date, datetime

from jobs.rules.reconcile import StoredBlock, guard_change, reconcile_blocks
from tests.jobs.feeds import TODAY, all_day, calendar, day, event, nights, parse


def _at(offset: int, time: str = "100000") -> str:
    return f";TZID=Europe/Madrid:{day(offset):%Y%m%d}T{time}"


# --- RANGE=THISANDFUTURE ----------------------------------------------------------------------------------------

def test_thisandfuture_override_moves_every_later_instance_each_with_its_own_key():
    # RFC 5545 3.8.4.4 / 3.2.13: "if the given recurrence instance is rescheduled to start 2 hours later, then all
    # subsequent instances are also rescheduled 2 hours later" - here a day later, so the nights move.
    master = event("t", _at(1), _at(1, "120000"), "Blocked", "RRULE:FREQ=DAILY;INTERVAL=2;COUNT=100")
    later = event("t", _at(6), _at(6, "120000"), "Blocked",
                  f"RECURRENCE-ID;RANGE=THISANDFUTURE;TZID=Europe/Madrid:{day(5):%Y%m%d}T100000")
    parsed = parse(calendar(["PRODID:x", *master, *later]))
    starts = [stay.check_in for stay in parsed.stays]
    assert starts[:3] == [day(1), day(3), day(6)]  # day(5) moved to day(6), and so is every later one
    assert starts[3:] == [day(n) for n in range(8, 8 + 2 * 97, 2)]
    assert len({stay.uid for stay in parsed.stays}) == 100
    assert parsed.stays[3].uid == f"t#{day(7):%Y%m%d}"  # keyed by the date the rule gave it


def test_thisandfuture_override_that_lengthens_an_instance_lengthens_the_later_ones():
    # RFC 5545 3.2.13: "if the duration of the given recurrence instance is modified, then all subsequence
    # instances are also modified to have this same duration".
    master = event("t", all_day(day(1)), all_day(day(2)), "Blocked", "RRULE:FREQ=WEEKLY;COUNT=4")
    longer = event("t", all_day(day(8)), all_day(day(11)), "Blocked",
                   f"RECURRENCE-ID;RANGE=THISANDFUTURE;VALUE=DATE:{day(8):%Y%m%d}")
    parsed = parse(calendar(["PRODID:x", *master, *longer]))
    assert nights(parsed) == [(day(1), day(2)), (day(8), day(11)), (day(15), day(18)), (day(22), day(25))]


# --- one reading of each form, on one-off and repeating events alike ---------------------------------------------

def test_date_time_labelled_as_a_date_is_read_as_the_date_time_on_one_off_and_repeating_events():
    value = f";VALUE=DATE:{day(1):%Y%m%d}T230000"
    single = parse(calendar(["PRODID:x", *event("s", value, None, "Blocked")]), timezone="Asia/Tokyo")
    repeating = parse(calendar(["PRODID:x", *event("r", value, None, "Blocked", "RRULE:FREQ=DAILY;COUNT=2")]),
                      timezone="Asia/Tokyo")
    # A floating 23:00 is property time; as a time it blocks that night, as a date it would too: the note tells.
    assert nights(single) == [(day(1), day(2))]
    assert nights(repeating) == [(day(1), day(2)), (day(2), day(3))]
    assert any("VALUE=DATE" in note for note in single.notes + repeating.notes)


def test_signed_durations_are_read_and_a_negative_one_makes_no_stay_on_any_event():
    plus = parse(calendar(["PRODID:x", *event("p", all_day(day(1)), None, "Blocked", "DURATION:+P2D",
                                              "RRULE:FREQ=WEEKLY;COUNT=2")]))
    assert nights(plus) == [(day(1), day(3)), (day(8), day(10))]
    for extra in ((), ("RRULE:FREQ=WEEKLY;COUNT=2",)):
        minus = parse(calendar(["PRODID:x", *event("m", all_day(day(1)), None, "Blocked", "DURATION:-P2D", *extra)]))
        assert minus.stays == [] and minus.unreadable_uids == ["m"]  # ignored, not swapped into a stay


def test_quoted_and_windows_tzids_on_repeating_events_read_like_one_off_events():
    for tzid in ('"Europe/Madrid"', '"Romance Standard Time"', "Romance Standard Time"):
        start, end = f";TZID={tzid}:{day(1):%Y%m%d}T230000", f";TZID={tzid}:{day(3):%Y%m%d}T100000"
        single = parse(calendar(["PRODID:x", *event("s", start, end, "Blocked")]), timezone="UTC")
        repeating = parse(calendar(["PRODID:x", *event("r", start, end, "Blocked", "RRULE:FREQ=WEEKLY;COUNT=1")]),
                          timezone="UTC")
        assert nights(single) == nights(repeating) == [(day(1), day(3))], tzid


def test_empty_exdate_on_a_repeating_event_says_nothing_and_is_skipped():
    body = calendar(["PRODID:x", *event("e", all_day(day(1)), all_day(day(2)), "Blocked", "RRULE:FREQ=WEEKLY;COUNT=2",
                                        "EXDATE;VALUE=DATE:")])
    assert nights(parse(body)) == [(day(1), day(2)), (day(8), day(9))]


def test_repeating_events_without_uid_are_each_their_own_series():
    body = calendar(["PRODID:x",
                     "BEGIN:VEVENT", f"DTSTART;VALUE=DATE:{day(1):%Y%m%d}", "SUMMARY:A", "RRULE:FREQ=WEEKLY;COUNT=2",
                     "END:VEVENT",
                     "BEGIN:VEVENT", f"DTSTART;VALUE=DATE:{day(2):%Y%m%d}", "SUMMARY:B", "RRULE:FREQ=WEEKLY;COUNT=2",
                     "END:VEVENT"])
    first, second = parse(body), parse(body)
    assert nights(first) == [(day(1), day(2)), (day(2), day(3)), (day(8), day(9)), (day(9), day(10))]
    assert [stay.uid for stay in first.stays] == [stay.uid for stay in second.stays]  # stable across syncs
    assert len({stay.uid.rpartition("#")[0] for stay in first.stays}) == 2


# --- per-event tolerance ----------------------------------------------------------------------------------------

def test_unreadable_repeat_rule_is_one_unreadable_event_in_words_with_the_library_text_in_details():
    body = calendar(["PRODID:x", *event("b", all_day(day(1)), all_day(day(2)), "Blocked", "RRULE:FREQ=WEEKLY;BYDAY=XX"),
                     *event("g", all_day(day(5)), all_day(day(6)), "Blocked")])
    parsed = parse(body)
    assert nights(parsed) == [(day(5), day(6))] and parsed.unreadable_uids == ["b"]
    [unreadable] = parsed.unreadable
    assert unreadable.reason == "Its repeat rule or dates cannot be read (the event starts at line 3)."
    assert unreadable.detail  # the library's words, for the tech team
    assert "Error" not in unreadable.reason


def test_misspelt_end_line_of_one_event_leaves_the_others_readable():
    broken = [line.replace("END:VEVENT", "END:VEVNT") for line in event("b", all_day(day(3)), all_day(day(4)), "B")]
    for tail in ([*event("c", all_day(day(5)), all_day(day(6)), "C")], []):  # in the middle, and last
        parsed = parse(calendar(["PRODID:x", *event("a", all_day(day(1)), all_day(day(2)), "A"), *broken, *tail]))
        assert [stay.uid for stay in parsed.stays] == ["a", *(["c"] if tail else [])]
        assert parsed.unreadable_uids == ["b"] and parsed.events_total == 2 + bool(tail)


def test_a_feed_whose_events_are_mostly_unreadable_is_held_by_the_guard():
    bad = [line for n in range(3) for line in ["BEGIN:VEVENT", f"UID:bad{n}", "SUMMARY:Blocked", "END:VEVENT"]]
    parsed = parse(calendar(["PRODID:x", *event("ok", all_day(day(1)), all_day(day(2)), "Blocked"), *bad]))
    assert parsed.doubt.startswith("3 of the calendar's 4 events cannot be read")
    stored = [StoredBlock(1, "EX-1", "gone", day(10), day(12))]
    changes = reconcile_blocks(stored, parsed.stays, TODAY, keep_uids=parsed.unreadable_uids)
    decision = guard_change(1, changes, TODAY, None, datetime(2026, 3, 1, 12), False, feed_doubt=parsed.doubt)
    assert decision.hold and parsed.doubt in decision.reason
    assert not guard_change(1, changes, TODAY, None, datetime(2026, 3, 1, 12), False).hold  # without the doubt


def test_a_feed_with_one_unreadable_event_in_three_is_not_held():
    body = calendar(["PRODID:x", *event("a", all_day(day(1)), all_day(day(2)), "A"),
                     *event("b", all_day(day(3)), all_day(day(4)), "B"), "BEGIN:VEVENT", "UID:c", "END:VEVENT"])
    assert parse(body).doubt == ""


def test_series_begun_years_ago_give_the_same_instances_as_the_library_from_their_first_date():
    from tests.jobs.ical.reference import library_nights

    rules = ["FREQ=DAILY", "FREQ=DAILY;INTERVAL=3", "FREQ=WEEKLY;BYDAY=MO,TH", "FREQ=WEEKLY;INTERVAL=2;WKST=SU",
             "FREQ=MONTHLY;BYMONTHDAY=31", "FREQ=MONTHLY", "FREQ=MONTHLY;BYDAY=-1FR", "FREQ=YEARLY",
             "FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=29", "FREQ=HOURLY;INTERVAL=7", "FREQ=MONTHLY;INTERVAL=5;BYSETPOS=2;"
             "BYDAY=MO,TU", "FREQ=DAILY;BYHOUR=9,21"]
    starts = [all_day(date(2012, 1, 31)), _at(-3000, "223000"), f":{date(2016, 2, 29):%Y%m%d}T080000Z"]
    non_empty = 0
    for rule in rules:
        for start in starts:
            end = start if "T" in start.rpartition(":")[2] else all_day(date(2012, 2, 1))
            body = calendar(["PRODID:x", *event("s", start, end, "Blocked", f"RRULE:{rule}")])
            ours = sorted(nights(parse(body, timezone="America/New_York")))
            # As sets: instances of one series on the same date share a key (uid#date), and one is kept.
            assert set(ours) == set(library_nights(body, "America/New_York")), (rule, start)
            non_empty += bool(ours)
    assert non_empty >= 30  # a few start on 29 February or the 31st and have no instance in the window
