"""What is noticed besides failing links: held changes, overbookings, our Kigo credentials, export silence."""
from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from console.extensions import db
from console.models import AlertRecipient, CalendarLink, ExportFetch, Notification
from console.timeutil import utcnow
from jobs.notify.checks import periodic_checks
from jobs.notify.evaluate import notice_sync_results
from jobs.sync.runner import sync_links
from tests.jobs.feeds import airbnb_feed
from tests.jobs.sync.test_feeds import FeedServer, day


def notes(kind=None) -> list[Notification]:
    db.session.expire_all()
    query = select(Notification).order_by(Notification.id)
    return list(db.session.execute(query.filter_by(kind=kind) if kind else query).scalars())


def test_a_held_change_is_urgent_and_skips_digests(app, httpserver, make_property, make_link):
    db.session.add(AlertRecipient(channel="email", address="daily@example.com", digest_mode="daily"))
    db.session.commit()
    feed = FeedServer(httpserver, "/f.ics", airbnb_feed([(day(5 + 7 * n), day(7 + 7 * n), "Reserved")
                                                         for n in range(4)]))
    link = make_link(make_property("Held Flat"), url=feed.url, source="airbnb")
    sync_links([link.id])
    feed.body = airbnb_feed([])
    [summary] = sync_links([link.id])
    assert summary.outcome == "held"
    sync_links([link.id])  # still held: not noticed twice
    [held] = notes("held_change")
    assert held.urgent and "Held Flat" in held.title and "within 2 hours" in held.body
    assert sorted((d.recipient, d.state) for d in held.deliveries) == \
        [("daily@example.com", "kept"), ("property@only-apartments.com", "kept")]


def test_an_overbooking_is_noticed_once_with_its_evidence(app, httpserver, make_property, make_link,
                                                          make_reservation):
    prop = make_property("Double Flat")
    make_reservation(prop, "direct", in_days=6, nights=2)
    feed = FeedServer(httpserver, "/o.ics", airbnb_feed([(day(5), day(9), "Reserved")]))
    link = make_link(prop, url=feed.url, source="airbnb")
    sync_links([link.id])
    sync_links([link.id])
    periodic_checks()
    [ob] = notes("overbooking")
    assert ob.property_id == prop.id and "Evidence:" in ob.body and "Blame:" in ob.body
    assert ob.urgent == ob.details["counts_against_owner"]


def test_kigo_credentials_refused_is_one_alert_for_tech_not_one_per_link(app, make_property, make_link):
    app.config["ALERT_TECH_EMAIL_TO"] = "tech@example.com"
    now = utcnow()
    links = [make_link(make_property(f"Kigo {n}", owner_email=f"k{n}@example.com"), url=None, source="kigo",
                       kigo_code="ACME", kigo_property_id=n, last_attempt_ok=False, last_sync_at=now,
                       last_error_at=now, last_error_kind="kigo_auth", consecutive_failures=5)
             for n in range(6)]
    notice_sync_results([link.id for link in links])
    notice_sync_results([link.id for link in links])
    [alert] = notes()
    assert alert.kind == "kigo_auth" and alert.urgent
    assert [d.recipient for d in alert.deliveries] == ["tech@example.com"]
    for link in links:
        db.session.get(CalendarLink, link.id).last_attempt_ok = True
    db.session.commit()
    notice_sync_results([link.id for link in links])
    assert [n.kind for n in notes()] == ["kigo_auth", "kigo_auth_resolved"]


def test_a_platform_that_stopped_reading_our_export_is_noticed_once(app, make_property):
    prop = make_property("Export Flat")
    now = utcnow()
    for days in range(2, 8):
        db.session.add(ExportFetch(property_id=prop.id, platform="airbnb", fetched_at=now - timedelta(days=days)))
    db.session.commit()
    periodic_checks(now)
    periodic_checks(now + timedelta(minutes=1))
    [silence] = notes("export_not_read")
    assert "airbnb" in silence.title and "Export Flat" in silence.body
