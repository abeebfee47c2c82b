"""Peak memory of a real RQ worker syncing one feed of almost 10 MB (the default FETCH_MAX_BYTES).

Run: .venv/bin/python bench/bench_worker_memory.py
The feed is served on loopback; `flask worker --burst` (which forks a work horse per job, as in
`make run`) syncs it. The peak RSS of the worker and its work horse is read from getrusage of the
reaped children, and set against a naive full parse of the same body (icalendar + recurring-ical-events).
"""
from __future__ import annotations

import os
import resource
import subprocess
import sys
import tempfile
import threading
from datetime import date
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench_fleet import flask  # noqa: E402 - the same way of running the app's commands

from tests.jobs.feeds import google_history_feed  # noqa: E402

MAX_BYTES = 10 * 1024 * 1024
LIMIT_MB = 200


def big_body() -> bytes:
    """A Google history feed just under the default size cap."""
    events, body = 20000, b""
    while True:
        candidate = google_history_feed(date.today(), events=events)
        if len(candidate) > MAX_BYTES - 64 * 1024:
            return body or candidate[:0]
        body, events = candidate, events + 2000


def serve(body: bytes) -> ThreadingHTTPServer:
    """Serve the body at /big.ics on a loopback port, in a thread of this process."""
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 - http.server's naming
            self.send_response(200)
            self.send_header("Content-Type", "text/calendar; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def naive_peak_mb(body_path: str) -> float:
    """Peak RSS of a fresh process that parses the whole body with icalendar and expands it."""
    code = ("import sys, icalendar, recurring_ical_events, datetime as d\n"
            "cal = icalendar.Calendar.from_ical(open(sys.argv[1], 'rb').read())\n"
            "t = d.date.today(); recurring_ical_events.of(cal).between(t, t + d.timedelta(days=550))\n"
            "print([l for l in open('/proc/self/status') if l.startswith('VmHWM')][0].split()[1])")
    out = subprocess.run([sys.executable, "-c", code, body_path], capture_output=True, text=True,
                         check=True).stdout
    return int(out.strip()) / 1024


def main() -> int:
    """Sync the big feed through a burst worker and print its peak memory."""
    body = big_body()
    server = serve(body)
    instance = tempfile.mkdtemp(prefix="bench-memory-")
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}
    env.update(INSTANCE_PATH=instance, DATABASE_URL=f"sqlite:///{instance}/console.db",
               FETCH_ALLOW_HOSTS="127.0.0.1", PYTHONPATH=str(ROOT))
    flask(env, "init-db")
    from jobs import embedded_redis
    # The queue must outlive each flask command: this process owns the embedded Redis.
    sock = embedded_redis.ensure_running(instance, owned=True)
    env[embedded_redis.OWNER_ENV] = "1"
    try:
        return measure(env, body, server, instance)
    finally:
        embedded_redis.shutdown(sock)
        server.shutdown()
        server.server_close()


def measure(env: dict, body: bytes, server: ThreadingHTTPServer, instance: str) -> int:
    """Queue the big feed's sync, run a burst worker, print the figures."""
    from config import Config
    from console import create_app
    from console.extensions import db
    from console.models import CalendarLink, Owner, Property
    from jobs.sync.blocks import count_external_blocks
    app = create_app(Config(env=env))
    with app.app_context():
        prop = Property(name="Big feed", owner=Owner(email="bench@example.com"))
        link = CalendarLink(property=prop, source="google", state="active",
                            url=f"http://127.0.0.1:{server.server_port}/big.ics")
        db.session.add(link)
        db.session.commit()
        link_id = link.id
        db.engine.dispose()
    flask(env, "enqueue-sync", str(link_id))
    flask(env, "worker", "--burst")
    # The largest reaped descendant: the worker or its work horse (the flask calls above are smaller).
    worker_peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    with app.app_context():
        synced = db.session.get(CalendarLink, link_id)
        outcome, blocks = synced.last_attempt_ok, count_external_blocks(link_id)
    server.shutdown()
    body_path = os.path.join(instance, "big.ics")
    Path(body_path).write_bytes(body)
    naive = naive_peak_mb(body_path)
    print(f"feed: {len(body) / 1024 / 1024:.1f} MB; synced ok: {outcome}; {blocks} blocks stored")
    print(f"worker peak RSS (worker and work horse): {worker_peak:.0f} MB   limit {LIMIT_MB} MB   "
          f"{'ok' if worker_peak < LIMIT_MB else 'OVER'}")
    print(f"naive full parse of the same body, peak RSS: {naive:.0f} MB   "
          f"ratio naive / worker: {naive / worker_peak:.1f}x")
    return 0 if outcome and worker_peak < LIMIT_MB else 1


if __name__ == "__main__":
    sys.exit(main())
