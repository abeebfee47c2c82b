"""GET /properties/<id>/availability?fresh=1: links re-read in the request, through the real sync,
against threaded loopback feeds (slow, failing, changing), the guard, Kigo and a second app."""
from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import date, timedelta

import pytest
from sqlalchemy import func, select

from config import TestConfig
from console import create_app
from console.extensions import db
from console.models import CalendarLink, PreventedOverbooking, Reservation, SyncRun
from console.timeutil import utcnow
from jobs.sync.runner import sync_links
from tests.feed_servers import feed_servers  # noqa: F401 - fixture
from tests.jobs.feeds import airbnb_feed, calendar


def day(offset: int) -> date:
    return utcnow().date() + timedelta(days=offset)


def age(link_id: int, seconds: int = 600) -> None:
    """Pretend the link's last read was `seconds` ago (it is due for a fresh read)."""
    db.session.expire_all()
    link = db.session.get(CalendarLink, link_id)
    then = utcnow() - timedelta(seconds=seconds)
    link.last_sync_at, link.last_success_at = then, then
    db.session.commit()


def ask(client_api, prop_id: int, start: int, end: int, fresh: bool = True) -> dict:
    resp = client_api.get(f"/properties/{prop_id}/availability?check_in={day(start)}"
                          f"&check_out={day(end)}" + ("&fresh=1" if fresh else ""))
    assert resp.status_code == 200, resp.get_data(as_text=True)
    return resp.get_json()


def runs(link_id: int) -> list[SyncRun]:
    db.session.expire_all()
    return list(db.session.execute(select(SyncRun).filter_by(link_id=link_id).order_by(SyncRun.id))
                .scalars())


def wait_for(condition, seconds: float = 20.0):
    """Poll `condition` until it is truthy or the deadline passes (then fail)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.05)
    pytest.fail("condition not met in time")


@pytest.fixture
def synced(feed_servers, make_property, make_link):
    """synced(name, stays, **feed options) -> (property, link id, feed): one first sync done, aged."""
    def make(name="airbnb", stays=((5, 8),), source="airbnb", prop=None, **options):
        prop = prop or make_property()
        feed, url = feed_servers.add(name, airbnb_feed([(day(a), day(b), "Reserved") for a, b in stays]),
                                     **options)
        link = make_link(prop, url=url, source=source)
        delay, feed.delay = feed.delay, 0
        sync_links([link.id])
        feed.delay = delay
        age(link.id)
        return prop, link.id, feed
    return make


def test_fresh_read_finds_a_booking_made_elsewhere_and_records_the_prevented_overbooking(
        synced, api, client):
    prop, link_id, feed = synced()
    viewer = api("viewer")
    stored = ask(viewer, prop.id, 20, 23, fresh=False)
    assert (stored["available"], stored["fresh"], stored["links"][0]["read"]) == (True, False, "stored")
    assert feed.count == 1  # the stored answer fetched nothing
    feed.body = airbnb_feed([(day(5), day(8), "Reserved"), (day(21), day(24), "Reserved")])
    answer = ask(viewer, prop.id, 20, 23)
    assert answer["available"] is False and answer["fresh"] is True and len(answer["conflicts"]) == 1
    [read] = answer["links"]
    assert (read["id"], read["source"], read["read"], read["error_kind"]) == (link_id, "airbnb", "fresh", None)
    assert feed.count == 2 and runs(link_id)[-1].outcome == "changed"
    # Asked again: the stored blocks already say no, so nothing more is prevented (recorded once).
    age(link_id)
    assert ask(viewer, prop.id, 20, 23)["available"] is False
    rows = db.session.execute(select(PreventedOverbooking)).scalars().all()
    assert [(r.property_id, r.link_id, r.source, r.check_in, r.check_out, r.external_code) for r in rows] == [
        (prop.id, link_id, "airbnb", day(20), day(23), answer["conflicts"][0])]
    listed = viewer.get(f"/overbookings/prevented?from={day(-1)}&to={day(2)}").get_json()["items"]
    assert [(i["external_code"], i["check_in"], i["source"]) for i in listed] == [
        (answer["conflicts"][0], day(20).isoformat(), "airbnb")]
    assert viewer.get(f"/overbookings/prevented?from={day(1)}").get_json()["items"] == []
    metrics = client.get("/metrics").get_data(as_text=True)
    assert 'csc_overbookings_prevented_total{source="airbnb"} 1.0' in metrics


def test_link_read_within_the_max_age_is_not_read_again(synced, api):
    prop, link_id, feed = synced()
    age(link_id, seconds=10)
    answer = ask(api("viewer"), prop.id, 20, 23)
    assert answer["links"][0]["read"] == "recent" and answer["fresh"] is True and answer["available"]
    assert feed.count == 1 and len(runs(link_id)) == 1


def test_fresh_read_is_conditional_and_unchanged_feed_answers_304(synced, api):
    prop, link_id, feed = synced(etag=True)
    answer = ask(api("viewer"), prop.id, 5, 6)
    assert answer["links"][0]["read"] == "fresh" and answer["available"] is False
    assert feed.requests[-1].get("If-None-Match") and runs(link_id)[-1].outcome == "not_modified"


def test_failing_feed_says_failed_and_keeps_its_blocks(synced, api):
    prop, link_id, feed = synced()
    feed.status, feed.body = 503, b"down"
    answer = ask(api("viewer"), prop.id, 5, 6)
    [read] = answer["links"]
    assert (read["read"], read["error_kind"]) == ("failed", "server_error")
    assert answer["fresh"] is False and answer["available"] is False  # the stored block still holds
    assert runs(link_id)[-1].outcome == "error"


def test_link_to_a_private_address_fails_the_address_check(api, make_property, make_link):
    prop = make_property()
    link = make_link(prop, url="http://10.1.2.3/feed.ics", source="ical")
    answer = ask(api("viewer"), prop.id, 5, 6)
    assert answer["links"][0]["read"] == "failed"
    assert answer["links"][0]["error_kind"] == "blocked_address" and runs(link.id)[-1].outcome == "error"


def test_slow_feed_answers_timeout_in_time_and_its_sync_still_ends_recorded(synced, api, app):
    app.config["AVAILABILITY_FRESH_TIMEOUT_SECONDS"] = 0.5
    prop, fast_id, fast = synced("fast")
    _prop, slow_id, slow = synced("slow", stays=((30, 33),), prop=prop, delay=3.0)
    slow.body = airbnb_feed([(day(40), day(44), "Reserved")])  # moves while we are not waiting
    started = time.monotonic()
    answer = ask(api("viewer"), prop.id, 30, 31)
    assert time.monotonic() - started < 2.5
    reads = {r["id"]: r["read"] for r in answer["links"]}
    assert reads == {fast_id: "fresh", slow_id: "timeout"} and answer["fresh"] is False
    assert answer["available"] is False  # the slow link's stored block answered
    run = wait_for(lambda: len(runs(slow_id)) == 2 and runs(slow_id)[-1])
    assert run.outcome == "changed" and run.finished_at is not None


def test_feed_answering_after_10_s_is_a_timeout_within_the_default_3_s(synced, api, app):
    assert app.config["AVAILABILITY_FRESH_TIMEOUT_SECONDS"] == 3
    prop, link_id, feed = synced(delay=10.0)
    started = time.monotonic()
    answer = ask(api("viewer"), prop.id, 5, 6)
    assert time.monotonic() - started < 4.0
    assert answer["links"][0]["read"] == "timeout" and answer["available"] is False
    run = wait_for(lambda: len(runs(link_id)) == 2 and runs(link_id)[-1], seconds=30)
    assert run.outcome in ("not_modified", "unchanged") and run.finished_at is not None


def test_concurrent_fresh_requests_from_two_apps_read_the_feed_once(synced, backends, api):
    prop, link_id, feed = synced(delay=0.6)
    feed.body = airbnb_feed([(day(5), day(8), "Reserved"), (day(21), day(24), "Reserved")])
    token = api("viewer").headers
    apps = [create_app(TestConfig(env=dict(backends))) for _ in range(2)]  # two web processes' worth
    barrier, prop_id = threading.Barrier(2), prop.id

    def one(application):
        barrier.wait()
        return application.test_client().get(
            f"/api/v1/properties/{prop_id}/availability?check_in={day(20)}&check_out={day(23)}&fresh=1",
            headers=token).get_json()

    with ThreadPoolExecutor(2) as pool:
        answers = list(pool.map(one, apps))
    assert feed.count == 2  # the first sync, then one fresh read for both requests
    assert all(a["available"] is False and a["fresh"] is True for a in answers)
    assert sorted(a["links"][0]["read"] for a in answers) == ["fresh", "recent"]
    assert db.session.execute(select(func.count()).select_from(PreventedOverbooking)).scalar() == 1
    for application in apps:
        with application.app_context():
            db.engine.dispose()


def test_guard_holds_a_suspicious_removal_read_in_a_fresh_request(synced, api):
    prop, link_id, feed = synced(stays=((5, 8), (20, 23), (40, 43)))
    feed.body = calendar(["PRODID:-//Airbnb Inc//Hosting Calendar 1.0//EN", "VERSION:2.0"])
    answer = ask(api("viewer"), prop.id, 20, 21)
    assert answer["links"][0]["read"] == "fresh" and answer["available"] is False
    assert runs(link_id)[-1].outcome == "held"
    assert db.session.execute(select(func.count()).select_from(Reservation)
                              .where(Reservation.link_id == link_id)).scalar() == 3


def test_paused_link_is_not_read_and_property_without_links_is_fresh(
        api, make_property, make_link, feed_servers):
    feed, url = feed_servers.add("paused", airbnb_feed([]))
    prop = make_property()
    link = make_link(prop, url=url, source="airbnb", state="paused")
    answer = ask(api("viewer"), prop.id, 5, 6)
    assert [(r["id"], r["read"]) for r in answer["links"]] == [(link.id, "paused")] and feed.count == 0
    empty = ask(api("viewer"), make_property(name="Bare").id, 5, 6)
    assert (empty["fresh"], empty["links"], empty["available"]) == (True, [], True)


def test_kigo_property_is_read_fresh(app, kigo_standin, make_property, make_link, api):
    app.config.update(KIGO_API_URL=kigo_standin.url, KIGO_API_USERNAME="kigo-user",
                      KIGO_API_PASSWORD="kigo-pass")
    kigo_standin.add_property("ACC1", 101, "Casa Azul", instant_booking=True)
    prop = make_property(name="Casa Azul")
    link = make_link(prop, url=None, source="kigo", kigo_code="ACC1", kigo_property_id=101)
    sync_links([link.id])
    age(link.id)
    kigo_standin.add_reservation(101, 7, day(20), day(25), "CONFIRMED")
    answer = ask(api("viewer"), prop.id, 22, 23)
    assert answer["available"] is False and answer["links"][0]["read"] == "fresh"
    assert answer["links"][0]["source"] == "kigo"
    [row] = db.session.execute(select(PreventedOverbooking)).scalars().all()
    assert (row.source, row.link_id) == ("kigo", link.id)


def test_bad_fresh_value_is_refused(api, make_property):
    prop = make_property()
    resp = api("viewer").get(f"/properties/{prop.id}/availability?check_in={day(1)}&check_out={day(2)}"
                             "&fresh=yes")
    assert resp.status_code == 422 and resp.get_json()["error"]["field"] == "fresh"


def test_fresh_read_still_answers_when_redis_is_down(synced, api, app):
    prop, link_id, feed = synced()
    viewer = api("viewer")
    app.config["REDIS_URL"] = "redis://127.0.0.1:1/0"  # nothing listens there
    app.extensions.pop("csc_redis", None)
    feed.body = airbnb_feed([(day(5), day(8), "Reserved"), (day(21), day(24), "Reserved")])
    answer = ask(viewer, prop.id, 20, 23)
    assert answer["available"] is False and answer["links"][0]["read"] == "fresh"
    assert feed.count == 2 and runs(link_id)[-1].outcome == "changed"
    assert db.session.execute(select(func.count()).select_from(PreventedOverbooking)).scalar() == 1
