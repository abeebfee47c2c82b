"""The figures of the managers' page, each from one grouped query: the charts and their CSV files both
read these rows, so a download always holds what the chart draws."""
from __future__ import annotations

import json
from datetime import date, datetime, time, timedelta

from sqlalchemy import and_, func, select

from console import charts
from console.date_range import DateRange
from console.extensions import db
from console.models import Overbooking, Owner, Property, ScoreSnapshot
from jobs.rules.score import explain_change

TOP_GROUPS = 15
LIST_SIZE = 100
FELL_MOST = 10
WEEK = timedelta(days=7)
FELL_MOST_CACHE_KEY, FELL_MOST_CACHE_SECONDS = "csc:fell-most", 300
GROUP_COLUMNS = {"source": Overbooking.link_source, "city": Property.city, "owner": Owner.email}


def _in_range(r: DateRange):
    return and_(Overbooking.detected_at >= datetime.combine(r.first, time()),
                Overbooking.detected_at < datetime.combine(r.last + timedelta(days=1), time()))


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
    """Properties per band of ten of their newest score, from the fleet tally (console.fleet_tally)."""
    from console import fleet_tally
    return [tuple(band) for band in fleet_tally.current(now, interval_minutes)["score_bands"]]


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
    """fell_most_now, kept FELL_MOST_CACHE_SECONDS in Redis (and renewed before it ends by the fleet
    tally's job, warm_fell_most): a week's comparison of every property's score costs ~0.5 s at 40,000
    properties on PostgreSQL, and scores move only when syncs or the score pass write them."""
    from jobs.broker import redis_connection
    try:
        conn = redis_connection()
        cached = conn.get(f"{FELL_MOST_CACHE_KEY}:{limit}")
    except Exception:  # noqa: BLE001 - without Redis the page computes it, a little slower
        conn = cached = None
    if cached:
        return [{**item, "was_at": datetime.fromisoformat(item["was_at"])} for item in json.loads(cached)]
    items = fell_most_now(now, limit)
    if conn is not None:
        try:
            _store_fell_most(conn, items, limit)
        except Exception:  # noqa: BLE001 - the answer stands; the next page computes it again
            pass
    return items


def warm_fell_most(conn, now: datetime, limit: int = FELL_MOST) -> bool:
    """Compute the fell-most list ahead of the page when the stored one is missing or ends within a
    minute; True when it was computed."""
    if conn.ttl(f"{FELL_MOST_CACHE_KEY}:{limit}") > 60:
        return False
    _store_fell_most(conn, fell_most_now(now, limit), limit)
    return True


def _store_fell_most(conn, items: list[dict], limit: int) -> None:
    conn.set(f"{FELL_MOST_CACHE_KEY}:{limit}", json.dumps(
        [{**item, "was_at": item["was_at"].isoformat()} for item in items]), ex=FELL_MOST_CACHE_SECONDS)


def fell_most_now(now: datetime, limit: int = FELL_MOST) -> list[dict]:
    """The properties whose score fell most since their snapshot of about a week ago, with why.

    One statement: the newest snapshot of each property computed 7 to 14 days ago (a range of the
    computed_at index) against the newest score copied on the property row."""
    cutoff = now - WEEK
    then = (select(ScoreSnapshot.property_id, func.max(ScoreSnapshot.computed_at).label("at"))
            .where(ScoreSnapshot.computed_at <= cutoff, ScoreSnapshot.computed_at > cutoff - WEEK)
            .group_by(ScoreSnapshot.property_id).subquery())
    rows = db.session.execute(
        select(Property.id, Property.name, Property.score_value, Property.score_components,
               ScoreSnapshot.score, ScoreSnapshot.components, ScoreSnapshot.computed_at)
        .join(then, then.c.property_id == Property.id)
        .join(ScoreSnapshot, and_(ScoreSnapshot.property_id == then.c.property_id,
                                  ScoreSnapshot.computed_at == then.c.at))
        .where(Property.score_value < ScoreSnapshot.score)
        .order_by((ScoreSnapshot.score - Property.score_value).desc(), Property.id)
        .limit(limit * 2)).all()  # two snapshots may share a moment: twice as many, deduplicated
    items, seen = [], set()
    for pid, name, value, components, was, was_components, was_at in rows:
        if pid in seen or len(items) == limit:
            continue
        seen.add(pid)
        items.append({"property_id": pid, "name": name, "value": value, "was": was, "was_at": was_at,
                      "change": value - was, "fell_most_in": _fell_most_in(was_components, components),
                      "reasons": explain_change(was_components, components or {})})
    return items


def _fell_most_in(old: dict | None, new: dict | None) -> str | None:
    """The component that lost the most points between two sets of components."""
    losses = {name: float((old or {}).get(name, {}).get("points", 0))
              - float((new or {}).get(name, {}).get("points", 0))
              for name in ("overbookings", "sync_success", "sync_freshness", "hygiene")}
    name, lost = max(losses.items(), key=lambda item: item[1])
    return name if lost > 0 else None
