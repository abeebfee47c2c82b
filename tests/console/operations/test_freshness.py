"""Lateness and calendar age in /metrics (histograms, the names of docs/schedule.md) and on the dashboard."""
from __future__ import annotations

import re
from datetime import timedelta

from console.extensions import db
from console.models import CalendarLink
from console.timeutil import utcnow
from jobs.sync import lateness
from jobs.tasks import fleet_tally_job
from tests.statements import counted


def _links(prop, ages_minutes):
    now = utcnow()
    db.session.add_all([CalendarLink(property=prop, source="ical", url=f"http://127.0.0.1:1/{i}.ics", state="active",
                                     last_sync_at=now, last_attempt_ok=True,
                                     last_success_at=None if age is None else now - timedelta(minutes=age))
                        for i, age in enumerate(ages_minutes)])
    db.session.add(CalendarLink(property=prop, source="ical", url="http://127.0.0.1:1/p.ics", state="paused",
                                last_success_at=now - timedelta(days=9)))
    db.session.commit()


def _bucket(text: str, name: str, le: str) -> float:
    return float(re.search(rf'^{name}_bucket{{le="{re.escape(le)}"}} (\S+)$', text, re.M).group(1))


def test_metrics_show_calendar_age_of_active_links_and_lateness_as_histograms(
        app, client, redis_conn, make_property):
    _links(make_property(), [0.5, 3, 3, 40, None])
    lateness.record(redis_conn, [0.5, 12, 70])
    fleet_tally_job()
    with counted() as statements:
        text = client.get("/metrics").get_data(as_text=True)
    assert "# TYPE csc_calendar_age_seconds histogram" in text
    assert _bucket(text, "csc_calendar_age_seconds", "60.0") == 1
    assert _bucket(text, "csc_calendar_age_seconds", "300.0") == 3
    assert _bucket(text, "csc_calendar_age_seconds", "3600.0") == 4
    assert _bucket(text, "csc_calendar_age_seconds", "+Inf") == 5  # never read: +Inf only; paused: not at all
    assert 2780 < float(re.search(r"^csc_calendar_age_seconds_sum (\S+)$", text, re.M).group(1)) < 2800
    assert "# TYPE csc_sync_lateness_seconds histogram" in text
    assert _bucket(text, "csc_sync_lateness_seconds", "1.0") == 1
    assert _bucket(text, "csc_sync_lateness_seconds", "15.0") == 2
    assert _bucket(text, "csc_sync_lateness_seconds", "+Inf") == 3
    assert re.search(r"^csc_sync_lateness_seconds_count 3\.0$", text, re.M)
    # From the tally: the scrape reads no link row for the age.
    assert not [s for s in statements if "calendar_links" in s]


def test_dashboard_says_how_far_behind_the_fleet_is_and_its_calendar_age(login, redis_conn, make_property):
    client = login("viewer")
    html = client.get("/").get_data(as_text=True)
    assert "No scheduled sync in the last 10 minutes." in html
    _links(make_property(), [1.5] * 10 + [20] * 10)
    lateness.record(redis_conn, [3] * 90 + [40] * 10)
    fleet_tally_job()
    html = client.get("/").get_data(as_text=True)
    line = re.sub(r"<[^>]+>", "", re.search(r'data-test="fleet-behind">(.*?)</p>', html, re.S).group(1))
    assert re.search(r"The fleet is (\d+) s behind its schedule \(lateness p95 \1 s, p99 (\d+) s, p50 (\d+) s over "
                     r"100 scheduled syncs of the last 10 minutes\)", line), line
    p95, p99, p50 = (int(v) for v in re.search(r"p95 (\d+) s, p99 (\d+) s, p50 (\d+) s", line).groups())
    assert 30 < p95 <= p99 <= 45 and p50 <= 5
    assert "Calendar age of the 20 active links: p50 2 min, p95 28 min." in line, line
