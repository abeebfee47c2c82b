"""Benchmark (issue 14): what the fleet costs at 20,000 and 40,000 properties, on SQLite and PostgreSQL.

Run: .venv/bin/python bench/bench_fleet_costs.py [--sizes 20000,40000] [--backends sqlite,postgresql]
     [--stays 50] [--runs 31] [--snapshots 30] [--repeat 10]
Each fleet is loaded in bulk (bench/fleet_data.py) into a throwaway database (PostgreSQL: a fresh database
next to $BENCH_POSTGRES_URL, default postgresql://postgres@127.0.0.1:5432/test). Endpoints are timed over
HTTP against gunicorn (one worker, one thread); their statements are counted in-process (the same request
through the test client); the periodic jobs run in-process. Prints each figure beside its goal and the ratio
between the two fleet sizes.
"""
from __future__ import annotations

import argparse
import os
import re
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import requests  # noqa: E402
from sqlalchemy import create_engine, event, text  # noqa: E402

from bench.fleet_data import build  # noqa: E402
from config import TestConfig  # noqa: E402
from console import create_app  # noqa: E402
from console.extensions import db  # noqa: E402
from console.models import ApiToken, User  # noqa: E402
from console.timeutil import utcnow  # noqa: E402

PASSWORD = "bench-password-123"
# (figure, goal as text, goal in seconds or None, goal on the ratio 40k/20k)
GOALS = {
    "metrics scrape (tally stored)": ("<= 0.05 s", 0.05, 1.0),
    "metrics scrape, no tally (counts itself)": ("<= 0.5 s", 0.5, None),
    "fleet tally (job, every 10 s)": ("<= 0.5 s", 0.5, 2.0),
    "fell-most list (job, every 4 min)": ("-", None, 2.0),
    "GET /scores, whole fleet": ("<= 1 s (20k), <= 2 s (40k)", None, 2.0),
    "GET /scores, one page of 1,000": ("-", None, 1.0),
    "GET /properties?per_page=500": ("-", None, 1.0),
    "page /overbookings/ (tally stored)": ("-", None, 1.0),
    "page /properties/": ("-", None, 1.0),
    "page / (dashboard, tally stored)": ("-", None, 1.0),
    "page / (dashboard, no tally)": ("-", None, None),
    "risk job, first run": ("-", None, 2.0),
    "risk job, hourly (quiet)": ("<= 3 s, <= 100 statements", 3.0, 2.0),
    "score job, first run": ("<= 10 s", 10.0, 2.0),
    "score job, quiet": ("<= 10 s", 10.0, 2.0),
    "prune (25% of runs)": ("<= 10 s", 10.0, 2.0),
    "prune, longest write transaction": ("<= 1 s", 1.0, 1.0),
}


class Counter:
    """Statements sent to db.engine, and the longest DELETE-to-commit span (a write lock held)."""

    def __init__(self):
        self.count, self.delete_started, self.longest_write = 0, None, 0.0

    def __enter__(self):
        event.listen(db.engine, "before_cursor_execute", self._statement)
        event.listen(db.engine, "commit", self._commit)
        return self

    def __exit__(self, *exc):
        event.remove(db.engine, "before_cursor_execute", self._statement)
        event.remove(db.engine, "commit", self._commit)

    def _statement(self, conn, cursor, statement, *args):
        self.count += 1
        if statement.lstrip().upper().startswith("DELETE") and self.delete_started is None:
            self.delete_started = time.perf_counter()

    def _commit(self, conn):
        if self.delete_started is not None:
            self.longest_write = max(self.longest_write, time.perf_counter() - self.delete_started)
            self.delete_started = None


def fresh_database(backend: str, folder: str):
    """(URL, dropper) of an empty database."""
    if backend == "sqlite":
        return f"sqlite:///{folder}/fleet.db", lambda: None
    base = os.environ.get("BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")
    name = f"csc_bench_{uuid.uuid4().hex[:8]}"
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))

    def drop():
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
    return admin.url.set(database=name).render_as_string(hide_password=False), drop


def load_fleet(backend: str, size: int, **shape) -> None:
    """Migrate the app's empty database, load a fleet of `size` properties in bulk, ANALYZE it (and
    VACUUM it on PostgreSQL)."""
    from flask_migrate import upgrade
    upgrade()
    began = time.perf_counter()
    with db.engine.begin() as conn:
        rows = build(conn, size, now=utcnow(), **shape)
    with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        # PostgreSQL: what autovacuum gives a table loaded long ago (visibility map: index-only scans).
        conn.execute(text("VACUUM ANALYZE" if backend == "postgresql" else "ANALYZE"))
    print(f"  loaded {backend} {size:,}: " + ", ".join(f"{k} {v:,}" for k, v in rows.items())
          + f" in {time.perf_counter() - began:.0f} s", flush=True)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_gunicorn(env: dict, folder: str) -> tuple[subprocess.Popen, str]:
    port = free_port()
    log = open(Path(folder, "gunicorn.log"), "w")  # noqa: SIM115 - gunicorn writes to it for as long as it runs
    proc = subprocess.Popen([sys.executable, "-m", "gunicorn", "-w", "1", "--threads", "1", "-b",
                             f"127.0.0.1:{port}", "--timeout", "120", "wsgi:app"], cwd=ROOT,
                            env={**os.environ, **env}, stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    for _ in range(200):
        try:
            if requests.get(f"{base}/healthz", timeout=2).status_code in (200, 503):
                return proc, base
        except requests.RequestException:
            time.sleep(0.1)
    proc.terminate()
    raise SystemExit(f"gunicorn did not start: {Path(folder, 'gunicorn.log').read_text()[-2000:]}")


def timed(fn, repeat: int, before=lambda: None) -> tuple[float, float]:
    """(min, max) seconds of `repeat` calls, after one that is not counted (caches, the worker);
    `before` runs ahead of each call, untimed."""
    times = []
    for _ in range(repeat + 1):
        before()
        began = time.perf_counter()
        fn()
        times.append(time.perf_counter() - began)
    return min(times[1:]), max(times[1:])


def keep_tally() -> None:
    """The fleet tally stored, as the scheduler keeps it (the job does nothing while it is fresh)."""
    from jobs.tasks import fleet_tally_job
    fleet_tally_job()
    db.session.remove()


def whole_fleet(get) -> int:
    """Every page of GET /scores; the number of pages."""
    after, pages = 0, 0
    while after is not None:
        body = get(f"/api/v1/scores?per_page=1000&after_id={after}")
        after, pages = body["next_after_id"], pages + 1
    return pages


def logged_in(base: str) -> requests.Session:
    session = requests.Session()
    page = session.get(f"{base}/login").text
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)
    session.post(f"{base}/login", data={"email": "bench@example.com", "password": PASSWORD,
                                        "csrf_token": token}, allow_redirects=False)
    return session


@contextmanager
def fleet_app(backend: str, size: int, **shape):
    """(app, env, folder): an app on a fresh database holding a fleet and a staff user (PASSWORD),
    inside its app context; the database is dropped afterwards."""
    with tempfile.TemporaryDirectory() as folder:
        url, drop = fresh_database(backend, folder)
        env = {"INSTANCE_PATH": folder, "DATABASE_URL": url,
               "REDIS_URL": os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/13")}
        try:
            app = create_app(TestConfig(env=env))
            with app.app_context():
                load_fleet(backend, size, **shape)
                user = User(email="bench@example.com", role="staff")
                user.set_password(PASSWORD)
                db.session.add(user)
                db.session.commit()
                yield app, env, folder
                db.session.remove()
                db.engine.dispose()
        finally:
            drop()


@contextmanager
def gunicorn(env: dict, folder: str):
    """The app's base URL, served by gunicorn (one worker, one thread) until the block ends."""
    proc, base = start_gunicorn(env, folder)
    try:
        yield base
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def measure(backend: str, size: int, args) -> dict[str, tuple[float, float, int | None]]:
    """Figure -> (min s, max s, statements) for one backend and fleet size."""
    figures: dict[str, tuple[float, float, int | None]] = {}
    shape = {"stays": args.stays, "runs": args.runs, "snapshots": args.snapshots}
    with fleet_app(backend, size, **shape) as (app, env, folder):
        token_row, token = ApiToken.issue("bench", "viewer")
        db.session.add(token_row)
        db.session.commit()
        from jobs.broker import redis_connection
        cache = redis_connection(app)
        cache.flushdb()
        figures.update(tally_figures(cache))
        with gunicorn(env, folder) as base:
            api = requests.Session()
            api.headers["Authorization"] = f"Bearer {token}"
            api.get(f"{base}/api/v1/scores?per_page=1")  # warm the worker (imports, pool)
            figures.update(http_figures(base, api, cache, args.repeat))
            figures.update(statement_counts(app, token, cache, figures))
        figures.update(job_figures(app))
    return figures


def once(fn) -> tuple[tuple[float, float, int], Counter]:
    """((seconds, seconds, statements), its Counter) of one call of fn."""
    with Counter() as counter:
        began = time.perf_counter()
        fn()
        took = time.perf_counter() - began
    return (took, took, counter.count), counter


def tally_figures(cache) -> dict:
    """The fleet tally's job and the fell-most list it renews, each timed alone."""
    from jobs.sync import fleet_tally
    from jobs.sync.fell_most import fell_most_now
    found = {"fleet tally (job, every 10 s)": once(lambda: fleet_tally.refresh(cache, utcnow(), 15))[0],
             "fell-most list (job, every 4 min)": once(lambda: fell_most_now(utcnow()))[0]}
    cache.flushdb()
    keep_tally()  # what the scheduler keeps in Redis: the tally and the fell-most list
    return found


def http_figures(base, api, cache, repeat) -> dict:
    """Times over HTTP (statements filled in later)."""
    from jobs.sync.fleet_tally import TALLY_KEY
    found = {}

    def no_tally():
        cache.delete(TALLY_KEY)
    found["metrics scrape, no tally (counts itself)"] = (*timed(
        lambda: requests.get(f"{base}/metrics").raise_for_status(), repeat, no_tally), None)
    found["metrics scrape (tally stored)"] = (*timed(
        lambda: requests.get(f"{base}/metrics").raise_for_status(), repeat, keep_tally), None)
    found["GET /scores, whole fleet"] = (*timed(lambda: whole_fleet(
        lambda path: api.get(base + path).json()), repeat), None)
    found["GET /scores, one page of 1,000"] = (*timed(lambda: api.get(
        f"{base}/api/v1/scores?per_page=1000&after_id=10000").raise_for_status(), repeat), None)
    found["GET /properties?per_page=500"] = (*timed(
        lambda: api.get(f"{base}/api/v1/properties?per_page=500").raise_for_status(), repeat), None)
    console = logged_in(base)
    found["page / (dashboard, no tally)"] = (*timed(
        lambda: console.get(f"{base}/").raise_for_status(), repeat, no_tally), None)
    for name, path in (("page /overbookings/ (tally stored)", "/overbookings/"),
                       ("page /properties/", "/properties/"), ("page / (dashboard, tally stored)", "/")):
        found[name] = (*timed(lambda path=path: console.get(base + path).raise_for_status(), repeat,
                              keep_tally), None)
    return found


def statement_counts(app, token, cache, figures) -> dict:
    """The same requests in-process, counting their statements."""
    from jobs.sync.fleet_tally import TALLY_KEY
    client = app.test_client()
    headers = {"Authorization": f"Bearer {token}"}
    counted = {}

    def count(name, fn, tally=True):
        fn()  # the token's or session's once-a-minute write is not the request's own cost
        if tally:
            keep_tally()
        else:
            cache.delete(TALLY_KEY)
        db.session.expunge_all()
        with Counter() as counter:
            fn()
        low, high, _ = figures[name]
        counted[name] = (low, high, counter.count)

    count("metrics scrape, no tally (counts itself)", lambda: client.get("/metrics"), tally=False)
    count("metrics scrape (tally stored)", lambda: client.get("/metrics"))
    count("GET /scores, whole fleet", lambda: whole_fleet(
        lambda path: client.get(path, headers=headers).get_json()))
    count("GET /scores, one page of 1,000", lambda: client.get(
        "/api/v1/scores?per_page=1000&after_id=10000", headers=headers))
    count("GET /properties?per_page=500", lambda: client.get("/api/v1/properties?per_page=500",
                                                             headers=headers))
    page = client.get("/login").get_data(as_text=True)
    csrf = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)
    client.post("/login", data={"email": "bench@example.com", "password": PASSWORD, "csrf_token": csrf})
    count("page / (dashboard, no tally)", lambda: client.get("/"), tally=False)
    for name, path in (("page /overbookings/ (tally stored)", "/overbookings/"),
                       ("page /properties/", "/properties/"), ("page / (dashboard, tally stored)", "/")):
        count(name, lambda path=path: client.get(path))
    return counted


def job_figures(app) -> dict:
    """The periodic jobs, in the order production meets them."""
    from jobs.sync.property_state import recompute_all
    from jobs.tasks import prune_runs_job
    found = {}
    for name, fn in (("risk job, first run", lambda: recompute_all(scores=False)),
                     ("risk job, hourly (quiet)", lambda: recompute_all(scores=False)),
                     ("score job, first run", lambda: recompute_all(scores=True)),
                     ("score job, quiet", lambda: recompute_all(scores=True)),
                     ("prune (25% of runs)", prune_runs_job)):
        found[name], counter = once(fn)
        if name.startswith("prune"):
            found["prune, longest write transaction"] = (counter.longest_write, counter.longest_write, None)
        db.session.remove()
    return found


def report(results: dict, sizes: list[int]) -> None:
    for backend, by_size in results.items():
        small, large = sizes[0], sizes[-1]
        print(f"\n{backend}: figure | {small:,} (min-max s, statements) | {large:,} | ratio | goal")
        for name, (goal, _limit, ratio_goal) in GOALS.items():
            cells = []
            for size in (small, large):
                low, high, statements = by_size[size][name]
                cells.append(f"{low:.3f}-{high:.3f} s" + (f", {statements:,} st" if statements is not None else ""))
            ratio = by_size[large][name][0] / max(by_size[small][name][0], 1e-9)
            wanted = f"~{ratio_goal}" if ratio_goal else "-"
            print(f"  {name} | {cells[0]} | {cells[1]} | {ratio:.2f} (goal {wanted}) | {goal}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="20000,40000")
    parser.add_argument("--backends", default="sqlite,postgresql")
    parser.add_argument("--stays", type=int, default=50)
    parser.add_argument("--runs", type=int, default=31)
    parser.add_argument("--snapshots", type=int, default=30)
    parser.add_argument("--repeat", type=int, default=10)
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    results: dict = {}
    print(f"load average at start: {os.getloadavg()}", flush=True)
    for backend in args.backends.split(","):
        for size in sizes:
            results.setdefault(backend, {})[size] = measure(backend, size, args)
            print(f"  measured {backend} {size} (load average {os.getloadavg()[0]:.2f})", flush=True)
    report(results, sizes)
    print(f"\nload average at end: {os.getloadavg()}")


if __name__ == "__main__":
    main()
