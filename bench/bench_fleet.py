"""Fleet benchmark: sync hundreds of links served on loopback with 150 ms added per request.

Run: .venv/bin/python bench/bench_fleet.py [--links 400]
Prints links/s for the first sync, an unchanged re-sync and a re-sync with 10% changed, for
`flask sync --all` and for the queue path (`enqueue-sync --all` drained by the one RQ worker that
`make run` starts), and a naive sequential sync measured in the same run, with the ratios; beside each,
the CPU time per link (the syncing process's user + system time, its forks included, over the links) and the
mean number of feed requests in flight while links remained (until the last link's request began; "all":
over the whole time any request was open), counted by the feed server.
"""
from __future__ import annotations

import argparse
import json
import os
import re
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from datetime import date, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
TARGETS = {"first": 100, "unchanged": 300, "changed": 200}
CPU_TARGETS_MS = {"first": None, "unchanged": 3.0, "changed": 8.0}
CONCURRENCY = 64


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def flask(env: dict, *args: str, timeout: float = 600) -> str:
    """Run a flask command of the app; its output."""
    result = subprocess.run([sys.executable, "-m", "flask", "--app", "wsgi", *args], cwd=ROOT,
                            env=env, capture_output=True, text=True, timeout=timeout)
    if result.returncode != 0:
        raise RuntimeError(f"flask {' '.join(args)} failed:\n{result.stderr[-3000:]}")
    return result.stdout


def make_links(env: dict, port: int, links: int) -> None:
    """One property and one active link per feed, written straight into the database."""
    from config import Config
    from console import create_app
    from console.extensions import db
    from console.models import CalendarLink, Owner, Property
    app = create_app(Config(env=env))
    with app.app_context():
        owner = Owner(email="bench@example.com")
        db.session.add(owner)
        for i in range(links):
            prop = Property(name=f"Bench {i}", owner=owner)
            source = "google" if i % 20 == 0 else "airbnb"
            db.session.add(CalendarLink(property=prop, source=source, state="active",
                                        url=f"http://127.0.0.1:{port}/feed/{i}.ics"))
        db.session.commit()
        db.engine.dispose()


def cli_rate(env: dict) -> tuple[float, float]:
    """`flask sync --all`, as a user runs it; the rate and CPU ms per link it reports."""
    out = flask(env, "sync", "--all")
    match = re.search(r"synced (\d+) links in ([\d.]+) s \(\d+ links/s, cpu ([\d.]+) ms/link\)", out)
    errors = re.findall(r"error \w+", out)
    if errors:
        raise RuntimeError(f"sync errors: {errors[:5]}")
    return int(match.group(1)) / float(match.group(2)), float(match.group(3))


def cpu_seconds(pid: int) -> float:
    """User + system time of a process and of its reaped children (RQ's work horses), from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return sum(int(v) for v in fields[11:15]) / os.sysconf("SC_CLK_TCK")


def queue_rate(env: dict, links: int) -> tuple[float, float]:
    """Make every link due, queue it as the scheduler does (`schedule_due_syncs`, the job `make run`
    runs every minute) and time until the one worker has synced them all."""
    import sqlite3

    from rq import Queue, Worker
    from rq.registry import StartedJobRegistry
    from sqlalchemy import text, update

    from config import Config
    from console import create_app
    from console.extensions import db
    from console.models import CalendarLink
    from jobs.broker import redis_connection
    from jobs.queue import QUEUE_NAMES
    from jobs.tasks import schedule_due_syncs
    app = create_app(Config(env=env))
    db_path = env["DATABASE_URL"].removeprefix("sqlite:///")
    worker = subprocess.Popen([sys.executable, "-m", "flask", "--app", "wsgi", "worker"],
                              cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        with app.app_context():
            conn = redis_connection()
            while not Worker.all(connection=conn):  # the worker is listening before the clock starts
                if worker.poll() is not None:
                    raise RuntimeError("the worker exited")
                time.sleep(0.05)
            db.session.execute(update(CalendarLink).values(next_sync_at=None))
            db.session.commit()
            last_run = db.session.execute(text("SELECT coalesce(max(id), 0) FROM sync_runs")).scalar()
            db.session.commit()
            started, cpu_started = time.time(), cpu_seconds(worker.pid)
            schedule_due_syncs()
            db.engine.dispose()
        sqlite = sqlite3.connect(db_path)
        with app.app_context():
            conn = redis_connection()
            queues = [Queue(name, connection=conn) for name in QUEUE_NAMES]
            while True:
                # Done when every link has its run and the jobs have ended (the batch's risk refresh
                # and alerts included, and the work horses reaped: their CPU is then the worker's).
                done = sqlite.execute("SELECT count(*) FROM sync_runs WHERE id > ?",
                                      (last_run,)).fetchone()[0]
                if done >= links and not any(q.count or StartedJobRegistry(queue=q).count
                                             for q in queues) \
                        and all(w.get_state() == "idle" for w in Worker.all(connection=conn)):
                    break
                if time.time() - started > 600:
                    raise RuntimeError(f"queue path: only {done} of {links} synced after 600 s")
                time.sleep(0.02)
            db.engine.dispose()
        elapsed, cpu = time.time() - started, cpu_seconds(worker.pid) - cpu_started
        errors = sqlite.execute("SELECT error_kind, count(*) FROM sync_runs WHERE id > ? AND "
                                "outcome = 'error' GROUP BY error_kind", (last_run,)).fetchall()
        sqlite.close()
        if errors:
            raise RuntimeError(f"queue path: sync errors {errors}")
        return links / elapsed, cpu * 1000 / links
    finally:
        worker.terminate()
        worker.wait(timeout=30)


def naive_rate(port: int, sample: int, google_every: int) -> float:
    """requests + icalendar + recurring-ical-events, one link after another (the usual first try)."""
    import icalendar
    import recurring_ical_events
    import requests
    start, end = date.today(), date.today() + timedelta(days=550)
    indexes = [i for i in range(sample * 2) if i % google_every == 0][: max(1, sample // 20)]
    indexes += [i for i in range(1, sample * 2) if i % google_every][: sample - len(indexes)]
    began = time.perf_counter()
    for i in indexes:
        body = requests.get(f"http://127.0.0.1:{port}/feed/{i}.ics", timeout=30).content
        cal = icalendar.Calendar.from_ical(body)
        list(recurring_ical_events.of(cal).between(start, end))
    return len(indexes) / (time.perf_counter() - began)


def in_flight(port: int, expect: int = 0) -> dict:
    """The feed server's in-flight figures since it was last asked (mean, mean while links remain,
    peak, requests); the next window expects `expect` requests."""
    return json.loads(urllib.request.urlopen(f"http://127.0.0.1:{port}/stats?expect={expect}",
                                             timeout=10).read())


def change(port: int, percent: int, seed: int) -> None:
    urllib.request.urlopen(f"http://127.0.0.1:{port}/change?percent={percent}&seed={seed}",
                           timeout=10).read()


def main() -> None:
    """Run every measurement and print the table."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--links", type=int, default=400)
    parser.add_argument("--naive-sample", type=int, default=40)
    args = parser.parse_args()
    port, instance = free_port(), tempfile.mkdtemp(prefix="bench-fleet-")
    server = subprocess.Popen([sys.executable, str(ROOT / "bench" / "feed_server.py"),
                               "--port", str(port), "--links", str(args.links)],
                              stdout=subprocess.PIPE, text=True)
    assert server.stdout.readline().strip() == "ready"
    results: dict[tuple[str, str], tuple[float, float, dict]] = {}
    try:
        for path in ("cli", "queue"):
            inst = os.path.join(instance, path)
            env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}
            # One loopback host stands for many providers, so the per-host limit is raised; the
            # fetch pool is raised with it so a single process can keep 64 requests in flight.
            env.update(INSTANCE_PATH=inst, DATABASE_URL=f"sqlite:///{inst}/console.db",
                       FETCH_ALLOW_HOSTS="127.0.0.1", FETCH_PER_HOST_LIMIT="64",
                       FETCH_CONCURRENCY=str(CONCURRENCY), PYTHONPATH=str(ROOT))
            flask(env, "init-db")
            make_links(env, port, args.links)
            run = (lambda env=env: cli_rate(env)) if path == "cli" else (lambda env=env: queue_rate(env, args.links))
            for kind in ("first", "unchanged", "changed"):
                if kind == "changed":
                    change(port, 10, seed=len(results))
                in_flight(port, expect=args.links)  # start counting afresh
                rate, cpu_ms = run()
                results[(path, kind)] = (rate, cpu_ms, in_flight(port))
        naive = naive_rate(port, args.naive_sample, 20)
    finally:
        server.terminate()
        server.wait()
    print(f"\nFleet benchmark: {args.links} links on loopback, 150 ms per request, "
          f"5% Google history feeds (2,000 events), {os.cpu_count()} cores")
    print(f"naive sequential sync (requests + icalendar + recurring-ical-events): {naive:.1f} links/s")
    print(f"{'path':<8}{'sync':<12}{'links/s':>9}{'target':>8}{'x naive':>9}{'cpu ms/link':>13}"
          f"{'target':>8}{'in flight':>11}{'(all)':>7}{'peak':>6}{'target':>8}  ok")
    for (path, kind), (rate, cpu_ms, flight) in results.items():
        cpu_target = CPU_TARGETS_MS[kind]
        flight_target = 0.8 * CONCURRENCY
        ok = rate >= TARGETS[kind] and (cpu_target is None or cpu_ms <= cpu_target) \
            and flight["mean_while_remaining"] >= flight_target
        print(f"{path:<8}{kind:<12}{rate:>9.0f}{TARGETS[kind]:>8}{rate / naive:>9.0f}{cpu_ms:>13.1f}"
              f"{cpu_target or '-':>8}{flight['mean_while_remaining']:>11.1f}{flight['mean']:>7.1f}"
              f"{flight['peak']:>6}{flight_target:>8.0f}"
              f"  {'yes' if ok else 'NO'}")


if __name__ == "__main__":
    main()
