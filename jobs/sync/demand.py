"""Direct-booking demand: when a property's availability was last asked (one Redis hash), so the schedule
reads the calendars of properties guests are looking at sooner."""
from __future__ import annotations

import logging
import time
from collections.abc import Iterable

log = logging.getLogger(__name__)
DEMAND_KEY = "csc:availability-demand"  # property id -> epoch seconds of the last availability request


def record_availability_demand(property_id: int) -> None:
    """Note that the property's availability was just asked; never fails the request that asks."""
    try:
        from jobs.broker import redis_connection
        redis_connection().hset(DEMAND_KEY, str(property_id), int(time.time()))
    except Exception:  # noqa: BLE001 - a hint for the schedule, never a reason to refuse an answer
        log.debug("could not record availability demand of property %s", property_id, exc_info=True)


def demand_ages(conn, property_ids: Iterable[int], now: float | None = None) -> dict[int, float]:
    """Seconds since each property's availability was last asked (properties never asked are left out)."""
    ids = list(dict.fromkeys(property_ids))
    if not ids or conn is None:
        return {}
    now = time.time() if now is None else now
    values = conn.hmget(DEMAND_KEY, [str(i) for i in ids])
    return {pid: max(0.0, now - float(v)) for pid, v in zip(ids, values, strict=True) if v is not None}
