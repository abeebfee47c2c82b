"""Issue 13: the fast paths for long histories give exactly what the library gives, series by series."""
from __future__ import annotations

from datetime import date

import pytest

from tests.jobs.feeds import TODAY, all_day, calendar, event, parse
from tests.jobs.ical.history import long_google_history
from tests.jobs.ical.reference import library_series_nights


def _ours_by_series(body: bytes, timezone: str) -> dict[str, set[tuple[date, date]]]:
    found: dict[str, set[tuple[date, date]]] = {}
    for stay in parse(body, "ical", timezone=timezone).stays:
        found.setdefault(stay.uid.rpartition("#")[0] or stay.uid, set()).add((stay.check_in, stay.check_out))
    return found


@pytest.mark.parametrize("timezone", ["Europe/Madrid", "America/Los_Angeles"])
def test_every_series_of_a_long_history_expands_as_the_library_expands_it(timezone):
    body = long_google_history(TODAY, events=500, running=160, seed=5)
    ours, theirs = _ours_by_series(body, timezone), library_series_nights(body, timezone)
    assert sum(1 for uid in theirs if len(theirs[uid]) > 1) > 120  # the running series
    assert ours.keys() == theirs.keys()
    for uid in theirs:
        assert ours[uid] == theirs[uid], uid


def test_google_mode_reports_each_ignored_series_once_with_its_first_nights_in_the_window():
    body = long_google_history(TODAY, events=500, running=160, seed=5)
    theirs = library_series_nights(body, "Europe/Madrid")
    parsed = parse(body, "google")
    assert parsed.stays == []
    reported = {event.uid: (event.check_in, event.check_out) for event in parsed.ignored}
    assert reported.keys() == theirs.keys()
    for uid, first in reported.items():
        assert first in theirs[uid]


@pytest.mark.parametrize("rule", ["FREQ=WEEKLY;BYDAY=MO,WE;UNTIL=20260601T000000Z", "FREQ=DAILY;COUNT=4200",
                                  "FREQ=WEEKLY;INTERVAL=3;BYDAY=SU,SA;WKST=SU", "FREQ=DAILY;UNTIL=20260320"])
@pytest.mark.parametrize("start", [";TZID=Europe/Madrid:20150105T233000", ";VALUE=DATE:20150105",
                                   ":20150105T233000Z", ":20150105T233000"])
def test_plain_rules_with_until_count_and_exdates_match_the_library(rule, start):
    exdates = ["EXDATE;TZID=Europe/Madrid:20260309T233000", "EXDATE;VALUE=DATE:20260311",
               "EXDATE:20260316T223000Z"]
    end = start.replace("T233000", "T235900") if "T" in start.rpartition(":")[2] else all_day(date(2015, 1, 7))
    # No X-WR-TIMEZONE: the library applies it to UTC times too (x-wr-timezone), we do not (nights.py).
    body = calendar(["PRODID:x", *event("p", start, end, "Blocked", f"RRULE:{rule}", *exdates)])
    ours = _ours_by_series(body, "America/New_York")
    assert ours and ours == library_series_nights(body, "America/New_York")
