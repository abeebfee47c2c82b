"""The fleet tally: one job counts the fleet, the dashboard, the managers' page and /metrics read it at a
cost that does not grow with the fleet, and nobody is shown a tally older than a minute."""
from __future__ import annotations

import json
import re
from datetime import timedelta

import pytest

from console.extensions import db
from console.models import CalendarLink, Overbooking, Property
from console.queries.property_filters import HEALTHS, RISKS, count_matching, property_query
from console.reports import charts
from console.timeutil import iso, utcnow
from jobs.sync import fleet_tally
from jobs.sync.fleet_tally import TALLY_KEY, TALLY_MAX_AGE
from jobs.tasks import fleet_tally_job
from tests.statements import counted

INTERVAL = 15


def _fleet(make_property, make_link, n: int = 1) -> None:
    """n times: a failing, a stale, a never-synced, a fine, a held, an unlinked property; risks, scores."""
    now = utcnow()
    old = now - timedelta(minutes=3 * INTERVAL + 1)
    for i in range(n):
        failing = make_property(f"Failing {i}", risk_level="high", score_value=41)
        make_link(failing, source="google", last_sync_at=now, last_attempt_ok=False,
                  last_error_kind="not_found", consecutive_failures=i + 1)
        make_link(failing, source="airbnb", last_sync_at=now, last_attempt_ok=False,
                  last_error_kind="forbidden")
        make_link(make_property(f"Stale {i}", risk_level="medium", score_value=78), last_sync_at=old,
                  last_attempt_ok=True, last_success_at=old)
        make_link(make_property(f"Never {i}", score_value=100))
        make_link(make_property(f"Fine {i}", risk_level="low", score_value=95), last_sync_at=now,
                  last_attempt_ok=True, last_success_at=now)
        make_link(make_property(f"Held {i}"), last_sync_at=now, last_attempt_ok=True, last_success_at=now,
                  hold_state={"confirmations": 0})
        make_property(f"Unlinked {i}")


def test_the_tally_agrees_with_the_filters_and_the_rows(make_property, make_link, make_reservation):
    _fleet(make_property, make_link, n=2)
    prop = db.session.query(Property).filter_by(name="Fine 0").one()
    db.session.add_all([Overbooking(property_id=prop.id, direct_code="D-1", external_code=f"EX-{i}",
                                    first_night=utcnow().date(), last_night=utcnow().date(), nights=1,
                                    state=state, counts_against_owner=True)
                        for i, state in enumerate(["open", "open", "resolved"])])
    db.session.commit()
    now = utcnow()
    tally = fleet_tally.take(now, INTERVAL)

    assert tally["health"] == {h: count_matching(property_query(now=now, interval_minutes=INTERVAL, health=h))
                               for h in HEALTHS}
    assert tally["health"] == {"failing": 2, "stale": 2, "never_synced": 2, "ok": 4, "none": 2}
    risks = dict(tally["risks"])
    assert risks == {r: n for r in RISKS if (n := count_matching(
        property_query(now=now, interval_minutes=INTERVAL, risk=r)))}
    assert tally["held"] == count_matching(property_query(now=now, interval_minutes=INTERVAL, held=True)) == 2
    assert tally["fleet"] == 12 and tally["overbookings_open"] == 2
    links = db.session.query(CalendarLink).all()
    assert sorted(tally["links"]) == sorted(
        [state, health, sum(1 for x in links if (x.state, x.health(now, INTERVAL)) == (state, health))]
        for state, health in {(x.state, x.health(now, INTERVAL)) for x in links})
    assert tally["failing_by_kind"] == [["forbidden", 2, 2], ["not_found", 2, 2]]
    assert tally["failing_by_source"] == [["airbnb", 2, 2], ["google", 2, 2]]
    scores = [p.score_value for p in db.session.query(Property) if p.score_value is not None]
    assert charts.score_bins(tally["scores"]) == charts.score_bins((s, 1) for s in scores)
    assert sorted(tally["scores"]) == [[s, scores.count(s)] for s in sorted(set(scores))]


def test_the_job_stores_one_tally_and_skips_when_a_fresh_one_is_stored(app, make_property, make_link,
                                                                         redis_conn):
    _fleet(make_property, make_link)
    assert fleet_tally_job() == 6
    stored = json.loads(redis_conn.get(TALLY_KEY))
    assert stored["fleet"] == 6 and stored["took_ms"] >= 0
    assert 0 < redis_conn.ttl(TALLY_KEY) <= TALLY_MAX_AGE  # gone by itself when nobody renews it
    # Jobs the scheduler queued while the workers were busy: the first counts, the others do nothing.
    make_property("One more")
    with counted() as again:
        assert fleet_tally_job() is None
    assert again == [] and json.loads(redis_conn.get(TALLY_KEY))["fleet"] == 6
    later = fleet_tally.refresh(redis_conn, utcnow() + timedelta(seconds=fleet_tally.TALLY_EVERY), INTERVAL)
    assert later["fleet"] == 7


def _dashboard_numbers(html: str) -> dict[str, str]:
    return dict(re.findall(r'data-health-count="(\w+)">\s*<div class="card-body py-2"><div class="h4 mb-0 '
                           r'health-\w+">(\d+)<', html))


def test_with_a_tally_the_dashboard_costs_the_same_statements_at_6_and_60_properties(
        login, make_property, make_link, redis_conn):
    client = login("viewer")
    _fleet(make_property, make_link)
    fleet_tally_job()
    client.get("/")  # the session's once-a-minute write is not the page's cost
    with counted() as small:
        html = client.get("/").get_data(as_text=True)
    assert _dashboard_numbers(html) == {"failing": "1", "stale": "1", "never_synced": "1", "ok": "2",
                                        "none": "1"}
    assert re.search(r'data-test="tally-age"[^>]*>Counted \d+ s ago', html)
    _fleet(make_property, make_link, n=9)
    redis_conn.delete(TALLY_KEY)
    fleet_tally_job()
    client.get("/")
    with counted() as large:
        html = client.get("/").get_data(as_text=True)
    assert _dashboard_numbers(html)["failing"] == "10"
    assert len(small) == len(large)
    assert not [s for s in large if "GROUP BY" in s or "count(" in s.lower()]  # nothing counted


def test_the_dashboard_shows_the_tallys_counts_and_says_how_old_they_are(login, make_property, make_link,
                                                                        redis_conn):
    client = login("viewer")
    _fleet(make_property, make_link)
    fleet_tally_job()
    failing = make_property("Failing since the tally")
    make_link(failing, last_sync_at=utcnow(), last_attempt_ok=False, last_error_kind="timeout")
    html = client.get("/").get_data(as_text=True)
    # The count is the tally's (labelled with its age); the list of failing links is read now.
    assert _dashboard_numbers(html)["failing"] == "1" and "Failing since the tally" in html
    fleet_tally.refresh(redis_conn, utcnow() + timedelta(seconds=fleet_tally.TALLY_EVERY), INTERVAL)
    assert _dashboard_numbers(client.get("/").get_data(as_text=True))["failing"] == "2"


def test_a_tally_older_than_a_minute_is_never_shown(login, make_property, make_link, redis_conn):
    client = login("viewer")
    _fleet(make_property, make_link)
    taken = utcnow() - timedelta(seconds=TALLY_MAX_AGE + 5)
    old = {**fleet_tally.take(utcnow(), INTERVAL), "taken_at": iso(taken)}
    old["health"] = {**old["health"], "failing": 999}
    redis_conn.set(TALLY_KEY, json.dumps(old))
    html = client.get("/").get_data(as_text=True)
    assert _dashboard_numbers(html)["failing"] == "1"
    assert 'data-test="tally-age"' in html and "Counted for this page." in html


def test_without_redis_the_dashboard_counts_for_itself(login, make_property, make_link, app):
    client = login("viewer")
    _fleet(make_property, make_link)
    app.config["REDIS_URL"] = "redis://127.0.0.1:1/0"  # nothing listens there
    app.extensions.pop("csc_redis", None)
    resp = client.get("/")
    assert resp.status_code == 200
    assert _dashboard_numbers(resp.get_data(as_text=True))["failing"] == "1"


@pytest.mark.parametrize("chart", ["scores"])
def test_the_managers_score_spread_is_the_tallys(login, make_property, make_link, redis_conn, chart):
    client = login("viewer")
    _fleet(make_property, make_link)
    fleet_tally_job()
    make_property("Scored after the tally", score_value=5)
    rows = client.get(f"/overbookings/{chart}.csv").get_data(as_text=True).splitlines()
    assert rows[1:] == [f"{band},{n}" for band, n in charts.score_bins(
        [(41, 1), (78, 1), (100, 1), (95, 1)])]
    fleet_tally.refresh(redis_conn, utcnow() + timedelta(seconds=fleet_tally.TALLY_EVERY), INTERVAL)
    assert "0-9,1" in client.get(f"/overbookings/{chart}.csv").get_data(as_text=True).splitlines()


def test_with_the_tally_and_the_fell_most_list_warm_the_managers_page_statements_do_not_grow(
        login, make_property, make_link, redis_conn):
    client = login("viewer")
    _fleet(make_property, make_link)
    fleet_tally_job()
    client.get("/overbookings/")
    with counted() as small:
        assert client.get("/overbookings/").status_code == 200
    _fleet(make_property, make_link, n=9)
    redis_conn.delete(TALLY_KEY)
    fleet_tally_job()
    client.get("/overbookings/")
    with counted() as large:
        assert client.get("/overbookings/").status_code == 200
    assert len(small) == len(large)
    assert not [s for s in large if "score_snapshots" in s or "FROM properties GROUP BY" in s]
