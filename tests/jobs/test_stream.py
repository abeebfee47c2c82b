"""Streaming batches: a scheduled sync job claims the links falling due while its fetch pool has room,
stops after its time or for a person's sync, queues its successor; a killed one is recorded on every
link it claimed. The scheduler queues a batch per free worker."""
from __future__ import annotations

import signal
import threading
from datetime import timedelta

import psutil
from rq import Queue, Worker
from sqlalchemy import update

from console.extensions import db
from console.models import CalendarLink
from console.timeutil import utcnow
from jobs.batches import Stream
from jobs.queue import enqueue_batch
from jobs.tasks import schedule_due_syncs, sync_batch_job
from tests.jobs.feeds import airbnb_feed
from tests.jobs.sync.test_feeds import blocks, dates, day, fresh_link, runs
from tests.jobs.sync.test_killed import HeldFeed, start_worker, stop_worker, wait_for_request, wait_until
from tests.jobs.test_worker_outcomes import failed_with, synced_link


def make_due(link_id: int, minutes_ago: int = 1) -> None:
    """Set a link due `minutes_ago` minutes ago, as the schedule leaves it."""
    table = CalendarLink.__table__
    db.session.execute(update(table).where(table.c.id == link_id)
                       .values(next_sync_at=utcnow() - timedelta(minutes=minutes_ago)))
    db.session.commit()


def test_a_streaming_batch_reads_links_that_fall_due_while_its_reads_are_in_flight(
        app, redis_conn, make_property, make_link):
    slow = HeldFeed(airbnb_feed([(day(5), day(8), "Reserved")]))
    quick = HeldFeed(airbnb_feed([(day(10), day(12), "Reserved")]))
    try:
        batch = make_link(make_property(), url=slow.url, source="airbnb",
                          next_sync_at=utcnow() + timedelta(minutes=2))  # as the scheduler claimed it
        due = make_link(make_property(), url=quick.url, source="airbnb",
                        next_sync_at=utcnow() - timedelta(minutes=1))
        later = make_link(make_property(), url=quick.url + "?later", source="airbnb",
                          next_sync_at=utcnow() + timedelta(minutes=5))
        slow.holding = True
        read_while_held = threading.Event()

        def release_after_the_due_link_is_read():
            pause = threading.Event()
            for _ in range(200):  # 10 s at most, then the hung read is let go anyway
                if quick.requests:
                    read_while_held.set()
                    break
                pause.wait(0.05)
            slow.release.set()

        releaser = threading.Thread(target=release_after_the_due_link_is_read, daemon=True)
        releaser.start()
        lines = sync_batch_job([batch.id], stream=True)
        releaser.join(5)

        assert read_while_held.is_set()  # the due link was read while the batch's own read hung
        assert lines[0].startswith("2 links synced (1 claimed while running)")
        assert dates(batch.id) == [(day(5), day(8))] and dates(due.id) == [(day(10), day(12))]
        assert runs(due.id)[-1].lateness_ms is not None  # a scheduled sync: its lateness is counted
        assert fresh_link(due.id).next_sync_at > utcnow()
        assert fresh_link(later.id).last_sync_at is None and runs(later.id) == []
    finally:
        slow.close()
        quick.close()


def test_a_stream_stops_after_its_time_and_queues_its_successor(app, redis_conn, make_property, make_link):
    due = [make_link(make_property(), next_sync_at=utcnow() - timedelta(minutes=n)).id for n in (1, 2)]
    claimed: list[int] = []
    stream = Stream(claimed, "job-under-test")
    assert stream(1) == [due[1]]  # longest waiting first, at most the room it has
    assert fresh_link(due[1]).sync_job_id == "job-under-test"  # promised: a lost job is found by the sweep
    app.config["SYNC_STREAM_SECONDS"] = 0
    assert stream(10) is None and stream.stopped == "time"
    assert claimed == [due[1]]

    assert stream.queue_successor() == 1
    [job] = Queue("sync", connection=redis_conn).get_jobs()
    assert job.args == ([due[0]],) and job.kwargs == {"stream": True}
    assert fresh_link(due[0]).sync_job_id == job.id and fresh_link(due[0]).next_sync_at > utcnow()


def test_a_stream_yields_to_a_persons_sync_waiting_for_its_worker(app, redis_conn, make_property, make_link):
    app.config["SYNC_STREAM_YIELD_SECONDS"] = 0
    first = make_link(make_property(), next_sync_at=utcnow() - timedelta(minutes=1)).id
    stream = Stream([], "job-under-test")
    assert stream(10) == [first]
    second = make_link(make_property(), next_sync_at=utcnow() - timedelta(minutes=1)).id
    Queue("forced", connection=redis_conn).enqueue_call("jobs.tasks.sync_link_job", args=(first,))
    assert stream(10) is None and stream.stopped == "waiting"
    assert fresh_link(second).sync_job_id is None  # left for the successor
    assert stream.queue_successor() == 1


def test_an_idle_stream_waits_for_a_link_falling_due_soon_and_ends_when_none_does(
        app, redis_conn, make_property, make_link):
    soon = make_link(make_property(), next_sync_at=utcnow() + timedelta(seconds=1)).id
    make_link(make_property(), next_sync_at=utcnow() + timedelta(minutes=5))
    stream = Stream([], "job-under-test")
    assert stream(10, in_flight=0) == [] and stream.stopped is None  # due within 2 s: it waits
    make_due(soon, minutes_ago=0)
    assert stream(10, in_flight=0) == [soon]
    assert stream(10, in_flight=0) is None and stream.stopped == "idle"  # the next is minutes away
    assert stream.queue_successor() == 0


def test_without_redis_a_stream_stops_claiming_and_claims_nothing(app, make_property, make_link):
    app.config.update(REDIS_URL="redis://127.0.0.1:1/0", SYNC_STREAM_YIELD_SECONDS=0)
    app.extensions.pop("csc_redis", None)  # this app's Redis is now one that does not answer
    due = make_link(make_property(), next_sync_at=utcnow() - timedelta(minutes=1)).id
    stream = Stream([], "job-under-test")
    assert stream(10) is None and stream.stopped == "failed"
    assert fresh_link(due).sync_job_id is None and fresh_link(due).next_sync_at < utcnow()
    assert stream.queue_successor() == 0


def test_the_scheduler_queues_one_batch_per_free_worker(app, redis_conn, make_property):
    app.config.update(FETCH_CONCURRENCY=16)  # batches of 128
    prop = make_property()
    db.session.add_all([CalendarLink(property=prop, source="airbnb", state="active",
                                     url=f"https://www.airbnb.com/calendar/ical/{n}.ics") for n in range(300)])
    db.session.commit()
    names = ("forced", "alerts", "sync", "maintenance")
    workers = [Worker([Queue(n, connection=redis_conn) for n in names], connection=redis_conn, name=f"w{n}")
               for n in range(3)]
    try:
        for worker in workers:
            worker.register_birth()
            worker.set_state("idle")
        workers[2].set_state("busy")  # streaming a batch: it claims due links itself
        assert schedule_due_syncs() == 256
        sync = Queue("sync", connection=redis_conn)
        assert [len(job.args[0]) for job in sync.get_jobs()] == [128, 128]
        assert schedule_due_syncs() == 0  # the two free workers have a batch waiting each
        sync.empty()
        workers[1].set_state("busy")
        assert schedule_due_syncs() == 44  # one free worker: one batch, the last due links
    finally:
        for worker in workers:
            worker.register_death()


def test_a_killed_streaming_batch_is_recorded_on_the_links_it_claimed(
        app, backends, make_property, make_link, tmp_path):
    first = HeldFeed(airbnb_feed([(day(5), day(8), "Reserved")]))
    second = HeldFeed(airbnb_feed([(day(15), day(18), "Reserved")]))
    worker = None
    try:
        asked, asked_blocks, asked_runs = synced_link(make_property, make_link, first)
        claimed, claimed_blocks, claimed_runs = synced_link(make_property, make_link, second)
        make_due(claimed)
        first.holding = second.holding = True
        log = tmp_path / "worker.log"
        worker = start_worker(backends, log)
        enqueue_batch(sync_batch_job, [asked], stream=True)
        wait_for_request(first, worker, log)
        wait_for_request(second, worker, log)  # claimed by the running batch
        [horse] = psutil.Process(worker.pid).children()
        horse.send_signal(signal.SIGKILL)
        for link_id in (asked, claimed):
            wait_until(lambda link_id=link_id: failed_with(link_id, "killed (signal 9)"), worker,
                       what=f"the recorded failure of link {link_id}")
        assert blocks(asked) == asked_blocks and len(runs(asked)) == asked_runs + 1
        assert blocks(claimed) == claimed_blocks and len(runs(claimed)) == claimed_runs + 1
    finally:
        if worker is not None:
            stop_worker(worker)
        first.close()
        second.close()
