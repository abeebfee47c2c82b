"""Lateness of scheduled syncs (how long a due link waited past its due time before its read began), kept
in Redis as histogram counts: in total for /metrics, and per minute for the dashboard's recent figures."""
from __future__ import annotations

import logging
import math
import time
from collections.abc import Iterable

from jobs.rules.sync_interval import quantile

log = logging.getLogger(__name__)
# Upper bounds of the buckets, in seconds (the last bucket is open-ended).
LATENESS_BOUNDS = [1.0, 2.0, 5.0, 10.0, 15.0, 20.0, 30.0, 45.0, 60.0, 90.0, 120.0, 300.0, 600.0,
                   1800.0, 3600.0]
TOTAL_KEY = "csc:sync-lateness"
MINUTE_KEY = "csc:sync-lateness:{}"  # per epoch minute, kept an hour
RECENT_MINUTES = 10


def bucket_of(seconds: float) -> int:
    """The index of the bucket holding `seconds` (len(LATENESS_BOUNDS): the open bucket)."""
    for index, bound in enumerate(LATENESS_BOUNDS):
        if seconds <= bound:
            return index
    return len(LATENESS_BOUNDS)


def record(conn, latenesses: Iterable[float], now: float | None = None) -> int:
    """Add lateness observations (seconds) to the total and this minute's counts; how many were added."""
    values = [max(0.0, s) for s in latenesses]
    if not values or conn is None:
        return 0
    minute = MINUTE_KEY.format(int((time.time() if now is None else now) // 60))
    pipe = conn.pipeline(transaction=False)
    for key in (TOTAL_KEY, minute):
        for seconds in values:
            pipe.hincrby(key, f"b{bucket_of(seconds)}", 1)
        pipe.hincrbyfloat(key, "sum", sum(values))
        pipe.hincrby(key, "count", len(values))
    pipe.expire(minute, 3600)
    pipe.execute()
    return len(values)


def _counts(raw: dict) -> list[int]:
    return [int(raw.get(f"b{i}", raw.get(f"b{i}".encode(), 0)) or 0)
            for i in range(len(LATENESS_BOUNDS) + 1)]


def _number(raw: dict, name: str) -> float:
    return float(raw.get(name, raw.get(name.encode(), 0)) or 0)


def totals(conn) -> tuple[list[int], float, int]:
    """Counts per bucket, sum of seconds and number of observations since Redis began keeping them."""
    raw = conn.hgetall(TOTAL_KEY)
    return _counts(raw), _number(raw, "sum"), int(_number(raw, "count"))


def recent(conn, now: float | None = None, minutes: int = RECENT_MINUTES) -> dict:
    """The last `minutes` minutes: {count, p50, p95, p99, max_bucket} (seconds; None without syncs)."""
    current = int((time.time() if now is None else now) // 60)
    pipe = conn.pipeline(transaction=False)
    for minute in range(current - minutes + 1, current + 1):
        pipe.hgetall(MINUTE_KEY.format(minute))
    counts = [0] * (len(LATENESS_BOUNDS) + 1)
    for raw in pipe.execute():
        counts = [a + b for a, b in zip(counts, _counts(raw), strict=True)]
    figures = {"count": sum(counts), "minutes": minutes}
    for name, q in (("p50", 0.5), ("p95", 0.95), ("p99", 0.99)):
        value = quantile(LATENESS_BOUNDS, counts, q)
        figures[name] = None if value is None else math.ceil(value)
    return figures


def recent_or_none(conn) -> dict | None:
    """recent(), or None when Redis does not answer (pages say so instead of failing)."""
    try:
        return recent(conn) if conn is not None else None
    except Exception:  # noqa: BLE001 - Redis down: the page shows no figure rather than fail
        log.debug("could not read the sync lateness", exc_info=True)
        return None
