"""Alerts end to end: syncs against loopback feeds, a real SMTP server and a real signed-webhook receiver
receive exactly the expected messages."""
from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from console.extensions import db
from console.models import AlertRecipient, Notification, NotificationDelivery
from console.timeutil import utcnow
from jobs.notify.checks import periodic_checks
from jobs.sync.runner import sync_links
from tests.jobs.feeds import airbnb_feed
from tests.jobs.notify.servers import SmtpServer, WebhookReceiver, free_port
from tests.jobs.sync.test_feeds import FeedServer, day

SECRET = "s3cret-for-tests"


@pytest.fixture
def smtp(app):
    with SmtpServer() as server:
        app.config["SMTP_URL"] = server.url
        yield server


@pytest.fixture
def hook(app, httpserver):
    receiver = WebhookReceiver(httpserver, "/hook", SECRET)
    app.config.update(ALERT_WEBHOOK_URL=receiver.url, ALERT_WEBHOOK_SECRET=SECRET, RQ_INLINE=True)
    return receiver


def failing_feed(httpserver, path="/feed.ics", status=503) -> FeedServer:
    feed = FeedServer(httpserver, path, airbnb_feed([(day(5), day(8), "Reserved")]))
    feed.status = status
    return feed


def kinds() -> list[str]:
    db.session.expire_all()
    return list(db.session.execute(select(Notification.kind).order_by(Notification.id)).scalars())


def test_failure_after_the_third_failed_sync_once_then_recovery(app, smtp, hook, httpserver, make_property,
                                                                  make_link, make_reservation):
    feed = failing_feed(httpserver)
    prop = make_property("Casa Azul")
    make_reservation(prop, "direct", in_days=20, nights=3)
    link = make_link(prop, url=feed.url, source="airbnb")
    sync_links([link.id])
    sync_links([link.id])
    assert smtp.inbox.messages == [] and hook.accepted == []
    sync_links([link.id])  # the 3rd failure in a row
    assert len(smtp.inbox.messages) == 1 and hook.kinds() == ["link_failing"]
    mail = smtp.inbox.messages[0]
    text = mail.get_content()
    assert mail["To"] == "property@only-apartments.com"
    assert "Casa Azul" in mail["Subject"] and "Airbnb" in text and "server_error" in text
    assert "HTTP 503" in text and "What to do:" in text
    assert f"http://127.0.0.1:5000/properties/{prop.id}" in text
    assert "1 upcoming direct booking and 27 sellable nights" in text
    sync_links([link.id])  # the 4th: no repeat
    assert len(smtp.inbox.messages) == 1 and len(hook.accepted) == 1
    feed.status = 200
    sync_links([link.id])
    assert [m["Subject"].split(":")[0] for m in smtp.inbox.messages] == ["Failing", "Recovered"]
    assert hook.kinds() == ["link_failing", "link_recovered"] and hook.refused == 0
    body = hook.accepted[0]["body"]
    assert body["exposure"] == {"direct_bookings": 1, "sellable_nights": 27}
    assert hook.accepted[0]["headers"]["Idempotency-Key"] == body["idempotency_key"]
    assert mail["Message-ID"].startswith("<" + smtp.inbox.messages[0]["X-Idempotency-Key"])


def test_reminder_after_the_interval_and_not_before(app, smtp, hook, httpserver, make_property, make_link):
    link = make_link(make_property(), url=failing_feed(httpserver).url, source="airbnb")
    for _ in range(3):
        sync_links([link.id])
    assert kinds() == ["link_failing"]
    now = utcnow()
    periodic_checks(now + timedelta(hours=23))
    assert kinds() == ["link_failing"]
    periodic_checks(now + timedelta(hours=24, minutes=1))
    periodic_checks(now + timedelta(hours=25))  # the clock moved by the time source, not by sleeping
    assert kinds() == ["link_failing", "link_reminder"]
    assert [m["Subject"].split(":")[0] for m in smtp.inbox.messages] == ["Failing", "Still failing"]
    periodic_checks(now + timedelta(hours=48, minutes=2))
    assert kinds() == ["link_failing", "link_reminder", "link_reminder"]


def test_fifty_links_failing_together_are_one_provider_incident(app, smtp, hook, httpserver, make_property,
                                                                 make_link):
    feed = failing_feed(httpserver)
    links = [make_link(make_property(f"Flat {n}", owner_email=f"o{n}@example.com"), url=f"{feed.url}?{n}",
                       source="airbnb") for n in range(50)]
    ids = [link.id for link in links]
    for _ in range(4):
        sync_links(ids)
    assert kinds() == ["provider_incident"]
    assert len(smtp.inbox.messages) == 1 and hook.kinds() == ["provider_incident"]
    assert smtp.inbox.messages[0]["Subject"].startswith("Airbnb: 50 links answer 503 since ")
    feed.status = 200
    sync_links(ids)
    assert kinds() == ["provider_incident", "incident_resolved"]
    assert len(smtp.inbox.messages) == 2 and hook.kinds() == ["provider_incident", "incident_resolved"]


def test_a_flapping_link_is_reported_once(app, smtp, hook, httpserver, make_property, make_link):
    feed = failing_feed(httpserver)
    link = make_link(make_property(), url=feed.url, source="airbnb")
    for n in range(12):
        feed.status = 503 if n % 2 == 0 else 200
        sync_links([link.id])
    assert kinds() == ["link_flapping"]
    assert len(smtp.inbox.messages) == 1 and "keeps switching" in smtp.inbox.messages[0].get_content()


def test_digest_recipient_gets_one_digest_while_the_team_hears_at_once(app, smtp, hook, httpserver,
                                                                       make_property, make_link):
    db.session.add(AlertRecipient(channel="email", address="digest@example.com", digest_mode="hourly"))
    db.session.commit()
    feed = failing_feed(httpserver)
    a = make_link(make_property("North Flat"), url=feed.url + "?a", source="airbnb")
    b = make_link(make_property("South Flat", owner_email="s@example.com"), url=feed.url + "?b", source="airbnb")
    for _ in range(3):
        sync_links([a.id, b.id])
    assert sorted(m["To"] for m in smtp.inbox.messages) == ["property@only-apartments.com"] * 2
    periodic_checks(utcnow() + timedelta(minutes=61))
    digests = [m for m in smtp.inbox.messages if m["To"] == "digest@example.com"]
    assert len(digests) == 1 and digests[0]["Subject"] == "Digest: 2 alert(s)"
    text = digests[0].get_content()
    assert "North Flat" in text and "South Flat" in text
    periodic_checks(utcnow() + timedelta(minutes=122))
    assert len([m for m in smtp.inbox.messages if m["To"] == "digest@example.com"]) == 1


def test_a_receiver_refuses_a_wrong_signature(app, smtp, httpserver, make_property, make_link):
    receiver = WebhookReceiver(httpserver, "/hook", SECRET)
    app.config.update(ALERT_WEBHOOK_URL=receiver.url, ALERT_WEBHOOK_SECRET="not-the-secret", RQ_INLINE=True)
    link = make_link(make_property(), url=failing_feed(httpserver).url, source="airbnb")
    for _ in range(3):
        sync_links([link.id])
    assert receiver.accepted == [] and receiver.refused == 1
    delivery = db.session.execute(select(NotificationDelivery).filter_by(channel="webhook")).scalar_one()
    # A refused signature is not fixed by retrying: kept as dead, with the answer, for staff to see.
    assert delivery.state == "dead" and "401" in delivery.last_error


def test_smtp_down_then_back_delivers_once(app, httpserver, make_property, make_link):
    port = free_port()
    app.config.update(SMTP_URL=f"smtp://127.0.0.1:{port}", RQ_INLINE=True)
    link = make_link(make_property(), url=failing_feed(httpserver).url, source="airbnb")
    for _ in range(3):
        sync_links([link.id])
    delivery = db.session.execute(select(NotificationDelivery)).scalar_one()
    assert delivery.state == "failed" and delivery.attempts == 1 and "refused" in delivery.last_error.lower()
    with SmtpServer(port) as smtp:
        periodic_checks(utcnow() + timedelta(minutes=3))
        periodic_checks(utcnow() + timedelta(minutes=10))
        periodic_checks(utcnow() + timedelta(hours=2))
        assert len(smtp.inbox.messages) == 1
    db.session.expire_all()
    assert (delivery.state, delivery.attempts, delivery.last_error) == ("delivered", 2, None)


def test_without_smtp_url_notifications_are_kept_and_shown(app, httpserver, make_property, make_link):
    link = make_link(make_property(), url=failing_feed(httpserver).url, source="airbnb")
    for _ in range(3):
        sync_links([link.id])
    delivery = db.session.execute(select(NotificationDelivery)).scalar_one()
    assert (delivery.channel, delivery.recipient, delivery.state) == \
        ("email", "property@only-apartments.com", "kept")


def test_an_alert_failure_never_costs_the_sync_its_results(app, httpserver, make_property, make_link,
                                                           monkeypatch):
    import jobs.notify.evaluate as evaluate

    def broken(*_args, **_kwargs):
        raise RuntimeError("alerts are broken")
    monkeypatch.setattr(evaluate, "notice_sync_results", broken)
    feed = FeedServer(httpserver, "/ok.ics", airbnb_feed([(day(5), day(8), "Reserved")]))
    link = make_link(make_property(), url=feed.url, source="airbnb")
    [summary] = sync_links([link.id])
    assert summary.outcome == "changed", summary
    db.session.expire_all()
    assert link.last_attempt_ok is True and link.consecutive_failures == 0


def test_owners_hear_in_plain_words_only_when_turned_on(app, smtp, httpserver, make_property, make_link):
    app.config.update(ALERT_NOTIFY_OWNERS=True, RQ_INLINE=True)
    feed = FeedServer(httpserver, "/g.ics", b"")
    feed.status = 404
    link = make_link(make_property("Madrid Flat", owner_email="lucia@example.com"), url=feed.url, source="google")
    for _ in range(3):
        sync_links([link.id])
    owner = [m for m in smtp.inbox.messages if m["To"] == "lucia@example.com"]
    assert len(owner) == 1 and len(smtp.inbox.messages) == 2
    text = owner[0].get_content()
    assert "Make available to public" in text and "server_error" not in text and "Madrid Flat" in text
    assert "/owner-status/" in text, "the owner's alert carries their status page"
