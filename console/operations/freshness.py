"""How fresh the fleet's calendars are and how far behind its schedule it runs, for the dashboard:
calendar age from the fleet tally, lateness from the counts in Redis (both cheap at any fleet size)."""
from __future__ import annotations

import math

from jobs.rules.sync_interval import quantile
from jobs.sync import lateness


def _span(seconds: float | None) -> str | None:
    """Seconds in the largest unit that keeps them readable."""
    if seconds is None:
        return None
    if seconds < 120:
        return f"{math.ceil(seconds)} s"
    if seconds < 7200:
        return f"{round(seconds / 60)} min"
    return f"{round(seconds / 3600, 1)} h"


def calendar_age(tally: dict) -> dict | None:
    """Active links' calendar age p50 and p95 in words, from the tally (None before a tally has it)."""
    ages = (tally.get("schedule") or {}).get("ages")
    if not ages or not ages["links"]:
        return None
    p50, p95 = (quantile(ages["bounds"], ages["counts"], q) for q in (0.5, 0.95))
    never_or_old = ages["counts"][-1]
    return {"links": ages["links"], "p50": _span(p50), "p95": _span(p95),
            "p95_open": never_or_old > 0.05 * ages["links"],  # past the last bound: "over a day"
            "last_bound": _span(ages["bounds"][-1])}


def fleet_lateness(conn) -> dict | None:
    """Lateness of the last minutes' scheduled syncs (None when Redis does not answer)."""
    return lateness.recent_or_none(conn)


def _cumulative(bounds: list[float], counts: list[int]) -> list[tuple[str, int]]:
    """Prometheus buckets (le, cumulative count) from counts per bucket, the last one +Inf."""
    buckets, seen = [], 0
    for bound, count in zip([*bounds, math.inf], counts, strict=False):
        seen += count
        buckets.append(("+Inf" if bound == math.inf else repr(float(bound)), seen))
    return buckets


def age_histogram(tally: dict):
    """csc_calendar_age_seconds from the tally: active links by age of their last successful read
    (never read: in +Inf only); None when the tally predates it."""
    from prometheus_client.core import HistogramMetricFamily
    ages = (tally.get("schedule") or {}).get("ages")
    if not ages:
        return None
    return HistogramMetricFamily("csc_calendar_age_seconds", "Age of each active link's last successful "
                                 "read (never read: +Inf only), from the fleet tally",
                                 buckets=_cumulative(ages["bounds"], ages["counts"]), sum_value=ages["sum"])


def lateness_histogram(conn):
    """csc_sync_lateness_seconds from the counts in Redis (every scheduled sync since Redis kept them)."""
    from prometheus_client.core import HistogramMetricFamily
    counts, total, _n = lateness.totals(conn)
    return HistogramMetricFamily("csc_sync_lateness_seconds", "How long due links waited past their due "
                                 "time before their read began", buckets=_cumulative(
                                     lateness.LATENESS_BOUNDS, counts), sum_value=total)
