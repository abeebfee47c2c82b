"""Lateness benchmark (issue 20): does a fleet keep its schedule?

N links (default 20,000) served by production-like loopback hosts (bench/feed_hosts.py: 4 hosts, latency
median 300 ms with a tail to 5 s, 1% time out, 2% answer 500, unchanged calendars answer 304), 2 worker and
2 scheduler processes (`flask worker`, `flask scheduler`) on PostgreSQL and Redis, SYNC_INTERVAL_MINUTES=2.
The fleet starts in its steady state (every link read once, due times spread over one interval).

Prints, every 30 s of the measured window, p50/p95/p99 lateness of the scheduled syncs that began in it and
the links/s; then the throughput of 1 and of 2 worker processes with every link due at once (same run: the
whole fleet made due at once, read by 2 and then by 1 worker process), the workers' CPU per link, and a naive
baseline (one link after another with requests) on the same hosts.
Goal: p99 lateness <= 60 s in every window for >= 10 minutes.

Run: .venv/bin/python bench/bench_lateness.py [--links 20000] [--minutes 12] [--interval 2]
     [--database-url postgresql://postgres@127.0.0.1:5432/postgres] [--redis-url redis://127.0.0.1:6379/12]
"""
from __future__ import annotations

import argparse
import contextlib
import os
import random
import signal
import socket
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
HOSTS = 4
WINDOW = 30


def free_host(n: int) -> str:
    """A free port on the n-th loopback address (127.0.0.1, .2, ...): a host of its own, as the per-host
    fetch limit counts hosts by name, not by port."""
    address = f"127.0.0.{n + 1}"
    with socket.socket() as sock:
        sock.bind((address, 0))
        return f"{address}:{sock.getsockname()[1]}"


def cpu_seconds(pid: int) -> float:
    """User + system time of a process and its reaped children (RQ's work horses), from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return sum(int(v) for v in fields[11:15]) / os.sysconf("SC_CLK_TCK")


def machine_cpu() -> dict[str, float]:
    """CPU seconds so far of the Redis server, and of the whole machine (every process: PostgreSQL's
    backends come and go with the work horses, so they are counted only in the machine's total)."""
    import psutil
    redis_cpu = 0.0
    for proc in psutil.process_iter(["name"]):
        with contextlib.suppress(psutil.Error):
            if (proc.info["name"] or "").startswith("redis-server"):
                times = proc.cpu_times()
                redis_cpu += times.user + times.system
    machine = psutil.cpu_times()
    return {"redis": redis_cpu, "machine": sum(machine) - machine.idle - getattr(machine, "iowait", 0.0)}


def throwaway_database(admin_url: str) -> tuple[str, callable]:
    """A new PostgreSQL database for this run, and how to drop it."""
    import psycopg
    name = f"bench_lateness_{os.getpid()}"
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name}")

    def drop():
        with psycopg.connect(admin_url, autocommit=True) as conn:
            conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
    return admin_url.rsplit("/", 1)[0] + "/" + name, drop


def flask(env: dict, *args: str) -> None:
    subprocess.run([sys.executable, "-m", "flask", "--app", "wsgi", *args], cwd=ROOT, env=env, check=True,
                   capture_output=True, timeout=600)


def make_fleet(env: dict, hosts: list[str], links: int, interval: int) -> None:
    """One property and one active link per feed, in its steady state: read once (its ETag and hash
    stored, so unchanged calendars answer 304), due times spread over one interval."""
    from sqlalchemy import text

    from bench.feed_server import Fleet
    from config import Config
    from console import create_app
    from console.extensions import db
    app, fleet, rng = create_app(Config(env=env)), Fleet(links, google_every=10**9), random.Random(5)
    now = datetime.now(UTC).replace(tzinfo=None)
    from console.timeutil import local_today
    today = local_today("Europe/Madrid")  # parsed today: unchanged calendars are asked conditionally
    with app.app_context():
        conn = db.session.connection()
        conn.execute(text("INSERT INTO owners (id, email, email_key, created_at) VALUES (1, 'b@x.org', 'b@x.org', :n)"),
                     {"n": now})
        props, rows = [], []
        for i in range(links):
            props.append({"id": i + 1, "name": f"Bench {i}", "tok": f"t{i}", "n": now, "k": f"bench {i}"})
            rows.append({"id": i + 1, "p": i + 1, "url": f"http://{hosts[i % len(hosts)]}/feed/{i}.ics",
                         "etag": fleet.body(i)[1], "n": now,
                         "ok": now - timedelta(seconds=rng.uniform(0, interval * 60)),
                         "due": now + timedelta(seconds=rng.uniform(5, interval * 60))})
        conn.execute(text("INSERT INTO properties (id, name, owner_id, timezone, instant_booking, export_token, "
                          "risk_level, risk_factors, created_at, search_key, name_key, exposure_nights) VALUES "
                          "(:id, :name, 1, 'Europe/Madrid', true, :tok, 'none', '[]', :n, :k, :k, 0)"), props)
        conn.execute(text("INSERT INTO calendar_links (id, property_id, source, url, state, created_at, activated_at, "
                          "last_sync_at, last_success_at, last_attempt_ok, next_sync_at, consecutive_failures, "
                          "warnings, ignored_events, ignored_detail, accept_next_change, etag, parsed_on) VALUES "
                          "(:id, :p, 'airbnb', :url, 'active', :n, :n, :ok, :ok, true, :due, 0, '[]', 0, '[]', "
                          "false, :etag, :today)"), [dict(r, today=today) for r in rows])
        if db.engine.dialect.name == "postgresql":
            for table in ("owners", "properties", "calendar_links"):
                conn.execute(text(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                                  f"(SELECT max(id) FROM {table}))"))
        db.session.commit()
        db.engine.dispose()


def percentile(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(q * len(values)))] if values else float("nan")


class Probe:
    """Reads the runs the processes record (one connection of its own)."""

    def __init__(self, url: str):
        from sqlalchemy import create_engine
        self.engine = create_engine(url.replace("postgresql://", "postgresql+psycopg://", 1))

    def window(self, since: datetime, until: datetime) -> tuple[list[float], int]:
        """Lateness (s) of scheduled syncs begun in [since, until), and all runs finished in it."""
        from sqlalchemy import text
        with self.engine.connect() as conn:
            late = [r[0] / 1000 for r in conn.execute(text(
                "SELECT lateness_ms FROM sync_runs WHERE lateness_ms IS NOT NULL AND started_at >= :a "
                "AND started_at < :b"), {"a": since, "b": until})]
            done = conn.execute(text("SELECT count(*) FROM sync_runs WHERE finished_at >= :a AND finished_at < :b"),
                                {"a": since, "b": until}).scalar()
        return late, done

    def outcomes(self, since: datetime) -> dict:
        from sqlalchemy import text
        with self.engine.connect() as conn:
            return dict(conn.execute(text("SELECT coalesce(error_kind, outcome), count(*) FROM sync_runs "
                                          "WHERE started_at >= :a GROUP BY 1"), {"a": since}).all())

    def pg_stats(self) -> dict:
        """This database's transactions and rows touched so far (pg_stat_database)."""
        from sqlalchemy import text
        with self.engine.connect() as conn:
            row = conn.execute(text("SELECT xact_commit, tup_returned + tup_fetched, tup_inserted + tup_updated "
                                    "+ tup_deleted FROM pg_stat_database WHERE datname = current_database()")).one()
        return {"commits": row[0], "rows_read": row[1], "rows_written": row[2]}

    def vacuum(self) -> None:
        """What autovacuum does in production (it is off on the test machines' PostgreSQL): without it
        every claim walks the dead index entries of every earlier claim."""
        from sqlalchemy import text
        with self.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("VACUUM calendar_links"))

    def all_due(self) -> None:
        from sqlalchemy import text
        with self.engine.begin() as conn:
            conn.execute(text("UPDATE calendar_links SET next_sync_at = :n, due_at = NULL"),
                         {"n": datetime.now(UTC).replace(tzinfo=None) - timedelta(seconds=1)})


def redis_commands(url: str) -> int:
    import redis
    return int(redis.Redis.from_url(url).info("stats")["total_commands_processed"])


def utcnow() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def start(env: dict, what: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "flask", "--app", "wsgi", what], cwd=ROOT, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)


def stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def throughput(probe: Probe, links: int, limit: float = 900) -> float:
    """Links/s to read the whole fleet with every link due at once (until each has a run or `limit` s)."""
    probe.vacuum()
    began = utcnow()
    probe.all_due()
    while (utcnow() - began).total_seconds() < limit:
        time.sleep(2)
        if int((utcnow() - began).total_seconds()) % 30 < 2:
            probe.vacuum()  # as autovacuum would, about every 30 s
        done = probe.window(began, utcnow() + timedelta(seconds=1))[1]
        if done >= links:
            break
    return done / (utcnow() - began).total_seconds()


def naive_rate(hosts: list[str], sample: int) -> float:
    """requests, one link after another (the usual first try), on the same hosts."""
    import requests
    began = time.perf_counter()
    for i in range(sample):
        with contextlib.suppress(requests.RequestException):
            requests.get(f"http://{hosts[i % len(hosts)]}/feed/{i}.ics", timeout=10)
    return sample / (time.perf_counter() - began)


def main() -> int:
    """Run the benchmark; exit 1 when p99 lateness passed 60 s in a measured window."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--links", type=int, default=20000)
    parser.add_argument("--minutes", type=float, default=12, help="measured steady-state time")
    parser.add_argument("--interval", type=int, default=2, help="SYNC_INTERVAL_MINUTES")
    parser.add_argument("--warmup", type=float, default=1.0, help="minutes before measuring")
    parser.add_argument("--database-url", default="postgresql://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/12")
    parser.add_argument("--no-throughput", action="store_true", help="skip the fleet-due-at-once phases")
    args = parser.parse_args()
    hosts = [free_host(n) for n in range(HOSTS)]
    url, drop = throwaway_database(args.database_url)
    instance = tempfile.mkdtemp(prefix="bench-lateness-")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DATABASE_URL", "REDIS_URL"))}
    env.update(INSTANCE_PATH=instance, DATABASE_URL=url, REDIS_URL=args.redis_url, PYTHONPATH=str(ROOT),
               SYNC_INTERVAL_MINUTES=str(args.interval), FETCH_ALLOW_HOSTS="127.0.0.0/29", FETCH_CONCURRENCY="64",
               FETCH_PER_HOST_LIMIT="32", FETCH_TIMEOUT_SECONDS="10")
    import redis
    redis.Redis.from_url(args.redis_url).flushdb()
    feeds = subprocess.Popen([sys.executable, str(ROOT / "bench" / "feed_hosts.py"), "--hosts",
                              ",".join(hosts), "--links", str(args.links)], stdout=subprocess.PIPE, text=True)
    procs: list[subprocess.Popen] = []
    failed = False
    try:
        assert feeds.stdout.readline().strip() == "ready"
        flask(env, "init-db")
        make_fleet(env, hosts, args.links, args.interval)
        probe = Probe(url)
        procs = [start(env, "worker"), start(env, "worker"), start(env, "scheduler"), start(env, "scheduler")]
        print(f"{args.links} links, SYNC_INTERVAL_MINUTES={args.interval} (needs {args.links / args.interval / 60:.0f} "
              f"links/s), {HOSTS} hosts, 2 workers, 2 schedulers; warm-up {args.warmup} min", flush=True)
        time.sleep(args.warmup * 60)
        measured_from, cpu0 = utcnow(), sum(cpu_seconds(p.pid) for p in procs[:2])
        others0 = {"feed hosts": cpu_seconds(feeds.pid), "schedulers": sum(cpu_seconds(p.pid) for p in procs[2:]),
                   **machine_cpu()}
        wall0 = time.monotonic()
        pg0, redis0 = probe.pg_stats(), redis_commands(args.redis_url)
        print(f"{'window':>8} {'syncs':>6} {'p50 s':>6} {'p95 s':>6} {'p99 s':>6} {'links/s':>8}", flush=True)
        windows = int(args.minutes * 60 // WINDOW)
        for n in range(windows):
            since = utcnow()
            time.sleep(WINDOW)
            late, done = probe.window(since, utcnow())
            p99 = percentile(late, 0.99)
            failed |= not late or p99 > 60
            print(f"{(n + 1) * WINDOW:>7}s {len(late):>6} {percentile(late, .5):>6.1f} {percentile(late, .95):>6.1f} "
                  f"{p99:>6.1f} {done / WINDOW:>8.1f}", flush=True)
            probe.vacuum()
        runs = probe.window(measured_from, utcnow())[1]
        cpu = sum(cpu_seconds(p.pid) for p in procs[:2]) - cpu0
        print(f"workers' CPU: {cpu * 1000 / max(runs, 1):.2f} ms per link ({runs} syncs, {cpu:.0f} CPU s)")
        others1 = {"feed hosts": cpu_seconds(feeds.pid), "schedulers": sum(cpu_seconds(p.pid) for p in procs[2:]),
                   **machine_cpu()}
        wall = time.monotonic() - wall0
        used = {k: (others1[k] - others0[k]) * 1000 / max(runs, 1) for k in others0}
        rest = used["machine"] - cpu * 1000 / max(runs, 1) - sum(v for k, v in used.items() if k != "machine")
        print("CPU per link elsewhere: " + ", ".join(f"{k} {used[k]:.2f} ms" for k in ("feed hosts", "schedulers",
                                                                                  "redis"))
              + f", PostgreSQL and the rest {rest:.2f} ms; the whole machine {used['machine']:.2f} ms per link, "
              f"{(others1['machine'] - others0['machine']) / wall:.2f} of its cores busy")
        pg1, redis1 = probe.pg_stats(), redis_commands(args.redis_url)
        print("PostgreSQL per link: " + ", ".join(f"{k} {(pg1[k] - pg0[k]) / max(runs, 1):.1f}" for k in pg0)
              + f"; Redis commands per link {(redis1 - redis0) / max(runs, 1):.1f} (server-wide: other users count)")
        print(f"outcomes: {probe.outcomes(measured_from)}")
        if args.no_throughput:
            print(f"p99 lateness <= 60 s in every window for {args.minutes} min: {'yes' if not failed else 'NO'}")
            return 1 if failed else 0
        two = throughput(probe, args.links)
        stop(procs[1])
        one = throughput(probe, args.links)
        print(f"throughput, every link due at once: 2 workers {two:.1f} links/s, 1 worker {one:.1f} links/s "
              f"(x{two / one if one else float('nan'):.2f})")
        naive = naive_rate(hosts, 60)
        print(f"naive baseline (requests, one link after another): {naive:.1f} links/s "
              f"(2 workers: x{two / naive:.0f})")
        print(f"p99 lateness <= 60 s in every window for {args.minutes} min: {'yes' if not failed else 'NO'}")
    finally:
        for proc in procs:
            stop(proc)
        feeds.kill()
        feeds.wait()
        drop()
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
