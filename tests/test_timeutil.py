"""Times shown to people."""
from datetime import datetime

from console.timeutil import ago, iso

NOW = datetime(2026, 11, 23, 12, 0, 0)


def test_ago_in_words():
    assert ago("2026-11-23T11:59:30Z", NOW) == "just now"
    assert ago("2026-11-23T11:55:00Z", NOW) == "5 min ago"
    assert ago("2026-11-23T09:00:00Z", NOW) == "3 h ago"
    assert ago(datetime(2026, 11, 20, 12, 0), NOW) == "3 days ago"
    assert ago("2026-11-23T12:10:00Z", NOW) == "in 10 min"
    assert ago(None, NOW) == "never"


def test_iso_is_utc_with_z():
    assert iso(datetime(2026, 1, 2, 3, 4, 5, 678)) == "2026-01-02T03:04:05Z"
    assert iso(None) is None
