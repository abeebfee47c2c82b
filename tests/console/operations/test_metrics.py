"""/metrics costs the same whatever the fleet's size, agrees with the health rule, and shows the queue."""
from __future__ import annotations

import json
import re
from datetime import timedelta

from rq import Queue

from console.extensions import db
from console.models import CalendarLink
from console.timeutil import iso, utcnow
from jobs.sync import fleet_tally
from jobs.sync.fleet_tally import TALLY_KEY
from jobs.tasks import fleet_tally_job
from tests.statements import counted


def scrape(client) -> str:
    resp = client.get("/metrics")
    assert resp.status_code == 200
    return resp.get_data(as_text=True)


def links(prop, n: int, **fields) -> None:
    db.session.add_all([CalendarLink(property=prop, source="ical", url=f"http://127.0.0.1:1/{i}.ics",
                                     state="active", **fields) for i in range(n)])
    db.session.commit()


def test_link_gauges_follow_the_health_rule_link_by_link(client, make_property, app):
    prop, now = make_property(), utcnow()
    interval = app.config["SYNC_INTERVAL_MINUTES"]
    links(prop, 2)  # never synced
    links(prop, 3, last_sync_at=now, last_attempt_ok=False)
    links(prop, 4, last_sync_at=now, last_attempt_ok=True, last_success_at=now - timedelta(minutes=4 * interval))
    links(prop, 5, last_sync_at=now, last_attempt_ok=True, last_success_at=now)
    expected = {}
    for link in db.session.query(CalendarLink):
        key = (link.state, link.health(now, interval))
        expected[key] = expected.get(key, 0) + 1
    text = scrape(client)
    for (state, health), n in expected.items():
        assert f'csc_links{{health="{health}",state="{state}"}} {float(n)}' in text
    assert 'csc_properties{risk="none"} 1.0' in text


def test_with_the_tally_taken_a_scrape_reads_no_fleet_row_at_10_or_200_links(app, client, make_property,
                                                                             redis_conn):
    prop = make_property()
    links(prop, 10)
    fleet_tally_job()
    with counted() as small:
        scrape(client)
    links(prop, 190)
    redis_conn.delete(TALLY_KEY)
    fleet_tally_job()
    with counted() as large:
        text = scrape(client)
    assert 'csc_links{health="never_synced",state="active"} 200.0' in text
    assert small == large == ["SELECT 1"]  # the database only asked whether it is up
    age = float(re.search(r"^csc_fleet_tally_age_seconds (\S+)$", text, re.M).group(1))
    assert 0 <= age < fleet_tally.TALLY_MAX_AGE


def test_without_a_recent_tally_each_scrape_counts_the_fleet_itself(app, client, make_property, redis_conn):
    prop = make_property()
    links(prop, 3)
    # A tally two minutes old (the scheduler stopped): never served as the fleet's state.
    old = {**fleet_tally.take(utcnow(), 15), "taken_at": iso(utcnow() - timedelta(minutes=2))}
    old["links"] = [["active", "ok", 999]]
    redis_conn.set(TALLY_KEY, json.dumps(old))
    text = scrape(client)
    assert 'csc_links{health="never_synced",state="active"} 3.0' in text and "999" not in text
    assert "csc_fleet_tally_age_seconds 0.0" in text
    links(prop, 2)
    assert 'csc_links{health="never_synced",state="active"} 5.0' in scrape(client)


def test_queue_depth_failed_jobs_and_workers_are_gauges(client, redis_conn):
    queue = Queue("sync", connection=redis_conn)
    queue.enqueue("jobs.tasks.schedule_due_syncs")
    queue.enqueue("jobs.tasks.schedule_due_syncs")
    text = scrape(client)
    assert 'csc_queue_jobs{queue="sync"} 2.0' in text
    assert 'csc_queue_failed_jobs{queue="sync"} 0.0' in text
    assert "csc_workers 0.0" in text and "csc_redis_up 1.0" in text


def test_a_failed_job_and_a_registered_worker_show_in_the_gauges(app, client, redis_conn):
    from rq import Worker

    from jobs.worker import run_worker
    Queue("sync", connection=redis_conn).enqueue("jobs.tasks.no_such_task")
    run_worker(app, burst=True)  # a real worker fails it: its function does not exist
    worker = Worker(["sync"], connection=redis_conn)
    worker.register_birth()  # a worker that started and has not yet died
    try:
        text = scrape(client)
    finally:
        worker.register_death()
    assert 'csc_queue_failed_jobs{queue="sync"} 1.0' in text
    assert 'csc_queue_jobs{queue="sync"} 0.0' in text and "csc_workers 1.0" in text
    assert "csc_workers 0.0" in scrape(client)
