"""The sweep of lost syncs on a real Redis and database: every sync a link was promised ends recorded or
queued again, whatever happened to its job; a live or just-queued job is left alone."""
from __future__ import annotations

from datetime import timedelta

import pytest
from rq import Queue
from rq.job import Job

from config import TestConfig
from console import create_app
from console.extensions import db
from console.timeutil import utcnow
from jobs.lost_syncs import IN_FLIGHT, recover_requested_syncs
from jobs.queue import QueueUnavailable, enqueue_link_sync
from jobs.sync.requests import note_requested
from jobs.tasks import record_failed_sync_jobs
from tests.jobs.sync.test_feeds import fresh_link, runs

LONG_AGO = IN_FLIGHT + timedelta(seconds=5)


def _promise(link_id: int, job_id: str, age: timedelta = LONG_AGO) -> None:
    note_requested([link_id], job_id, utcnow() - age)


def test_queueing_a_sync_marks_the_link_before_the_job_reaches_redis(app, redis_conn, make_property,
                                                                      make_link):
    link = make_link(make_property())
    job_id = enqueue_link_sync(link.id)
    marked = fresh_link(link.id)
    assert marked.sync_job_id == job_id and marked.sync_requested_at is not None
    assert Job.fetch(job_id, connection=redis_conn).args == (link.id,)
    assert recover_requested_syncs(redis_conn) == (0, 0)  # queued: live, left alone
    assert fresh_link(link.id).sync_job_id == job_id


def test_a_sync_redis_lost_is_queued_again_for_an_active_link_and_recorded_for_a_paused_one(
        app, redis_conn, make_property, make_link):
    prop = make_property()
    active, paused = make_link(prop), make_link(prop, state="paused")
    _promise(active.id, "gone-with-redis-1")
    _promise(paused.id, "gone-with-redis-2")
    assert recover_requested_syncs(redis_conn) == (1, 1)
    [again] = Queue("sync", connection=redis_conn).get_jobs()
    assert again.args == (active.id,) and fresh_link(active.id).sync_job_id == again.id
    assert runs(active.id) == []  # nothing recorded: it runs again instead
    lost = fresh_link(paused.id)
    assert (lost.last_attempt_ok, lost.last_error_kind, lost.sync_requested_at) == \
        (False, "internal", None)
    assert "lost" in lost.last_error_message and "blocks are unchanged" in lost.last_error_message
    assert [r.error_kind for r in runs(paused.id)] == ["internal"]
    assert recover_requested_syncs(redis_conn) == (0, 0)  # once: the new job is live


def test_a_recorded_attempt_or_a_finished_job_ends_the_promise_and_nothing_is_recorded(
        app, redis_conn, make_property, make_link):
    prop = make_property()
    synced, finished = make_link(prop), make_link(prop)
    _promise(synced.id, "any")
    row = fresh_link(synced.id)
    row.last_sync_at, row.last_attempt_ok = utcnow(), True
    db.session.commit()
    done = Queue("sync", connection=redis_conn).enqueue("builtins.len", [1])
    done.set_status("finished")
    _promise(finished.id, done.id)
    assert recover_requested_syncs(redis_conn) == (0, 0)
    for link in (synced, finished):
        assert fresh_link(link.id).sync_requested_at is None
        assert runs(link.id) == []


def test_a_just_queued_promise_is_left_alone_while_it_may_still_be_on_its_way(
        app, redis_conn, make_property, make_link):
    link = make_link(make_property())
    _promise(link.id, "on-its-way", age=timedelta(seconds=1))
    assert recover_requested_syncs(redis_conn) == (0, 0)
    assert fresh_link(link.id).sync_job_id == "on-its-way"


def test_the_periodic_sweep_of_failed_jobs_also_recovers_lost_promises(
        app, redis_conn, make_property, make_link):
    link = make_link(make_property(), state="paused")
    _promise(link.id, "gone")
    assert record_failed_sync_jobs() == 1
    assert fresh_link(link.id).last_error_kind == "internal"


def test_a_sync_redis_refused_to_queue_leaves_no_promise_behind(app, backends, make_property,
                                                                make_link):
    link = make_link(make_property())
    away = create_app(TestConfig(env={**backends, "REDIS_URL": "redis://127.0.0.1:1/0"}))
    with away.app_context():
        with pytest.raises(QueueUnavailable):
            enqueue_link_sync(link.id)
        db.session.remove()
    assert fresh_link(link.id).sync_requested_at is None  # the 503 said "nothing was changed"
