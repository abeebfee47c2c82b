"""The scheduler's path: due links queued once, synced by a worker; old sync runs pruned."""
from __future__ import annotations

from datetime import timedelta

from rq import Queue

from console.extensions import db
from console.models import SyncRun
from console.timeutil import utcnow
from jobs.tasks import claim_due_links, due_link_ids, prune_runs_job, schedule_due_syncs
from jobs.worker import run_worker
from tests.jobs.feeds import airbnb_feed
from tests.jobs.test_sync_feeds import FeedServer, dates, day, fresh_link


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
