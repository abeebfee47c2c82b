"""The demo's own feeds: the flaky one fails for its first fetches and then recovers, so `make run` shows a
failure alert and its recovery within minutes of start."""
from __future__ import annotations

import logging
import threading

import pytest
from sqlalchemy import select
from werkzeug.serving import make_server

from config import TestConfig
from console import create_app
from console.demo.data import load_demo
from console.demo.feeds import FLAKY_FAILURES, FLAKY_FEED
from console.extensions import db
from console.models import CalendarLink, Notification
from jobs.sync.runner import sync_links
from tests.conftest import _clean


@pytest.fixture
def demo_app(backends):
    """An app serving the demo feeds, alerting at the first failure (as `make run` does)."""
    application = create_app(TestConfig(env={**backends, "DEMO_FEEDS": "1", "ALERT_AFTER_FAILURES": "1"}))
    _clean(application)
    with application.app_context():
        yield application
        db.session.remove()
    with application.app_context():
        db.engine.dispose()


@pytest.fixture
def served(demo_app):
    """The demo app over real HTTP on loopback; the demo links point at it."""
    server = make_server("127.0.0.1", 0, demo_app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{server.server_port}"
    demo_app.config.update(PUBLIC_BASE_URL=base, FETCH_ALLOW_HOSTS=f"127.0.0.1:{server.server_port}")
    yield base
    server.shutdown()
    thread.join()


def test_the_flaky_feed_answers_503_first_then_a_calendar(demo_app):
    client = demo_app.test_client()
    statuses = [client.get(f"/demo-feeds/{FLAKY_FEED}.ics").status_code for _ in range(FLAKY_FAILURES + 2)]
    assert statuses == [503] * FLAKY_FAILURES + [200, 200]
    body = client.get(f"/demo-feeds/{FLAKY_FEED}.ics")
    assert body.mimetype == "text/calendar" and "BEGIN:VEVENT" in body.get_data(as_text=True)


def test_syncing_the_flaky_demo_link_raises_a_failure_then_a_recovery(served, caplog):
    load_demo()
    link = db.session.execute(select(CalendarLink).where(
        CalendarLink.url == f"{served}/demo-feeds/{FLAKY_FEED}.ics")).scalar_one()
    caplog.set_level(logging.INFO, logger="jobs.notify.store")
    outcomes = [sync_links([link.id])[0].outcome for _ in range(FLAKY_FAILURES + 1)]
    assert outcomes[:FLAKY_FAILURES] == ["error"] * FLAKY_FAILURES and outcomes[-1] == "changed"
    db.session.expire_all()
    notes = db.session.execute(select(Notification).filter_by(link_id=link.id)
                               .order_by(Notification.id)).scalars().all()
    assert [n.kind for n in notes] == ["link_failing", "link_recovered"]
    failing = notes[0]
    assert failing.error_kind == "server_error" and "Toledo Courtyard" in failing.title
    assert failing.exposure == {"direct_bookings": 1, "sellable_nights": 27}
    # Without SMTP_URL: kept in the database for the Notifications page, and logged.
    assert [(d.recipient, d.state) for d in notes[1].deliveries] == [("property@only-apartments.com", "kept")]
    assert sum("Toledo Courtyard" in r.getMessage() for r in caplog.records) == 2
