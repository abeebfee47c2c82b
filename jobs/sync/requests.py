"""The database's word that a sync was queued for a link (sync_requested_at, sync_job_id), written before
the job goes to Redis: a job lost with Redis or its worker is then found by the sweep (jobs/lost_syncs.py)."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import bindparam, select, update

from console.extensions import db
from console.models import CalendarLink
from console.timeutil import utcnow


def note_requested(link_ids: list[int], job_id: str, at: datetime | None = None) -> None:
    """Mark these links as promised a sync by `job_id`, committed before the job is queued (so that a
    job done at once finds its mark, and a job lost with Redis leaves one)."""
    if not link_ids:
        return
    # Its own transaction: the caller's session may hold other work; callers commit theirs before
    # queueing anyway (the job reads with a session of its own).
    with db.engine.begin() as conn:
        conn.execute(update(CalendarLink.__table__)
                     .where(CalendarLink.__table__.c.id.in_(link_ids))
                     .values(sync_requested_at=at or utcnow(), sync_job_id=job_id))


def note_requests(job_ids: dict[int, str]) -> None:
    """note_requested for many links, each with its own job (one statement, executed for each)."""
    if not job_ids:
        return
    table, at = CalendarLink.__table__, utcnow()
    with db.engine.begin() as conn:
        conn.execute(update(table).where(table.c.id == bindparam("link_id"))
                     .values(sync_requested_at=at, sync_job_id=bindparam("job_id")),
                     [{"link_id": link_id, "job_id": job_id} for link_id, job_id in job_ids.items()])


def promised_to(job_id: str) -> list[int]:
    """The links whose promised sync is this job's (a streaming batch's claims among them)."""
    table = CalendarLink.__table__
    return list(db.session.execute(select(table.c.id).where(table.c.sync_job_id == job_id)).scalars())


def withdraw(link_ids: list[int], job_ids: list[str]) -> None:
    """Take back promises whose jobs never reached Redis (the caller answers "nothing was changed");
    best effort: a promise left behind is settled by the sweep."""
    table = CalendarLink.__table__
    try:
        with db.engine.begin() as conn:
            conn.execute(update(table).where(table.c.id.in_(link_ids), table.c.sync_job_id.in_(job_ids))
                         .values(sync_requested_at=None, sync_job_id=None))
    except Exception:  # noqa: BLE001 - the caller is already answering a failure
        pass
