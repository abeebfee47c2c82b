"""Filtering properties by health, risk, source, error kind, held changes and text in SQL (shared by API and
console)."""
from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import and_, exists, false, func, not_, or_, select, true
from sqlalchemy.orm import selectinload
from sqlalchemy.sql import Select

from console.extensions import db
from console.models import CalendarLink, Owner, Property
from console.models.text_keys import fold
from jobs.sync.fleet_tally import HEALTHS, health_counts, held_condition  # the tally counts by them too

RISKS = ("none", "low", "medium", "high")


def _link_exists(*conditions):
    return exists().where(CalendarLink.property_id == Property.id, *conditions)


def health_condition(health: str, now: datetime, interval_minutes: int):
    """A WHERE clause true for properties whose worst link health is `health` (docs/outcomes.md)."""
    stale_before = now - timedelta(minutes=3 * interval_minutes)
    failing = _link_exists(CalendarLink.last_attempt_ok == false())
    stale = _link_exists(CalendarLink.last_attempt_ok == true(), or_(
        CalendarLink.last_success_at.is_(None), CalendarLink.last_success_at < stale_before))
    never = _link_exists(CalendarLink.last_attempt_ok.is_(None))
    return {
        "failing": failing,
        "stale": and_(not_(failing), stale),
        "never_synced": and_(not_(failing), not_(stale), never),
        "ok": and_(_link_exists(), not_(failing), not_(stale), not_(never)),
        "none": not_(_link_exists()),
    }[health]


def property_query(*, now: datetime, interval_minutes: int, health: str | None = None,
                   risk: str | None = None, source: str | None = None,
                   search: str | None = None, error: str | None = None,
                   held: bool = False) -> Select:
    """Properties matching every given filter, in natural order of names (then id)."""
    query = select(Property).join(Owner, Property.owner_id == Owner.id)
    if health:
        query = query.where(health_condition(health, now, interval_minutes))
    if risk:
        query = query.where(Property.risk_level == risk)
    if source:
        query = query.where(_link_exists(CalendarLink.source == source))
    if error:  # a link whose last attempt failed in this way
        query = query.where(_link_exists(CalendarLink.last_attempt_ok == false(),
                                         CalendarLink.last_error_kind == error))
    if held:
        query = query.where(held_condition())
    if search and fold(search).strip():
        query = query.where(search_condition(search))
    return query.order_by(Property.name_key, Property.id)


def count_matching(query: Select) -> int:
    """How many properties a property_query matches: count(*) over its joins and filters alone (a
    subquery of whole rows in name order cost PostgreSQL 70 ms at 40,000 properties, this 6 ms)."""
    return db.session.execute(query.with_only_columns(func.count(), maintain_column_froms=False)
                              .order_by(None)).scalar()


def search_condition(search: str):
    """Name, city or external reference (folded: no case, no accents) or owner e-mail containing it."""
    term = fold(search).strip()
    return or_(Property.search_key.contains(term, autoescape=True),
               Owner.email_key.contains(term, autoescape=True))


def with_relations(query: Select) -> Select:
    """A page of properties with its owners and links loaded in one statement each (no N+1)."""
    return query.options(selectinload(Property.owner), selectinload(Property.links))


__all__ = ["HEALTHS", "RISKS", "count_matching", "health_condition", "health_counts", "held_condition",
           "property_query",
           "search_condition", "with_relations"]
