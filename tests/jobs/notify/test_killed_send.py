"""A worker killed mid-send does not send twice: the claim outlives it, the retry sends once."""
from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from console.extensions import db
from console.models import NotificationDelivery
from console.timeutil import utcnow
from jobs.notify.checks import periodic_checks
from jobs.notify.deliver import CLAIM_LEASE
from jobs.sync.runner import sync_links
from jobs.worker import run_worker
from tests.jobs.notify.servers import SmtpServer
from tests.jobs.notify.test_delivery import failing_feed
from tests.jobs.sync.test_killed import kill_worker, start_worker, stop_worker, wait_until


def test_worker_killed_mid_send_delivers_once(app, backends, httpserver, make_property, make_link, tmp_path):
    with SmtpServer() as smtp:
        app.config["SMTP_URL"] = smtp.url
        smtp.inbox.hold_rcpt = True  # the worker connects, says who it writes to, and waits there
        link = make_link(make_property("Killed Flat"), url=failing_feed(httpserver).url, source="airbnb")
        for _ in range(3):
            sync_links([link.id])  # the 3rd queues the delivery on the alerts queue
        log = tmp_path / "worker.log"
        worker = start_worker({**backends, "SMTP_URL": smtp.url}, log)
        try:
            wait_until(smtp.inbox.seen.is_set, worker, what="the worker's SMTP conversation")
            kill_worker(worker)
        finally:
            stop_worker(worker)
        delivery = db.session.execute(select(NotificationDelivery)).scalar_one()
        db.session.refresh(delivery)
        assert (delivery.state, delivery.attempts) == ("sending", 1) and smtp.inbox.messages == []

        smtp.inbox.hold_rcpt = False
        periodic_checks(utcnow() + CLAIM_LEASE / 2)  # a claim still within its lease is left alone
        run_worker(app, burst=True)
        assert smtp.inbox.messages == []
        periodic_checks(utcnow() + CLAIM_LEASE + timedelta(seconds=5))  # the dead sender's claim expired
        run_worker(app, burst=True)
        periodic_checks(utcnow() + CLAIM_LEASE * 3)
        run_worker(app, burst=True)
        assert len(smtp.inbox.messages) == 1
        assert smtp.inbox.messages[0]["X-Idempotency-Key"] == delivery.idempotency_key
        db.session.expire_all()
        assert (delivery.state, delivery.attempts) == ("delivered", 2)
