"""The fleet tally: every fleet-wide count that the dashboard, the managers' page and /metrics show, taken
by one periodic job and read from Redis, so that a view or a scrape costs the same at 1,000 and 100,000
properties.

Counting the fleet costs what the fleet holds whoever does it; done once every TALLY_EVERY seconds in the
background it stays off the requests. A reader uses the stored tally while it is younger than TALLY_MAX_AGE
and counts for itself otherwise (no scheduler, every worker busy, Redis down): an old figure is never
passed off as a current one, and pages say how old their counts are."""
from __future__ import annotations

import json
import logging
import time
from datetime import datetime, timedelta

from sqlalchemy import case, false, func, literal, select

from console import charts
from console.extensions import db
from console.models import CalendarLink, Overbooking, Property
from console.property_filters import health_counts, held_condition
from console.timeutil import iso

log = logging.getLogger(__name__)
TALLY_KEY = "csc:fleet-tally"
TALLY_EVERY = 10  # seconds between two tallies: the scheduler's job, and Prometheus' scrape is 15 s
TALLY_MAX_AGE = 60  # a stored tally older than this is not shown: readers count for themselves


def take(now: datetime, interval_minutes: int) -> dict:
    """Count the fleet now (a dozen grouped queries; no row reaches Python)."""
    from jobs.rules.risk import STALE_AFTER_INTERVALS
    link = CalendarLink
    # jobs.rules.risk.link_health as SQL, link by link (the metrics' labels).
    health = case(
        (link.last_sync_at.is_(None) | link.last_attempt_ok.is_(None), literal("never_synced")),
        (link.last_attempt_ok.is_(False), literal("failing")),
        (link.last_success_at.is_(None) | (link.last_success_at < now - timedelta(
            minutes=STALE_AFTER_INTERVALS * interval_minutes)), literal("stale")),
        else_=literal("ok"))

    def rows(query) -> list[list]:
        return [list(row) for row in db.session.execute(query).all()]
    score_counts = db.session.execute(select(Property.score_value, func.count())
                                      .where(Property.score_value.is_not(None))
                                      .group_by(Property.score_value)).all()
    return {
        "taken_at": iso(now),
        "links": rows(select(link.state, health, func.count()).group_by(link.state, health)),
        "risks": rows(select(Property.risk_level, func.count()).group_by(Property.risk_level)),
        "health": health_counts(now, interval_minutes),
        "held": db.session.execute(select(func.count()).select_from(Property)
                                   .where(held_condition())).scalar(),
        "fleet": db.session.execute(select(func.count()).select_from(Property)).scalar() or 0,
        "overbookings_open": db.session.execute(select(func.count()).select_from(Overbooking)
                                                .where(Overbooking.state == "open")).scalar(),
        "failing_by_kind": rows(_failing_by(link.last_error_kind)),
        "failing_by_source": rows(_failing_by(link.source)),
        "score_bands": [list(band) for band in charts.score_bins(score_counts)],
    }


def _failing_by(column):
    """Failing links counted by `column`: (value, links, properties hit), largest first."""
    return (select(column, func.count(), func.count(CalendarLink.property_id.distinct()))
            .where(CalendarLink.last_attempt_ok == false()).group_by(column)
            .order_by(func.count().desc(), column))


def refresh(conn, now: datetime, interval_minutes: int) -> dict | None:
    """Take the tally and store it for every reader; None when a tally younger than half the interval
    is stored already (the scheduler queued jobs while every worker was busy: they are not all needed)."""
    stored = _stored(conn, now)
    if stored is not None and stored["age_seconds"] < TALLY_EVERY / 2:
        return None
    began = time.perf_counter()
    tally = take(now, interval_minutes)
    tally["took_ms"] = round((time.perf_counter() - began) * 1000, 1)
    conn.set(TALLY_KEY, json.dumps(tally), ex=TALLY_MAX_AGE)
    return tally


def current(now: datetime, interval_minutes: int, conn=None) -> dict:
    """The stored tally when it is younger than TALLY_MAX_AGE, else one counted now; both carry
    `age_seconds`, `live` (counted by this request) and `every` (TALLY_EVERY)."""
    if conn is None:
        try:
            from jobs.broker import redis_connection
            conn = redis_connection()
        except Exception:  # noqa: BLE001 - without Redis every reader counts for itself
            conn = None
    stored = None
    if conn is not None:
        try:
            stored = _stored(conn, now)
        except Exception:  # noqa: BLE001 - same: count now
            log.debug("could not read the fleet tally", exc_info=True)
    if stored is not None and stored["age_seconds"] <= TALLY_MAX_AGE:
        return {**stored, "live": False, "every": TALLY_EVERY}
    return {**take(now, interval_minutes), "age_seconds": 0.0, "live": True, "every": TALLY_EVERY}


def _stored(conn, now: datetime) -> dict | None:
    raw = conn.get(TALLY_KEY)
    if not raw:
        return None
    tally = json.loads(raw)
    taken = datetime.fromisoformat(tally["taken_at"].replace("Z", "+00:00")).replace(tzinfo=None)
    return {**tally, "age_seconds": max(0.0, (now - taken).total_seconds())}


def failing_groups(rows: list[list], fleet: int) -> list[dict]:
    """The dashboard's failing-link groups from tally rows: links, properties hit, share of the fleet."""
    return [{"value": value, "links": links, "properties": props,
             "share": round(100 * props / fleet, 1) if fleet else 0.0} for value, links, props in rows]
