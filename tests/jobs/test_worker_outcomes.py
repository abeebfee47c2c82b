"""Every way a sync job can die ends in a recorded outcome on its links: a killed work horse, a horse
past its memory ceiling, a job past its time limit, a crash; a standalone worker outlives Redis."""
from __future__ import annotations

import signal

import psutil
import pytest
from rq.job import Job, JobStatus

from console.timeutil import utcnow
from jobs.broker import redis_connection
from jobs.queue import enqueue_batch, enqueue_link_sync
from jobs.sync.runner import sync_links
from jobs.tasks import sync_batch_job
from jobs.worker import run_worker
from tests.jobs.feeds import airbnb_feed
from tests.jobs.sync.test_feeds import blocks, day, fresh_link, runs
from tests.jobs.sync.test_killed import HeldFeed, start_worker, stop_worker, wait_for_request, wait_until


def synced_link(make_property, make_link, feed: HeldFeed):
    """A link synced once from `feed` (two stays), its blocks and run count."""
    link = make_link(make_property(), url=feed.url, source="airbnb")
    sync_links([link.id])
    return link.id, blocks(link.id), len(runs(link.id))


def failed_with(link_id: int, words: str) -> bool:
    """Whether the link's last attempt is a recorded failure of ours whose message has `words`."""
    link = fresh_link(link_id)
    return link.last_attempt_ok is False and link.last_error_kind == "internal" and \
        words in (link.last_error_message or "")


def test_a_killed_work_horse_is_recorded_on_its_link_and_the_worker_goes_on(
        app, backends, make_property, make_link, tmp_path):
    feed = HeldFeed(airbnb_feed([(day(5), day(8), "Reserved"), (day(20), day(23), "Reserved")]))
    worker = None
    try:
        link_id, before, run_count = synced_link(make_property, make_link, feed)
        feed.holding = True
        log = tmp_path / "worker.log"
        worker = start_worker(backends, log)
        job_id = enqueue_link_sync(link_id)
        wait_for_request(feed, worker, log)
        [horse] = psutil.Process(worker.pid).children()
        horse.send_signal(signal.SIGKILL)
        wait_until(lambda: failed_with(link_id, "killed (signal 9)"), worker, what="the recorded failure")
        assert blocks(link_id) == before and len(runs(link_id)) == run_count + 1
        assert fresh_link(link_id).health(utcnow(), 15) == "failing"
        conn = redis_connection(app)
        # RQ marks the job failed just after our handler recorded the link's failure.
        wait_until(lambda: Job.fetch(job_id, connection=conn).get_status() == JobStatus.FAILED, worker,
                   what="the job to be failed")
        assert worker.poll() is None  # the worker itself lives on
        feed.holding = False
        again = enqueue_link_sync(link_id)  # the dead job's marker does not block a new sync
        assert again != job_id
        wait_until(lambda: fresh_link(link_id).last_attempt_ok is True, worker, what="the resync")
    finally:
        if worker is not None:
            stop_worker(worker)
        feed.close()


def test_a_work_horse_past_its_memory_ceiling_stops_and_says_so(
        app, backends, make_property, make_link, tmp_path):
    feed = HeldFeed(airbnb_feed([(day(5), day(8), "Reserved")]))
    worker = None
    try:
        link_id, before, run_count = synced_link(make_property, make_link, feed)
        log = tmp_path / "worker.log"
        # A ceiling below what any Python worker holds: the horse must stop itself at once.
        worker = start_worker({**backends, "SYNC_MAX_MEMORY_MB": "64"}, log)
        enqueue_link_sync(link_id)
        wait_until(lambda: failed_with(link_id, "memory ceiling"), worker, what="the recorded failure")
        assert "SYNC_MAX_MEMORY_MB=64" in fresh_link(link_id).last_error_message
        assert blocks(link_id) == before and len(runs(link_id)) == run_count + 1
        assert worker.poll() is None
    finally:
        if worker is not None:
            stop_worker(worker)
        feed.close()


def test_a_job_past_its_time_limit_records_every_link_it_did_not_store(app, make_property,
                                                                        make_link):
    feed = HeldFeed(airbnb_feed([(day(5), day(8), "Reserved")]))
    try:
        link_id, before, run_count = synced_link(make_property, make_link, feed)
        feed.holding = True
        app.config["FETCH_TIMEOUT_SECONDS"] = 3  # the held read ends soon after the job's limit
        job_id = enqueue_batch(sync_batch_job, [link_id], timeout=1)
        run_worker(app, burst=True)
        assert Job.fetch(job_id, connection=redis_connection(app)).get_status() == JobStatus.FAILED
        assert failed_with(link_id, "ran past its time limit")
        assert blocks(link_id) == before and len(runs(link_id)) == run_count + 1
    finally:
        feed.close()


def test_a_crash_of_the_whole_batch_is_recorded_on_each_link(app, make_property, make_link,
                                                             monkeypatch):
    prop = make_property()
    links = [make_link(prop, url=f"http://127.0.0.1:1/{n}.ics").id for n in range(3)]

    def no_threads(*_args, **_kwargs):
        raise RuntimeError("can't start new thread")  # what a process at its thread limit says
    monkeypatch.setattr("jobs.sync.runner.ThreadPoolExecutor", no_threads)
    with pytest.raises(RuntimeError):
        sync_batch_job(links)
    for link_id in links:
        assert failed_with(link_id, "crashed (RuntimeError: can't start new thread)")
        assert runs(link_id)[-1].error_kind == "internal"
        assert fresh_link(link_id).health(utcnow(), 15) == "failing"


def test_the_sweep_is_quiet_for_live_and_finished_jobs(app, make_property, make_link):
    from jobs.tasks import record_failed_sync_jobs
    link = make_link(make_property())
    enqueue_link_sync(link.id)  # queued, not started: nothing to record
    assert record_failed_sync_jobs() == 0
    assert fresh_link(link.id).last_sync_at is None


def test_a_standalone_worker_outlives_redis_and_a_lost_sync_runs_again(
        app, backends, tmp_path, httpserver, make_property, make_link):
    from datetime import timedelta

    from rq import Worker

    from config import TestConfig
    from console import create_app
    from console.extensions import db
    from jobs import embedded_redis
    from jobs.tasks import schedule_due_syncs
    from tests.jobs.sync.test_feeds import FeedServer
    instance = tmp_path / "own"
    instance.mkdir()
    sock = embedded_redis.ensure_running(str(instance), owned=True)  # a Redis this test stops
    env = {k: v for k, v in backends.items() if k != "REDIS_URL"}
    env["INSTANCE_PATH"] = str(instance)
    own = create_app(TestConfig(env=env))
    feed = FeedServer(httpserver, "/a.ics", airbnb_feed([(day(5), day(8), "Reserved")]))
    link_id = make_link(make_property(), url=feed.url, source="airbnb").id
    log, worker = tmp_path / "worker.log", None
    try:
        worker = start_worker(env, log)
        conn = embedded_redis.connect(sock)
        wait_until(lambda: Worker.all(connection=conn), worker, what="the worker to start")
        with own.app_context():
            enqueue_link_sync(link_id)
        wait_until(lambda: len(runs(link_id)) == 1, worker, what="the first sync")

        embedded_redis.shutdown(sock)  # Redis goes away, and every queued job with it
        noticed = ("unreachable", "lost Redis", "could not connect to Redis")
        wait_until(lambda: any(word in log.read_text(errors="replace") for word in noticed), worker,
                   what="the worker to notice")
        assert worker.poll() is None  # it waits instead of exiting
        sock = embedded_redis.ensure_running(str(instance), owned=True)
        conn = embedded_redis.connect(sock)

        # The sync queued before the loss is gone with Redis; its link is due again, and the
        # scheduler's next pass queues it like any due link.
        link = fresh_link(link_id)
        link.next_sync_at = link.last_sync_at - timedelta(seconds=1)
        db.session.commit()
        with own.app_context():
            assert schedule_due_syncs() == 1
        try:
            wait_until(lambda: len(runs(link_id)) == 2, worker, what="the resync after Redis came back")
        except AssertionError as exc:
            raise AssertionError(f"{exc}\n{log.read_text(errors='replace')[-3000:]}") from None
        assert fresh_link(link_id).last_attempt_ok is True
        # Registered again at its next heartbeat, which may come just after the (quick) resync.
        wait_until(lambda: [w.pid for w in Worker.all(connection=conn)] == [worker.pid], worker,
                   what="the worker to register again")
    finally:
        if worker is not None:
            stop_worker(worker)
        embedded_redis.shutdown(sock)


def test_expansion_bombs_end_as_recorded_errors_under_the_memory_ceiling_beside_good_links(
        app, backends, tmp_path, httpserver, make_property, make_link):
    from jobs.queue import enqueue_batch
    from tests.jobs.ical.test_parse_budget import _bomb_every_second, _many_daily_series
    from tests.jobs.sync.test_feeds import FeedServer
    prop = make_property()
    bombs = [FeedServer(httpserver, "/bomb1.ics", _bomb_every_second()),
             FeedServer(httpserver, "/bomb2.ics", _many_daily_series())]
    good = FeedServer(httpserver, "/good.ics", airbnb_feed([(day(5), day(8), "Reserved")]))
    bomb_ids = [make_link(prop, url=b.url, source="ical").id for b in bombs]
    good_id = make_link(prop, url=good.url, source="airbnb").id
    log, worker = tmp_path / "worker.log", None
    try:
        # A ceiling well under what an unbounded expansion takes (gigabytes): a horse that passed it
        # would be recorded as `internal` ("memory ceiling"), not as the feed's `too_complex`.
        worker = start_worker({**backends, "SYNC_MAX_MEMORY_MB": "400"}, log)
        with app.app_context():
            enqueue_batch(sync_batch_job, [*bomb_ids, good_id])
        wait_until(lambda: all(fresh_link(i).last_sync_at for i in [*bomb_ids, good_id]), worker,
                   what="the batch")
        for link_id in bomb_ids:
            link = fresh_link(link_id)
            assert (link.last_attempt_ok, link.last_error_kind) == (False, "too_complex"), \
                link.last_error_message
            assert runs(link_id)[-1].error_kind == "too_complex"
        assert fresh_link(good_id).last_attempt_ok is True and len(blocks(good_id)) == 1
    finally:
        if worker is not None:
            stop_worker(worker)
