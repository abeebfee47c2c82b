"""The orders of the property list: any column, ascending or descending, and "needs attention first"."""
from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import case, false, func, select
from sqlalchemy.sql import Select

from console.models import CalendarLink, Owner, Property
from jobs.rules.risk import STALE_AFTER_INTERVALS

ATTENTION = "attention"
# Each sortable column and the direction a first click sorts it in (the worst or newest first).
SORTS = {"attention": "desc", "property": "asc", "owner": "asc", "health": "desc", "risk": "desc",
         "score": "asc", "last_sync": "desc", "exposure": "desc"}
DIRECTIONS = ("asc", "desc")


def health_rank(now: datetime, interval_minutes: int):
    """The property's worst link health as a number (failing 3, stale 2, never synced 1, ok 0,
    no link -1), in one correlated aggregate on the links' property index."""
    stale_before = now - timedelta(minutes=STALE_AFTER_INTERVALS * interval_minutes)
    each = case((CalendarLink.last_sync_at.is_(None) | CalendarLink.last_attempt_ok.is_(None), 1),
                (CalendarLink.last_attempt_ok == false(), 3),
                (CalendarLink.last_success_at.is_(None) | (CalendarLink.last_success_at < stale_before), 2),
                else_=0)
    worst = select(func.max(each)).where(CalendarLink.property_id == Property.id).scalar_subquery()
    return func.coalesce(worst, -1)


def _last_sync():
    newest = select(func.max(CalendarLink.last_sync_at)).where(
        CalendarLink.property_id == Property.id).scalar_subquery()
    # Never synced sorts as the oldest: a constant far in the past on both backends.
    return func.coalesce(newest, datetime(1970, 1, 1))


def ordered(query: Select, sort: str, direction: str, *, now: datetime, interval_minutes: int) -> Select:
    """The query in the list's order `sort` (a SORTS key) and `direction`, ties by natural name and id."""
    keys = {"property": [], "owner": [Owner.email], "health": [health_rank(now, interval_minutes)],
            "risk": [Property.risk_rank], "score": [func.coalesce(Property.score_value, -1)],
            "last_sync": [_last_sync()], "exposure": [Property.exposure_nights],
            ATTENTION: [Property.exposure_nights, Property.risk_rank]}[sort]
    flip = (lambda key: key.desc()) if direction == "desc" else (lambda key: key.asc())
    tie = Property.name_key.desc() if sort == "property" and direction == "desc" else Property.name_key
    return query.order_by(None).order_by(*(flip(key) for key in keys), tie, Property.id)
