"""The fleet's health counts (one grouped pass) agree with the per-health filter (the documented rule)."""
from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func, select

from console.extensions import db
from console.models import Property
from console.queries.property_filters import HEALTHS, health_condition, health_counts
from console.timeutil import utcnow

INTERVAL = 15


def test_health_counts_equal_the_filter_for_every_health(make_property, make_link):
    now = utcnow()
    fresh, old = now - timedelta(minutes=5), now - timedelta(minutes=3 * INTERVAL + 1)
    kinds = {  # each property's links as (last_attempt_ok, last_success_at)
        "ok": [(True, fresh)], "ok twice": [(True, fresh), (True, fresh)],
        "failing": [(False, fresh)], "failing beats stale": [(True, old), (False, None)],
        "stale": [(True, old)], "stale, never succeeded": [(True, None)],
        "stale beats never": [(None, None), (True, old)], "never": [(None, None)],
        "never beats ok": [(True, fresh), (None, None)], "no link": [],
    }
    for name, links in kinds.items():
        prop = make_property(name)
        for ok, success in links:
            make_link(prop, last_attempt_ok=ok, last_success_at=success)
    counts = health_counts(now, INTERVAL)
    by_filter = {h: db.session.execute(select(func.count()).select_from(Property).where(
        health_condition(h, now, INTERVAL))).scalar() for h in HEALTHS}
    assert counts == by_filter
    assert counts == {"failing": 2, "stale": 3, "never_synced": 2, "ok": 2, "none": 1}


def test_an_empty_fleet_counts_zero_everywhere(app):
    assert health_counts(utcnow(), INTERVAL) == dict.fromkeys(HEALTHS, 0)
