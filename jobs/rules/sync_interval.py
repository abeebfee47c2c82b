"""The sync schedule by value: each link's interval from what is at stake and how its calendar behaves,
scaled so that the fleet's mean interval stays SYNC_INTERVAL_MINUTES (the fetch budget)."""
from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, replace

# Providers that ask to be read at most this often (seconds): TripAdvisor Rentals / HolidayLettings.
PROVIDER_MIN_SECONDS = {"holidaylettings": 2 * 3600}
PROVIDER_NAMES = {"holidaylettings": "HolidayLettings (TripAdvisor Rentals)"}
# A link read on schedule must never show as stale (last success older than 3 x the mean interval, the
# health rule of docs/outcomes.md): the longest interval leaves a ninth of that (5 min at 15) for
# lateness, and the jitter of a link at the longest only ever shortens it (jitter_range).
STALE_SAFE_SHARE = 8 / 9
STALE_AFTER_INTERVALS = 3  # jobs.rules.risk.STALE_AFTER_INTERVALS (kept equal by a test)
# The share of the budget the scale aims at: weights are stored at each read, so the scale lags the fleet
# a little (the jitter is counted in fleet_rate).
BUDGET_SHARE = 0.99


@dataclass(frozen=True)
class ScheduleBounds:
    """The fleet's mean interval and each link's bounds, in minutes (SYNC_*_MINUTES, docs/configuration.md)."""

    mean_minutes: float
    min_minutes: float = 2
    max_minutes: float = 60

    @property
    def shortest(self) -> float:
        """Seconds: no link is read more often (the mean, when the min is above it)."""
        return min(self.min_minutes, self.mean_minutes) * 60

    @property
    def longest(self) -> float:
        """Seconds: no link is read less often unless a provider or a failure says so."""
        stale_safe = STALE_SAFE_SHARE * STALE_AFTER_INTERVALS * self.mean_minutes
        return max(self.mean_minutes, min(self.max_minutes, stale_safe)) * 60


@dataclass(frozen=True)
class LinkValue:
    """What is at stake on one link and how its calendar behaves (ages in seconds, None: unknown)."""

    source: str = "ical"
    days_to_check_in: int | None = None  # the property's next direct check-in (0 = today)
    demand_age: float | None = None  # since the property's availability was last asked
    exposure_nights: int = 0  # sellable nights of the next 30 days left unprotected
    change_age: float | None = None  # since a read last changed its blocks
    watched_for: float | None = None  # how long the link has been read (a young link is not "quiet")
    cache_max_age: float | None = None  # the feed's own Cache-Control max-age / Expires


@dataclass(frozen=True)
class Interval:
    """A link's interval in seconds and why, in plain words."""

    seconds: int
    reason: str


DAY = 86400.0
HOT_DAYS = 14  # a direct check-in this many days ahead or fewer puts a calendar at stake


def _ago(seconds: float) -> str:
    """A duration in the largest unit that keeps it readable."""
    if seconds < 90:
        return f"{max(0, round(seconds))} s"
    if seconds < 5400:
        return f"{round(seconds / 60)} min"
    if seconds < 2 * DAY:
        return f"{round(seconds / 3600)} h"
    return f"{round(seconds / DAY)} days"


def check_in_near(value: LinkValue) -> bool:
    """The property's next direct check-in is HOT_DAYS days ahead or fewer."""
    return value.days_to_check_in is not None and value.days_to_check_in <= HOT_DAYS


def link_weight(value: LinkValue) -> tuple[float, list[str]]:
    """How much reading this link matters against an ordinary one (1.0), and the reasons that moved it."""
    weight, why = 1.0, []
    days = value.days_to_check_in
    if check_in_near(value):
        # The reason is stored with the interval and read later: its words name a period, never "ago".
        weight *= 10.0 if days <= 2 else 8.0
        why.append("a direct check-in within 2 days" if days <= 2 else "a direct check-in within 14 days")
    if value.demand_age is not None and value.demand_age <= DAY:
        weight *= 1.5 if value.demand_age <= 3600 else 1.2
        why.append("guests asked its availability in the last " + ("hour" if value.demand_age <= 3600 else "day"))
    if value.exposure_nights > 0:
        weight *= 1.0 + min(value.exposure_nights, 30) / 30
        why.append(f"{value.exposure_nights} night{'s' if value.exposure_nights != 1 else ''} at stake")
    if value.change_age is not None and value.change_age <= 7 * DAY:
        weight *= 1.3 if value.change_age <= DAY else 1.1
        why.append("its calendar changed in the last " + ("day" if value.change_age <= DAY else "week"))
    elif not hot(value) and (value.watched_for or 0) >= 30 * DAY and \
            (value.change_age is None or value.change_age > 30 * DAY):
        weight *= 0.5
        why.append("its calendar has not changed in 30 days")
    return weight, why


def hot(value: LinkValue) -> bool:
    """A link with a check-in within 14 days or guests looking in the last hour."""
    return check_in_near(value) or (value.demand_age is not None and value.demand_age <= 3600)


def link_floor(value: LinkValue, bounds: ScheduleBounds) -> tuple[float, str]:
    """The shortest interval this link allows (seconds) and why: a provider's own minimum, or the
    feed's caching headers for a link where nothing is at stake (never above the mean, only a hint)."""
    floor, why = bounds.shortest, ""
    provider = PROVIDER_MIN_SECONDS.get(value.source)
    if provider:
        kept = min(provider, bounds.longest)
        floor = max(floor, kept)
        why = f"{PROVIDER_NAMES[value.source]} asks to be read at most every {_ago(provider)}"
        if kept < provider:
            why += f" (kept to {_ago(kept)}, so the link is never shown stale)"
    if value.cache_max_age and not hot(value):
        hint = min(value.cache_max_age, bounds.mean_minutes * 60)
        if hint > floor:
            floor, why = hint, f"the feed says its answer stays fresh for {_ago(value.cache_max_age)}"
    return floor, why


def interval_for(value: LinkValue, bounds: ScheduleBounds, scale: float = 1.0) -> Interval:
    """The link's interval: the mean x the fleet's `scale` / its weight, within the bounds and its floor."""
    weight, why = link_weight(value)
    seconds = bounds.mean_minutes * 60 * scale / weight
    limit = ""
    if seconds <= bounds.shortest:
        seconds, limit = bounds.shortest, " (the shortest)"
    elif seconds >= bounds.longest:
        seconds, limit = bounds.longest, " (the longest)"
    floor, floor_why = link_floor(value, bounds)
    if floor > seconds:
        seconds, limit = floor, ""
        why = [floor_why] + why
    reason = "; ".join(why) if why else "nothing booked ahead, no recent demand or change"
    return Interval(round(seconds), f"every {_ago(seconds)}{limit}: {reason}")


def until_next_read(value: LinkValue, planned: float, until_check_in_near: float | None,
                    bounds: ScheduleBounds, scale: float = 1.0) -> float:
    """Seconds to the link's next read: `planned`, or sooner when its property's next direct check-in comes
    within HOT_DAYS days `until_check_in_near` seconds from now, so that from then on it is read at the rate
    that check-in asks (else a link read at the longest interval could wait that long while its stay is at
    stake)."""
    if until_check_in_near is None or until_check_in_near >= planned or check_in_near(value):
        return planned
    near = interval_for(replace(value, days_to_check_in=HOT_DAYS), bounds, scale).seconds
    return min(planned, max(0.0, until_check_in_near) + near)


def backoff_interval(seconds: float, failures: int, retry_after: float | None) -> Interval:
    """A failing link's interval (its backoff, or the feed's Retry-After), in words."""
    if retry_after and retry_after >= seconds - 1:
        return Interval(round(seconds), f"in {_ago(seconds)}: the feed asked us to wait (Retry-After)")
    return Interval(round(seconds), f"in {_ago(seconds)}: backing off after {failures} failed "
                                    f"read{'s' if failures != 1 else ''} in a row")


def jitter_range(seconds: float, floor: float, bounds: ScheduleBounds) -> tuple[float, float]:
    """The factors a link's next read is jittered between, so that a fleet does not read in lockstep: a
    link at its floor is only ever read later, one at the longest only ever sooner (a provider's minimum,
    the max and the stale rule hold for every read), any other within +-10%."""
    if seconds <= floor + 1:
        return 1.0, 1.1
    if seconds >= bounds.longest - 1:
        return 0.9, 1.0
    return 0.9, 1.1


def _reads_per_interval(low: float, high: float) -> float:
    """The mean of 1 / jitter for a jitter uniform on [low, high]: a link's reads per interval."""
    return math.log(high / low) / (high - low)


def fleet_rate(groups: Iterable[tuple[float, str, int]], bounds: ScheduleBounds, scale: float) -> float:
    """Reads per second of links grouped as (weight, source, count) at this scale, jitter included."""
    total = 0.0
    for weight, source, count in groups:
        seconds = min(max(bounds.mean_minutes * 60 * scale / weight, bounds.shortest), bounds.longest)
        floor = link_floor(LinkValue(source=source), bounds)[0]
        seconds = max(seconds, floor)
        total += count * _reads_per_interval(*jitter_range(seconds, floor, bounds)) / seconds
    return total


def budget_scale(groups: Iterable[tuple[float, str, int]], bounds: ScheduleBounds) -> float:
    """The scale at which the links, grouped as (weight, source, count), read at the fleet's budget
    (count / the mean interval, less a margin) or less: the schedule spends the fixed schedule's reads, no more."""
    groups = [(max(w, 1e-6), s, n) for w, s, n in groups if n > 0]
    links = sum(n for _w, _s, n in groups)
    if not links:
        return 1.0
    budget = BUDGET_SHARE * links / (bounds.mean_minutes * 60)
    low, high = 1e-3, 1e3  # the rate falls as the scale grows: bisect for the smallest scale within budget
    if fleet_rate(groups, bounds, low) <= budget:
        return low
    for _ in range(60):
        mid = (low * high) ** 0.5
        if fleet_rate(groups, bounds, mid) > budget:
            low = mid
        else:
            high = mid
    return high


def quantile(bounds: list[float], counts: list[int], q: float) -> float | None:
    """The q-quantile of a histogram (counts per bucket, the last one open-ended), interpolated within
    its bucket as Prometheus' histogram_quantile does; the last finite bound for the open bucket."""
    total = sum(counts)
    if not total:
        return None
    rank, seen, lower = q * total, 0, 0.0
    for bound, count in zip(bounds, counts, strict=False):
        if count and seen + count >= rank:
            return lower + (bound - lower) * (rank - seen) / count
        seen, lower = seen + count, bound
    return bounds[-1] if bounds else None
