"""The property page's live job state: GET /properties/<id>/status reads each link's sync job from RQ
and what its run did from the database, through queued, running, finished and failed."""
from __future__ import annotations

import re
import socket

import pytest
import redis
from rq.job import Job

from console.extensions import db
from jobs.broker import redis_connection
from jobs.worker import run_worker
from tests.jobs.feeds import airbnb_feed
from tests.jobs.sync.test_feeds import blocks, day, fresh_link, runs
from tests.jobs.sync.test_killed import HeldFeed, start_worker, stop_worker, wait_for_request, wait_until

STAYS = [(day(5), day(8), "Reserved"), (day(20), day(23), "Reserved")]


def csrf_of(html: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)


def press(client, prop_id: int, link_id: int, action: str):
    """Press a link's button on the property page, as the form does."""
    page = client.get(f"/properties/{prop_id}").get_data(as_text=True)
    return client.post(f"/properties/{prop_id}/links/{link_id}/{action}",
                       data={"csrf_token": csrf_of(page)})


def status(client, prop_id: int) -> dict:
    db.session.expire_all()  # the test client shares the test's session: read what the worker stored
    resp = client.get(f"/properties/{prop_id}/status")
    assert resp.status_code == 200 and resp.headers["Cache-Control"] == "no-store"
    return resp.get_json()


def card(body: dict, link_id: int) -> dict:
    [found] = [c for c in body["links"] if c["id"] == link_id]
    return found


@pytest.fixture
def feed():
    served = HeldFeed(airbnb_feed(STAYS))
    yield served
    served.close()


def test_synchronize_now_reads_queued_then_finished_with_what_the_run_did(
        app, login, make_property, make_link, feed):
    client = login("staff")
    prop = make_property("Cadiz Loft")
    link = make_link(prop, url=feed.url, source="airbnb", state="linked")
    assert card(status(client, prop.id), link.id)["job"]["state"] == "idle"
    assert press(client, prop.id, link.id, "activate").status_code == 302

    queued = status(client, prop.id)
    item = card(queued, link.id)
    assert item["job"]["state"] == "queued" and queued["in_flight"] is True
    conn = redis_connection(app)
    assert Job.fetch(item["job"]["job_id"], connection=conn).get_status() == "queued"
    assert 'data-job-state="queued"' in item["html"] and 'data-action="sync"' in item["html"]
    page = client.get(f"/properties/{prop.id}").get_data(as_text=True)
    assert 'data-job-state="queued"' in page and "link_status.js" in page

    run_worker(app, burst=True)
    done = status(client, prop.id)
    item = card(done, link.id)
    assert done["in_flight"] is False and item["job"]["state"] == "finished"
    run = item["job"]["run"]
    assert (run["outcome"], run["added"], run["removed"]) == ("changed", 2, 0)
    assert run["id"] == runs(link.id)[-1].id and len(blocks(link.id)) == 2
    assert "blocks: 2 added" in item["html"] and "2 EX- blocks" in item["html"]
    assert item["version"] != card(queued, link.id)["version"]


def test_a_running_sync_reads_running_until_its_worker_stores_the_run(
        app, backends, login, make_property, make_link, feed, tmp_path):
    client = login("staff")
    prop = make_property()
    link = make_link(prop, url=feed.url, source="airbnb", state="active")
    feed.holding = True  # the feed answers half its body, then waits for the test
    log = tmp_path / "worker.log"
    worker = start_worker(backends, log)
    try:
        assert press(client, prop.id, link.id, "sync").status_code == 302
        wait_for_request(feed, worker, log)
        item = card(status(client, prop.id), link.id)
        assert item["job"]["state"] == "running" and item["job"]["started_at"]
        assert 'data-state="running"' in item["html"] and blocks(link.id) == []
        feed.release.set()
        wait_until(lambda: card(status(client, prop.id), link.id)["job"]["state"] == "finished",
                   worker, what="the finished state")
        assert card(status(client, prop.id), link.id)["job"]["run"]["added"] == 2
    finally:
        stop_worker(worker)


def test_a_crashed_sync_job_reads_failed_with_our_own_failure_and_keeps_the_blocks(
        app, login, make_property, make_link, feed, monkeypatch):
    from jobs.sync.runner import sync_links
    client = login("staff")
    prop = make_property()
    link = make_link(prop, url=feed.url, source="airbnb", state="active")
    sync_links([link.id])
    before = blocks(link.id)
    assert press(client, prop.id, link.id, "sync").status_code == 302

    def no_threads(*_args, **_kwargs):
        raise RuntimeError("can't start new thread")  # a process at its thread limit
    monkeypatch.setattr("jobs.sync.runner.ThreadPoolExecutor", no_threads)  # the work horse inherits it
    run_worker(app, burst=True)
    item = card(status(client, prop.id), link.id)
    assert item["job"]["state"] == "failed"
    assert item["job"]["error"]["kind"] == "internal"
    assert "can't start new thread" in item["job"]["error"]["message"]
    assert 'data-state="failed"' in item["html"] and "What to do" in item["html"]
    assert blocks(link.id) == before and len(before) == 2


def test_a_viewer_reads_the_state_without_buttons(app, login, make_user, make_property, make_link,
                                                  feed):
    from jobs.queue import enqueue_link_sync
    prop = make_property()
    link = make_link(prop, url=feed.url, source="airbnb")
    enqueue_link_sync(link.id)
    client = login("viewer")
    item = card(status(client, prop.id), link.id)
    assert item["job"]["state"] == "queued" and 'data-state="queued"' in item["html"]
    assert "data-action" not in item["html"] and "csrf_token" not in item["html"]


def test_anonymous_is_refused_the_status_and_nothing_is_queued(client, make_property, make_link,
                                                               redis_conn):
    prop = make_property()
    make_link(prop)
    resp = client.get(f"/properties/{prop.id}/status")
    assert resp.status_code == 401 and resp.get_json()["error"]["code"] == "login_required"
    assert client.get(f"/properties/{prop.id}").status_code == 302  # the page itself: to the login
    assert redis_conn.keys("csc:link-last-job:*") == []


def test_a_link_synced_by_the_schedulers_batch_shows_the_batch_as_its_job(app, login, make_property,
                                                                          make_link, feed):
    from jobs.tasks import enqueue_batches
    client = login("viewer")
    prop = make_property()
    first = make_link(prop, url=feed.url, source="airbnb", state="active")
    second = make_link(prop, url=feed.url, source="airbnb", state="active")
    [(links, job_id)] = enqueue_batches([first.id, second.id])  # as schedule_due_syncs queues them
    body = status(client, prop.id)
    assert links == 2 and body["in_flight"] is True
    assert [card(body, i)["job"]["state"] for i in (first.id, second.id)] == ["queued", "queued"]
    assert card(body, first.id)["job"]["job_id"] == job_id
    run_worker(app, burst=True)
    done = status(client, prop.id)
    for link_id in (first.id, second.id):
        item = card(done, link_id)["job"]
        assert item["state"] == "finished" and item["run"]["outcome"] == "changed"
    assert done["in_flight"] is False


def test_a_job_whose_worker_died_reads_failed_not_running(app, login, make_property, make_link, feed,
                                                        redis_conn):
    from rq.job import JobStatus

    from jobs.queue import enqueue_link_sync
    client = login("staff")
    prop = make_property()
    link = make_link(prop, url=feed.url, source="airbnb", state="active")
    job = Job.fetch(enqueue_link_sync(link.id), connection=redis_conn)
    # As RQ leaves a job whose worker was SIGKILLed: STARTED for ever, owned by a worker that is gone.
    job.worker_name = "worker-that-was-killed"
    job.set_status(JobStatus.STARTED)
    job.save()
    item = card(status(client, prop.id), link.id)
    assert item["job"]["state"] == "failed"  # never "running" for ever
    assert item["job"]["error"]["kind"] == "internal"
    assert "stopped without finishing" in item["job"]["error"]["message"]


def test_with_redis_gone_the_state_reads_unknown_and_the_page_still_answers(app, login, make_property,
                                                                           make_link):
    client = login("staff")
    prop = make_property()
    link = make_link(prop)
    with socket.socket() as probe:  # a loopback port where nothing listens
        probe.bind(("127.0.0.1", 0))
        dead = probe.getsockname()[1]
    answering = app.extensions["csc_redis"]
    app.extensions["csc_redis"] = redis.Redis(host="127.0.0.1", port=dead, socket_connect_timeout=1)
    try:
        item = card(status(client, prop.id), link.id)
        assert item["job"]["state"] == "unknown"  # not "idle", not "finished": we cannot tell
        assert "not answering" in item["job"]["error"]["message"]
        assert client.get(f"/properties/{prop.id}").status_code == 200
    finally:
        app.extensions["csc_redis"] = answering


def test_status_of_an_unknown_property_is_404(login):
    assert login("staff").get("/properties/999/status").status_code == 404


def test_a_held_change_accepted_ends_without_its_badge(app, login, make_property, make_link, feed):
    from jobs.sync.runner import sync_links
    from tests.jobs.sync.test_guard import EMPTY_VCALENDAR
    client = login("staff")
    prop = make_property()
    link = make_link(prop, url=feed.url, source="airbnb")
    sync_links([link.id])
    feed.body = EMPTY_VCALENDAR
    sync_links([link.id])
    assert fresh_link(link.id).hold_state
    held = card(status(client, prop.id), link.id)["html"]
    assert 'data-warning-kind="suspicious_empty"' in held and 'data-action="accept"' in held
    assert press(client, prop.id, link.id, "accept").status_code == 302
    assert card(status(client, prop.id), link.id)["job"]["state"] == "queued"
    run_worker(app, burst=True)
    item = card(status(client, prop.id), link.id)
    assert item["job"]["state"] == "finished" and item["job"]["run"]["removed"] == 2
    assert "suspicious_empty" not in item["html"] and 'data-action="accept"' not in item["html"]
    assert blocks(link.id) == []
