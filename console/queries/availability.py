"""A stay's availability, from stored blocks or from a fresh read, and the overbookings it prevented."""
from __future__ import annotations

import logging
from datetime import date, datetime, time

from flask import current_app
from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from console.extensions import db
from console.models import CalendarLink, PreventedOverbooking, Reservation
from console.timeutil import iso, utcnow
from jobs.sync.fresh import LinkRead, read_links_fresh, stored_reads

log = logging.getLogger(__name__)
PREVENTED_KEY = "csc:overbookings-prevented"  # source -> how many, for /metrics


def conflicting(property_id: int, check_in: date, check_out: date) -> list[Reservation]:
    """The property's stays whose nights overlap [check_in, check_out), by check-in then code."""
    return list(db.session.execute(
        select(Reservation).where(Reservation.property_id == property_id,
                                  Reservation.check_in < check_out, Reservation.check_out > check_in)
        .order_by(Reservation.check_in, Reservation.code)).scalars())


def availability_answer(property_id: int, check_in: date, check_out: date, fresh: bool) -> dict:
    """The answer (docs/fresh-availability.md): {available, conflicts, fresh, checked_at, links}."""
    before = [r.code for r in conflicting(property_id, check_in, check_out)]
    if fresh:
        config = current_app.config
        reads = read_links_fresh(property_id, max_age=config["AVAILABILITY_FRESH_MAX_AGE_SECONDS"],
                                 timeout=config["AVAILABILITY_FRESH_TIMEOUT_SECONDS"])
        db.session.expire_all()
        after = conflicting(property_id, check_in, check_out)
        if not before and after:
            record_prevented(property_id, check_in, check_out, after)
        codes = [r.code for r in after]
    else:
        reads, codes = stored_reads(property_id), before
    # True only when every active link was read just now or recently (so: without active links).
    is_fresh = all(read.read in ("fresh", "recent") for read in reads if read.read != "paused")
    db.session.commit()  # nothing of ours stays open while the main site decides
    return {"available": not codes, "conflicts": codes, "fresh": is_fresh, "checked_at": iso(utcnow()),
            "links": [link_read_json(read) for read in reads]}


def link_read_json(read: LinkRead) -> dict:
    """One link of an availability answer."""
    return {"id": read.id, "source": read.source, "read": read.read, "read_at": iso(read.read_at),
            "error_kind": read.error_kind}


def record_prevented(property_id: int, check_in: date, check_out: date, blocks: list[Reservation]) -> int:
    """Record the external blocks that turned this stay unavailable, once each; how many were new."""
    rows = [{"property_id": property_id, "link_id": block.link_id, "check_in": check_in,
             "check_out": check_out, "external_code": block.code, "detected_at": utcnow(),
             "source": _source(block.link_id)} for block in blocks if block.origin == "external"]
    if not rows:
        return 0
    dialect = db.session.get_bind().dialect.name
    insert = pg_insert if dialect == "postgresql" else sqlite_insert
    # Two fresh requests for one stay may both see it turn: the unique stay-and-block keeps one row.
    result = db.session.execute(insert(PreventedOverbooking).values(rows).on_conflict_do_nothing(
        index_elements=["property_id", "check_in", "check_out", "external_code"]))
    db.session.commit()
    if result.rowcount:
        count_prevented()
    return result.rowcount or 0


def count_prevented() -> None:
    """Keep /metrics' per-source totals in Redis (counted from the table, so never double-counted)."""
    from sqlalchemy import func

    from jobs.broker import redis_connection
    counts = dict(db.session.execute(select(PreventedOverbooking.source, func.count())
                                     .group_by(PreventedOverbooking.source)).all())
    try:
        conn = redis_connection()
        conn.hset(PREVENTED_KEY, mapping=counts)
    except Exception:  # noqa: BLE001 - the rows are stored; the next prevention writes the counts again
        log.warning("could not store the prevented overbooking counts in Redis", exc_info=True)


def _source(link_id: int | None) -> str:
    link = db.session.get(CalendarLink, link_id) if link_id else None
    return link.source if link else "ical"


def prevented_json(row: PreventedOverbooking) -> dict:
    """A prevented overbooking as the API lists it."""
    return {"id": row.id, "property_id": row.property_id, "link_id": row.link_id, "source": row.source,
            "check_in": row.check_in.isoformat(), "check_out": row.check_out.isoformat(),
            "external_code": row.external_code, "detected_at": iso(row.detected_at)}


def prevented_rows(start: date | None, end: date | None, limit: int = 1000) -> list[PreventedOverbooking]:
    """Prevented overbookings detected on [start, end) (open ends allowed), newest first."""
    query = select(PreventedOverbooking)
    if start is not None:
        query = query.where(PreventedOverbooking.detected_at >= datetime.combine(start, time()))
    if end is not None:
        query = query.where(PreventedOverbooking.detected_at < datetime.combine(end, time()))
    return list(db.session.execute(query.order_by(PreventedOverbooking.detected_at.desc(),
                                                  PreventedOverbooking.id.desc()).limit(limit)).scalars())
