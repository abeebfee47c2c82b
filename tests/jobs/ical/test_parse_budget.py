"""The per-feed work budget (issue 10): expansion bombs end as too_complex quickly and in bounded memory; NUL bytes."""
from __future__ import annotations

import time
import tracemalloc
from datetime import date

import pytest

from jobs.ical.budget import MAX_INSTANCES_PER_FEED
from jobs.ical.scan import clean_text
from jobs.rules.advice import advice_for
from jobs.rules.stays import SyncFailure
from tests.jobs.feeds import all_day, calendar, day, event, google, google_event, nights, parse

CPU_BOUND_SECONDS = 2.0
MEMORY_BOUND_BYTES = 64 * 1024 * 1024  # the sync worker's whole allowance is 200 MB


def _every(count: int) -> str:
    return ",".join(str(n) for n in range(count))


def _bomb_every_second() -> bytes:
    """The 731-byte feed of issue 10: one daily rule with 86,400 instances a day."""
    rule = f"RRULE:FREQ=DAILY;BYHOUR={_every(24)};BYMINUTE={_every(60)};BYSECOND={_every(60)}"
    return calendar(["PRODID:x", *event("bomb", ":20260301T100000Z", ":20260301T100001Z", "Blocked", rule)])


def _daily_since_1990(extra: str = "") -> bytes:
    """A series started in 1990 with an instance every minute of the day."""
    rule = f"RRULE:FREQ=DAILY;BYHOUR={_every(24)};BYMINUTE={_every(60)}{extra}"
    return calendar(["PRODID:x", *event("old", ":19900101T000000Z", ":19900101T000100Z", "Blocked", rule)])


def _many_daily_series(count: int = 20_000) -> bytes:
    """20,000 plain daily series, each harmless, together 11 million instances over the horizon."""
    lines = ["PRODID:x"]
    for n in range(count):
        lines += event(f"d{n}", all_day(day(-30)), all_day(day(-29)), "Blocked", "RRULE:FREQ=DAILY")
    return calendar(lines, folded=False)


@pytest.mark.parametrize("build", [_bomb_every_second, _daily_since_1990,
                                   lambda: _daily_since_1990(";COUNT=100000000"), _many_daily_series],
                         ids=["byhour-byminute-bysecond", "1990-every-minute", "1990-count", "20000-daily-series"])
def test_expansion_bombs_fail_as_too_complex_quickly_in_bounded_memory(build):
    body = build()
    started = time.process_time()
    with pytest.raises(SyncFailure) as failure:
        parse(body)
    elapsed = time.process_time() - started
    tracemalloc.start()  # a second run: tracing every allocation slows the parser several times
    try:
        with pytest.raises(SyncFailure):
            parse(body)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert failure.value.kind == "too_complex"
    assert f"{MAX_INSTANCES_PER_FEED:,}" in failure.value.message
    assert elapsed < CPU_BOUND_SECONDS, f"{elapsed:.2f} s of CPU"
    assert peak < MEMORY_BOUND_BYTES + 3 * len(body), f"{peak / 2**20:.1f} MB"


def test_the_issue_bomb_is_the_size_the_issue_names():
    assert 600 < len(_bomb_every_second()) < 800


def test_too_complex_has_advice_for_the_property_team():
    advice = advice_for("too_complex", "google")
    assert "repeating events" in advice and "kept the existing blocks" in advice


def test_a_plain_daily_series_begun_in_1990_is_read_not_refused():
    body = calendar(["PRODID:x", *event("old", all_day(date(1990, 1, 1)), all_day(date(1990, 1, 2)), "Blocked",
                                        "RRULE:FREQ=DAILY;INTERVAL=3")])
    started = time.process_time()
    parsed = parse(body)
    assert time.process_time() - started < 0.5
    every_third = [n for n in range(550) if (day(n) - date(1990, 1, 1)).days % 3 == 0]
    assert [stay.check_in for stay in parsed.stays] == [day(n) for n in every_third]
    assert all((stay.check_in - date(1990, 1, 1)).days % 3 == 0 for stay in parsed.stays)


def test_the_budget_is_a_plain_argument_of_the_parser():
    body = calendar(["PRODID:x", *event("w", all_day(day(1)), all_day(day(2)), "Blocked", "RRULE:FREQ=WEEKLY")])
    assert len(parse(body).stays) == 79
    with pytest.raises(SyncFailure) as failure:
        parse(body, max_instances=50)
    assert failure.value.kind == "too_complex"
    with pytest.raises(SyncFailure) as failure:
        parse(body, max_cpu_seconds=1e-9)
    assert failure.value.kind == "too_complex" and "seconds of processing" in failure.value.message


def test_ignored_series_do_not_spend_the_budget():
    series = [google_event(f"y{n}@google.com", all_day(day(-400)), all_day(day(-399)), "Yoga", "RRULE:FREQ=DAILY")
              for n in range(300)]
    parsed = parse(google(*series), "google", max_instances=1000)
    assert parsed.stays == [] and len(parsed.ignored) == 300
    assert {event.check_in for event in parsed.ignored} == {day(0)}  # each one's first instance in the window


# --- NUL and other characters a database refuses ----------------------------------------------------------------

def test_calendar_with_stray_nul_bytes_after_the_first_kilobyte_syncs_with_clean_texts():
    filler = [f"X-FILLER-{n}:{'x' * 60}" for n in range(20)]
    body = calendar(["PRODID:x", *filler, *event("a\x00b", all_day(day(1)), all_day(day(3)), "Reser\x00ved"),
                     *event("c", all_day(day(5)), None, "Blocked")])
    assert body.index(b"\x00") > 1024
    parsed = parse(body)
    assert nights(parsed) == [(day(1), day(3)), (day(5), day(6))]
    assert [(stay.uid, stay.summary) for stay in parsed.stays] == [("ab", "Reserved"), ("c", "Blocked")]


def test_nul_in_the_first_kilobyte_of_a_calendar_is_removed_too():
    body = calendar(["PRODID:x\x00", *event("a", all_day(day(1)), all_day(day(3)), "Blo\x00cked")])
    parsed = parse(body)
    assert parsed.prodid == "x" and parsed.stays[0].summary == "Blocked"


def test_ignored_titles_and_unreadable_events_are_cleaned_too():
    body = google(google_event("d@google.com", all_day(day(1)), all_day(day(2)), "Den\x00tist"),
                  ["BEGIN:VEVENT", "UID:n\x00s@google.com", "SUMMARY:Reserved", "END:VEVENT"])
    parsed = parse(body, "google")
    assert sorted(event.summary for event in parsed.ignored) == ["Dentist", "Reserved"]
    assert parsed.unreadable_uids == ["ns@google.com"] and parsed.unreadable[0].uid == "ns@google.com"
    texts = [w.message for w in parsed.warnings] + [e.reason for e in parsed.ignored] + parsed.notes
    assert not any("\x00" in text for text in texts)


def test_binary_data_after_a_calendar_header_is_refused_as_not_ical():
    noise = bytes(range(256)) * 64  # 16 KB of every byte value, as a compressed or image body holds
    body = b"BEGIN:VCALENDAR\r\nPRODID:x\r\n" + noise + b"\r\nEND:VCALENDAR\r\n"
    with pytest.raises(SyncFailure) as failure:
        parse(body)
    assert failure.value.kind == "not_ical" and "binary" in failure.value.message


def test_utf16_without_a_byte_order_mark_is_read():
    body = calendar(["PRODID:x", *event("u", all_day(day(1)), all_day(day(3)), "Réservé")]).decode().encode(
        "utf-16-le")
    assert nights(parse(body)) == [(day(1), day(3))] and parse(body).stays[0].summary == "Réservé"


def test_lone_surrogates_and_nul_are_removed_from_texts():
    assert clean_text("a\x00b\ud800c\udfffd") == "abcd" and clean_text("Réservé") == "Réservé"
