"""The schedule's part of the fleet tally: the calendar age of active links (a histogram) and the budget
scale that keeps the fleet's reads at (active links / SYNC_INTERVAL_MINUTES) a minute."""
from __future__ import annotations

from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import case, false, func, literal, select

from console.extensions import db
from console.models import CalendarLink
from jobs.rules.sync_interval import ScheduleBounds, budget_scale

# Upper bounds of the calendar-age buckets, in seconds (the last bucket is open-ended: never read too).
AGE_BOUNDS = [60.0, 120.0, 300.0, 600.0, 900.0, 1800.0, 2700.0, 3600.0, 7200.0, 21600.0, 86400.0]


def bounds(config) -> ScheduleBounds:
    """The schedule's bounds from the app config."""
    return ScheduleBounds(config["SYNC_INTERVAL_MINUTES"], config["SYNC_MIN_INTERVAL_MINUTES"],
                          config["SYNC_MAX_INTERVAL_MINUTES"])


def _age_seconds(now: datetime):
    """now - last_success_at in seconds, as SQL on either backend."""
    column = CalendarLink.last_success_at
    if db.engine.dialect.name == "postgresql":
        return func.extract("epoch", literal(now) - column)
    return (func.julianday(literal(now.isoformat(sep=" "))) - func.julianday(column)) * 86400.0


def calendar_ages(now: datetime) -> dict:
    """Active links per calendar-age bucket (one pass): {bounds, counts (the last: older or never read),
    sum (seconds, links read at least once), links}."""
    active = CalendarLink.state == "active"
    within = [func.sum(case((CalendarLink.last_success_at >= now - timedelta(seconds=b), 1), else_=0))
              for b in AGE_BOUNDS]
    row = db.session.execute(select(func.count(), func.sum(_age_seconds(now)), *within)
                             .where(active)).one()
    links, total, cumulative = row[0] or 0, float(row[1] or 0), [int(v or 0) for v in row[2:]]
    counts = [b - a for a, b in zip([0, *cumulative], cumulative, strict=False)]
    counts.append(links - (cumulative[-1] if cumulative else 0))
    return {"bounds": AGE_BOUNDS, "counts": counts, "sum": max(0.0, total), "links": links}


def weight_groups() -> list[tuple[float, str, int]]:
    """Active links that read well, grouped as (weight, source, count): what the budget is shared by."""
    weight = func.coalesce(CalendarLink.sync_weight, 1.0)  # stored rounded to 2 decimals: few groups
    rows = db.session.execute(select(weight, CalendarLink.source, func.count())
                              .where(CalendarLink.state == "active",
                                     func.coalesce(CalendarLink.last_attempt_ok, True) != false())
                              .group_by(weight, CalendarLink.source)).all()
    return [(float(w), source, n) for w, source, n in rows]


def take(now: datetime) -> dict:
    """The schedule's tally: calendar ages and the budget scale (two grouped queries)."""
    return {"ages": calendar_ages(now), "scale": budget_scale(weight_groups(), bounds(current_app.config))}
