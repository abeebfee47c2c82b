"""The owner's reward score (0-100) from their record, with components that show why.

Formula (version 1), four components summed, then rounded half up:
- overbookings, 50 points: minus 20 points per overbooking counted against the owner, each weighted by its age
  (halving every 90 days: weight = 0.5 ** (age_days / 90)), never below 0. Overbookings that do not count against
  the owner change nothing.
- sync success, 20 points: 20 x (successful syncs / sync attempts) over the last 30 days; 0 without attempts.
- sync freshness, 10 points: full while the weakest active link's last success is within 3 sync intervals (the
  "stale" limit), then falling linearly to 0 over the next 7 days; 0 when nothing ever synced.
- hygiene, 20 points: minus 8 per high, 4 per medium and 1 per low risk factor, never below 0.
"""
from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from jobs.rules.risk import STALE_AFTER_INTERVALS, RiskFactor

FORMULA_VERSION = 1
OVERBOOKING_MAX, OVERBOOKING_EACH, HALF_LIFE_DAYS = 50, 20, 90
SUCCESS_MAX = 20
FRESHNESS_MAX, FRESHNESS_FADE = 10, timedelta(days=7)
HYGIENE_MAX = 20
HYGIENE_PENALTY = {"high": 8, "medium": 4, "low": 1}
_PARTS = ("overbookings", "sync_success", "sync_freshness", "hygiene")


@dataclass(frozen=True)
class OverbookingRecord:
    """One recorded overbooking, as the score sees it."""

    detected_at: datetime
    nights: int
    counts_against_owner: bool


@dataclass(frozen=True)
class OwnerRecord:
    """Everything the score depends on, for one property."""

    overbookings: Sequence[OverbookingRecord] = ()
    sync_attempts_30d: int = 0
    sync_successes_30d: int = 0
    last_success_at: datetime | None = None  # the weakest (oldest) last success among active links
    sync_interval_minutes: int = 15
    risk_factors: Sequence[RiskFactor] = ()


@dataclass(frozen=True)
class Score:
    """The score and its JSON-serialisable components."""

    value: int
    components: dict[str, Any]


def _overbookings(record: OwnerRecord, now: datetime) -> dict[str, Any]:
    counted = [o for o in record.overbookings if o.counts_against_owner]
    ages = [max(0.0, (now - o.detected_at).total_seconds() / 86400) for o in counted]
    weighted = math.fsum(0.5 ** (age / HALF_LIFE_DAYS) for age in ages)  # fsum: exact, so adding never lowers it
    return {"points": round(max(0.0, OVERBOOKING_MAX - OVERBOOKING_EACH * weighted), 2), "max": OVERBOOKING_MAX,
            "counted": len(counted), "not_counted": len(record.overbookings) - len(counted),
            "weighted_count": round(weighted, 3), "points_each": OVERBOOKING_EACH, "half_life_days": HALF_LIFE_DAYS,
            "newest_counted_age_days": round(min(ages), 1) if ages else None}


def _sync_success(record: OwnerRecord) -> dict[str, Any]:
    attempts = max(0, record.sync_attempts_30d)
    ratio = min(1.0, max(0, record.sync_successes_30d) / attempts) if attempts else 0.0
    return {"points": round(SUCCESS_MAX * ratio, 2), "max": SUCCESS_MAX, "attempts_30d": attempts,
            "successes_30d": record.sync_successes_30d, "ratio": round(ratio, 4)}


def _sync_freshness(record: OwnerRecord, now: datetime) -> dict[str, Any]:
    grace = timedelta(minutes=STALE_AFTER_INTERVALS * record.sync_interval_minutes)
    if record.last_success_at is None:
        age, share = None, 0.0
    else:
        age = max(timedelta(0), now - record.last_success_at)
        share = 1.0 if age <= grace else max(0.0, 1 - (age - grace) / FRESHNESS_FADE)
    # The moment is kept, so that a page says how long ago it was when it is shown; the age is
    # the one the points were computed from.
    return {"points": round(FRESHNESS_MAX * share, 2), "max": FRESHNESS_MAX,
            "last_success_at": _utc_text(record.last_success_at),
            "last_success_age_hours": None if age is None else round(age.total_seconds() / 3600, 2),
            "full_until_hours": round(grace.total_seconds() / 3600, 2),
            "zero_after_hours": round((grace + FRESHNESS_FADE).total_seconds() / 3600, 2)}


def _utc_text(moment: datetime | None) -> str | None:
    """A UTC datetime (naive, as stored, or aware) as ISO 8601 with Z, as the API writes times."""
    if moment is None:
        return None
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC).replace(tzinfo=None)
    return moment.replace(microsecond=0).isoformat() + "Z"


def with_moments(components: Mapping[str, Any] | None, computed_at: datetime | None) -> dict[str, Any]:
    """Components as they are read: a snapshot stored before the last success's moment was kept gets
    it back from its age when computed (computed_at minus last_success_age_hours)."""
    found = dict(components or {})
    freshness = found.get("sync_freshness")
    if isinstance(freshness, dict) and "last_success_at" not in freshness:
        hours = freshness.get("last_success_age_hours")
        moment = None if hours is None or computed_at is None else computed_at - timedelta(hours=hours)
        found["sync_freshness"] = {**freshness, "last_success_at": _utc_text(moment)}
    return found


def _hygiene(record: OwnerRecord) -> dict[str, Any]:
    # Factors of our own making (a crash, the database) are shown, never charged to the owner.
    factors = [{"kind": f.kind, "level": f.level, "penalty": HYGIENE_PENALTY.get(f.level, 0)}
               for f in record.risk_factors if not f.ours]
    lost = sum(f["penalty"] for f in factors)
    return {"points": float(max(0, HYGIENE_MAX - lost)), "max": HYGIENE_MAX, "factors": factors}


def compute_score(record: OwnerRecord, now: datetime) -> Score:
    """The reward score (0-100) of one property's owner, with the components that explain it."""
    components: dict[str, Any] = {
        "version": FORMULA_VERSION,
        "overbookings": _overbookings(record, now),
        "sync_success": _sync_success(record),
        "sync_freshness": _sync_freshness(record, now),
        "hygiene": _hygiene(record),
    }
    total = math.fsum(components[name]["points"] for name in _PARTS)
    value = min(100, max(0, math.floor(total + 0.5)))
    components["total"] = value
    return Score(value=value, components=components)


def _points(components: Mapping[str, Any], name: str) -> float:
    return float((components.get(name) or {}).get("points", 0.0))


def _num(value: float) -> str:
    return f"{value:g}"


def explain_change(old_components: Mapping[str, Any] | None, new_components: Mapping[str, Any]) -> list[str]:
    """Plain-words reasons why the score moved from one set of components to another."""
    old = old_components or {}
    if not old:
        return ["First score for this property."]
    reasons = []
    if old.get("version") != new_components.get("version"):
        reasons.append(f"The score formula changed (version {old.get('version')} to "
                       f"{new_components.get('version')}).")
    for name in _PARTS:
        before, after = _points(old, name), _points(new_components, name)
        if abs(after - before) < 0.01:
            continue
        was, now = old.get(name) or {}, new_components.get(name) or {}
        change = f"{_num(before)} to {_num(after)} points"
        reasons.append(_EXPLAIN[name](was, now, change))
    return reasons


def _explain_overbookings(was: Mapping[str, Any], now: Mapping[str, Any], change: str) -> str:
    if was.get("counted") != now.get("counted"):
        return (f"Overbookings: {now.get('counted')} counted against the owner (was {was.get('counted')}): "
                f"{change}.")
    return f"Overbookings: past overbookings weigh less as they age: {change}."


def _explain_success(was: Mapping[str, Any], now: Mapping[str, Any], change: str) -> str:
    ratio = now.get("ratio", 0.0) * 100
    return (f"Sync success: {ratio:.0f}% of {now.get('attempts_30d')} syncs in 30 days succeeded "
            f"(was {was.get('ratio', 0.0) * 100:.0f}%): {change}.")


def _explain_freshness(was: Mapping[str, Any], now: Mapping[str, Any], change: str) -> str:
    age = now.get("last_success_age_hours")
    if age is None:
        return f"Sync freshness: no calendar has ever synced successfully: {change}."
    # Said of the score's own moment (never "ago"): the reason stays true however late it is read.
    return (f"Sync freshness: the last successful sync was {age:.1f} hours old when this score was "
            f"computed: {change}.")


def _explain_hygiene(was: Mapping[str, Any], now: Mapping[str, Any], change: str) -> str:
    before = {(f["kind"], f["level"]) for f in was.get("factors", [])}
    after = {(f["kind"], f["level"]) for f in now.get("factors", [])}
    parts = [f"new risk {kind} ({level})" for kind, level in sorted(after - before)]
    parts += [f"resolved {kind} ({level})" for kind, level in sorted(before - after)]
    return f"Hygiene: {', '.join(parts) or 'risk factors changed'}: {change}."


_EXPLAIN = {"overbookings": _explain_overbookings, "sync_success": _explain_success,
            "sync_freshness": _explain_freshness, "hygiene": _explain_hygiene}
