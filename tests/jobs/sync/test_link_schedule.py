"""The schedule by value through real syncs: each link's stored interval and reason, its next due time,
the lateness of scheduled syncs (on the run and in Redis), availability demand, and caching headers."""
from __future__ import annotations

import math
from datetime import timedelta

from console.extensions import db
from console.models import SyncRun
from console.timeutil import local_midnight, local_today, utcnow
from jobs.fetch.cache_hint import cache_max_age
from jobs.sync import lateness
from jobs.sync.demand import DEMAND_KEY, demand_ages
from jobs.sync.runner import sync_links
from jobs.tasks import claim_due_links
from tests.jobs.feeds import airbnb_feed
from tests.jobs.sync.test_feeds import FeedServer, day, fresh_link


def test_a_link_whose_property_has_a_check_in_soon_is_read_sooner_and_says_why(
        app, httpserver, make_property, make_link, make_reservation):
    hot, cold = make_property("Check-in soon"), make_property("Nothing booked")
    make_reservation(hot, "direct", in_days=1, nights=3)
    feed = FeedServer(httpserver, "/a.ics", airbnb_feed([(day(10), day(12), "Reserved")]))
    hot_link = make_link(hot, url=feed.url + "?hot", source="airbnb")
    cold_link = make_link(cold, url=feed.url + "?cold", source="airbnb")
    before = utcnow()
    sync_links([hot_link.id, cold_link.id])
    hot_link, cold_link = fresh_link(hot_link.id), fresh_link(cold_link.id)
    mean = app.config["SYNC_INTERVAL_MINUTES"] * 60
    assert hot_link.sync_interval_seconds < mean / 4 <= cold_link.sync_interval_seconds
    assert "a direct check-in within 2 days" in hot_link.sync_interval_reason
    # A first read brings blocks: the calendar changed just now, said in words too.
    assert "its calendar changed in the last day" in cold_link.sync_interval_reason
    assert cold_link.last_changed_at >= before
    due_in = (hot_link.next_sync_at - hot_link.last_sync_at).total_seconds()
    assert 0.9 * hot_link.sync_interval_seconds - 1 <= due_in <= 1.1 * hot_link.sync_interval_seconds + 1
    assert hot_link.sync_weight > cold_link.sync_weight


def test_a_failing_link_keeps_its_backoff_and_says_so(app, httpserver, make_property, make_link):
    feed = FeedServer(httpserver, "/gone.ics")
    feed.status = 404
    link = make_link(make_property(), url=feed.url, source="airbnb")
    sync_links([link.id])
    link = fresh_link(link.id)
    assert link.last_attempt_ok is False
    assert link.sync_interval_reason.endswith("backing off after 1 failed read in a row")
    left = (link.next_sync_at - link.last_sync_at).total_seconds()
    assert abs(link.sync_interval_seconds - left) <= 2


def test_a_scheduled_sync_records_how_late_it_began_on_its_run_and_in_redis(
        app, httpserver, redis_conn, make_property, make_link):
    feed = FeedServer(httpserver, "/late.ics", airbnb_feed([]))
    link = make_link(make_property(), url=feed.url, source="airbnb",
                     next_sync_at=utcnow() - timedelta(seconds=40))
    forced = make_link(make_property(), url=feed.url + "?forced", source="airbnb",
                       next_sync_at=utcnow() + timedelta(hours=1))
    now = utcnow()
    assert claim_due_links(now, now + timedelta(minutes=15)) == [link.id]
    assert fresh_link(link.id).due_at is not None
    sync_links([link.id, forced.id])
    runs = {r.link_id: r for r in db.session.query(SyncRun)}
    assert 40_000 <= runs[link.id].lateness_ms <= 100_000
    assert runs[forced.id].lateness_ms is None  # a forced sync was not late for anything
    assert fresh_link(link.id).due_at is None
    counts, total, n = lateness.totals(redis_conn)
    assert n == 1 and 40 <= total <= 100 and counts[lateness.bucket_of(45)] == 1
    assert lateness.recent(redis_conn)["count"] == 1


def test_asking_availability_is_recorded_as_demand_and_reads_the_calendar_sooner(
        app, api, httpserver, redis_conn, make_property, make_link):
    prop = make_property()
    resp = api("viewer").get(f"/properties/{prop.id}/availability?check_in={day(5)}&check_out={day(7)}")
    assert resp.status_code == 200
    assert redis_conn.hget(DEMAND_KEY, str(prop.id)) is not None
    assert demand_ages(redis_conn, [prop.id])[prop.id] < 60
    feed = FeedServer(httpserver, "/asked.ics", airbnb_feed([]))
    link = make_link(prop, url=feed.url, source="airbnb")
    sync_links([link.id])
    assert "guests asked its availability" in fresh_link(link.id).sync_interval_reason


def test_caching_headers_are_read_as_a_freshness_hint():
    assert cache_max_age("public, max-age=1800", None) == 1800
    assert cache_max_age("no-cache, max-age=60", None) is None
    assert cache_max_age(None, "Thu, 01 Jan 2037 01:00:00 GMT", "Thu, 01 Jan 2037 00:00:00 GMT") == 3600
    assert cache_max_age(None, "garbage") is None


def test_a_feeds_max_age_slows_a_link_where_nothing_is_at_stake(app, httpserver, make_property, make_link):
    # A first read that brings a stay: changed just now, it would be read every 7.5 min without the hint.
    feed = FeedServer(httpserver, "/cached.ics", airbnb_feed([(day(40), day(42), "Reserved")]))
    feed.headers = {"Cache-Control": "max-age=3600"}
    link = make_link(make_property(), url=feed.url, source="airbnb")
    sync_links([link.id])
    link = fresh_link(link.id)
    assert link.sync_interval_seconds == app.config["SYNC_INTERVAL_MINUTES"] * 60
    assert "the feed says its answer stays fresh for 60 min" in link.sync_interval_reason


def test_link_json_and_the_api_carry_the_interval_and_its_reason(app, api, httpserver, make_property, make_link):
    feed = FeedServer(httpserver, "/json.ics", airbnb_feed([]))
    link = make_link(make_property(), url=feed.url, source="airbnb")
    body = api("viewer").get(f"/links/{link.id}").get_json()
    assert body["sync_interval_seconds"] is None and body["sync_interval_reason"] is None
    sync_links([link.id])
    body = api("viewer").get(f"/links/{link.id}").get_json()
    assert body["sync_interval_seconds"] == fresh_link(link.id).sync_interval_seconds > 0
    assert body["sync_interval_reason"].startswith("every ")


def test_the_fleet_tally_keeps_the_budget_scale_that_the_next_reads_use(app, redis_conn, make_property, make_link):
    from jobs.sync.link_schedule import stored_scale
    from jobs.tasks import fleet_tally_job
    prop, now = make_property(), utcnow()
    for n in range(10):  # every link weighs 4: read 4 x as often, the fleet would pass its budget
        make_link(prop, url=f"https://www.airbnb.com/calendar/ical/{n}.ics", source="airbnb",
                  sync_weight=4.0, last_attempt_ok=True, last_sync_at=now, last_success_at=now)
    make_link(prop, url="https://www.airbnb.com/calendar/ical/failing.ics", source="airbnb", sync_weight=40.0,
              last_attempt_ok=False, last_sync_at=now)  # failing: on its backoff, not in the budget
    assert stored_scale(redis_conn) == 1.0  # no tally yet
    fleet_tally_job()
    # 10 links at 15 min x scale / 4 read at 99% of 10 links at 15 min: scale = 4 / 0.99, and a little
    # more for the jitter of +-10% (1 / jitter is 1.0034 on average).
    assert abs(stored_scale(redis_conn) - 4 * math.log(1.1 / 0.9) / 0.2 / 0.99) < 0.001


def test_a_link_is_read_sooner_the_day_its_propertys_check_in_comes_within_14_days(
        app, httpserver, make_property, make_link, make_reservation):
    prop = make_property("Check-in in 15 days", timezone="Asia/Tokyo")  # its day is not UTC's
    tokyo_today = local_today("Asia/Tokyo")
    make_reservation(prop, "direct", in_days=15, nights=3, today=tokyo_today)
    feed = FeedServer(httpserver, "/soon.ics", airbnb_feed([]))
    link = make_link(prop, url=feed.url, source="airbnb")
    app.config["SYNC_INTERVAL_MINUTES"] = 2 * 60 * 24  # a slow fleet: the planned read is over a day away
    sync_links([link.id])
    link = fresh_link(link.id)
    near_day = local_midnight(tokyo_today + timedelta(days=1), "Asia/Tokyo")  # Tokyo's next midnight
    assert link.sync_interval_seconds >= 86400  # its interval, as a link with nothing near
    assert near_day < link.next_sync_at <= near_day + timedelta(hours=6)  # read soon after midnight
    assert link.sync_interval_reason.endswith("read sooner: a direct check-in comes within 14 days")


def test_a_direct_booking_reported_brings_its_calendars_next_read_forward(
        app, api, httpserver, make_property, make_link):
    prop, other = make_property("Booked now"), make_property("Not booked")
    feed = FeedServer(httpserver, "/booked.ics", airbnb_feed([]))
    link = make_link(prop, url=feed.url + "?booked", source="airbnb")
    untouched = make_link(other, url=feed.url + "?other", source="airbnb")
    sync_links([link.id, untouched.id])
    planned, kept = fresh_link(link.id).next_sync_at, fresh_link(untouched.id).next_sync_at
    resp = api("staff").post(f"/properties/{prop.id}/reservations", json={
        "origin": "direct", "check_in": day(6).isoformat(), "check_out": day(8).isoformat()})
    assert resp.status_code == 201
    link = fresh_link(link.id)
    assert link.next_sync_at < planned
    assert link.next_sync_at - link.last_sync_at == timedelta(seconds=link.sync_interval_seconds)
    assert "a direct check-in within 14 days" in link.sync_interval_reason
    assert fresh_link(untouched.id).next_sync_at == kept
    claimed = claim_due_links(utcnow(), utcnow() + timedelta(minutes=15))  # a claimed link is left alone
    assert claimed == [] and fresh_link(link.id).due_at is None
