"""Benchmark (issue 11): the console's pages on a production-size fleet, on SQLite and PostgreSQL.

Run: .venv/bin/python bench/bench_console_pages.py [--sizes 10000,20000] [--backends sqlite,postgresql]
     [--repeat 15]
The full fleet is 20,000 properties, 30,000 links, 1,000,000 reservations, ~1,000,000 sync runs and 5,000
overbookings (bench/fleet_data.py, loaded in bulk); the half-size fleet beside it shows whether a page's cost
or its number of SQL statements grows with the data. Each page is timed over HTTP against gunicorn (one
worker, one thread: the server's time plus a loopback round trip) as the median of --repeat requests after a
warm-up; its statements are counted in-process (the same request through the test client). The fleet
tally is kept stored, as the scheduler keeps it every 10 s (jobs/sync/fleet_tally.py).
"""
from __future__ import annotations

import argparse
import os
import re
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import requests  # noqa: E402
from flask import g  # noqa: E402

from bench.bench_fleet_costs import PASSWORD, Counter, fleet_app, gunicorn, keep_tally, logged_in  # noqa: E402
from console.extensions import db  # noqa: E402

GOAL_SECONDS = 0.150
# Per 20,000 properties: 50 stays each (1M reservations), 33 runs for each of the 30,000 links (~1M runs),
# an overbooking every 4th property (5,000).
STAYS, RUNS, OVERBOOKING_EVERY = 50, 33, 4


def pages(size: int) -> dict[str, str]:
    """Page name -> path, for a fleet of `size` properties (ids 1..size)."""
    busy = size // 2  # an even id: two links, 50 stays, ~66 runs, an overbooking
    return {
        "dashboard": "/",
        "property list, first page": "/properties/",
        "property list, failing": "/properties/?health=failing",
        "property list, search 'malaga'": "/properties/?q=malaga",
        "property list, search a ref": f"/properties/?q=ref-{busy}",
        "property list, page 300": "/properties/?page=300",
        "property page": f"/properties/{busy}",
        "overbookings page (charts)": "/overbookings/",
    }


def median_seconds(session: requests.Session, url: str, repeat: int) -> float:
    """Median seconds of `repeat` GETs of `url`, after one warm-up."""
    session.get(url).raise_for_status()
    times = []
    for _ in range(repeat):
        began = time.perf_counter()
        session.get(url).raise_for_status()
        times.append(time.perf_counter() - began)
    return statistics.median(times)


def statement_counts(app, paths: dict[str, str]) -> dict[str, int]:
    """Statements each page sends, counted in-process (after one warm-up request)."""
    client = app.test_client()
    page = client.get("/login").get_data(as_text=True)
    csrf = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)
    client.post("/login", data={"email": "bench@example.com", "password": PASSWORD, "csrf_token": csrf})
    counts = {}
    for name, path in paths.items():
        keep_tally()
        g.pop("_login_user", None)  # each request loads its user, as a real one does
        client.get(path)  # the session's once-a-minute write is not the page's own cost
        db.session.expunge_all()
        g.pop("_login_user", None)
        with Counter() as counter:
            assert client.get(path).status_code == 200, path
        counts[name] = counter.count
    return counts


def measure(backend: str, size: int, repeat: int) -> dict[str, tuple[float, int]]:
    """Page name -> (median seconds, statements) on one backend and fleet size."""
    shape = {"stays": STAYS, "runs": RUNS, "overbooking_every": OVERBOOKING_EVERY}
    with fleet_app(backend, size, **shape) as (app, env, folder):
        from jobs.sync.property_state import recompute_all
        recompute_all(scores=False)  # health, risk and what the list orders by, as the hourly pass
        db.session.remove()
        from jobs.broker import redis_connection
        redis_connection(app).flushdb()
        paths = pages(size)
        counts = statement_counts(app, paths)
        with gunicorn(env, folder) as base:
            console = logged_in(base)
            found = {}
            for name, path in paths.items():
                keep_tally()
                found[name] = (median_seconds(console, base + path, repeat), counts[name])
            return found


def report(results: dict, sizes: list[int]) -> None:
    small, large = sizes[0], sizes[-1]
    for backend, by_size in results.items():
        print(f"\n{backend}: page | {small:,} properties (median, statements) | {large:,} | "
              f"time ratio | goal <= {GOAL_SECONDS * 1000:.0f} ms at {large:,}, statements constant")
        for name in by_size[large]:
            (t_small, n_small), (t_large, n_large) = by_size[small][name], by_size[large][name]
            verdict = "met" if t_large <= GOAL_SECONDS and n_large == n_small else "NOT met"
            print(f"  {name} | {t_small * 1000:.0f} ms, {n_small} st | {t_large * 1000:.0f} ms, {n_large} st"
                  f" | {t_large / max(t_small, 1e-9):.2f} | {verdict}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10000,20000")
    parser.add_argument("--backends", default="sqlite,postgresql")
    parser.add_argument("--repeat", type=int, default=15)
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    results: dict = {}
    print(f"load average at start: {os.getloadavg()}", flush=True)
    for backend in args.backends.split(","):
        for size in sizes:
            results.setdefault(backend, {})[size] = measure(backend, size, args.repeat)
            print(f"  measured {backend} {size:,} (load average {os.getloadavg()[0]:.2f})", flush=True)
    report(results, sizes)
    print(f"\nload average at end: {os.getloadavg()}")


if __name__ == "__main__":
    main()
