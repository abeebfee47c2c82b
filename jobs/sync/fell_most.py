"""The properties whose score fell most this week, and why: the managers' page and its CSV read the list
from Redis, where the fleet tally's job renews it before its five minutes end (a week's comparison of
every property's score costs ~0.5 s at 40,000 properties on PostgreSQL)."""
from __future__ import annotations

import json
import logging
from datetime import datetime, timedelta

from sqlalchemy import and_, func, select

from console.extensions import db
from console.models import Property, ScoreSnapshot
from jobs.rules.score import explain_change

log = logging.getLogger(__name__)
FELL_MOST = 10
WEEK = timedelta(days=7)
CACHE_KEY, CACHE_SECONDS = "csc:fell-most", 300


def cached(conn, now: datetime, limit: int = FELL_MOST) -> list[dict]:
    """fell_most_now, kept CACHE_SECONDS in Redis (renewed before it ends by the fleet tally's job:
    warm); computed without Redis (conn None or failing)."""
    stored = None
    if conn is not None:
        try:
            stored = conn.get(f"{CACHE_KEY}:{limit}")
        except Exception:  # noqa: BLE001 - without Redis the page computes it, a little slower
            conn = None
    if stored:
        return [{**item, "was_at": datetime.fromisoformat(item["was_at"])} for item in json.loads(stored)]
    items = fell_most_now(now, limit)
    if conn is not None:
        try:
            _store(conn, items, limit)
        except Exception:  # noqa: BLE001 - the answer stands; the next page computes it again
            log.debug("could not keep the fell-most list", exc_info=True)
    return items


def warm(conn, now: datetime, limit: int = FELL_MOST) -> bool:
    """Compute the list ahead of the page when the stored one is missing or ends within a minute;
    True when it was computed."""
    if conn.ttl(f"{CACHE_KEY}:{limit}") > 60:
        return False
    _store(conn, fell_most_now(now, limit), limit)
    return True


def _store(conn, items: list[dict], limit: int) -> None:
    conn.set(f"{CACHE_KEY}:{limit}", json.dumps(
        [{**item, "was_at": item["was_at"].isoformat()} for item in items]), ex=CACHE_SECONDS)


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
