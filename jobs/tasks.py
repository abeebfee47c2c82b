"""RQ entry points: each takes ids (never ORM objects) and runs in the worker's app context."""
from __future__ import annotations

import logging
import math
from datetime import timedelta

from flask import current_app
from rq import get_current_job
from sqlalchemy import delete, or_, select

from console.extensions import db
from console.models import CalendarLink, Overbooking, SyncRun
from console.timeutil import utcnow

log = logging.getLogger(__name__)
# A batch keeps one job's fetch pool busy for several rounds of network latency: small batches
# each end waiting on their slowest feed, and each job costs a fork and a start-up.
BATCH_ROUNDS = 8
MIN_BATCH_SIZE = 50


def batch_size(config) -> int:
    """Links per queued batch job, from the fetch pool's size."""
    return max(MIN_BATCH_SIZE, BATCH_ROUNDS * config["FETCH_CONCURRENCY"])


def batch_timeout(config, links: int) -> int:
    """Seconds a batch job may run: every fetch timing out on one host (the worst case), plus margin."""
    in_flight = max(1, min(config["FETCH_CONCURRENCY"], config["FETCH_PER_HOST_LIMIT"]))
    return 120 + math.ceil(links / in_flight) * config["FETCH_TIMEOUT_SECONDS"]


def enqueue_batches(ids: list[int]) -> list[tuple[int, str]]:
    """Queue the links as batch jobs of `batch_size` links; (links, job id) for each job."""
    from jobs.queue import enqueue_batch
    config = current_app.config
    size = batch_size(config)
    batches = [ids[start:start + size] for start in range(0, len(ids), size)]
    return [(len(batch), enqueue_batch(sync_batch_job, batch,
                                       timeout=batch_timeout(config, len(batch))))
            for batch in batches]


def _job_id() -> str:
    job = get_current_job()
    return job.id if job else "inline"


def sync_link_job(link_id: int) -> str:
    """Sync one link now (activation, forced resync), then free its 'in progress' marker."""
    from jobs.queue import forget_link_job
    from jobs.sync.runner import sync_links
    try:
        summaries = sync_links([link_id])
    finally:
        forget_link_job(link_id)
    line = summaries[0].line() if summaries else f"link {link_id}: gone"
    log.info("[job %s] %s", _job_id(), line)
    return line


def sync_batch_job(link_ids: list[int]) -> list[str]:
    """Sync a batch of due links concurrently."""
    from jobs.sync.runner import sync_links
    lines = [s.line() for s in sync_links(link_ids)]
    log.info("[job %s] synced %d links", _job_id(), len(lines))
    return lines


def _is_due(now):
    """Active links whose next sync time has come (or was never set)."""
    return (CalendarLink.state == "active",
            or_(CalendarLink.next_sync_at.is_(None), CalendarLink.next_sync_at <= now))


def due_link_ids(now=None, limit: int | None = None) -> list[int]:
    """Active links whose next sync time has come, longest waiting first."""
    now = now or utcnow()
    query = (select(CalendarLink.id).where(*_is_due(now))
             .order_by(CalendarLink.next_sync_at.is_not(None), CalendarLink.next_sync_at,
                       CalendarLink.id))
    if limit:
        query = query.limit(limit)
    return list(db.session.execute(query).scalars())


def claim_due_links(now, until) -> list[int]:
    """Push due links' next time to `until` and return those this call claimed: a scheduler running
    twice at once (two processes) claims each link once, because the update re-checks that it is due."""
    ids = due_link_ids(now)
    if not ids:
        return []
    table = CalendarLink.__table__
    claimed = db.session.execute(
        table.update().where(table.c.id.in_(ids), *_is_due(now)).values(next_sync_at=until)
        .returning(table.c.id)).scalars().all()
    db.session.commit()
    order = {link_id: n for n, link_id in enumerate(ids)}
    return sorted(claimed, key=order.__getitem__)


def schedule_due_syncs() -> int:
    """Queue batches of due links; claim them first so they are not queued twice."""
    now = utcnow()
    # Claimed until one interval from now: a batch that dies is retried then.
    ids = claim_due_links(now, now + timedelta(minutes=current_app.config["SYNC_INTERVAL_MINUTES"]))
    enqueue_batches(ids)
    if ids:
        log.info("[job %s] queued %d due links", _job_id(), len(ids))
    return len(ids)


def prune_runs_job() -> int:
    """Delete sync runs older than SYNC_RUN_RETENTION_DAYS, except overbooking evidence."""
    cutoff = utcnow() - timedelta(days=current_app.config["SYNC_RUN_RETENTION_DAYS"])
    # A run that found an overbooking is its evidence: kept as long as the overbooking.
    evidence = select(Overbooking.sync_run_id).where(Overbooking.sync_run_id.is_not(None))
    result = db.session.execute(delete(SyncRun).where(SyncRun.started_at < cutoff,
                                                      SyncRun.id.not_in(evidence)))
    db.session.commit()
    log.info("[job %s] pruned %d sync runs", _job_id(), result.rowcount)
    return result.rowcount


def recompute_scores_job() -> int:
    """Recompute every property's risk and reward score."""
    from jobs.sync.property_state import recompute_all
    count = recompute_all(scores=True)
    log.info("[job %s] recomputed %d properties", _job_id(), count)
    return count


def recompute_risk_job() -> int:
    """Recompute every property's risk (cheap; the score waits for the nightly run)."""
    from jobs.sync.property_state import recompute_all
    return recompute_all(scores=False)


def deliver_notification_job(delivery_id: int) -> str:
    """Send one notification to one recipient through one channel (claimed: never by two workers)."""
    from jobs.notify.deliver import deliver
    outcome = deliver(delivery_id)
    log.info("[job %s] delivery %s: %s", _job_id(), delivery_id, outcome)
    return outcome


def alerts_tick_job() -> int:
    """Every minute: reminders, stale links, export feeds no longer read, digests, deliveries to retry."""
    from jobs.notify.checks import periodic_checks
    return periodic_checks()


def weekly_digest_job() -> int:
    """Managers' weekly digest: overbookings of the week and the score movers."""
    from jobs.notify.digests import weekly_digest
    return weekly_digest()
