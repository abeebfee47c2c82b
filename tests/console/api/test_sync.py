"""The link API's sync side: dry run, activate/sync through the real queue, history, delete, Redis down."""
from __future__ import annotations

import socket
from datetime import date, timedelta

import pytest
from sqlalchemy import select

from config import TestConfig
from console import create_app
from console.extensions import db
from console.models import ApiToken, CalendarLink, Reservation, SyncRun
from console.timeutil import utcnow
from jobs.worker import run_worker
from tests.jobs.feeds import all_day, calendar, google_event, google_header
from tests.jobs.sync.test_feeds import FeedServer, blocks, dates, fresh_link

RUN_FIELDS = {"id", "link_id", "started_at", "finished_at", "outcome", "http_status", "bytes", "events",
              "added", "updated", "removed", "error_kind", "error_message", "duration_ms"}
LINK_COLUMNS = ("state", "last_sync_at", "last_success_at", "last_attempt_ok", "next_sync_at",
                "consecutive_failures", "last_error_kind", "warnings", "ignored_events", "etag",
                "content_hash", "hold_state")


def day(n: int) -> date:
    """The date n days from today."""
    return utcnow().date() + timedelta(days=n)


def link_state(link_id: int) -> dict:
    """The link's sync-related columns as stored now."""
    link = fresh_link(link_id)
    return {name: getattr(link, name) for name in LINK_COLUMNS}


def counts() -> tuple[int, int]:
    """How many sync runs and reservations are stored."""
    db.session.expire_all()
    return (db.session.query(SyncRun).count(), db.session.query(Reservation).count())


@pytest.fixture
def google_link(httpserver, make_property, make_link):
    """A linked (not yet active) Google link whose feed has two Reserved stays and one other event."""
    lines = google_header()
    lines += google_event("a@google.com", all_day(day(4)), all_day(day(7)), "Reserved")
    lines += google_event("b@google.com", all_day(day(20)), all_day(day(22)), "reserved")
    lines += google_event("c@google.com", all_day(day(9)), all_day(day(10)), "Dentist")
    feed = FeedServer(httpserver, "/basic.ics", calendar(lines))
    link = make_link(make_property(), url=feed.url, source="google", state="linked")
    return link, feed


def test_dry_run_shows_what_a_sync_would_do_and_stores_nothing(api, google_link):
    link, _feed = google_link
    before, stored = link_state(link.id), counts()
    resp = api("staff").post(f"/links/{link.id}/test")
    assert resp.status_code == 200
    body = resp.get_json()
    assert body["ok"] is True and "error" not in body
    assert (body["events_total"], body["blocking"]) == (3, 2)
    # Each ignored event with its title, its nights and why: the first thing to check with an owner.
    assert body["ignored"] == [{"summary": "Dentist", "reason": 'not titled "Reserved"',
                                "check_in": day(9).isoformat(), "check_out": day(10).isoformat()}]
    assert body["ignored"][0]["reason"]
    assert [w["kind"] for w in body["warnings"]] == ["ignored_events"]
    assert link_state(link.id) == before and counts() == stored


def test_dry_run_of_a_failing_link_reports_the_error_and_stores_nothing(api, google_link):
    link, feed = google_link
    feed.status, feed.body, feed.content_type = 404, b"<html>Not Found</html>", "text/html"
    before, stored = link_state(link.id), counts()
    body = api("staff").post(f"/links/{link.id}/test").get_json()
    assert body["ok"] is False and body["error"]["kind"] == "not_found"
    assert body["error"]["advice"] and body["events_total"] == 0 and body["blocking"] == 0
    assert link_state(link.id) == before and counts() == stored


def test_dry_run_warns_of_a_suspicious_emptying_without_applying_it(api, google_link):
    link, feed = google_link
    api("staff").post(f"/links/{link.id}/activate")
    from jobs.sync.runner import sync_links
    sync_links([link.id])
    feed.body = calendar(google_header())
    before, stored = link_state(link.id), counts()
    body = api("staff").post(f"/links/{link.id}/test").get_json()
    assert "suspicious_empty" in [w["kind"] for w in body["warnings"]]
    assert link_state(link.id) == before and counts() == stored and len(blocks(link.id)) == 2


def test_activate_queues_a_sync_that_a_worker_runs(app, api, google_link):
    link, _feed = google_link
    resp = api("staff").post(f"/links/{link.id}/activate")
    assert resp.status_code == 202 and resp.get_json()["job_id"]
    assert fresh_link(link.id).state == "active"
    assert dates(link.id) == []  # queued, not run inline
    run_worker(app, burst=True)
    assert dates(link.id) == [(day(4), day(7)), (day(20), day(22))]
    runs = api("viewer").get(f"/links/{link.id}/runs").get_json()["items"]
    assert len(runs) == 1 and set(runs[0]) >= RUN_FIELDS and runs[0]["outcome"] == "changed"


def test_second_sync_while_queued_returns_the_same_job(app, api, google_link):
    link, _feed = google_link
    staff = api("staff")
    first = staff.post(f"/links/{link.id}/activate").get_json()["job_id"]
    again = staff.post(f"/links/{link.id}/sync")
    assert again.status_code == 202 and again.get_json()["job_id"] == first
    run_worker(app, burst=True)
    later = staff.post(f"/links/{link.id}/sync").get_json()["job_id"]
    assert later != first  # the first job finished: a new one is queued
    run_worker(app, burst=True)
    db.session.expire_all()
    assert db.session.query(SyncRun).filter_by(link_id=link.id).count() == 2


def test_sync_of_a_link_not_active_is_refused(api, google_link):
    link, _feed = google_link
    resp = api("staff").post(f"/links/{link.id}/sync")
    assert resp.status_code == 409 and resp.get_json()["error"]["code"] == "link_not_active"


def test_runs_are_listed_newest_first(app, api, google_link):
    link, feed = google_link
    from jobs.sync.runner import sync_links
    api("staff").post(f"/links/{link.id}/activate")
    sync_links([link.id])
    feed.status, feed.body = 503, b"busy"
    sync_links([link.id])
    items = api("viewer").get(f"/links/{link.id}/runs").get_json()["items"]
    assert [r["outcome"] for r in items] == ["error", "changed"]
    assert items[0]["error_kind"] == "server_error" and items[0]["http_status"] == 503
    assert items[0]["started_at"] >= items[1]["started_at"]


def test_delete_removes_the_links_ex_blocks_only(api, google_link, make_reservation):
    link, _feed = google_link
    from jobs.sync.runner import sync_links
    api("staff").post(f"/links/{link.id}/activate")
    sync_links([link.id])
    prop = fresh_link(link.id).property
    direct = make_reservation(prop, origin="direct", in_days=40)
    manual = make_reservation(prop, origin="manual", in_days=60)
    assert len(blocks(link.id)) == 2
    assert api("staff").delete(f"/links/{link.id}").status_code == 204
    db.session.expire_all()
    left = set(db.session.execute(select(Reservation.code)).scalars())
    assert left == {direct.code, manual.code}
    assert db.session.get(CalendarLink, link.id) is None


@pytest.fixture
def app_without_redis(backends):
    """A second app on the same database whose REDIS_URL points at a closed loopback port."""
    probe = socket.socket()
    probe.bind(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()  # nothing listens there now
    return create_app(TestConfig(env={**backends, "REDIS_URL": f"redis://127.0.0.1:{port}/0"}))


def bearer(role: str) -> dict:
    row, clear = ApiToken.issue(f"test-{role}", role)
    db.session.add(row)
    db.session.commit()
    return {"Authorization": f"Bearer {clear}"}


def test_sync_answers_503_when_redis_is_unreachable_and_changes_nothing(
        app_without_redis, google_link, make_link):
    link, _feed = google_link
    active = make_link(fresh_link(link.id).property, url=link.url + "?b", source="google")
    held = make_link(fresh_link(link.id).property, url=link.url + "?c", source="google",
                     hold_state={"codes": ["EX-1"], "confirmations": 0})
    headers, client = bearer("staff"), app_without_redis.test_client()
    for target, path in ((active.id, "sync"), (link.id, "activate"), (held.id, "accept-change")):
        before = link_state(target)
        resp = client.post(f"/api/v1/links/{target}/{path}", headers=headers)
        assert resp.status_code == 503
        assert resp.get_json()["error"]["code"] == "queue_unavailable"
        assert link_state(target) == before


from rq.job import Job, JobStatus  # noqa: E402

from jobs.broker import redis_connection  # noqa: E402
from tests.jobs.sync.test_killed import HeldFeed, start_worker, stop_worker, wait_for_request, wait_until  # noqa: E402


def test_second_sync_while_running_returns_the_same_job(app, api, backends, make_property, make_link,
                                                        tmp_path):
    lines = google_header()
    lines += google_event("a@google.com", all_day(day(4)), all_day(day(7)), "Reserved")
    feed = HeldFeed(calendar(lines))
    feed.holding = True
    worker = None
    try:
        link = make_link(make_property(), url=feed.url, source="google", state="linked")
        log = tmp_path / "worker.log"
        worker = start_worker(backends, log)
        staff = api("staff")
        first = staff.post(f"/links/{link.id}/activate").get_json()["job_id"]
        wait_for_request(feed, worker, log)  # the worker is inside the sync, reading the feed
        conn = redis_connection(app)
        assert Job.fetch(first, connection=conn).get_status() == JobStatus.STARTED
        again = staff.post(f"/links/{link.id}/sync")
        assert again.status_code == 202 and again.get_json()["job_id"] == first
        assert feed.requests == 1 and dates(link.id) == []
        feed.holding = False
        feed.release.set()
        wait_until(lambda: Job.fetch(first, connection=conn).get_status() == JobStatus.FINISHED,
                   worker, what="the running job to finish")
        assert dates(link.id) == [(day(4), day(7))]
        later = staff.post(f"/links/{link.id}/sync").get_json()["job_id"]
        assert later != first  # the running job finished: a new one is queued
    finally:
        if worker is not None:
            stop_worker(worker)
        feed.close()
