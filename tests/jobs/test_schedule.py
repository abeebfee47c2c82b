"""The scheduler's path: due links queued once, synced by a worker; old sync runs pruned."""
from __future__ import annotations

from datetime import timedelta

from rq import Queue

from console.extensions import db
from console.models import CalendarLink, SyncRun
from console.timeutil import utcnow
from jobs.tasks import batch_size, claim_due_links, due_link_ids, prune_runs_job, schedule_due_syncs
from jobs.worker import run_worker
from tests.jobs.feeds import airbnb_feed
from tests.jobs.sync.test_feeds import FeedServer, dates, day, fresh_link


def test_schedule_queues_due_active_links_once_and_a_worker_syncs_them(
        app, httpserver, redis_conn, make_property, make_link):
    prop, now = make_property(), utcnow()
    feed = FeedServer(httpserver, "/a.ics", airbnb_feed([(day(3), day(6), "Reserved")]))
    never = make_link(prop, url=feed.url + "?1", source="airbnb")
    overdue = make_link(prop, url=feed.url + "?2", source="airbnb", next_sync_at=now - timedelta(minutes=1))
    later = make_link(prop, url=feed.url + "?3", source="airbnb", next_sync_at=now + timedelta(minutes=5))
    paused = make_link(prop, url=feed.url + "?4", source="airbnb", state="paused")
    linked = make_link(prop, url=feed.url + "?5", source="airbnb", state="linked")
    assert due_link_ids() == [never.id, overdue.id]

    assert schedule_due_syncs() == 2
    jobs = Queue("sync", connection=redis_conn).get_jobs()
    assert [job.args for job in jobs] == [([never.id, overdue.id],)]
    assert schedule_due_syncs() == 0  # claimed: not queued twice
    assert fresh_link(overdue.id).next_sync_at > utcnow()

    run_worker(app, burst=True)
    for link in (never, overdue):
        assert dates(link.id) == [(day(3), day(6))]
        assert fresh_link(link.id).last_attempt_ok
    for link in (later, paused, linked):
        assert dates(link.id) == [] and fresh_link(link.id).last_sync_at is None


def test_due_links_are_queued_in_batches_sized_by_the_fetch_pool_with_a_worst_case_timeout(
        app, redis_conn, make_property):
    app.config.update(FETCH_CONCURRENCY=16, FETCH_PER_HOST_LIMIT=8, FETCH_TIMEOUT_SECONDS=15)
    prop = make_property()
    db.session.add_all([CalendarLink(property=prop, source="airbnb", state="active",
                                     url=f"https://www.airbnb.com/calendar/ical/{n}.ics")
                        for n in range(300)])
    db.session.commit()
    assert batch_size(app.config) == 8 * 16

    assert schedule_due_syncs() == 300
    jobs = Queue("sync", connection=redis_conn).get_jobs()
    assert [len(job.args[0]) for job in jobs] == [128, 128, 44]
    assert sorted(i for job in jobs for i in job.args[0]) == sorted(due_link_ids(utcnow() + timedelta(hours=1)))
    # Every fetch of the batch timing out on one host, 8 at a time, still fits in the job's time,
    # after the minute it streams (claims links falling due).
    assert [job.timeout for job in jobs] == [120 + 16 * 15 + 60, 120 + 16 * 15 + 60, 120 + 6 * 15 + 60]
    assert all(job.kwargs == {"stream": True} for job in jobs)


def test_small_fetch_pools_still_queue_batches_of_fifty(app):
    app.config.update(FETCH_CONCURRENCY=2)
    assert batch_size(app.config) == 50


def test_a_link_claimed_by_one_scheduler_is_not_claimed_by_another(app, make_property, make_link):
    link = make_link(make_property())
    now = utcnow()
    assert claim_due_links(now, now + timedelta(minutes=15)) == [link.id]
    assert claim_due_links(now, now + timedelta(minutes=15)) == []


def test_prune_deletes_runs_older_than_the_retention_and_keeps_newer(app, make_property, make_link):
    link = make_link(make_property())
    keep_days = app.config["SYNC_RUN_RETENTION_DAYS"]
    now = utcnow()
    for age in (keep_days + 30, keep_days + 1, keep_days - 1, 0):
        db.session.add(SyncRun(link_id=link.id, started_at=now - timedelta(days=age), outcome="unchanged"))
    db.session.commit()
    assert prune_runs_job() == 2
    db.session.expire_all()
    ages = sorted((now - run.started_at).days for run in db.session.query(SyncRun))
    assert ages == [0, keep_days - 1]


def test_prune_keeps_old_runs_that_found_an_overbooking(app, make_property, make_link):
    from console.models import Overbooking
    prop = make_property()
    link = make_link(prop)
    old = utcnow() - timedelta(days=app.config["SYNC_RUN_RETENTION_DAYS"] + 10)
    evidence, plain = (SyncRun(link_id=link.id, started_at=old, outcome="changed"),
                       SyncRun(link_id=link.id, started_at=old, outcome="changed"))
    db.session.add_all([evidence, plain])
    db.session.flush()
    db.session.add(Overbooking(property_id=prop.id, direct_code="OA-1", external_code="EX-1",
                               first_night=old.date(), last_night=old.date(), nights=1,
                               sync_run_id=evidence.id, counts_against_owner=True, attribution="x"))
    db.session.commit()
    assert prune_runs_job() == 1
    db.session.expire_all()
    assert [run.id for run in db.session.query(SyncRun)] == [evidence.id]


def test_the_nightly_score_job_is_registered_at_half_past_two():
    from jobs import tasks
    from jobs.schedule import PERIODIC_JOBS
    [nightly] = [job for job in PERIODIC_JOBS if job.name == "recompute-scores-nightly"]
    assert nightly.func is tasks.recompute_scores_job
    assert nightly.cron == "30 2 * * *" and nightly.interval is None


def test_the_nightly_score_job_writes_a_snapshot_for_every_property(app, make_property, make_link):
    from sqlalchemy import select

    from console.models import ScoreSnapshot
    from jobs.tasks import recompute_scores_job
    props = [make_property(name=f"Flat {i}") for i in range(3)]
    make_link(props[0], state="active", last_sync_at=utcnow(), last_success_at=utcnow())

    assert recompute_scores_job() == 3

    db.session.expire_all()
    rows = db.session.execute(select(ScoreSnapshot.property_id, ScoreSnapshot.score)).all()
    assert sorted(pid for pid, _ in rows) == sorted(p.id for p in props)
    assert all(0 <= score <= 100 for _, score in rows)
    assert all(p.risk_computed_at is not None for p in props)
    assert recompute_scores_job() == 3  # nothing moved: no second snapshot
    assert len(db.session.execute(select(ScoreSnapshot.id)).all()) == 3


def test_prune_deletes_in_bounded_batches_each_committed(app, make_property, make_link):
    from sqlalchemy import event

    from jobs.sync.history import prune_runs
    link = make_link(make_property())
    old = utcnow() - timedelta(days=app.config["SYNC_RUN_RETENTION_DAYS"] + 5)
    db.session.add_all([SyncRun(link_id=link.id, started_at=old, outcome="unchanged") for _ in range(25)])
    db.session.commit()
    deletes = []

    def count(conn, cursor, statement, params, context, executemany):
        if statement.lstrip().upper().startswith("DELETE"):
            deletes.append(statement)
    event.listen(db.engine, "before_cursor_execute", count)
    try:
        assert prune_runs(utcnow() - timedelta(days=app.config["SYNC_RUN_RETENTION_DAYS"]), batch=10, adapt=False) == 25
    finally:
        event.remove(db.engine, "before_cursor_execute", count)
    assert len(deletes) == 3  # 10 + 10 + 5, each its own transaction
    assert db.session.query(SyncRun).count() == 0


def test_prune_batches_grow_while_quick_and_shrink_when_slow():
    from jobs.sync.history import PRUNE_MAX_BATCH, PRUNE_MIN_BATCH, next_batch
    assert next_batch(5000, 0.01) == 10_000  # at most doubled
    assert next_batch(5000, 1.0) == 1250  # a second-long transaction: a quarter of it next
    assert next_batch(40_000, 0.01) == PRUNE_MAX_BATCH and next_batch(600, 30) == PRUNE_MIN_BATCH


def test_the_fleet_tally_job_runs_in_a_real_worker_without_filling_its_log(app, redis_conn, caplog,
                                                                            make_property):
    import json
    import logging

    from jobs.sync.fleet_tally import TALLY_KEY
    from jobs.worker import QuietJobs
    make_property()
    queue = Queue("alerts", connection=redis_conn)
    queue.enqueue("jobs.tasks.fleet_tally_job")
    queue.enqueue("jobs.tasks.alerts_tick_job")  # a job that is logged as before
    with caplog.at_level(logging.INFO):
        run_worker(app, burst=True)
    assert json.loads(redis_conn.get(TALLY_KEY))["fleet"] == 1
    lines = [r.getMessage() for r in caplog.records if r.name.startswith("rq.")]
    assert [line for line in lines if "alerts_tick_job" in line]
    assert not [line for line in lines if "fleet_tally_job" in line]
    failed = logging.LogRecord("rq.worker", logging.WARNING, __file__, 1, "jobs.tasks.fleet_tally_job() "
                               "failed", None, None)
    assert QuietJobs().filter(failed)  # its warnings and errors still show
