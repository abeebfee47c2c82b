"""Times shown to people."""
from datetime import UTC, datetime, timedelta, timezone

from console.timeutil import ago, exact_utc, iso, naive_utc, plural

NOW = datetime(2026, 11, 23, 12, 0, 0)


def test_ago_in_words():
    assert ago("2026-11-23T11:59:30Z", NOW) == "just now"
    assert ago("2026-11-23T11:55:00Z", NOW) == "5 minutes ago"
    assert ago("2026-11-23T11:58:59Z", NOW) == "1 minute ago"
    assert ago("2026-11-23T09:00:00Z", NOW) == "3 hours ago"
    assert ago("2026-11-23T10:30:00Z", NOW) == "1 hour ago"
    assert ago(datetime(2026, 11, 20, 12, 0), NOW) == "3 days ago"
    assert ago(None, NOW) == "never"


def test_ago_of_a_future_moment_says_in():
    assert ago("2026-11-23T12:10:00Z", NOW) == "in 10 minutes"
    assert ago("2026-11-23T12:00:20Z", NOW) == "in 1 minute"
    assert ago("2026-11-23T14:00:00Z", NOW) == "in 2 hours"
    assert ago("2026-11-26T12:00:00Z", NOW) == "in 3 days"


def test_ago_reads_aware_datetimes_and_offsets_as_utc():
    assert ago("2026-11-23T13:00:00+02:00", NOW) == "1 hour ago"


def test_exact_utc_is_the_hover_text():
    assert exact_utc("2026-11-23T09:00:05Z") == "2026-11-23 09:00:05 UTC"
    assert exact_utc(datetime(2026, 11, 23, 9, 0, 5)) == "2026-11-23 09:00:05 UTC"
    assert exact_utc(None) == ""


def test_plural_counts_nouns():
    assert (plural(1, "night"), plural(2, "night"), plural(0, "night")) == ("1 night", "2 nights", "0 nights")
    assert plural(3, "property", "properties") == "3 properties"


def test_iso_is_utc_with_z():
    assert iso(datetime(2026, 1, 2, 3, 4, 5, 678)) == "2026-01-02T03:04:05Z"
    assert iso(None) is None


def test_naive_utc_takes_rq_times_naive_or_aware():
    assert naive_utc(None) is None
    assert naive_utc(NOW) is NOW
    assert naive_utc(NOW.replace(tzinfo=UTC)) == NOW
    madrid_noon = datetime(2026, 11, 23, 13, 0, tzinfo=timezone(timedelta(hours=1)))
    assert naive_utc(madrid_noon) == NOW and naive_utc(madrid_noon).tzinfo is None
