"""Fresh reads at booking time: a property's links read in the request through the sync pipeline,
once among concurrent askers, answered by a deadline while late reads finish and are recorded."""
from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from datetime import datetime, timedelta

import redis
from flask import Flask, current_app
from sqlalchemy import select

from console.extensions import db
from console.models import CalendarLink
from console.timeutil import utcnow
from jobs.sync.attempts import record_own_failure_safely
from jobs.sync.runner import SyncSummary, sync_links

log = logging.getLogger(__name__)
LOCK_MARGIN_SECONDS = 30  # a reader that died leaves the property locked at most this past its reads


@dataclass(frozen=True)
class LinkRead:
    """What a fresh (or stored) availability answer says about one link."""

    id: int
    source: str
    read: str  # fresh | recent | failed | timeout | paused | stored
    read_at: datetime | None
    error_kind: str | None = None


class _LocalLock:
    """This process's lock on a property, when Redis cannot be reached (one process then)."""

    _locks: dict[int, threading.Lock] = {}
    _guard = threading.Lock()

    def __init__(self, property_id: int):
        with self._guard:
            self._lock = self._locks.setdefault(property_id, threading.Lock())

    def acquire(self, wait_seconds: float) -> bool:
        return self._lock.acquire(timeout=max(wait_seconds, 0.0))

    def release(self) -> None:
        self._lock.release()


class _RedisLock:
    """A property's read lock in Redis: one reader among every web process sharing REDIS_URL."""

    def __init__(self, conn: redis.Redis, property_id: int, hold_seconds: float):
        self._property_id, self._fallback = property_id, None
        # Not thread-local: the request takes it, the thread that finishes the reads gives it back.
        self._lock = conn.lock(f"csc:fresh-read:{property_id}", timeout=hold_seconds,
                               sleep=0.05, thread_local=False)

    def acquire(self, wait_seconds: float) -> bool:
        try:
            return bool(self._lock.acquire(blocking=True, blocking_timeout=max(wait_seconds, 0.01)))
        except (redis.RedisError, OSError):  # Redis went away since the ping: this process's lock
            log.warning("fresh-read lock: Redis unavailable, locking in this process only")
            self._fallback = _LocalLock(self._property_id)
            return self._fallback.acquire(wait_seconds)

    def release(self) -> None:
        if self._fallback is not None:
            return self._fallback.release()
        try:
            self._lock.release()
        except redis.exceptions.LockError:  # expired: the reads outlived the hold, nobody else to free
            log.warning("fresh-read lock expired before its reads ended")
        except (redis.RedisError, OSError):  # gone: the hold expires by itself
            log.warning("fresh-read lock: Redis unavailable at release; it expires by itself")


def property_read_lock(app: Flask, property_id: int):
    """The lock that makes concurrent fresh requests for one property read its links once."""
    from jobs.broker import QueueUnavailable, redis_connection
    hold = app.config["FETCH_TIMEOUT_SECONDS"] * 4 + LOCK_MARGIN_SECONDS  # Kigo retries included
    try:
        conn = redis_connection(app)
        conn.ping()
    except (redis.RedisError, OSError, QueueUnavailable):
        return _LocalLock(property_id)
    return _RedisLock(conn, property_id, hold)


class _Progress:
    """Summaries of the links read so far, for the request waiting on them."""

    def __init__(self):
        self._cond = threading.Condition()
        self.summaries: dict[int, SyncSummary] = {}
        self.finished = False

    def add(self, summary: SyncSummary) -> None:
        with self._cond:
            self.summaries[summary.link_id] = summary
            self._cond.notify_all()

    def finish(self) -> None:
        with self._cond:
            self.finished = True
            self._cond.notify_all()

    def wait(self, deadline: float) -> dict[int, SyncSummary]:
        """The summaries once every read ended, or those in by `deadline` (time.monotonic)."""
        with self._cond:
            self._cond.wait_for(lambda: self.finished, timeout=max(deadline - time.monotonic(), 0))
            return dict(self.summaries)


def _sync_then_release(app: Flask, link_ids: list[int], progress: _Progress, lock) -> None:
    """Run the sync of `link_ids` to its end (recorded even after the answer left), then unlock."""
    started = utcnow()
    with app.app_context():
        try:
            sync_links(link_ids, on_done=progress.add)
        except Exception as exc:  # noqa: BLE001 - every attempt must still end in a recorded outcome
            log.exception("fresh read of links %s failed", link_ids)
            missing = [i for i in link_ids if i not in progress.summaries]
            record_own_failure_safely(missing, "internal", f"Our own failure: a fresh availability "
                                      f"read crashed ({exc!r}). The blocks are unchanged.", started)
        finally:
            progress.finish()
            lock.release()


def _links(property_id: int) -> list[CalendarLink]:
    db.session.expire_all()
    rows = db.session.execute(select(CalendarLink).where(
        CalendarLink.property_id == property_id, CalendarLink.state.in_(("active", "paused")))
        .order_by(CalendarLink.id)).scalars().all()
    return list(rows)


def _recent(link: CalendarLink, now: datetime, max_age: float) -> bool:
    return link.last_success_at is not None and link.last_success_at >= now - timedelta(seconds=max_age)


def _to_read(links: list[CalendarLink], asked_at: datetime, max_age: float) -> list[int]:
    """Active links neither read successfully within the max age nor attempted since we were asked."""
    return [link.id for link in links if link.state == "active" and not _recent(link, asked_at, max_age)
            and not (link.last_sync_at is not None and link.last_sync_at >= asked_at)]


def read_links_fresh(property_id: int, *, max_age: float, timeout: float) -> list[LinkRead]:
    """Read the property's stale active links now (by `timeout` seconds); say what each read was."""
    app = current_app._get_current_object()
    deadline, asked_at = time.monotonic() + timeout, utcnow()
    due = _to_read(_links(property_id), asked_at, max_age)
    db.session.commit()  # end our read: SQLite writers (the reads' storage) must not wait on us
    progress = None
    if due:
        lock = property_read_lock(app, property_id)
        if lock.acquire(deadline - time.monotonic()):
            # Another request may have read them while we waited for the lock: not read twice.
            due = _to_read(_links(property_id), asked_at, max_age)
            db.session.commit()
            if due:
                progress = _Progress()
                threading.Thread(target=_sync_then_release, args=(app, due, progress, lock),
                                 name=f"fresh-read-{property_id}").start()
            else:
                lock.release()
    summaries = progress.wait(deadline) if progress else {}
    return [read for link in _links(property_id)
            if (read := _link_read(link, summaries, asked_at, max_age)) is not None]


def _link_read(link: CalendarLink, summaries: dict[int, SyncSummary], asked_at: datetime,
               max_age: float) -> LinkRead | None:
    if link.state == "paused":
        return LinkRead(link.id, link.source, "paused", link.last_success_at)
    summary = summaries.get(link.id)
    if summary is not None:
        if summary.outcome == "skipped":
            return None
        if summary.outcome == "error":
            return LinkRead(link.id, link.source, "failed", link.last_sync_at, summary.error_kind)
        return LinkRead(link.id, link.source, "fresh", link.last_success_at)
    if link.last_sync_at is not None and link.last_sync_at >= asked_at and not link.last_attempt_ok:
        return LinkRead(link.id, link.source, "failed", link.last_sync_at, link.last_error_kind)
    if _recent(link, asked_at, max_age):
        return LinkRead(link.id, link.source, "recent", link.last_success_at)
    return LinkRead(link.id, link.source, "timeout", link.last_success_at)


def stored_reads(property_id: int) -> list[LinkRead]:
    """The same fields from stored state, nothing fetched (`read: "stored"`, paused links said so)."""
    return [LinkRead(link.id, link.source, "paused" if link.state == "paused" else "stored",
                     link.last_success_at, link.last_error_kind if link.last_attempt_ok is False else None)
            for link in _links(property_id)]
