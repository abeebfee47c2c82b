"""Faults injected from outside into real processes (standalone scheduler and worker): Redis killed and
started again empty, the database refusing mid-sync (SQLite locked, PostgreSQL refusing connections), a
worker SIGKILLed. Each time the link ends with a recorded outcome or runs again, no block is lost, and the
scheduler schedules again."""
from __future__ import annotations

import time
from datetime import timedelta

from rq import Queue
from rq.cron import CronScheduler, get_cron_job_history_key, get_cron_job_ids
from rq.job import Job, JobStatus

from config import TestConfig
from console import create_app
from console.extensions import db
from console.timeutil import utcnow
from jobs.queue import HEARTBEAT_SILENCE, enqueue_link_sync
from jobs.schedule import PERIODIC_JOBS
from jobs.sync.runner import sync_links
from tests.db_faults import database_refusing
from tests.jobs.feeds import airbnb_feed
from tests.jobs.outage_processes import SWEEP_SECONDS, Process, RedisServer, process_env
from tests.jobs.sync.test_feeds import blocks, day, fresh_link, runs
from tests.jobs.sync.test_killed import HeldFeed, wait_until

STAYS = [(day(5), day(8), "Reserved"), (day(20), day(23), "Reserved")]
SYNCED_AGAIN_WITHIN = 60  # seconds; the promise is 2 minutes, the tests run the sweep every 2 s


def _synced_since(link_id: int, since) -> bool:
    link = fresh_link(link_id)
    return link.last_sync_at is not None and link.last_sync_at >= since and link.last_attempt_ok \
        and link.sync_requested_at is None


def _recorded(link_id: int, kind: str) -> bool:
    """The link's last attempt is a failure of this kind, and no sync is still promised to it."""
    link = fresh_link(link_id)
    return link.last_error_kind == kind and link.sync_requested_at is None


def test_a_redis_restart_under_standalone_scheduler_and_worker_loses_no_queued_sync(
        app, backends, make_property, make_link, tmp_path):
    server = RedisServer(tmp_path)
    server.start()
    feed = HeldFeed(airbnb_feed(STAYS))
    own = create_app(TestConfig(env={**backends, "REDIS_URL": server.url}))
    scheduler = worker = None
    try:
        forced = make_link(make_property("Forced"), url=feed.url, source="airbnb")
        due = make_link(make_property("Due"), url=feed.url, source="airbnb")
        sync_links([forced.id, due.id])
        before = {link.id: blocks(link.id) for link in (forced, due)}
        assert all(len(b) == 2 for b in before.values())
        forced_row = fresh_link(forced.id)
        forced_row.next_sync_at = utcnow() + timedelta(days=1)  # only a forced sync touches it
        fresh_link(due.id).next_sync_at = utcnow() - timedelta(minutes=1)
        db.session.commit()

        scheduler = Process("scheduler", process_env(backends, REDIS_URL=server.url),
                            tmp_path / "scheduler.log")
        conn = server.connection()
        wait_until(lambda: CronScheduler.all(conn), scheduler.proc, what="the scheduler's birth")
        # What the console and the scheduler's own look do, with no worker running: both syncs wait in Redis.
        requested = utcnow()
        with own.app_context():
            job_id = enqueue_link_sync(forced.id)
            db.session.remove()
        wait_until(lambda: fresh_link(due.id).sync_job_id is not None, scheduler.proc,
                   what="the scheduler's look to queue the due link")
        assert fresh_link(forced.id).sync_job_id == job_id
        assert fresh_link(due.id).sync_job_id not in (None, job_id)

        server.kill()  # Redis dies with both queued syncs, and comes back empty
        scheduler.wait_for("scheduler: Redis at")
        worker = Process("worker", process_env(backends, REDIS_URL=server.url), tmp_path / "worker.log")
        worker.wait_for("worker: Redis at")
        server.start()
        scheduler.wait_for("answers again")
        worker.wait_for("answers again")

        # The scheduler's sweep after the restart finds both promised syncs gone from Redis and
        # queues them again; the worker runs them.
        for link in (forced, due):
            wait_until(lambda link=link: _synced_since(link.id, requested), worker.proc,
                       timeout=SYNCED_AGAIN_WITHIN, what=f"link {link.id} synced again")
            assert blocks(link.id) == before[link.id]  # no block lost
            # Queued again by the sweep as a job of its own (the batch it was in is gone with Redis).
            assert f"sync: jobs.tasks.sync_link_job({link.id})" in worker.output()
        # The scheduler is registered again, runs its sweep and enqueues its periodic jobs into the
        # new Redis.
        conn = server.connection()
        assert [s.pid for s in CronScheduler.all(conn)] == [scheduler.proc.pid]
        assert get_cron_job_ids("record-failed-sync-jobs", conn)
        for proc in (scheduler, worker):
            assert proc.alive()
            assert len(proc.lines("unreachable")) == 1 and len(proc.lines("answers again")) == 1
            assert "Traceback" not in proc.output()
    finally:
        for proc in (worker, scheduler):
            if proc is not None:
                assert proc.stop() == 0, proc.output()[-3000:]
        server.kill()
        feed.close()


def _synced_link_off_schedule(make_property, make_link, feed) -> tuple[int, list, int]:
    """A link synced once from `feed` and kept off the schedule (only a forced sync reads it): its id,
    blocks and run count."""
    link = make_link(make_property(), url=feed.url, source="airbnb")
    sync_links([link.id])
    fresh_link(link.id).next_sync_at = utcnow() + timedelta(days=1)
    db.session.commit()
    return link.id, blocks(link.id), len(runs(link.id))


def test_a_sigkilled_worker_s_sync_is_recorded_by_the_scheduler_alone_within_two_minutes(
        app, backends, api, make_property, make_link, tmp_path):
    from tests.jobs.sync.test_killed import kill_worker
    feed = HeldFeed(airbnb_feed(STAYS))
    scheduler = worker = later = None
    try:
        link_id, before, runs_before = _synced_link_off_schedule(make_property, make_link, feed)
        env = process_env(backends)
        scheduler = Process("scheduler", env, tmp_path / "scheduler.log")
        worker = Process("worker", env, tmp_path / "worker.log")
        feed.body, feed.holding = airbnb_feed(STAYS[:1]), True
        assert api("staff").post(f"/links/{link_id}/sync").status_code == 202
        wait_until(feed.seen.is_set, worker.proc, what="the worker's fetch")
        killed_at = time.monotonic()
        kill_worker(worker.proc)
        # No worker runs any more: the scheduler's own sweep records the lost sync.
        wait_until(lambda: _recorded(link_id, "internal"), scheduler.proc,
                   timeout=SWEEP_SECONDS + HEARTBEAT_SILENCE.total_seconds() + 15,
                   what="the lost sync's outcome")
        took = time.monotonic() - killed_at
        print(f"SIGKILL to recorded outcome, no worker left: {took:.1f} s")
        assert took < 120
        lost = fresh_link(link_id)
        assert (lost.last_attempt_ok, lost.sync_requested_at) == (False, None)
        assert "killed or lost" in lost.last_error_message
        assert blocks(link_id) == before and len(runs(link_id)) == runs_before + 1
        # A worker started later carries on: a new forced sync runs and stores the new feed.
        later = Process("worker", env, tmp_path / "later.log")
        feed.holding = False
        since = utcnow()
        assert api("staff").post(f"/links/{link_id}/sync").status_code == 202
        wait_until(lambda: _synced_since(link_id, since), later.proc, what="the next sync")
        assert [(ci, co) for _c, ci, co in blocks(link_id)] == [(day(5), day(8))]
        assert scheduler.alive() and "Traceback" not in scheduler.output()
    finally:
        feed.release.set()
        for proc in (later, scheduler):
            if proc is not None:
                proc.stop()
        feed.close()


def test_a_sync_lost_with_a_worker_on_another_machine_is_recorded_by_its_silence_within_two_minutes(
        app, backends, api, redis_conn, make_property, make_link, tmp_path):
    from rq import Worker
    from rq.defaults import DEFAULT_JOB_MONITORING_INTERVAL

    from tests.jobs.sync.test_killed import kill_worker
    feed = HeldFeed(airbnb_feed(STAYS))
    scheduler = worker = None
    try:
        link_id, before, runs_before = _synced_link_off_schedule(make_property, make_link, feed)
        env = process_env(backends)
        scheduler = Process("scheduler", env, tmp_path / "scheduler.log")
        worker = Process("worker", env, tmp_path / "worker.log")
        feed.holding = True
        assert api("staff").post(f"/links/{link_id}/sync").status_code == 202
        wait_until(feed.seen.is_set, worker.proc, what="the worker's fetch")
        # As if it ran on another machine: the sweep cannot look for its process, only hear its heartbeats.
        [remote] = [w for w in Worker.all(connection=redis_conn) if w.pid == worker.proc.pid]
        redis_conn.hset(remote.key, "hostname", "worker-2.example.internal")
        killed_at = time.monotonic()
        kill_worker(worker.proc)
        wait_until(lambda: _recorded(link_id, "internal"), scheduler.proc, timeout=150,
                   what="the lost sync's outcome")
        took = time.monotonic() - killed_at
        print(f"SIGKILL of a worker on another machine to recorded outcome: {took:.1f} s")
        # Recorded by the silence (75 s after its last heartbeat, which came at most 30 s before the kill)
        # plus one sweep: never before the silence, always within 2 minutes.
        silence = HEARTBEAT_SILENCE.total_seconds()
        assert silence - DEFAULT_JOB_MONITORING_INTERVAL - 5 <= took < 120
        assert "killed or lost" in fresh_link(link_id).last_error_message
        assert blocks(link_id) == before and len(runs(link_id)) == runs_before + 1
        assert scheduler.alive() and "Traceback" not in scheduler.output()
    finally:
        feed.release.set()
        if scheduler is not None:
            scheduler.stop()
        feed.close()


def _database_fault(url: str):
    """SQLite: another connection holds the write lock; PostgreSQL: the database refuses connections
    and its sessions are ended."""
    if url.startswith("sqlite:///"):
        from tests.console.test_faults import write_locked
        return write_locked(url[len("sqlite:///"):])
    return database_refusing(url)


def test_a_database_fault_mid_sync_is_recorded_once_it_answers_and_the_worker_carries_on(
        app, backends, api, make_property, make_link, redis_conn, tmp_path):
    feed = HeldFeed(airbnb_feed(STAYS))
    scheduler = worker = None
    try:
        # Its id only: the request below expires the test's objects, and the fault detaches them.
        link_id = make_link(make_property(), url=feed.url, source="airbnb").id
        sync_links([link_id])
        before, runs_before = blocks(link_id), len(runs(link_id))
        fresh_link(link_id).next_sync_at = utcnow() + timedelta(days=1)
        db.session.commit()
        env = process_env(backends)
        scheduler = Process("scheduler", env, tmp_path / "scheduler.log")
        worker = Process("worker", env, tmp_path / "worker.log")
        feed.body, feed.holding = airbnb_feed(STAYS[:1]), True
        job_id = api("staff").post(f"/links/{link_id}/sync").get_json()["job_id"]
        wait_until(feed.seen.is_set, worker.proc, what="the worker's fetch")
        db.session.remove()
        db.engine.dispose()
        with _database_fault(backends["DATABASE_URL"]):
            feed.release.set()  # the feed arrives; storing it (or even its failure) is refused
            wait_until(lambda: Job.fetch(job_id, connection=redis_conn).get_status() == JobStatus.FAILED,
                       worker.proc, what="the sync job to fail")
        back = time.monotonic()
        db.engine.dispose()
        # Recorded by the scheduler's own sweep, whose failures meanwhile are said once.
        wait_until(lambda: _recorded(link_id, "database"), scheduler.proc,
                   timeout=120, what="the refused sync's outcome")
        assert time.monotonic() - back < 120
        refused = fresh_link(link_id)
        assert (refused.last_attempt_ok, refused.sync_requested_at) == (False, None)
        assert "database" in refused.last_error_message and "blocks are unchanged" in refused.last_error_message
        assert blocks(link_id) == before and len(runs(link_id)) == runs_before + 1
        # The worker and scheduler carry on: the next forced sync stores the new feed.
        feed.holding = False
        since = utcnow()
        assert api("staff").post(f"/links/{link_id}/sync").status_code == 202
        wait_until(lambda: _synced_since(link_id, since), worker.proc, what="the next sync")
        assert [(ci, co) for _c, ci, co in blocks(link_id)] == [(day(5), day(8))]
        for proc in (scheduler, worker):
            assert proc.alive()
        assert "Traceback" not in scheduler.output()
        failed = scheduler.lines("record-failed-sync-jobs failed")
        assert len(failed) == len(scheduler.lines("record-failed-sync-jobs works again")) <= 1
    finally:
        feed.release.set()
        for proc in (worker, scheduler):
            if proc is not None:
                proc.stop()
        feed.close()


def test_three_schedulers_run_each_periodic_job_once_per_period_and_queue_each_due_link_once(
        app, backends, redis_conn, make_property, make_link, tmp_path):
    prop = make_property()
    due = [make_link(prop, url=f"http://127.0.0.1:1/{n}.ics").id for n in range(30)]  # never synced
    env = process_env(backends)
    schedulers = [Process("scheduler", env, tmp_path / f"scheduler-{n}.log") for n in range(3)]
    try:
        wait_until(lambda: len(CronScheduler.all(redis_conn)) == 3, what="three schedulers")
        # Long enough for several periods of the sweep (2 s here) and the fleet tally (10 s).
        wait_until(lambda: len(get_cron_job_ids("record-failed-sync-jobs", redis_conn)) >= 6,
                   timeout=60, what="six periods of the sweep")
    finally:
        codes = [proc.stop() for proc in schedulers]
    assert codes == [0, 0, 0], [proc.output()[-2000:] for proc in schedulers]
    periods = {spec.name: spec.interval for spec in PERIODIC_JOBS if spec.interval}
    periods["record-failed-sync-jobs"] = 2
    for name, period in periods.items():
        times = [at for _id, at in redis_conn.zrange(get_cron_job_history_key(name), 0, -1,
                                                     withscores=True)]
        slots = [int(at // period) for at in times]
        assert times and len(slots) == len(set(slots)), (name, slots)  # once per period among three
    # Started within the same hour (or two): the hourly risk pass ran once, not three times.
    assert len(get_cron_job_ids("recompute-risk-hourly", redis_conn)) <= 2
    # Each due link is queued once: the due-link look runs in the schedulers (every 10 s among the
    # three), never queued for a worker, and its batches hold every due link exactly once.
    maintenance = Queue("maintenance", connection=redis_conn)
    assert not [job for job in maintenance.get_jobs() if job.func_name == "jobs.tasks.schedule_due_syncs"]
    queued = [i for job in Queue("sync", connection=redis_conn).get_jobs() for i in job.args[0]]
    assert sorted(queued) == sorted(due)
    assert {fresh_link(i).sync_job_id for i in due} != {None}  # each promised its sync


def test_two_schedulers_run_the_lost_sync_sweep_themselves_once_per_period(
        app, backends, redis_conn, tmp_path):
    env = process_env(backends)
    schedulers = [Process("scheduler", env, tmp_path / f"scheduler-{n}.log") for n in range(2)]
    history = get_cron_job_history_key("record-failed-sync-jobs")
    try:
        wait_until(lambda: len(CronScheduler.all(redis_conn)) == 2, what="two schedulers")
        wait_until(lambda: redis_conn.zcard(history) >= 8, timeout=60,
                   what="eight periods of the sweep")
    finally:
        codes = [proc.stop() for proc in schedulers]
    assert codes == [0, 0], [proc.output()[-2000:] for proc in schedulers]
    runs_ = redis_conn.zrange(history, 0, -1, withscores=True)
    slots = sorted(int(at // SWEEP_SECONDS) for _run, at in runs_)
    # Each run is kept by the scheduler that ran it, after the run: one per period, none skipped
    # (a period may be missed under load only when both schedulers wake late; allow one).
    assert len(slots) == len(set(slots)), slots
    assert slots[-1] - slots[0] + 1 - len(slots) <= 1, slots
    # Each run names the scheduler that ran it (host:pid:suffix:time).
    ran_by = {int(run.decode().split(":")[-3]) for run, _at in runs_}
    assert ran_by and ran_by <= {proc.proc.pid for proc in schedulers}, ran_by
    # Run in the schedulers, never enqueued for a worker (there is none here).
    maintenance = Queue("maintenance", connection=redis_conn)
    assert not [job for job in maintenance.get_jobs()
                if job.func_name == "jobs.tasks.record_failed_sync_jobs"]
    for proc in schedulers:
        assert "record-failed-sync-jobs failed" not in proc.output()
        assert "Traceback" not in proc.output()
