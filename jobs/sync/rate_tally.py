"""Overbooking rates counted for a date range in one pass (per 1,000 direct bookings and nights sold, by
week, source, city and owner), kept a minute in Redis: the managers' page, its CSVs and the API read them,
and the fleet tally's job counts the page's default range ahead of it.

Counted per dimension and per request they cost 3.4 s at 20,000 properties on SQLite; one pass over the
direct bookings of the range (read from ix_reservations_direct_made, migration 0018) costs ~0.2 s, and a
stored count is read in a millisecond. A stored count is never older than STORE_SECONDS, and the page says
how old it is."""
from __future__ import annotations

import json
import logging
from collections import defaultdict
from datetime import date, datetime, time, timedelta

from sqlalchemy import func, literal_column, select

from console.extensions import db
from console.models import CalendarLink, Overbooking, Owner, Property, Reservation

log = logging.getLogger(__name__)
DIMENSIONS = ("week", "source", "city", "owner")
DEFAULT_WEEKS = 26  # the managers' page opens on the last 26 weeks: the range counted ahead
STORE_KEY = "csc:overbooking-rates"
STORE_SECONDS = 60  # a stored count older than this is not shown: the reader counts for itself
RECOUNT_AFTER = 30  # the tally's job counts the default range again when the stored one is this old
# A literal, not a bound parameter: SQLite uses a partial index only when the query names its condition.
DIRECT = literal_column("'direct'")


def last_weeks(weeks: int, today: date) -> tuple[date, date]:
    """The first and last day of the last `weeks` calendar weeks (Monday to Sunday), up to today."""
    monday = today - timedelta(days=today.weekday())
    return monday - timedelta(weeks=weeks - 1), today


def _bounds(first: date, last: date) -> tuple[datetime, datetime]:
    return datetime.combine(first, time()), datetime.combine(last + timedelta(days=1), time())


def _nights():
    if db.session.get_bind().dialect.name == "postgresql":
        return Reservation.check_out - Reservation.check_in
    return func.julianday(Reservation.check_out) - func.julianday(Reservation.check_in)


def _day(value) -> date:
    return value if isinstance(value, date) else date.fromisoformat(value)  # SQLite's date() is text


def _made_in(first: date, last: date) -> list:
    start, end = _bounds(first, last)
    return [Reservation.origin == DIRECT, Reservation.created_at >= start, Reservation.created_at < end]


def detected_in(first: date, last: date) -> list:
    """Conditions: an overbooking detected on a day of [first, last] (the managers' pages share them)."""
    start, end = _bounds(first, last)
    return [Overbooking.detected_at >= start, Overbooking.detected_at < end]


def count(first: date, last: date) -> dict[str, list[list]]:
    """Per dimension, [key, overbookings, direct bookings, nights sold] rows: weeks in order (every week of
    the range, the quiet ones too), other groups most overbookings first.

    By source, a direct booking counts for each source its property links (the calendars that could have
    overbooked it), and an overbooking for its block's source."""
    made = _made_in(first, last)
    per_property = db.session.execute(
        select(Reservation.property_id, Property.city, Owner.email, func.count(), func.sum(_nights()))
        .join(Property, Property.id == Reservation.property_id)
        .outerjoin(Owner, Owner.id == Property.owner_id)
        .where(*made).group_by(Reservation.property_id, Property.city, Owner.email)).all()
    per_day = db.session.execute(select(func.date(Reservation.created_at), func.count(), func.sum(_nights()))
                                 .where(*made).group_by(func.date(Reservation.created_at))).all()
    found = db.session.execute(
        select(func.date(Overbooking.detected_at), Overbooking.link_source, Property.city, Owner.email,
               func.count())
        .join(Property, Property.id == Overbooking.property_id)
        .outerjoin(Owner, Owner.id == Property.owner_id)
        .where(*detected_in(first, last))
        .group_by(func.date(Overbooking.detected_at), Overbooking.link_source, Property.city,
                  Owner.email)).all()
    sources: dict[int, list[str]] = defaultdict(list)
    for pid, source in db.session.execute(select(CalendarLink.property_id, CalendarLink.source).distinct()):
        sources[pid].append(source)
    totals = {dimension: defaultdict(lambda: [0, 0, 0]) for dimension in DIMENSIONS}

    def add(dimension: str, key: str | None, overbookings: int, bookings: int, nights) -> None:
        row = totals[dimension][key or "unknown"]
        row[0] += overbookings
        row[1] += bookings
        row[2] += int(nights or 0)
    for pid, city, owner, n, nights in per_property:
        add("city", city, 0, n, nights)
        add("owner", owner, 0, n, nights)
        for source in sources.get(pid) or [None]:
            add("source", source, 0, n, nights)
    for day, n, nights in per_day:
        add("week", _monday(_day(day)), 0, n, nights)
    for day, source, city, owner, n in found:
        for dimension, key in (("week", _monday(_day(day))), ("source", source), ("city", city),
                               ("owner", owner)):
            add(dimension, key, n, 0, 0)
    monday = first - timedelta(days=first.weekday())
    while monday <= last:
        totals["week"][monday.isoformat()]  # every week of the range, the quiet ones too
        monday += timedelta(weeks=1)
    ranked = {"week": [[key, *totals["week"][key]] for key in sorted(totals["week"])]}
    for dimension in DIMENSIONS[1:]:
        ranked[dimension] = sorted(([key, *value] for key, value in totals[dimension].items()),
                                   key=lambda row: (-row[1], -row[2], row[0]))
    return ranked


def _monday(day: date) -> str:
    return (day - timedelta(days=day.weekday())).isoformat()


def totals(property_ids, first: date, last: date) -> tuple[int, int, int]:
    """(overbookings, direct bookings, nights sold) of these properties (ids or a subquery of ids) over
    [first, last]."""
    bookings, nights = db.session.execute(
        select(func.count(), func.sum(_nights()))
        .where(*_made_in(first, last), Reservation.property_id.in_(property_ids))).one()
    overbookings = db.session.execute(
        select(func.count()).select_from(Overbooking)
        .where(*detected_in(first, last), Overbooking.property_id.in_(property_ids))).scalar()
    return int(overbookings), int(bookings), int(nights or 0)


def _key(first: date, last: date) -> str:
    return f"{STORE_KEY}:{first.isoformat()}:{last.isoformat()}"


def _store(conn, first: date, last: date, now: datetime, counted: dict) -> None:
    conn.set(_key(first, last), json.dumps({"counted_at": now.isoformat(), "rates": counted}),
             ex=STORE_SECONDS)


def _stored(conn, first: date, last: date, now: datetime) -> dict | None:
    raw = conn.get(_key(first, last))
    if not raw:
        return None
    stored = json.loads(raw)
    age = max(0.0, (now - datetime.fromisoformat(stored["counted_at"])).total_seconds())
    return {"rates": stored["rates"], "age_seconds": age} if age <= STORE_SECONDS else None


def current(conn, first: date, last: date, now: datetime) -> dict:
    """{"rates": count(first, last), "age_seconds"}: the stored count while it is younger than
    STORE_SECONDS, else counted now and stored (without Redis: conn None or failing, counted only)."""
    if conn is not None:
        try:
            stored = _stored(conn, first, last, now)
            if stored is not None:
                return stored
        except Exception:  # noqa: BLE001 - Redis gone: count now
            log.debug("could not read the stored overbooking rates", exc_info=True)
            conn = None
    counted = count(first, last)
    if conn is not None:
        try:
            _store(conn, first, last, now, counted)
        except Exception:  # noqa: BLE001 - the answer stands; the next reader counts again
            log.debug("could not keep the overbooking rates", exc_info=True)
    return {"rates": counted, "age_seconds": 0.0}


def warm(conn, now: datetime) -> bool:
    """Count the page's default range ahead of it when the stored count is missing or RECOUNT_AFTER
    seconds old; True when it was counted."""
    first, last = last_weeks(DEFAULT_WEEKS, now.date())
    stored = _stored(conn, first, last, now)
    if stored is not None and stored["age_seconds"] < RECOUNT_AFTER:
        return False
    _store(conn, first, last, now, count(first, last))
    return True
