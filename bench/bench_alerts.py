"""Alert benchmark: 30,000 links, 3,000 Airbnb links fail in one wave (503), three syncs in a row.

Run: .venv/bin/python bench/bench_alerts.py [--links 30000] [--failing 3000] [--latency-ms 150]
Prints how long until the provider incident is out (from the wave's first batch to the messages received by a
real loopback SMTP server and a signed webhook receiver), how many messages went out in total against a naive
baseline (one alert per failing link per channel), and the time the alert evaluation adds to a sync batch:
against the store-only time of a batch (the worst case: no network at all) and against a batch whose reads take
--latency-ms each (as bench_fleet adds), run with the hook and with the hook switched off.
The reads are stubbed (every failing link answers 503) so 30,000 links fit on a laptop; storing the results,
risk and the alert evaluation are the real code on a real SQLite database.
"""
from __future__ import annotations

import argparse
import http.server
import json
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


class Receiver(http.server.BaseHTTPRequestHandler):
    """A webhook receiver that checks the HMAC signature of every body."""

    bodies: list = []
    secret = "bench-secret"

    def do_POST(self):  # noqa: N802 - http.server's naming
        from jobs.notify.channels import verify
        body = self.rfile.read(int(self.headers["Content-Length"]))
        ok = verify(self.secret, self.headers.get("X-Timestamp"), body, self.headers.get("X-Signature"))
        if ok:
            Receiver.bodies.append((time.perf_counter(), json.loads(body)))
        self.send_response(200 if ok else 401)
        self.end_headers()

    def log_message(self, *args):
        pass


def build(app, links: int, failing: int) -> list[int]:
    """`links` active, healthy links over five sources; the ids of the `failing` Airbnb ones."""
    from console.extensions import db
    from console.models import CalendarLink, Owner, Property
    from console.timeutil import utcnow
    now = utcnow()
    owner = Owner(email="bench@example.com")
    db.session.add(owner)
    db.session.flush()
    sources = ["airbnb", "airbnb", "vrbo", "booking", "google"]  # 40 % Airbnb
    props = [{"name": f"Bench {i}", "owner_id": owner.id, "timezone": "Europe/Madrid",
              "instant_booking": True, "export_token": f"tok{i}", "risk_level": "none", "risk_factors": [],
              "created_at": now} for i in range(links)]
    db.session.execute(Property.__table__.insert(), props)
    ids = [r for r in db.session.execute(db.select(Property.id).order_by(Property.id)).scalars()]
    rows = [{"property_id": pid, "source": sources[i % 5], "url": f"http://feeds.example/{i}.ics",
             "state": "active", "created_at": now, "activated_at": now, "last_sync_at": now,
             "last_success_at": now, "last_attempt_ok": True, "consecutive_failures": 0, "warnings": [],
             "ignored_events": 0, "ignored_detail": [], "accept_next_change": False}
            for i, pid in enumerate(ids)]
    db.session.execute(CalendarLink.__table__.insert(), rows)
    db.session.commit()
    airbnb = db.session.execute(db.select(CalendarLink.id).filter_by(source="airbnb")
                                .order_by(CalendarLink.id)).scalars().all()
    return list(airbnb[:failing])


def stub_reader(latency: float):
    """Every read answers 503 after `latency` seconds (the network stays out of the benchmark)."""
    from jobs.rules.stays import SyncFailure
    from jobs.sync.reading import LinkReading

    def make(_config):
        def read(snap):
            if latency:
                time.sleep(latency)
            return LinkReading(snapshot=snap, outcome="error",
                               failure=SyncFailure("server_error", "the server answered 503", http_status=503))
        return read
    return make


HOOK_SECONDS = [0.0]


def timed_hook(summaries):
    """The real hook, timed (its share of a batch is the figure, measured inside the same runs)."""
    from jobs.notify.evaluate import notice_after_sync
    start = time.perf_counter()
    try:
        return notice_after_sync(summaries)
    finally:
        HOOK_SECONDS[0] += time.perf_counter() - start


def run_wave(ids: list[int], batch: int, hook: bool = True) -> float:
    """Sync the ids in batches like the scheduler does; seconds taken."""
    import jobs.sync.runner as runner
    runner.notice_after_sync = timed_hook if hook else (lambda summaries: 0)
    start = time.perf_counter()
    for first in range(0, len(ids), batch):
        runner.sync_links(ids[first:first + batch])
    return time.perf_counter() - start


def overhead(ids: list[int], batch: int, rounds: int = 3) -> tuple[float, float, float]:
    """(median seconds without the hook, median with it, the hook's own share of the runs with it)."""
    import statistics
    plain, hooked, shares = [], [], []
    for _ in range(rounds):  # alternated: the machine is shared, its load drifts
        plain.append(run_wave(ids, batch, hook=False))
        HOOK_SECONDS[0] = 0.0
        total = run_wave(ids, batch, hook=True)
        hooked.append(total)
        shares.append(HOOK_SECONDS[0] / (total - HOOK_SECONDS[0]))
    return statistics.median(plain), statistics.median(hooked), statistics.median(shares)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--links", type=int, default=30_000)
    parser.add_argument("--failing", type=int, default=3_000)
    parser.add_argument("--latency-ms", type=int, default=150)
    args = parser.parse_args()

    from aiosmtpd.controller import Controller

    from config import Config
    from console import create_app
    from console.extensions import db
    from console.models import Notification, NotificationDelivery
    from tests.jobs.notify.servers import Inbox, free_port

    tmp = tempfile.mkdtemp(prefix="bench-alerts-")
    inbox, smtp_port = Inbox(), free_port()
    smtp = Controller(inbox, hostname="127.0.0.1", port=smtp_port)
    smtp.start()
    web = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
    threading.Thread(target=web.serve_forever, daemon=True).start()
    env = {"INSTANCE_PATH": tmp, "DATABASE_URL": f"sqlite:///{tmp}/bench.db", "SMTP_URL": f"smtp://127.0.0.1:{smtp_port}",
           "ALERT_WEBHOOK_URL": f"http://127.0.0.1:{web.server_port}/hook", "ALERT_WEBHOOK_SECRET": Receiver.secret,
           "FETCH_ALLOW_HOSTS": "127.0.0.1"}
    app = create_app(Config(env=env))
    app.config["RQ_INLINE"] = True  # deliveries run as jobs in this process: the clock includes sending
    import jobs.sync.runner as runner
    from jobs.tasks import batch_size
    with app.app_context():
        from flask_migrate import upgrade
        upgrade()
        t = time.perf_counter()
        failing = build(app, args.links, args.failing)
        print(f"built {args.links} links in {time.perf_counter() - t:.1f} s; {len(failing)} Airbnb links fail")
        size = batch_size(app.config)

        runner._reader = stub_reader(0)
        start = time.perf_counter()
        seconds = [run_wave(failing, size, hook=True)]
        incident_at = next((at for at, body in Receiver.bodies if body["kind"] == "provider_incident"), None)
        for _ in range(2):  # the 2nd and 3rd failures in a row: no per-link alert
            seconds.append(run_wave(failing, size, hook=True))
        emails = len(inbox.messages)
        hooks = len(Receiver.bodies)
        kinds = db.session.execute(db.select(Notification.kind, db.func.count()).group_by(Notification.kind)).all()
        deliveries = db.session.execute(db.select(db.func.count()).select_from(NotificationDelivery)).scalar()
        print(f"wave of {len(failing)} failing links in batches of {size}: 3 syncs in a row took "
              + ", ".join(f"{s:.1f}" for s in seconds) + " s (store + alerts, reads stubbed)")
        if incident_at is None:
            print("NO incident alert was received")
        else:
            print(f"incident alert received {incident_at - start:.2f} s after the wave's first batch started "
                  f"(webhook: {next(b['title'] for _a, b in Receiver.bodies if b['kind'] == 'provider_incident')})")
        naive = len(failing) * 2
        print(f"messages: {emails} e-mails + {hooks} webhooks = {emails + hooks} ({deliveries} deliveries; "
              f"notifications {dict(kinds)}); naive one-per-link alerting: {naive} -> "
              f"{naive / max(1, emails + hooks):.0f}x fewer")

        # Overhead of the hook on a batch: same links, failing again, with and without the evaluation.
        sample = failing[:size * 2]
        without, with_hook, share = overhead(sample, size)
        print(f"store-only batches ({len(sample)} links, median of 3): {without:.2f} s without alerts, "
              f"{with_hook:.2f} s with; the hook itself: {100 * share:.1f} % of the batch (worst case: no network)")
        runner._reader = stub_reader(args.latency_ms / 1000)
        without, with_hook, share = overhead(sample, size)
        print(f"batches with {args.latency_ms} ms reads ({len(sample)} links, {app.config['FETCH_CONCURRENCY']} at "
              f"once, median of 3): {without:.2f} s without alerts, {with_hook:.2f} s with; the hook itself: "
              f"{100 * share:.1f} % of the batch (goal < 5 %)")
        db.engine.dispose()
    smtp.stop()
    web.shutdown()


if __name__ == "__main__":
    main()
