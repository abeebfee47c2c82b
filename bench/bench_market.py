"""Market benchmark: do direct bookings get accepted on dates just sold elsewhere, with stored and with
fresh availability (?fresh=1)? And how soon does a booking made elsewhere become a block, with the fixed
schedule and the schedule by value at the same fetch budget?

Run: .venv/bin/python bench/bench_market.py [--properties 1000] [--minutes 6] [--interval 2]
     [--modes stored,fresh,value] [--busy-share 0.2]
A simulated market on loopback: one Airbnb-like feed per property (150 ms added latency, ETag/304),
external bookings and direct booking attempts arriving as Poisson processes, a share of the demand
(--race) asking for the dates of a booking made elsewhere within the last --race-window seconds.
The product runs in this process on its real parts (app, database, Redis, the sync pipeline; due links
synced every --tick seconds by a scheduler thread); the main site asks availability before each
direct booking, and reports the booking when the answer is "available". An accepted booking whose nights
were already sold on the feed at that moment is an overbooking. Each mode runs on its own fresh database
and market with the same seed; prints overbookings per 1,000 direct bookings, availability latency
p50/p99, fetches made, and the cut fresh availability makes (goal >= 90%, p99 <= 3 s).

Modes: "stored" and "fresh" read calendars on the fixed schedule (every link every --interval minutes:
SYNC_MIN = SYNC_MAX = SYNC_INTERVAL_MINUTES); "value" reads them on the schedule by value (the product's
bounds, 2 and 60 minutes at a 15-minute mean, scaled like the interval) with stored availability, its
budget scale kept by the fleet tally every 10 s as the scheduler does. The market is uneven, as fleets are:
a --busy-share of the properties gets 5 times the bookings elsewhere and 30 times the direct demand of the
others, and starts with a direct check-in in the next 14 days. Change-to-block is measured by the feed
server: from a booking made elsewhere to the read that brings it (its 200 answer); "hot" when the property
has a direct check-in in the next 14 days at that moment. Goal: the value schedule's hot p95 <= 1/3 of the
fixed one's (the "stored" mode), with no more fetches.
"""
from __future__ import annotations

import argparse
import hashlib
import os
import random
import statistics
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import date, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from tests.jobs.feeds import airbnb_feed  # noqa: E402 - real-looking feeds


class Market:
    """Each property's stays sold elsewhere (the truth), served as feeds; thread-safe."""

    def __init__(self, properties: int, rng: random.Random, latency: float, busy_share: float = 0.2):
        self.today, self.latency, self.lock = date.today(), latency, threading.Lock()
        self.stays: list[list[tuple[date, date]]] = [[] for _ in range(properties)]
        self.busy = [rng.random() < busy_share for _ in range(properties)]
        # Direct check-ins sold here (seeded and accepted): a property with one in 14 days is "hot".
        self.check_ins: list[list[date]] = [[] for _ in range(properties)]
        self.unread: list[list[tuple[float, bool]]] = [[] for _ in range(properties)]  # (sold at, hot)
        self.delays: dict[str, list[float]] = {"hot": [], "rest": []}
        self.recent: list[tuple[float, int, date, date]] = []  # (when, property, in, out) sold elsewhere
        self.bodies: dict[int, tuple[bytes, str]] = {}
        self.fetches = {"200": 0, "304": 0}
        for index in range(properties):
            for _ in range(4):
                self.book(index, rng, at=None)

    def free(self, index: int, check_in: date, check_out: date) -> bool:
        return all(not (a < check_out and check_in < b) for a, b in self.stays[index])

    def book(self, index: int, rng: random.Random, at: float | None) -> bool:
        """Sell a free stay of 2-5 nights in the next 60 days elsewhere; False when none was found."""
        for _ in range(10):
            check_in = self.today + timedelta(days=rng.randint(1, 60))
            check_out = check_in + timedelta(days=rng.randint(2, 5))
            with self.lock:
                if self.free(index, check_in, check_out):
                    self.stays[index].append((check_in, check_out))  # appended: earlier UIDs stay
                    self.bodies.pop(index, None)
                    if at is not None:
                        self.recent.append((at, index, check_in, check_out))
                        self.unread[index].append((at, self.hot(index)))
                    return True
        return False

    def hot(self, index: int) -> bool:
        """A direct check-in in the next 14 days (called under the lock)."""
        return any(0 <= (day - self.today).days <= 14 for day in self.check_ins[index])

    def pick(self, rng: random.Random, busy_weight: float) -> int:
        """A property, busy ones `busy_weight` times as likely as the others."""
        while True:
            index = rng.randrange(len(self.busy))
            if self.busy[index] or rng.random() < 1 / busy_weight:
                return index

    def read(self, index: int) -> None:
        """A 200 answer brings every booking sold since the last one: their change-to-block delays."""
        now = time.monotonic()
        with self.lock:
            for at, hot in self.unread[index]:
                self.delays["hot" if hot else "rest"].append(now - at)
            self.unread[index] = []

    def body(self, index: int) -> tuple[bytes, str]:
        with self.lock:
            if index not in self.bodies:
                body = airbnb_feed([(a, b, "Reserved") for a, b in self.stays[index]])
                self.bodies[index] = (body, '"' + hashlib.sha1(body).hexdigest()[:16] + '"')
            return self.bodies[index]

    def serve(self) -> ThreadingHTTPServer:
        """Feeds at /feed/<index>.ics on a loopback port, each answer after the added latency."""
        market = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self):  # noqa: N802 - http.server's name
                time.sleep(market.latency)  # stands for the internet
                index = int(self.path.split("/")[-1].split(".")[0])
                body, etag = market.body(index)
                status = 304 if self.headers.get("If-None-Match") == etag else 200
                if status == 200:
                    market.read(index)
                with market.lock:
                    market.fetches[str(status)] += 1
                self.send_response(status)
                self.send_header("ETag", etag)
                self.send_header("Content-Type", "text/calendar; charset=utf-8")
                self.send_header("Content-Length", "0" if status == 304 else str(len(body)))
                self.end_headers()
                if status == 200:
                    self.wfile.write(body)

            def log_message(self, *args):
                pass

        server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        server.daemon_threads = True
        threading.Thread(target=server.serve_forever, daemon=True).start()
        return server


def make_app(database_url: str, redis_url: str | None, instance: str, interval: int, max_age: int,
             by_value: bool = False):
    """The product on its own database; the fixed schedule (min = max = the interval) unless `by_value`
    (the default bounds, 2 and 60 minutes at a 15-minute mean, scaled like the interval)."""
    from config import Config
    from console import create_app
    env = {"DATABASE_URL": database_url, "INSTANCE_PATH": instance, "SYNC_INTERVAL_MINUTES": str(interval),
           "AVAILABILITY_FRESH_MAX_AGE_SECONDS": str(max_age),
           "FETCH_ALLOW_HOSTS": "127.0.0.1", "FETCH_PER_HOST_LIMIT": "64", "FETCH_CONCURRENCY": "64"}
    if redis_url:
        env["REDIS_URL"] = redis_url
    app = create_app(Config(env=env))
    scale = interval / 15  # the configuration takes whole minutes; the scaled bounds are fractions
    app.config["SYNC_MIN_INTERVAL_MINUTES"] = 2 * scale if by_value else interval
    app.config["SYNC_MAX_INTERVAL_MINUTES"] = 60 * scale if by_value else interval
    return app


def populate(app, port: int, market: Market, interval: int, rng: random.Random) -> tuple[list[int], str]:
    """Properties with one active Airbnb link each, synced once, next syncs spread over the interval; busy
    ones (and 3% of the others) with a direct stay whose check-in is in the next 14 days."""
    from flask_migrate import upgrade

    from console.extensions import db
    from console.models import ApiToken, CalendarLink, Owner, Property, Reservation, new_reservation_code
    from console.timeutil import utcnow
    from jobs.sync.runner import sync_links
    with app.app_context():
        upgrade()
        owner = Owner(email="bench@example.com")
        properties = len(market.stays)
        props = [Property(name=f"Market {i}", owner=owner) for i in range(properties)]
        for i, prop in enumerate(props):
            if market.busy[i] or rng.random() < 0.03:
                check_in = market.today + timedelta(days=rng.randint(1, 14))
                while not market.free(i, check_in, check_in + timedelta(days=2)):
                    check_in += timedelta(days=3)
                market.check_ins[i].append(check_in)
                db.session.add(Reservation(code=new_reservation_code("direct"), property=prop, origin="direct",
                                           check_in=check_in, check_out=check_in + timedelta(days=2)))
        links = [CalendarLink(property=p, source="airbnb", state="active",
                              url=f"http://127.0.0.1:{port}/feed/{i}.ics") for i, p in enumerate(props)]
        token, clear = ApiToken.issue("market", "staff")
        db.session.add_all([owner, *props, *links, token])
        db.session.commit()
        ids = [p.id for p in props]
        sync_links([link.id for link in links])
        now, rng = utcnow(), random.Random(7)
        for link in db.session.query(CalendarLink):  # a steady fleet, not one in lockstep
            link.next_sync_at = now + timedelta(seconds=rng.uniform(0, interval * 60))
        db.session.commit()
    return ids, clear


def scheduler(app, stop: threading.Event, tick: float) -> None:
    """Sync due links every `tick` seconds, as the product's scheduler and workers do, and take the fleet
    tally (the schedule's budget scale) every 10 s, as its scheduler does."""
    from console.timeutil import utcnow
    from jobs.broker import redis_connection
    from jobs.sync import fleet_tally
    from jobs.sync.runner import sync_links
    from jobs.tasks import due_link_ids
    tallied = 0.0
    while not stop.is_set():
        with app.app_context():
            if time.monotonic() - tallied >= fleet_tally.TALLY_EVERY:
                fleet_tally.refresh(redis_connection(), utcnow(), app.config["SYNC_INTERVAL_MINUTES"])
                tallied = time.monotonic()
            ids = due_link_ids()
            if ids:
                sync_links(ids)
        stop.wait(tick)


def run_mode(mode: str, args, market_seed: int) -> dict:
    """One mode on its own database and market; its figures."""
    from console.extensions import db
    rng = random.Random(market_seed)
    market = Market(args.properties, rng, args.latency, args.busy_share)
    server = market.serve()
    instance = tempfile.mkdtemp(prefix=f"market-{mode}-")
    url = args.database_url or f"sqlite:///{instance}/market.db"
    drop = None
    if url.startswith("postgresql"):
        url, drop = fresh_postgres(url, mode)
    app = make_app(url, args.redis_url, instance, args.interval, args.fresh_max_age, by_value=mode == "value")
    prop_ids, token = populate(app, server.server_address[1], market, args.interval, rng)
    market.fetches = {"200": 0, "304": 0}
    market.delays = {"hot": [], "rest": []}
    stop = threading.Event()
    sched = threading.Thread(target=scheduler, args=(app, stop, args.tick))
    sched.start()
    figures = {"attempts": 0, "accepted": 0, "overbooked": 0, "race_attempts": 0, "latency": [],
               "answers_fresh": 0, "overbooked_by": {}}
    flock = threading.Lock()
    headers = {"Authorization": f"Bearer {token}"}

    def attempt(index: int, check_in: date, check_out: date, race: bool) -> None:
        client = app.test_client()
        query = f"check_in={check_in}&check_out={check_out}" + ("&fresh=1" if mode == "fresh" else "")
        began = time.perf_counter()
        answer = client.get(f"/api/v1/properties/{prop_ids[index]}/availability?{query}", headers=headers)
        took = time.perf_counter() - began
        body = answer.get_json() or {}
        accepted = False
        if answer.status_code == 200 and body.get("available"):
            with market.lock:
                sold = not market.free(index, check_in, check_out)  # the truth at this moment
            made = client.post(f"/api/v1/properties/{prop_ids[index]}/reservations", headers=headers,
                               json={"origin": "direct", "check_in": str(check_in), "check_out": str(check_out)})
            accepted = made.status_code == 201
            if accepted:
                with market.lock:
                    market.check_ins[index].append(check_in)
        with flock:
            figures["attempts"] += 1
            figures["race_attempts"] += race
            figures["latency"].append(took)
            figures["answers_fresh"] += bool(body.get("fresh"))
            if accepted:
                figures["accepted"] += 1
                figures["overbooked"] += sold
                if sold:  # why it got through: what the answer said of the link, and racing or not
                    reads = ",".join(link["read"] for link in body.get("links", []))
                    why = figures["overbooked_by"]
                    why[f"{reads}/{'race' if race else 'random'}"] = why.get(
                        f"{reads}/{'race' if race else 'random'}", 0) + 1

    seconds = args.minutes * 60
    ext_rate = args.properties * args.external_per_hour / 3600
    dir_rate = args.properties * args.direct_per_hour / 3600
    began = time.monotonic()
    next_ext, next_dir = rng.expovariate(ext_rate), rng.expovariate(dir_rate)
    with ThreadPoolExecutor(max_workers=args.clients) as pool:
        while (now := time.monotonic() - began) < seconds:
            if next_ext <= now:
                market.book(market.pick(rng, 5.0), rng, at=time.monotonic())
                next_ext += rng.expovariate(ext_rate)
            elif next_dir <= now:
                next_dir += rng.expovariate(dir_rate)
                with market.lock:
                    window = [r for r in market.recent if r[0] >= time.monotonic() - args.race_window]
                if window and rng.random() < args.race:
                    _at, index, check_in, check_out = rng.choice(window)
                    pool.submit(attempt, index, check_in, check_out, True)
                else:
                    check_in = market.today + timedelta(days=rng.randint(1, 60))
                    pool.submit(attempt, market.pick(rng, 30.0), check_in,
                                check_in + timedelta(days=rng.randint(2, 4)), False)
            else:
                time.sleep(min(next_ext, next_dir) - now)  # the market's own clock
    stop.set()
    sched.join()
    server.shutdown()
    with app.app_context():
        db.engine.dispose()
    if drop:
        drop()
    if not args.redis_url:  # the app started an embedded Redis for this mode: stop it
        from jobs import embedded_redis
        embedded_redis.shutdown(embedded_redis.socket_path(instance))
    figures["delays"] = market.delays
    lat = sorted(figures.pop("latency"))
    figures.update(p50_ms=1000 * statistics.median(lat) if lat else 0.0,
                   p99_ms=1000 * lat[min(len(lat) - 1, int(0.99 * len(lat)))] if lat else 0.0,
                   fetches_200=market.fetches["200"], fetches_304=market.fetches["304"],
                   per_1000=1000 * figures["overbooked"] / figures["accepted"] if figures["accepted"] else 0.0)
    return figures


def fresh_postgres(url: str, mode: str):
    """A throwaway database beside `url` for one mode, and its dropper."""
    from urllib.parse import urlsplit, urlunsplit

    from sqlalchemy import create_engine, text
    name = f"csc_market_{mode}_{os.getpid()}"
    admin = create_engine(url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{name}"'))

    def drop():
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
    return urlunsplit(urlsplit(url)._replace(path=f"/{name}")), drop


def main() -> int:
    """Run each mode on the same market and print the comparison; exit 1 when a goal is missed."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--properties", type=int, default=1000)
    parser.add_argument("--minutes", type=float, default=6, help="market time per mode")
    parser.add_argument("--interval", type=int, default=2, help="SYNC_INTERVAL_MINUTES (scaled down)")
    parser.add_argument("--tick", type=float, default=1.0, help="scheduler look-up period, seconds")
    parser.add_argument("--modes", default="stored,fresh,value")
    parser.add_argument("--busy-share", type=float, default=0.2, help="share of busy properties")
    parser.add_argument("--race", type=float, default=0.3, help="share of demand racing a booking elsewhere")
    parser.add_argument("--race-window", type=float, default=120.0, help="seconds: 'just booked elsewhere'")
    parser.add_argument("--external-per-hour", type=float, default=12.0, help="per property")
    parser.add_argument("--direct-per-hour", type=float, default=12.0, help="attempts per property")
    parser.add_argument("--fresh-max-age", type=int, default=None,
                        help="AVAILABILITY_FRESH_MAX_AGE_SECONDS; default the product's 60 s at a 15-minute "
                        "interval, scaled like the interval")
    parser.add_argument("--latency", type=float, default=0.150)
    parser.add_argument("--clients", type=int, default=32, help="main-site requests at once, at most")
    parser.add_argument("--database-url", default=os.environ.get("DATABASE_URL"))
    parser.add_argument("--redis-url", default=os.environ.get("REDIS_URL"))
    args = parser.parse_args()
    if args.fresh_max_age is None:
        args.fresh_max_age = max(1, round(60 * args.interval / 15))
    modes = args.modes.split(",")
    results = {mode: run_mode(mode, args, market_seed=11) for mode in modes}
    print(f"market: {args.properties} properties ({args.busy_share:.0%} busy), {args.minutes:g} min per mode, "
          f"interval {args.interval} min, race {args.race:.0%} within {args.race_window:g} s, latency "
          f"{1000 * args.latency:.0f} ms, fresh max age {args.fresh_max_age} s, scheduler tick {args.tick:g} s")
    print(f"{'mode':8} {'attempts':>8} {'accepted':>8} {'overbooked':>10} {'per 1,000':>9} "
          f"{'p50 ms':>7} {'p99 ms':>7} {'fetch 200':>9} {'fetch 304':>9} {'fresh answers':>13} "
          f"{'hot p95 s':>9} {'rest p95 s':>10} {'hot n':>6} {'rest n':>6}")
    for mode, f in results.items():
        d = f["delays"]
        print(f"{mode:8} {f['attempts']:8d} {f['accepted']:8d} {f['overbooked']:10d} {f['per_1000']:9.1f} "
              f"{f['p50_ms']:7.0f} {f['p99_ms']:7.0f} {f['fetches_200']:9d} {f['fetches_304']:9d} "
              f"{f['answers_fresh']:13d} {p95(d['hot']):9.1f} {p95(d['rest']):10.1f} {len(d['hot']):6d} "
              f"{len(d['rest']):6d}")
    for mode, f in results.items():
        print(f"{mode}: overbookings by what the answer said of the link / demand kind: {f['overbooked_by']}")
    met = True
    if "stored" in results and "fresh" in results:
        stored, fresh = results["stored"]["per_1000"], results["fresh"]["per_1000"]
        cut = 1 - fresh / stored if stored else 0.0
        met &= cut >= 0.9 and results["fresh"]["p99_ms"] <= 3000
        print(f"fresh availability cuts overbookings per 1,000 direct bookings by {cut:.1%} "
              f"(goal >= 90%): {'met' if cut >= 0.9 else 'NOT met'}; fresh p99 "
              f"{results['fresh']['p99_ms']:.0f} ms (goal <= 3000): "
              f"{'met' if results['fresh']['p99_ms'] <= 3000 else 'NOT met'}")
    if "stored" in results and "value" in results:
        fixed, value = results["stored"], results["value"]
        ratio = p95(value["delays"]["hot"]) / p95(fixed["delays"]["hot"])
        spent = (value["fetches_200"] + value["fetches_304"]) / (fixed["fetches_200"] + fixed["fetches_304"])
        met &= ratio <= 1 / 3 and spent <= 1
        print(f"value schedule: hot p95 change-to-block {ratio:.2f} of the fixed schedule's (goal <= 0.33): "
              f"{'met' if ratio <= 1 / 3 else 'NOT met'}; fetches {spent:.3f} of the fixed schedule's "
              f"(goal <= 1): {'met' if spent <= 1 else 'NOT met'}")
    return 0 if met else 1


def p95(values: list[float]) -> float:
    """The 95th percentile (nan when there is none)."""
    values = sorted(values)
    return values[int(0.95 * (len(values) - 1))] if values else float("nan")


if __name__ == "__main__":
    sys.exit(main())
