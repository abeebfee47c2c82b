"""The figures of the managers' page, each from one grouped query: the charts and their CSV files both
read these rows, so a download always holds what the chart draws."""
from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import and_, func, select

from console.extensions import db
from console.models import Overbooking, Owner, Property
from console.reports import charts
from console.reports.date_range import DateRange
from jobs.sync.fell_most import FELL_MOST
from jobs.sync.fell_most import cached as fell_most_list
from jobs.sync.rate_tally import detected_in

TOP_GROUPS = 15
LIST_SIZE = 100
GROUP_COLUMNS = {"source": Overbooking.link_source, "city": Property.city, "owner": Owner.email}


def _in_range(r: DateRange):
    return and_(*detected_in(r.first, r.last))


def weekly(r: DateRange) -> list[charts.WeekCount]:
    """Overbookings per week of the range, by blame: counted per day in SQL, summed into weeks here."""
    day = func.date(Overbooking.detected_at)
    rows = db.session.execute(select(day, Overbooking.counts_against_owner, func.count())
                              .where(_in_range(r)).group_by(day, Overbooking.counts_against_owner)).all()
    # SQLite's date() answers text, PostgreSQL's a date.
    return charts.weekly_counts([(d if isinstance(d, date) else date.fromisoformat(d), counts, n)
                                 for d, counts, n in rows], r.first, r.last)


def by_group(dimension: str, r: DateRange) -> list[charts.GroupCount]:
    """The largest groups (source, city or owner) of the range, largest first, by blame."""
    if dimension == "source":  # kept on the overbooking: no join
        rows = db.session.execute(
            select(Overbooking.link_source, Overbooking.counts_against_owner, func.count())
            .where(_in_range(r)).group_by(Overbooking.link_source, Overbooking.counts_against_owner)).all()
    else:
        # Counted per property first, then each property's city or owner looked up by key: a join let
        # PostgreSQL hash the whole properties table (a scan that grows with the fleet) for a range's
        # few hundred properties.
        per_property = (select(Overbooking.property_id, Overbooking.counts_against_owner,
                               func.count().label("n"))
                        .where(_in_range(r))
                        .group_by(Overbooking.property_id, Overbooking.counts_against_owner).subquery())
        if dimension == "city":
            name = select(Property.city).where(Property.id == per_property.c.property_id)
        else:
            name = (select(Owner.email).join(Property, Property.owner_id == Owner.id)
                    .where(Property.id == per_property.c.property_id))
        named = select(name.scalar_subquery().label("name"), per_property.c.counts_against_owner,
                       per_property.c.n).subquery()
        rows = db.session.execute(select(named.c.name, named.c.counts_against_owner, func.sum(named.c.n))
                                  .group_by(named.c.name, named.c.counts_against_owner)).all()
    totals: dict[str, list[int]] = {}
    for name, counts, n in rows:
        totals.setdefault(name or "unknown", [0, 0])[0 if counts else 1] += int(n)
    return charts.rank_groups([charts.GroupCount(name, c, nc) for name, (c, nc) in totals.items()],
                              TOP_GROUPS)


def score_bands(now: datetime, interval_minutes: int) -> list[tuple[str, int]]:
    """Properties per band of ten of their newest score, from the fleet tally (console.reports.fleet_tally)."""
    from console.reports import fleet_tally
    return fleet_tally.current(now, interval_minutes)["score_bands"]


def newest_overbookings(r: DateRange, state: str | None, counts: bool | None) -> list[tuple]:
    """(overbooking, property name) detected in the range, newest first, at most LIST_SIZE."""
    query = (select(Overbooking, Property.name).join(Property, Property.id == Overbooking.property_id)
             .where(_in_range(r)))
    if state:
        query = query.where(Overbooking.state == state)
    if counts is not None:
        query = query.where(Overbooking.counts_against_owner.is_(counts))
    return db.session.execute(query.order_by(Overbooking.detected_at.desc(), Overbooking.id.desc())
                              .limit(LIST_SIZE)).all()


def fell_most(now: datetime, limit: int = FELL_MOST) -> list[dict]:
    """The properties whose score fell most this week, with why (jobs/sync/fell_most.py: kept five
    minutes in Redis and renewed ahead by the fleet tally's job; computed here without Redis)."""
    from console.reports.fleet_tally import redis_or_none
    return fell_most_list(redis_or_none(), now, limit)
