"""Issue 13: public test calendars (corpus/README.md) read by parse_feed and, independently, by icalendar +
recurring-ical-events with our rules (reference.py), compared night by night. Every difference is listed here
with the reason we differ; a listed difference that disappears fails too, so the lists stay true."""
from __future__ import annotations

import os
import re
import time
from datetime import date, timedelta
from pathlib import Path

import pytest
import recurring_ical_events

from jobs.ical.parse import parse_feed
from jobs.rules.stays import SyncFailure
from tests.jobs.ical.reference import library_nights

HERE = Path(__file__).parent / "corpus"
# The icalendar project's calendars are copied (BSD-2-Clause); recurring-ical-events' are read where pip
# installed them (LGPL-3.0-or-later: not copied into this repository).
LIBRARY_CALENDARS = Path(recurring_ical_events.__file__).parent / "test" / "calendars"
CORPUS = sorted(HERE.glob("icalendar/*.ics")) + sorted(LIBRARY_CALENDARS.glob("*.ics"))

# We read these differently from the library, on purpose.
DIFFERENT = {
    "issue_132_swapped_start_and_end.ics": "an event whose end is before its start is no stay (listed as "
                                           "unreadable, its block kept); the library swaps start and end",
    "issue_1633_rdate_with_dates_and_tzid.ics": "two instances of one series on the same date share the key "
                                                "uid#date, and we keep one of them (the longest)",
}
# We refuse these as a whole, and why (the library may read a component out of them).
REFUSED = {
    "big_bad_calendar.ics": "no END:VCALENDAR: a body cut short is never read as a short calendar",
    "small_bad_calendar.ics": "no END:VCALENDAR",
    "pr_480_summary_with_colon.ics": "no END:VCALENDAR",
    "fuzz_testcase_0_char_in_component_name.ics": "binary data where the calendar should begin",
    "fuzz_testcase_vtimezone_lone_cr.ics": "binary data (control bytes) in the body",
    "fuzz_testcase_invalid_month.ics": "does not start with BEGIN:VCALENDAR",
    "issue_178_component_with_invalid_name_represented.ics": "no calendar: a custom component only",
    "issue_178_custom_component_contains_other.ics": "an event with no BEGIN:VCALENDAR around it",
    "issue_82_expected_output.ics": "an event with no BEGIN:VCALENDAR around it",
}


def _today(body: bytes) -> date:
    """A 'today' just before the calendar's first date, so its events fall in the window."""
    match = re.search(rb"\nDTSTART[^:\n]*:(\d{4})(\d{2})(\d{2})", body)
    try:
        return date(*(int(part) for part in match.groups())) - timedelta(days=30) if match else date(2020, 1, 1)
    except ValueError:
        return date(2020, 1, 1)


def _read_both(path: Path) -> tuple[set | str, set | str]:
    """(our nights or our failure kind, the library's nights or its error)."""
    body = path.read_bytes()
    today = _today(body)
    try:
        ours: set | str = {(s.check_in, s.check_out) for s in parse_feed(body, "ical", "Europe/Madrid", today).stays}
    except SyncFailure as failure:
        ours = failure.kind
    try:
        theirs: set | str = set(library_nights(body, "Europe/Madrid", today=today))
    except Exception as error:  # noqa: BLE001 - the library's many error kinds all mean "cannot read"
        theirs = type(error).__name__
    return ours, theirs


@pytest.mark.parametrize("path", CORPUS, ids=[path.name for path in CORPUS])
def test_public_calendar_reads_as_the_library_reads_it_or_the_difference_is_listed(path):
    started = time.process_time()
    ours, theirs = _read_both(path)
    assert time.process_time() - started < 5
    if path.name in REFUSED:
        assert ours in ("invalid_ical", "not_ical"), REFUSED[path.name]
    elif isinstance(theirs, str):
        # The library cannot read the file at all (an event without DTSTART, two calendars in one file, a broken
        # VTIMEZONE...): we read every readable event, which is the point of issue 13.
        assert isinstance(ours, set), f"we refuse a calendar as {ours}"
    elif path.name in DIFFERENT:
        assert ours != theirs, f"listed as different but now the same: {DIFFERENT[path.name]}"
    else:
        assert ours == theirs


def test_the_corpus_is_there_with_its_licence():
    assert len(CORPUS) > 150
    assert (HERE / "icalendar" / "LICENSE.rst").read_text().count("Redistribution") >= 1
    assert os.path.exists(HERE / "README.md")
