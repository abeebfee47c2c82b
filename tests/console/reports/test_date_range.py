"""The managers' date range read from a query string: presets, old bookmarks, refusals with a message."""
from datetime import date

from console.reports.date_range import DateRange, last_weeks, parse_range, presets

TODAY = date(2026, 12, 2)  # a Wednesday
DEFAULT = last_weeks(26, TODAY)


def test_default_is_the_last_26_weeks_from_a_monday():
    r, problem = parse_range({}, TODAY)
    assert problem is None and r == DEFAULT
    assert r.first.weekday() == 0 and r.last == TODAY and r.first == date(2026, 6, 8)


def test_from_and_to_are_taken_as_given():
    r, problem = parse_range({"from": "2026-01-01", "to": "2026-03-31"}, TODAY)
    assert problem is None and r == DateRange(date(2026, 1, 1), date(2026, 3, 31)) and r.days == 90
    assert r.args() == {"from": "2026-01-01", "to": "2026-03-31"}


def test_presets_cover_4_13_and_52_weeks():
    assert [(key, label) for key, label, _ in presets(TODAY)] == [
        ("4w", "4 weeks"), ("quarter", "quarter"), ("year", "year")]
    assert parse_range({"preset": "4w"}, TODAY) == (DateRange(date(2026, 11, 9), TODAY), None)
    assert parse_range({"preset": "quarter"}, TODAY)[0].first == date(2026, 9, 7)
    assert parse_range({"preset": "year"}, TODAY)[0].first == date(2025, 12, 8)


def test_old_weeks_bookmarks_still_work():
    assert parse_range({"weeks": "2"}, TODAY) == (DateRange(date(2026, 11, 23), TODAY), None)
    r, problem = parse_range({"weeks": "lots"}, TODAY)
    assert r == DEFAULT and "not a number of weeks" in problem
    r, problem = parse_range({"weeks": "0"}, TODAY)
    assert r == DEFAULT and "between 1 and 260" in problem


def test_bad_ranges_fall_back_to_the_default_with_a_message():
    cases = {("2026-05-01", "2026-04-01"): "before the start",
             ("2026-13-45", "2026-04-01"): "YYYY-MM-DD",
             ("yesterday", ""): "YYYY-MM-DD",
             ("2019-01-01", "2026-04-01"): "at most five years"}
    for (first, last), words in cases.items():
        r, problem = parse_range({"from": first, "to": last}, TODAY)
        assert r == DEFAULT and words in problem, (first, last, problem)


def test_one_end_alone_takes_the_default_other_end():
    assert parse_range({"from": "2026-10-01"}, TODAY) == (DateRange(date(2026, 10, 1), TODAY), None)
    assert parse_range({"to": "2026-11-01"}, TODAY) == (DateRange(DEFAULT.first, date(2026, 11, 1)), None)
