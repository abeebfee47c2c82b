"""Fixed schedule against the schedule by value at the same fetch budget (issue 22, the schedule half).

A simulated market in virtual time (seconds of CPU, no network): 1,000 properties with one calendar each; a
fifth busy (--busy-share) (direct bookings 0.3 a day with check-ins 0-45 days ahead, bookings elsewhere 1 a day, guests
asking availability 6 times a day), the rest quiet (0.002, 0.2 and 0.2 a day); all as Poisson processes.
Both schedules read each link at its due time (lateness is bench_lateness's subject, not this one's); the
value schedule uses the product's own policy (jobs/rules/sync_interval.py) with its budget scale recomputed
every 10 s of simulated time from the links' stored weights, as the fleet tally does.

Reports the p95 change-to-block (a booking made elsewhere until the read that brings its block, +0.3 s of
fetch) for links whose property has a direct check-in in the next 14 days ("hot") and for the rest, and the
fetches made. Goals: hot p95 <= 1/3 of the fixed schedule's, no more fetches in all.

Run: .venv/bin/python bench/bench_schedule_value.py [--properties 1000] [--days 3] [--interval 15]
"""
from __future__ import annotations

import argparse
import heapq
import random
import sys
from bisect import bisect_left
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from jobs.rules.sync_interval import (  # noqa: E402
    HOT_DAYS,
    LinkValue,
    ScheduleBounds,
    budget_scale,
    interval_for,
    jitter_range,
    link_floor,
    link_weight,
    until_next_read,
)

DAY = 86400.0
FETCH = 0.3


def poisson(rng: random.Random, rate_per_day: float, days: float) -> list[float]:
    """Event times (s) of a Poisson process over `days`."""
    times, t = [], 0.0
    while rate_per_day > 0:
        t += rng.expovariate(rate_per_day / DAY)
        if t >= days * DAY:
            return times
        times.append(t)
    return times


def market(properties: int, days: float, seed: int, busy_share: float = 0.2) -> list[dict]:
    """Each property's changes elsewhere, direct check-ins (known from booking time) and demand."""
    rng = random.Random(seed)
    props = []
    for _ in range(properties):
        busy = rng.random() < busy_share
        booked = poisson(rng, 0.3 if busy else 0.002, days + 45)
        props.append({
            "changes": poisson(rng, 1.0 if busy else 0.2, days),
            # (booked at, check-in at): a check-in 0-45 days after the booking is made
            "bookings": sorted((t - 45 * DAY, t - 45 * DAY + rng.uniform(0, 45) * DAY) for t in booked),
            "demand": poisson(rng, 6.0 if busy else 0.2, days)})
    return props


def next_check_in(prop: dict, now: float) -> float | None:
    """The nearest direct check-in at or after now among bookings made by now."""
    ahead = [ci for made, ci in prop["bookings"] if made <= now and ci >= now - DAY]
    return min(ahead) if ahead else None


def last_before(times: list[float], now: float) -> float | None:
    i = bisect_left(times, now)
    return times[i - 1] if i else None


def facts(prop: dict, now: float, last_change_seen: float | None) -> LinkValue:
    """What the product's policy sees of one link at `now` (jobs/sync/link_schedule.py's link_value)."""
    ci, asked = next_check_in(prop, now), last_before(prop["demand"], now)
    return LinkValue(source="airbnb", days_to_check_in=None if ci is None else max(0, int((ci - now) // DAY)),
                     demand_age=None if asked is None else now - asked,
                     change_age=None if last_change_seen is None else now - last_change_seen,
                     watched_for=200 * DAY)


def simulate(props: list[dict], days: float, bounds: ScheduleBounds, value: bool, seed: int) -> dict:
    """Run one schedule; change-to-block delays (hot, rest) and the fetches made.

    The value schedule does what the product does: each read sets the next from the link's stakes (sooner
    when a known check-in comes within 14 days before it: until_next_read), and a direct booking reported
    with a check-in within 14 days brings its property's next read forward (link_schedule.bring_forward)."""
    rng, end = random.Random(seed), days * DAY
    mean = bounds.mean_minutes * 60
    due = [rng.uniform(0, mean) for _ in props]
    # (time, kind, link, version): kind 0 a read, 1 a direct booking reported; a read whose version is old
    # was moved by a booking and is skipped.
    queue = [(due[i], 0, i, 0) for i in range(len(props))]
    if value:
        queue += [(made, 1, i, 0) for i, prop in enumerate(props) for made, _ci in prop["bookings"]
                  if 0 <= made < end]
    heapq.heapify(queue)
    version = [0] * len(props)
    last_read = [0.0] * len(props)
    last_change_seen = [None] * len(props)
    weights = [(1.0, "airbnb")] * len(props)
    scale, next_scale, fetches = 1.0, 0.0, 0
    delays = {"hot": [], "rest": []}
    while queue:
        now, kind, i, seen = heapq.heappop(queue)
        if now >= end:
            break
        if value and now >= next_scale:
            groups: dict = {}
            for key in weights:
                groups[key] = groups.get(key, 0) + 1
            scale, next_scale = budget_scale([(w, s, n) for (w, s), n in groups.items()], bounds), now + 10
        prop = props[i]
        if kind == 1:  # a direct booking reported: read sooner if its stakes ask for it
            link = facts(prop, now, last_change_seen[i])
            sooner = max(now, last_read[i] + interval_for(link, bounds, scale).seconds)
            if sooner < due[i]:
                due[i], version[i] = sooner, version[i] + 1
                weights[i] = (round(link_weight(link)[0], 2), "airbnb")
                heapq.heappush(queue, (sooner, 0, i, version[i]))
            continue
        if seen != version[i]:
            continue
        fetches += 1
        for t in prop["changes"]:
            if last_read[i] <= t < now:
                ci = next_check_in(prop, t)
                hot = ci is not None and ci - t <= 14 * DAY
                delays["hot" if hot else "rest"].append(now + FETCH - t)
                last_change_seen[i] = now
        last_read[i] = now
        if value:
            link = facts(prop, now, last_change_seen[i])
            weights[i] = (round(link_weight(link)[0], 2), "airbnb")
            ci = next_check_in(prop, now)
            near = None if ci is None else ci - (HOT_DAYS + 1) * DAY - now
            chosen = interval_for(link, bounds, scale).seconds
            jitter = rng.uniform(*jitter_range(chosen, link_floor(link, bounds)[0], bounds))
            seconds = until_next_read(link, chosen * jitter, near, bounds, scale)
        else:
            seconds = mean * rng.uniform(0.9, 1.1)
        due[i] = now + seconds
        heapq.heappush(queue, (due[i], 0, i, version[i]))
    return {"delays": delays, "fetches": fetches}


def p95(values: list[float]) -> float:
    values = sorted(values)
    return values[int(0.95 * (len(values) - 1))] if values else float("nan")


def main() -> int:
    """Run both schedules on the same market; exit 1 when a goal is missed."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--properties", type=int, default=1000)
    parser.add_argument("--days", type=float, default=3)
    parser.add_argument("--interval", type=float, default=15, help="SYNC_INTERVAL_MINUTES")
    parser.add_argument("--min", type=float, default=2)
    parser.add_argument("--max", type=float, default=60)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--busy-share", type=float, default=0.2, help="share of busy properties")
    args = parser.parse_args()
    bounds = ScheduleBounds(args.interval, args.min, args.max)
    props = market(args.properties, args.days, args.seed, args.busy_share)
    fixed = simulate(props, args.days, bounds, value=False, seed=args.seed)
    value = simulate(props, args.days, bounds, value=True, seed=args.seed)
    hot = sum(1 for p in props if (lambda ci: ci is not None and ci <= 14 * DAY)(next_check_in(p, 0.0)))
    print(f"{args.properties} properties ({args.busy_share:.0%} busy; {hot} with a direct check-in in the next 14 "
          f"days at the start), {args.days} days, SYNC_INTERVAL_MINUTES={args.interval} "
          f"(min {args.min}, max {args.max})")
    print(f"{'schedule':>9} {'fetches':>8} {'hot p95 min':>12} {'rest p95 min':>13} {'hot changes':>12} {'rest':>6}")
    for name, run in (("fixed", fixed), ("value", value)):
        d = run["delays"]
        print(f"{name:>9} {run['fetches']:>8} {p95(d['hot']) / 60:>12.1f} {p95(d['rest']) / 60:>13.1f} "
              f"{len(d['hot']):>12} {len(d['rest']):>6}")
    ratio = p95(value["delays"]["hot"]) / p95(fixed["delays"]["hot"])
    fewer = value["fetches"] <= fixed["fetches"]
    print(f"hot p95 value/fixed: {ratio:.2f} (goal <= 0.33); fetches value/fixed: "
          f"{value['fetches'] / fixed['fetches']:.3f} (goal <= 1)")
    return 0 if ratio <= 1 / 3 and fewer else 1


if __name__ == "__main__":
    sys.exit(main())
