"""Overbookings as rates, as the channels judge owners: per 1,000 direct bookings and per 1,000 nights
sold, by week, source, city and owner, and over twelve months for one property or one owner."""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from sqlalchemy import func, select

from console.extensions import db
from console.models import CalendarLink, Overbooking, Owner, Property, Reservation
from console.reports.date_range import DateRange

DIMENSIONS = ("week", "source", "city", "owner")
RATE_HEADER = ["overbookings", "direct bookings", "nights sold", "per 1,000 direct bookings",
               "per 1,000 nights sold"]


@dataclass(frozen=True)
class Rate:
    """One group's overbookings against the direct bookings (and nights) sold in the same time."""

    key: str
    overbookings: int
    bookings: int
    nights: int

    @property
    def per_1000_bookings(self) -> float | None:
        return round(1000 * self.overbookings / self.bookings, 1) if self.bookings else None

    @property
    def per_1000_nights(self) -> float | None:
        return round(1000 * self.overbookings / self.nights, 1) if self.nights else None

    def json(self) -> dict:
        """The rate as the API answers it."""
        return {"key": self.key, "overbookings": self.overbookings, "direct_bookings": self.bookings,
                "nights_sold": self.nights, "per_1000_bookings": self.per_1000_bookings,
                "per_1000_nights": self.per_1000_nights}

    def row(self) -> list:
        """The rate as a CSV row."""
        return [self.key, self.overbookings, self.bookings, self.nights, self.per_1000_bookings,
                self.per_1000_nights]


def _bounds(first: date, last: date) -> tuple[datetime, datetime]:
    return datetime.combine(first, time()), datetime.combine(last + timedelta(days=1), time())


def _nights():
    if db.session.get_bind().dialect.name == "postgresql":
        return Reservation.check_out - Reservation.check_in
    return func.julianday(Reservation.check_out) - func.julianday(Reservation.check_in)


def _day(value) -> date:
    return value if isinstance(value, date) else date.fromisoformat(value)  # SQLite's date() is text


def _bookings(first: date, last: date, property_ids=None) -> list[tuple[int, date, int, int]]:
    """(property id, day, bookings, nights) of direct bookings made on [first, last], per day."""
    start, end = _bounds(first, last)
    day = func.date(Reservation.created_at)
    query = (select(Reservation.property_id, day, func.count(), func.sum(_nights()))
             .where(Reservation.origin == "direct", Reservation.created_at >= start,
                    Reservation.created_at < end).group_by(Reservation.property_id, day))
    if property_ids is not None:
        query = query.where(Reservation.property_id.in_(property_ids))
    return [(pid, _day(d), int(n), int(nights or 0)) for pid, d, n, nights in db.session.execute(query)]


def _overbookings(first: date, last: date, property_ids=None) -> list[tuple[int, date, str | None, int]]:
    """(property id, day, source, count) of overbookings detected on [first, last], per day."""
    start, end = _bounds(first, last)
    day = func.date(Overbooking.detected_at)
    query = (select(Overbooking.property_id, day, Overbooking.link_source, func.count())
             .where(Overbooking.detected_at >= start, Overbooking.detected_at < end)
             .group_by(Overbooking.property_id, day, Overbooking.link_source))
    if property_ids is not None:
        query = query.where(Overbooking.property_id.in_(property_ids))
    return [(pid, _day(d), source, int(n)) for pid, d, source, n in db.session.execute(query)]


def _names(dimension: str, property_ids: set[int]) -> dict[int, list[str]]:
    """Each property's group names: its city, its owner, or the sources of its calendars."""
    if not property_ids:
        return {}
    ids = list(property_ids)
    if dimension == "source":
        names: dict[int, list[str]] = defaultdict(list)
        for pid, source in db.session.execute(select(CalendarLink.property_id, CalendarLink.source)
                                              .where(CalendarLink.property_id.in_(ids)).distinct()):
            names[pid].append(source)
        return names
    column = Property.city if dimension == "city" else Owner.email
    query = select(Property.id, column).where(Property.id.in_(ids))
    if dimension == "owner":
        query = query.join(Owner, Owner.id == Property.owner_id)
    return {pid: [name or "unknown"] for pid, name in db.session.execute(query)}


def rates(dimension: str, r: DateRange) -> list[Rate]:
    """Rates by `dimension` over the range: weeks in order, other groups most overbookings first.

    By source, a direct booking counts for each source its property links (the calendars that
    could have overbooked it), and an overbooking for its block's source."""
    bookings, overbookings = _bookings(r.first, r.last), _overbookings(r.first, r.last)
    if dimension == "week":
        def keys(pid, day, source=None):
            return [(day - timedelta(days=day.weekday())).isoformat()]
    else:
        names = _names(dimension, {b[0] for b in bookings} | {o[0] for o in overbookings})

        def keys(pid, day, source=None):
            if dimension == "source" and source is not None:
                return [source]
            return names.get(pid) or ["unknown"]
    totals: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0])
    for pid, day, n, nights in bookings:
        for key in keys(pid, day):
            totals[key][1] += n
            totals[key][2] += nights
    for pid, day, source, n in overbookings:
        for key in keys(pid, day, source or "unknown"):
            totals[key][0] += n
    if dimension == "week":
        monday = r.first - timedelta(days=r.first.weekday())
        while monday <= r.last:
            totals[monday.isoformat()]  # every week of the range, the quiet ones too
            monday += timedelta(weeks=1)
        return [Rate(key, *totals[key]) for key in sorted(totals)]
    found = [Rate(key, *value) for key, value in totals.items()]
    return sorted(found, key=lambda rate: (-rate.overbookings, -rate.bookings, rate.key))


def twelve_months(property_ids: list[int], today: date) -> Rate:
    """The overbookings of these properties over the last 12 months against their direct bookings."""
    first = today - timedelta(days=365)
    bookings, overbookings = _bookings(first, today, property_ids), _overbookings(first, today, property_ids)
    return Rate("12 months", sum(o[3] for o in overbookings), sum(b[2] for b in bookings),
                sum(b[3] for b in bookings))


def property_and_owner(prop: Property, today: date) -> dict[str, Rate]:
    """The 12-month count and rate of one property and of its owner's whole fleet."""
    owned = list(db.session.execute(select(Property.id).where(Property.owner_id == prop.owner_id)).scalars()) \
        if prop.owner_id is not None else [prop.id]
    return {"property": twelve_months([prop.id], today), "owner": twelve_months(owned, today)}
