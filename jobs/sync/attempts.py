"""Attempts that ended without a stored result (a crash, a killed or timed-out job, the database):
each is recorded on its link as a failed run of our own making, so no link says "ok" after one."""
from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import datetime

from flask import current_app
from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError

from console.extensions import db
from console.models import CalendarLink, SyncRun
from console.timeutil import utcnow
from jobs.sync.blocks import next_sync_after_failure

log = logging.getLogger(__name__)


def failure_kind(exc: BaseException) -> str:
    """`database` when the database refused or could not be reached, `internal` for anything else."""
    return "database" if isinstance(exc, SQLAlchemyError) else "internal"


def record_own_failure(link_ids: Iterable[int], kind: str, message: str, since: datetime) -> list[int]:
    """Record a failed attempt on each link that has no attempt recorded since `since` (when the
    work began); the ids recorded. Links with a newer attempt keep it: this runs again safely."""
    ids = list(dict.fromkeys(link_ids))
    if not ids:
        return []
    interval, now = current_app.config["SYNC_INTERVAL_MINUTES"], utcnow()
    db.session.rollback()  # whatever the failed work left half-done is not ours to keep
    links = db.session.execute(select(CalendarLink).where(CalendarLink.id.in_(ids))).scalars().all()
    recorded = []
    for link in links:
        if link.last_sync_at is not None and link.last_sync_at >= since:
            continue
        db.session.add(SyncRun(link_id=link.id, started_at=since, finished_at=now, outcome="error",
                               error_kind=kind, error_message=message[:2000],
                               duration_ms=int((now - since).total_seconds() * 1000)))
        link.last_sync_at, link.last_attempt_ok = now, False
        link.consecutive_failures = (link.consecutive_failures or 0) + 1
        link.last_error_kind, link.last_error_message = kind, message[:2000]
        link.last_error_http_status, link.last_error_at = None, now
        link.next_sync_at = next_sync_after_failure(now, interval, link.consecutive_failures, None) \
            if link.state == "active" else None
        link.due_at = None  # its lateness is not counted: the failure is
        recorded.append(link.id)
    db.session.commit()
    if recorded:
        log.warning("recorded %s failure on links %s: %s", kind, recorded, message)
    return recorded


def record_own_failure_safely(link_ids: Iterable[int], kind: str, message: str,
                              since: datetime) -> list[int] | None:
    """record_own_failure, logging instead of raising when even that cannot be stored: then None,
    and the job must fail so that the sweep of failed jobs records it once the database answers."""
    link_ids = list(link_ids)
    try:
        return record_own_failure(link_ids, kind, message, since)
    except Exception:  # noqa: BLE001 - the caller is already handling a failure
        db.session.rollback()
        log.exception("could not record the %s failure of links %s", kind, link_ids)
        return None
