"""Sync a batch of links: read them concurrently, then apply each result in its own transaction."""
from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait
from dataclasses import dataclass
from datetime import UTC, date, datetime

import redis
from flask import current_app
from sqlalchemy import select

from console.extensions import db
from console.models import CalendarLink, Property
from console.timeutil import local_today, utcnow
from jobs.fetch.addresses import AllowList
from jobs.fetch.feed import FetchSettings
from jobs.fetch.host_limits import FleetHostLimiter, HostLimiter
from jobs.notify.evaluate import notice_after_sync
from jobs.rules.advice import describe
from jobs.sync import lateness
from jobs.sync.attempts import failure_kind, record_own_failure_safely
from jobs.sync.blocks import record_failure, record_success
from jobs.sync.link_schedule import BatchStakes, load_stakes, running_redis, schedule_after_read
from jobs.sync.overbookings import LinkBeforeSync, after_sync
from jobs.sync.property_state import recompute_properties, refresh_risks
from jobs.sync.reading import LinkReading, LinkSnapshot, read_ical_link

log = logging.getLogger(__name__)
HORIZON_DAYS = 550  # about 18 months ahead
REFRESH_EVERY = 200  # links applied between two set-based risk and score refreshes of their properties
STREAM_LOOK_SECONDS = 0.5  # a streaming batch asks for more links at least this often


@dataclass(frozen=True)
class SyncSummary:
    """One line per synced link, as `flask sync` prints it."""

    link_id: int
    outcome: str
    added: int = 0
    updated: int = 0
    removed: int = 0
    error_kind: str | None = None
    message: str = ""
    property_id: int | None = None
    moved: bool = False  # a change a person would see: its property's score is refreshed too
    recorded: bool = True  # False: not even the failure could be stored (the job must fail)
    lateness: float | None = None  # seconds a scheduled sync's read began past its due time

    def line(self) -> str:
        """The summary as one human-readable line."""
        if self.outcome == "error":
            return f"link {self.link_id}: error {self.error_kind}: {self.message}"
        return (f"link {self.link_id}: {self.outcome} (+{self.added} ~{self.updated} "
                f"-{self.removed}){' ' + self.message if self.message else ''}")


def fetch_settings(config) -> FetchSettings:
    """Fetcher settings from the app config."""
    return FetchSettings(timeout_seconds=config["FETCH_TIMEOUT_SECONDS"],
                         max_bytes=config["FETCH_MAX_BYTES"],
                         allow=AllowList.parse(config["FETCH_ALLOW_HOSTS"]))


def snapshot(link: CalendarLink, tz: str, today: date | None = None) -> LinkSnapshot:
    """Copy what reading a link needs out of the ORM object (threads must not touch the session)."""
    # "Today" is the property's: at 02:00 UTC it is still yesterday evening in Los Angeles, and
    # tonight's last-minute booking there must not be taken for the past.
    today = today or local_today(tz)
    # An unchanged feed is still parsed once a day: its repeats and horizon move with the date.
    reuse = not link.hold_state and not link.accept_next_change and link.parsed_on == today
    return LinkSnapshot(link_id=link.id, property_id=link.property_id, source=link.source,
                        url=link.url, timezone=tz, etag=link.etag,
                        last_modified=link.last_modified, content_hash=link.content_hash,
                        reuse_unchanged=reuse, kigo_code=link.kigo_code,
                        kigo_property_id=link.kigo_property_id, kigo_diff_id=link.kigo_diff_id,
                        today=today, due_at=link.due_at)


def load_snapshots(link_ids: Iterable[int], today: date | None = None) -> list[LinkSnapshot]:
    """Snapshots of the named links that still exist, in one query."""
    rows = db.session.execute(select(CalendarLink, Property.timezone)
                              .join(Property, CalendarLink.property_id == Property.id)
                              .where(CalendarLink.id.in_(list(link_ids)))).all()
    snaps = [snapshot(link, tz, today) for link, tz in rows]
    db.session.commit()  # end the read transaction: SQLite writers must not wait on us
    return snaps


def host_limiter(config) -> HostLimiter:
    """Per-host limits shared with every worker through Redis when it answers, else this process's.

    An embedded Redis that is not running is not started for this alone: no worker is using it.
    """
    from jobs import embedded_redis
    from jobs.broker import QueueUnavailable, redis_connection
    per_host = config["FETCH_PER_HOST_LIMIT"]
    if not config.get("REDIS_URL") and not embedded_redis.answers(
            embedded_redis.socket_path(config["INSTANCE_PATH"])):
        return HostLimiter(per_host)
    try:
        conn = redis_connection()
        conn.ping()
    except (redis.RedisError, OSError, QueueUnavailable):
        return HostLimiter(per_host)
    return FleetHostLimiter(per_host, conn, hold_seconds=config["FETCH_TIMEOUT_SECONDS"] + 30)


def _reader(config) -> Callable[[LinkSnapshot], LinkReading]:
    settings, limiter = fetch_settings(config), host_limiter(config)

    def read(snap: LinkSnapshot) -> LinkReading:
        if snap.source == "kigo":
            from jobs.sync.kigo_reading import read_kigo_link
            return read_kigo_link(snap, config, snap.today, HORIZON_DAYS)
        return read_ical_link(snap, settings, limiter, snap.today, HORIZON_DAYS)
    return read


def _locked_link(link_id: int) -> CalendarLink | None:
    """The link, write-locked until commit: a forced and a scheduled sync of one link must not both
    add its stays. PostgreSQL locks the row as it reads it (one round trip); SQLite has no row locks, so
    a no-op UPDATE takes its write lock (the whole database) first."""
    if db.engine.dialect.name == "postgresql":
        return db.session.get(CalendarLink, link_id, populate_existing=True, with_for_update=True)
    table = CalendarLink.__table__
    locked = db.session.execute(table.update().where(table.c.id == link_id)
                                .values(state=table.c.state)).rowcount
    return db.session.get(CalendarLink, link_id, populate_existing=True) if locked else None


def apply_reading(reading: LinkReading, stakes: BatchStakes | None = None) -> SyncSummary:
    """Store one reading in its own transaction (a crash leaves other links' results intact); `stakes`
    (the batch's, else read for this link) choose its next interval (jobs/sync/link_schedule.py)."""
    interval, today = current_app.config["SYNC_INTERVAL_MINUTES"], reading.snapshot.today
    link = _locked_link(reading.snapshot.link_id)
    if link is None:  # deleted while we were fetching
        db.session.rollback()
        return SyncSummary(reading.snapshot.link_id, "skipped", message="link deleted")
    health_before = link.health(utcnow(), interval)
    # What the sync overwrites but detection weighs: the previous read and what it ignored.
    before = LinkBeforeSync(health_before, link.last_success_at, list(link.ignored_detail or []))
    try:
        if reading.parsed is None and reading.failure is not None:
            run = record_failure(link, reading, interval)
        else:
            run = record_success(link, reading, interval, today)
            if reading.failure is not None:  # stays applied, yet the link needs fixing
                record_failure(link, reading, interval, run)
        if reading.extra:
            from jobs.sync.kigo_reading import store_kigo_facts
            store_kigo_facts(link, reading)
        late = _lateness(reading)
        run.lateness_ms = None if late is None else int(late * 1000)
        if stakes is None:
            stakes = load_stakes([link.property_id], reading.snapshot.today or utcnow().date())
        schedule_after_read(link, run, reading, stakes.by_property.get(link.property_id), stakes.scale,
                            utcnow())
        if link.state != "active":
            link.next_sync_at = None  # forced syncs of paused links do not restart the schedule
        db.session.add(run)
        db.session.flush()
        after_sync(link, run, today, before)
        # A sync that changed something a person would see has its property's risk and score
        # refreshed with the batch's others (sync_links, every REFRESH_EVERY links): set-based,
        # a few statements per hundreds of properties instead of a dozen per link.
        moved = run.outcome in ("changed", "held", "error") or \
            link.health(utcnow(), interval) != health_before
        # Read before the commit: afterwards every attribute is expired and would cost two SELECTs
        # (a third of the main thread's time in an unchanged fleet sync).
        summary = SyncSummary(link.id, run.outcome, run.added, run.updated, run.removed,
                              run.error_kind, run.error_message or (run.details or {}).get("held", ""),
                              property_id=link.property_id, moved=moved, lateness=late)
        db.session.commit()
    except Exception:
        db.session.rollback()
        raise
    return summary


def _lateness(reading: LinkReading) -> float | None:
    """Seconds between a scheduled link's due time and the start of its read (None: not scheduled)."""
    due = reading.snapshot.due_at
    if due is None or not reading.started_at:
        return None
    return max(0.0, reading.started_at - due.replace(tzinfo=UTC).timestamp())


def _apply_safely(snap: LinkSnapshot, future, stakes: BatchStakes | None = None) -> SyncSummary:
    """Apply one finished read; when that fails, the attempt is recorded on the link as our own
    failure (`database` or `internal`), its blocks unchanged, and the batch goes on."""
    try:
        reading = future.result()
        return apply_reading(reading, stakes)
    except Exception as exc:  # noqa: BLE001 - one link's crash must not cost the batch its results
        db.session.rollback()
        log.exception("sync of link %s failed while storing its result", snap.link_id)
        kind = failure_kind(exc)
        message = (f"Our own failure: the result of this sync could not be stored ({describe(exc)}). "
                   "The blocks are unchanged; the tech team should look at the logs.")
        stored = record_own_failure_safely([snap.link_id], kind, message, _started(future))
        return SyncSummary(snap.link_id, "error", error_kind=kind, message=message,
                           property_id=snap.property_id, moved=True,
                           recorded=stored is not None)


def _started(future) -> datetime:
    """When the read behind `future` began (now, when the read itself raised)."""
    try:
        started = future.result().started_at
    except Exception:  # noqa: BLE001 - the read raised: the attempt began just now
        return utcnow()
    return datetime.fromtimestamp(started, UTC).replace(tzinfo=None)


def sync_links(link_ids: Iterable[int], *, today: date | None = None,
               on_done: Callable[[SyncSummary], None] | None = None,
               more: Callable[[int, int], list[int] | None] | None = None) -> list[SyncSummary]:
    """Sync the named links now, in this process; return one summary per link. With `more` (a
    streaming batch), links it hands out join the batch: `more(room, in_flight)` claims up to `room`
    links, [] when none is due now, None once the stream has ended."""
    config = current_app.config
    snaps = load_snapshots(link_ids, today)  # each link's property's day unless `today` is given
    read = _reader(config)
    stakes = load_stakes([s.property_id for s in snaps], today or utcnow().date())
    summaries: list[SyncSummary] = []
    pending: list[SyncSummary] = []
    noticed = 0  # summaries[:noticed] were evaluated for alerts already
    concurrency = config["FETCH_CONCURRENCY"]
    workers = max(1, concurrency if more else min(concurrency, len(snaps)))
    # Reads queued ahead of the pool's threads: a thread that frees up starts the next at once.
    ahead = 2 * concurrency
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="fetch") as pool:
        futures = {pool.submit(read, snap): snap for snap in snaps}
        last_claim, idle = time.monotonic(), threading.Event()
        while True:
            room = ahead - len(futures)
            if more and room >= max(1, concurrency // 4) and (
                    not futures or time.monotonic() - last_claim >= STREAM_LOOK_SECONDS):
                last_claim = time.monotonic()
                ids = more(room, len(futures))
                if ids is None:
                    more = None  # the stream ended: finish the reads in flight
                claimed = load_snapshots(ids, today) if ids else []
                if claimed:
                    stakes = _with_stakes(stakes, claimed, today)
                    futures.update({pool.submit(read, snap): snap for snap in claimed})
            if not futures:
                if not more:
                    break
                idle.wait(STREAM_LOOK_SECONDS)  # nothing due now: a stream looks again shortly
                continue
            # A stream wakes up now and then to claim more even while its reads are slow.
            done, _ = wait(futures, timeout=STREAM_LOOK_SECONDS if more else None,
                           return_when=FIRST_COMPLETED)
            for future in done:
                summary = _apply_safely(futures.pop(future), future, stakes)
                summaries.append(summary)
                pending.append(summary)
                if len(pending) >= REFRESH_EVERY:  # a long batch does not leave the first risks old
                    _refresh_properties(pending)
                    record_lateness(pending)
                    if more:  # a stream may run a minute: its alerts go out as it goes
                        notice_after_sync(pending)
                        noticed += len(pending)
                    pending = []
                if on_done:
                    on_done(summary)
        _refresh_properties(pending)
        record_lateness(pending)
    notice_after_sync(summaries[noticed:])  # alerts: never raise, the results above are committed
    return summaries


def _with_stakes(stakes: BatchStakes, snaps: list[LinkSnapshot], today: date | None) -> BatchStakes:
    """The batch's stakes with those of links that joined it (one read per claim)."""
    joined = load_stakes([s.property_id for s in snaps], today or utcnow().date())
    return BatchStakes({**stakes.by_property, **joined.by_property}, joined.scale)


def record_lateness(summaries: list[SyncSummary]) -> None:
    """Add the scheduled syncs' lateness to the counts in Redis (never fails the batch)."""
    values = [s.lateness for s in summaries if s.lateness is not None]
    if not values:
        return
    try:
        lateness.record(running_redis(), values)
    except Exception:  # noqa: BLE001 - the syncs are stored; a lost count is only a lost count
        log.debug("could not record the lateness of %d syncs", len(values), exc_info=True)


def _refresh_properties(summaries: list[SyncSummary]) -> None:
    """Risk after every sync, and the score after a visible change, for the properties of
    `summaries` in one set-based pass each (a few queries per 500 properties)."""
    moved = {s.property_id for s in summaries if s.property_id and s.moved}
    quiet = {s.property_id for s in summaries if s.property_id and not s.moved} - moved
    try:
        if moved:
            recompute_properties(moved, scores=True)  # commits per chunk
        if quiet:
            refresh_risks(quiet)
            db.session.commit()
    except Exception:  # noqa: BLE001 - the syncs are stored; the hourly risk job catches up
        db.session.rollback()
        log.exception("refreshing the risk of %d properties failed", len(moved | quiet))
