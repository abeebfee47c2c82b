"""Due links: which active links' next sync time has come, and claiming them once among every scheduler
and streaming batch (a conditional UPDATE)."""
from __future__ import annotations

from sqlalchemy import func, or_, select

from console.extensions import db
from console.models import CalendarLink
from console.timeutil import utcnow


def _is_due(now):
    """Active links whose next sync time has come (or was never set)."""
    return (CalendarLink.state == "active",
            or_(CalendarLink.next_sync_at.is_(None), CalendarLink.next_sync_at <= now))


def due_link_ids(now=None, limit: int | None = None) -> list[int]:
    """Active links whose next sync time has come, longest waiting first (never-scheduled ones first)."""
    now = now or utcnow()
    active = CalendarLink.state == "active"
    # Two walks down ix_calendar_links_due (an OR of both would scan every active link).
    never = select(CalendarLink.id).where(active, CalendarLink.next_sync_at.is_(None)).order_by(CalendarLink.id)
    ids = list(db.session.execute(never.limit(limit) if limit else never).scalars())
    if limit and len(ids) >= limit:
        return ids
    due = (select(CalendarLink.id).where(active, CalendarLink.next_sync_at <= now)
           .order_by(CalendarLink.next_sync_at, CalendarLink.id))
    if limit:
        due = due.limit(limit - len(ids))
    return ids + list(db.session.execute(due).scalars())


def claim_due_links(now, until, limit: int | None = None, job_id: str | None = None) -> list[int]:
    """Push due links' next time to `until` and return those this call claimed (at most `limit`,
    longest waiting first): a scheduler running twice at once (two processes) claims each link once,
    because the update re-checks that it is due. With `job_id`, the links are marked as promised a
    sync by that running job (jobs/sync/requests.py) in the same statement."""
    ids = due_link_ids(now, limit)
    if not ids:
        return []
    table = CalendarLink.__table__
    promise = {"sync_requested_at": now, "sync_job_id": job_id} if job_id else {}
    claimed = db.session.execute(
        table.update().where(table.c.id.in_(ids), *_is_due(now))
        # The due time is kept for the sync's lateness (the oldest, when a lost batch is claimed again).
        .values(next_sync_at=until, due_at=func.coalesce(table.c.due_at, table.c.next_sync_at, now),
                **promise)
        .returning(table.c.id)).scalars().all()
    db.session.commit()
    order = {link_id: n for n, link_id in enumerate(ids)}
    return sorted(claimed, key=order.__getitem__)
