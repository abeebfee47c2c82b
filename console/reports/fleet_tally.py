"""The console's reading of the fleet tally (jobs/sync/fleet_tally.py): the stored counts when they are
younger than a minute, else counted for this request; with the score bands and failing-link groups the
pages draw."""
from __future__ import annotations

from datetime import datetime

from console.reports import charts
from jobs.sync.fleet_tally import TALLY_EVERY, TALLY_KEY, TALLY_MAX_AGE
from jobs.sync.fleet_tally import current as _current

__all__ = ["TALLY_EVERY", "TALLY_KEY", "TALLY_MAX_AGE", "current", "failing_groups", "redis_or_none"]


def redis_or_none():
    """This process's Redis connection, or None when it cannot be had (the tally is then counted)."""
    try:
        from jobs.broker import redis_connection
        return redis_connection()
    except Exception:  # noqa: BLE001 - without Redis every reader counts for itself
        return None


def current(now: datetime, interval_minutes: int) -> dict:
    """The fleet tally for a page or a scrape, with `score_bands` (properties per band of ten)."""
    tally = _current(now, interval_minutes, redis_or_none())
    return {**tally, "score_bands": charts.score_bins(tally["scores"])}


def failing_groups(rows: list[list], fleet: int) -> list[dict]:
    """The dashboard's failing-link groups from tally rows: links, properties hit, share of the fleet."""
    return [{"value": value, "links": links, "properties": props,
             "share": round(100 * props / fleet, 1) if fleet else 0.0} for value, links, props in rows]
