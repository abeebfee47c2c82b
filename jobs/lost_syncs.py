"""The sweep of lost syncs: links promised a sync (jobs/sync/requests.py) whose job is gone (Redis
restarted empty) are queued again; those whose job ended without recording get a failure of our own."""
from __future__ import annotations

import logging
from datetime import datetime, timedelta

from rq.job import Job, JobStatus
from sqlalchemy import and_, select, update

from console.extensions import db
from console.models import CalendarLink
from console.timeutil import utcnow
from jobs.queue import enqueue_link_syncs, job_is_live
from jobs.sync.attempts import record_own_failure

log = logging.getLogger(__name__)
# A request younger than this may still be on its way into Redis (the mark is written first).
IN_FLIGHT = timedelta(seconds=10)


def recover_requested_syncs(conn, now: datetime | None = None) -> tuple[int, int]:
    """Sweep the links promised a sync: a recorded attempt since the request clears the mark; a job
    Redis no longer knows is queued again (its outcome recorded when the link is no longer active); a
    job that ended without recording gets a failure of our own. (links queued again, recorded)."""
    now = now or utcnow()
    table = CalendarLink.__table__
    db.session.execute(update(table).where(
        table.c.sync_requested_at.is_not(None), table.c.last_sync_at >= table.c.sync_requested_at)
        .values(sync_requested_at=None, sync_job_id=None))
    db.session.commit()
    pending = db.session.execute(select(table.c.id, table.c.state, table.c.sync_requested_at,
                                        table.c.sync_job_id)
                                 .where(table.c.sync_requested_at < now - IN_FLIGHT)).all()
    job_ids = list(dict.fromkeys(row.sync_job_id for row in pending if row.sync_job_id))
    jobs = {job_id: job for job_id, job in zip(job_ids, Job.fetch_many(job_ids, connection=conn), strict=True)}
    # Once per job: a batch's links (hundreds) share it.
    live = {job_id for job_id, job in jobs.items() if job is not None and job_is_live(job, conn)}
    again, recorded = [], 0
    for row in pending:
        job = jobs.get(row.sync_job_id)
        if row.sync_job_id in live:
            continue
        if job is not None and job.get_status(refresh=False) == JobStatus.FINISHED:
            _clear(row)  # it ran and said what it did (a link paused meanwhile is not synced)
            continue
        if job is None and row.state == "active":
            again.append(row.id)  # lost with Redis before it ran: queued again below
            continue
        kind, message = lost_job_outcome(job) if job is not None else (
            "internal", "Our own failure: the sync queued for this link was lost (the job queue "
            "restarted empty) and the link is no longer active. The blocks are unchanged.")
        recorded += len(record_own_failure([row.id], kind, message, row.sync_requested_at))
        _clear(row)
        if job is not None:
            job.meta["csc_recorded"] = True
            job.save_meta()
    if again:
        # Each gets a new job and a new mark; one already queued again by another sweep is left be.
        enqueue_link_syncs(again, queue_name="sync")
    if again or recorded:
        log.info("lost syncs: %d links queued again, %d outcomes recorded", len(again), recorded)
    return len(again), recorded


def _clear(row) -> int:
    """Clear a link's mark, unless a newer request replaced it meanwhile (another sweep, a new sync)."""
    table = CalendarLink.__table__
    done = db.session.execute(update(table).where(and_(
        table.c.id == row.id, table.c.sync_requested_at == row.sync_requested_at))
        .values(sync_requested_at=None, sync_job_id=None)).rowcount
    db.session.commit()
    return done


def lost_job_outcome(job) -> tuple[str, str]:
    """(error kind, message) for the links of a sync job that ended without storing them."""
    result = job.latest_result()
    said = str(getattr(result, "exc_string", None) or "")
    if "OutcomesNotStored" in said or "OperationalError" in said:
        return "database", ("Our own failure: the database could not store this sync's result "
                            "(busy, locked or unreachable). The blocks are unchanged.")
    return "internal", ("Our own failure: the sync job stopped without finishing (its worker was "
                        "killed or lost). The blocks are unchanged.")
