"""The thin adapter of the schedule by value: gather what is at stake for a batch's properties, and after
each read store the link's interval, its reason in words, its weight and its next due time."""
from __future__ import annotations

import json
import logging
import random
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from flask import current_app
from sqlalchemy import func, select, update

from console.extensions import db
from console.models import CalendarLink, Property, Reservation, SyncRun
from console.timeutil import local_midnight
from jobs.rules.sync_interval import (
    HOT_DAYS,
    LinkValue,
    backoff_interval,
    interval_for,
    jitter_range,
    link_floor,
    link_weight,
    until_next_read,
)
from jobs.sync.demand import demand_ages
from jobs.sync.reading import LinkReading
from jobs.sync.schedule_tally import bounds

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Stakes:
    """What is at stake on one property, read once per batch."""

    next_check_in: date | None = None
    demand_age: float | None = None
    exposure_nights: int = 0


@dataclass(frozen=True)
class BatchStakes:
    """Stakes by property and the fleet's budget scale, for one batch of syncs."""

    by_property: dict[int, Stakes]
    scale: float = 1.0


def running_redis():
    """This process's Redis when it answers, else None; an embedded Redis that is not running is not
    started for the schedule's hints alone (as jobs.sync.runner.host_limiter)."""
    from jobs import embedded_redis
    from jobs.broker import redis_connection
    config = current_app.config
    try:
        if not config.get("REDIS_URL") and not embedded_redis.answers(
                embedded_redis.socket_path(config["INSTANCE_PATH"])):
            return None
        return redis_connection()
    except Exception:  # noqa: BLE001 - without Redis: no demand, the plain scale, no lateness counts
        return None


def load_stakes(property_ids: Iterable[int], today: date, conn=None) -> BatchStakes:
    """Next direct check-in, demand and nights at stake of these properties (two queries, one Redis
    round trip), and the budget scale of the last fleet tally (1.0 when there is none)."""
    ids = list(dict.fromkeys(property_ids))
    if not ids:
        return BatchStakes({})
    check_ins = dict(db.session.execute(
        select(Reservation.property_id, func.min(Reservation.check_in))
        .where(Reservation.property_id.in_(ids), Reservation.origin == "direct",
               Reservation.check_in >= today - timedelta(days=1))
        .group_by(Reservation.property_id)).all())
    exposure = dict(db.session.execute(select(Property.id, Property.exposure_nights)
                                       .where(Property.id.in_(ids))).all())
    conn = conn if conn is not None else running_redis()
    demand, scale = {}, 1.0
    try:
        demand = demand_ages(conn, ids)
        scale = stored_scale(conn)
    except Exception:  # noqa: BLE001 - Redis down: schedule from the database's facts alone
        log.debug("could not read demand or the budget scale", exc_info=True)
    return BatchStakes({pid: Stakes(check_ins.get(pid), demand.get(pid), exposure.get(pid) or 0)
                        for pid in ids}, scale)


def stored_scale(conn) -> float:
    """The budget scale of the stored fleet tally (1.0 when there is none)."""
    from jobs.sync.fleet_tally import TALLY_KEY
    raw = conn.get(TALLY_KEY) if conn is not None else None
    return float(json.loads(raw).get("schedule", {}).get("scale", 1.0)) if raw else 1.0


def link_value(link: CalendarLink, stakes: Stakes, today: date, now: datetime,
               cache_max_age: float | None) -> LinkValue:
    """The pure policy's view of one link."""
    days = (stakes.next_check_in - today).days if stakes.next_check_in else None
    since = link.activated_at or link.created_at
    return LinkValue(source=link.source, days_to_check_in=None if days is None else max(0, days),
                     demand_age=stakes.demand_age, exposure_nights=stakes.exposure_nights,
                     change_age=(now - link.last_changed_at).total_seconds() if link.last_changed_at else None,
                     watched_for=(now - since).total_seconds() if since else None,
                     cache_max_age=cache_max_age)


def schedule_after_read(link: CalendarLink, run: SyncRun, reading: LinkReading, stakes: Stakes | None,
                        scale: float, now: datetime) -> None:
    """Store the link's interval and reason, its weight and (when it read well) its next due time."""
    today = reading.snapshot.today or now.date()
    cache_max_age = reading.fetch.max_age if reading.fetch is not None else None
    if run.outcome == "changed":
        link.last_changed_at = now
    link.due_at = None
    if link.state != "active":
        link.sync_interval_seconds = None
        link.sync_interval_reason = f"not read on schedule ({link.state})"
        return
    stakes = stakes or Stakes()
    value = link_value(link, stakes, today, now, cache_max_age)
    link.sync_weight = round(link_weight(value)[0], 2)
    if link.last_attempt_ok is False and link.next_sync_at is not None:  # the backoff of record_failure
        seconds = max(0.0, (link.next_sync_at - now).total_seconds())
        retry_after = reading.failure.retry_after if reading.failure is not None else None
        chosen = backoff_interval(seconds, link.consecutive_failures or 1, retry_after)
        link.sync_interval_seconds, link.sync_interval_reason = chosen.seconds, chosen.reason
        return
    policy = bounds(current_app.config)
    chosen = interval_for(value, policy, scale)
    jitter = random.uniform(*jitter_range(chosen.seconds, link_floor(value, policy)[0], policy))
    # The day (on the property's clock) the check-in comes within HOT_DAYS days: from then on the link
    # is read at the rate it asks.
    near = None if stakes.next_check_in is None else (
        local_midnight(stakes.next_check_in - timedelta(days=HOT_DAYS), reading.snapshot.timezone)
        - now).total_seconds()
    seconds = until_next_read(value, chosen.seconds * jitter, near, policy, scale)
    link.sync_interval_seconds, link.sync_interval_reason = chosen.seconds, chosen.reason
    if seconds < chosen.seconds * jitter:
        link.sync_interval_reason += f"; read sooner: a direct check-in comes within {HOT_DAYS} days"
    link.next_sync_at = now + timedelta(seconds=seconds)


def bring_forward(property_id: int, now: datetime) -> int:
    """After a direct booking is reported: each of the property's active links that reads well and is not
    claimed is next read one interval (the one its new stakes ask) after its last read, when that is
    sooner than planned; how many links were brought forward."""
    links = db.session.execute(select(CalendarLink).where(
        CalendarLink.property_id == property_id, CalendarLink.state == "active",
        CalendarLink.due_at.is_(None), CalendarLink.last_attempt_ok.is_(True),
        CalendarLink.next_sync_at.is_not(None), CalendarLink.last_sync_at.is_not(None))).scalars().all()
    if not links:
        return 0
    stakes = load_stakes([property_id], now.date())
    policy, moved = bounds(current_app.config), 0
    for link in links:
        value = link_value(link, stakes.by_property[property_id], now.date(), now, None)
        chosen = interval_for(value, policy, stakes.scale)
        sooner = max(now, link.last_sync_at + timedelta(seconds=chosen.seconds))
        if sooner >= link.next_sync_at:
            continue
        # Re-checked in the statement: a scheduler may claim the link meanwhile (then it is read anyway).
        moved += db.session.execute(
            update(CalendarLink).where(CalendarLink.id == link.id, CalendarLink.due_at.is_(None),
                                       CalendarLink.next_sync_at > sooner)
            .values(next_sync_at=sooner, sync_interval_seconds=chosen.seconds,
                    sync_interval_reason=chosen.reason, sync_weight=round(link_weight(value)[0], 2))
            .execution_options(synchronize_session=False)).rowcount
    db.session.commit()
    return moved

