"""GET /api/v1/jobs/<job_id>: the job a 202 named, queued, running, finished with what its run did,
or failed, read as the property page's live state reads it; unknown ids are 404."""
from __future__ import annotations

import socket

import pytest
import redis
from rq.job import Job, JobStatus

from console.extensions import db
from jobs.broker import redis_connection
from jobs.queue import enqueue_link_sync, get_queue
from jobs.worker import run_worker
from tests.jobs.feeds import airbnb_feed
from tests.jobs.sync.test_feeds import blocks, day, runs
from tests.jobs.sync.test_killed import HeldFeed, start_worker, stop_worker, wait_for_request, wait_until

STAYS = [(day(5), day(8), "Reserved"), (day(20), day(23), "Reserved")]


@pytest.fixture
def feed():
    served = HeldFeed(airbnb_feed(STAYS))
    yield served
    served.close()


def job(viewer, job_id: str) -> dict:
    db.session.expire_all()  # the client shares the test's session: read what the worker stored
    resp = viewer.get(f"/jobs/{job_id}")
    assert resp.status_code == 200, resp.get_json()
    return resp.get_json()


def test_a_sync_job_reads_queued_then_finished_with_what_its_run_did(
        app, api, make_property, make_link, feed):
    link = make_link(make_property(), url=feed.url, source="airbnb", state="linked")
    resp = api("staff").post(f"/links/{link.id}/activate")
    job_id = resp.get_json()["job_id"]
    assert resp.headers["Location"] == f"/api/v1/jobs/{job_id}"
    viewer = api("viewer")
    queued = job(viewer, job_id)
    assert (queued["id"], queued["state"], queued["kind"], queued["link_id"]) == (
        job_id, "queued", "link_sync", link.id)
    assert queued["enqueued_at"] and queued["run"] is None

    run_worker(app, burst=True)
    done = job(viewer, job_id)
    assert done["state"] == "finished" and done["ended_at"]
    assert (done["run"]["outcome"], done["run"]["added"]) == ("changed", 2)
    assert done["run"]["id"] == runs(link.id)[-1].id


def test_a_running_sync_job_reads_running_until_its_worker_stores_the_run(
        app, backends, api, make_property, make_link, feed, tmp_path):
    link = make_link(make_property(), url=feed.url, source="airbnb", state="active")
    feed.holding = True  # the feed answers half its body, then waits for the test
    log = tmp_path / "worker.log"
    worker = start_worker(backends, log)
    viewer = api("viewer")
    try:
        job_id = api("staff").post(f"/links/{link.id}/sync").get_json()["job_id"]
        wait_for_request(feed, worker, log)
        running = job(viewer, job_id)
        assert running["state"] == "running" and running["started_at"] and blocks(link.id) == []
        feed.release.set()
        wait_until(lambda: job(viewer, job_id)["state"] == "finished", worker,
                   what="the finished state")
        assert job(viewer, job_id)["run"]["added"] == 2
    finally:
        stop_worker(worker)


def test_a_crashed_sync_job_reads_failed_with_our_own_failure(
        app, api, make_property, make_link, feed, monkeypatch):
    link = make_link(make_property(), url=feed.url, source="airbnb", state="active")
    job_id = api("staff").post(f"/links/{link.id}/sync").get_json()["job_id"]

    def no_threads(*_args, **_kwargs):
        raise RuntimeError("can't start new thread")  # a process at its thread limit
    monkeypatch.setattr("jobs.sync.runner.ThreadPoolExecutor", no_threads)
    run_worker(app, burst=True)
    failed = job(api("viewer"), job_id)
    assert failed["state"] == "failed" and failed["error"]["kind"] == "internal"
    assert "can't start new thread" in failed["error"]["message"] and failed["error"]["advice"]


def test_a_job_whose_worker_died_reads_failed_not_running(api, make_property, make_link, redis_conn):
    link = make_link(make_property())
    queued = Job.fetch(enqueue_link_sync(link.id), connection=redis_conn)
    # As RQ leaves a job whose worker was SIGKILLed: STARTED for ever, owned by a worker that is gone.
    queued.worker_name = "worker-that-was-killed"
    queued.set_status(JobStatus.STARTED)
    queued.save()
    failed = job(api("viewer"), queued.id)
    assert failed["state"] == "failed" and "stopped without finishing" in failed["error"]["message"]


def test_another_kind_of_job_reads_its_state_from_rq(app, api):
    queued = get_queue("maintenance").enqueue("builtins.int", "not a number")
    viewer = api("viewer")
    assert job(viewer, queued.id)["state"] == "queued"
    run_worker(app, burst=True)
    failed = job(viewer, queued.id)
    assert (failed["kind"], failed["state"]) == ("builtins.int", "failed")
    assert "ValueError" in failed["error"]["message"] and "link_id" not in failed


def test_an_unknown_job_is_404(api):
    viewer = api("viewer")
    # Ids RQ itself refuses (it raises on them) are unknown jobs too, not a 500.
    for job_id in ("0f2b6c1d9a8e4e7f9b1c2d3e4f5a6b7c", "x" * 65, "%3B", "a.b", "%C3%A9t%C3%A9"):
        resp = viewer.get(f"/jobs/{job_id}")
        assert resp.status_code == 404 and resp.get_json()["error"]["code"] == "not_found", job_id


def test_a_job_needs_a_token(client):
    resp = client.get("/api/v1/jobs/anything")
    assert resp.status_code == 401 and resp.headers["WWW-Authenticate"].startswith("Bearer realm=")


def test_with_redis_gone_a_job_answers_503(app, api):
    viewer = api("viewer")
    with socket.socket() as probe:  # a loopback port where nothing listens
        probe.bind(("127.0.0.1", 0))
        dead = probe.getsockname()[1]
    answering = app.extensions["csc_redis"]
    app.extensions["csc_redis"] = redis.Redis(host="127.0.0.1", port=dead, socket_connect_timeout=1)
    try:
        resp = viewer.get("/jobs/0f2b6c1d9a8e4e7f9b1c2d3e4f5a6b7c")
        assert resp.status_code == 503 and resp.get_json()["error"]["code"] == "queue_unavailable"
    finally:
        app.extensions["csc_redis"] = answering
    assert redis_connection(app).ping()
