"""Overbookings as rates, as the channels judge owners: per 1,000 direct bookings and per 1,000 nights
sold, by week, source, city and owner, and over twelve months for one property or one owner."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import select

from console.models import Property
from console.reports.date_range import DateRange
from console.reports.fleet_tally import redis_or_none
from console.timeutil import utcnow
from jobs.sync import rate_tally
from jobs.sync.rate_tally import DIMENSIONS

__all__ = ["DIMENSIONS", "RATE_HEADER", "Rate", "property_and_owner", "rates", "rates_by_dimension",
           "twelve_months"]
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


def rates_by_dimension(r: DateRange, now: datetime | None = None) -> tuple[dict[str, list[Rate]], float]:
    """Every dimension's rates over the range (jobs/sync/rate_tally.py: weeks in order, other groups most
    overbookings first) and the age in seconds of the count (stored up to a minute)."""
    tally = rate_tally.current(redis_or_none(), r.first, r.last, now or utcnow())
    return ({dimension: [Rate(*row) for row in rows] for dimension, rows in tally["rates"].items()},
            tally["age_seconds"])


def rates(dimension: str, r: DateRange) -> list[Rate]:
    """Rates by `dimension` over the range."""
    return rates_by_dimension(r)[0][dimension]


def twelve_months(property_ids, today: date) -> Rate:
    """The overbookings of these properties (ids or a subquery of ids) over the last 12 months against
    their direct bookings."""
    return Rate("12 months", *rate_tally.totals(property_ids, today - timedelta(days=365), today))


def property_and_owner(prop: Property, today: date) -> dict[str, Rate]:
    """The 12-month count and rate of one property and of its owner's whole fleet."""
    owned = select(Property.id).where(Property.owner_id == prop.owner_id) \
        if prop.owner_id is not None else [prop.id]
    return {"property": twelve_months([prop.id], today), "owner": twelve_months(owned, today)}
