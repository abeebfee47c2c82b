"""The fleet tally: every fleet-wide count that the dashboard, the managers' page and /metrics show,
taken by one periodic job (jobs.tasks.fleet_tally_job) and kept in Redis, so that a view or a scrape costs
the same at 1,000 and 100,000 properties.

Counting the fleet costs what the fleet holds whoever does it; done once every TALLY_EVERY seconds in the
background it stays off the requests. A reader uses the stored tally while it is younger than TALLY_MAX_AGE
and counts for itself otherwise (no scheduler, every worker busy, Redis down): an old figure is never
passed off as a current one, and pages say how old their counts are."""
from __future__ import annotations

import json
import logging
import time
from datetime import datetime, timedelta

from sqlalchemy import String, and_, case, cast, exists, false, func, literal, or_, select, true

from console.extensions import db
from console.models import CalendarLink, Overbooking, Property
from console.timeutil import iso
from jobs.rules.risk import STALE_AFTER_INTERVALS
from jobs.sync import schedule_tally

log = logging.getLogger(__name__)
HEALTHS = ("failing", "stale", "never_synced", "ok", "none")
TALLY_KEY = "csc:fleet-tally"
TALLY_EVERY = 10  # seconds between two tallies: the scheduler's job, and Prometheus' scrape is 15 s
TALLY_MAX_AGE = 60  # a stored tally older than this is not shown: readers count for themselves


def health_counts(now: datetime, interval_minutes: int) -> dict[str, int]:
    """Properties per health (the same rule as console.queries.property_filters.health_condition) from one pass
    over the links, grouped by property: five EXISTS counts over the fleet cost ~150 ms at 20,000."""
    stale_before = now - timedelta(minutes=STALE_AFTER_INTERVALS * interval_minutes)

    def any_link(condition):
        return func.max(case((condition, 1), else_=0)) == 1
    worst = case(
        (any_link(CalendarLink.last_attempt_ok == false()), "failing"),
        (any_link(and_(CalendarLink.last_attempt_ok == true(), or_(
            CalendarLink.last_success_at.is_(None), CalendarLink.last_success_at < stale_before))), "stale"),
        (any_link(CalendarLink.last_attempt_ok.is_(None)), "never_synced"),
        else_="ok").label("health")
    per_property = select(worst).group_by(CalendarLink.property_id).subquery()
    counts = dict.fromkeys(HEALTHS, 0)
    counts.update(db.session.execute(select(per_property.c.health, func.count())
                                     .group_by(per_property.c.health)).all())
    linked = sum(counts.values())
    counts["none"] = db.session.execute(select(func.count()).select_from(Property)).scalar() - linked
    return counts


def held_condition():
    """A WHERE clause true for properties with a link whose change the guard is holding."""
    # A JSON column keeps "no hold" as JSON null, not SQL NULL: compare its text on both backends.
    return exists().where(CalendarLink.property_id == Property.id, CalendarLink.hold_state.is_not(None),
                          cast(CalendarLink.hold_state, String) != "null")


def take(now: datetime, interval_minutes: int) -> dict:
    """Count the fleet now (nine grouped queries; no row reaches Python)."""
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
    by_health = health_counts(now, interval_minutes)
    return {
        "taken_at": iso(now),
        "links": rows(select(link.state, health, func.count()).group_by(link.state, health)),
        "risks": rows(select(Property.risk_level, func.count()).group_by(Property.risk_level)),
        "health": by_health,
        "held": db.session.execute(select(func.count()).select_from(Property)
                                   .where(held_condition())).scalar(),
        "fleet": sum(by_health.values()),  # every property has one health ("none": no link)
        "overbookings_open": db.session.execute(select(func.count()).select_from(Overbooking)
                                                .where(Overbooking.state == "open")).scalar(),
        "failing_by_kind": rows(_failing_by(link.last_error_kind)),
        "failing_by_source": rows(_failing_by(link.source)),
        # Properties per newest score (at most 101 rows): the managers' score spread.
        "scores": rows(select(Property.score_value, func.count()).where(Property.score_value.is_not(None))
                       .group_by(Property.score_value)),
        # Calendar ages of active links and the schedule's budget scale (jobs/sync/schedule_tally.py).
        "schedule": schedule_tally.take(now),
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
    """The stored tally when it is younger than TALLY_MAX_AGE, else one counted now (also without
    Redis: conn None or failing); both carry `age_seconds`, `live` (counted by this caller) and
    `every` (TALLY_EVERY)."""
    stored = None
    if conn is not None:
        try:
            stored = _stored(conn, now)
        except Exception:  # noqa: BLE001 - Redis gone: count now
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
