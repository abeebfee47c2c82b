"""Admins change the alert thresholds on the settings page (stored in the database, the environment's value
otherwise) and the next evaluation uses them."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import select

from console.extensions import db
from console.models import AlertSetting, Notification, NotificationDelivery
from jobs.notify.thresholds import thresholds
from jobs.sync.runner import sync_links
from tests.console.admin.test_notifications import _csrf
from tests.jobs.notify.test_delivery import failing_feed

FORM = {"ALERT_AFTER_FAILURES": "3", "ALERT_REMINDER_HOURS": "24", "ALERT_INCIDENT_MIN_LINKS": "20",
        "ALERT_INCIDENT_MIN_PERCENT": "20", "ALERT_INCIDENT_WINDOW_MINUTES": "15", "ALERT_QUIET_START_HOUR": "",
        "ALERT_QUIET_END_HOUR": "", "ALERT_QUIET_TIMEZONE": "UTC"}


def post(client, **changes):
    token = _csrf(client, "/notifications/settings")
    return client.post("/notifications/settings/thresholds", data={**FORM, **changes, "csrf_token": token},
                       follow_redirects=True)


def test_a_threshold_saved_by_an_admin_is_what_the_evaluation_uses(app, login, httpserver, make_property,
                                                                  make_link):
    client = login("admin")
    page = post(client, ALERT_AFTER_FAILURES="1").get_data(as_text=True)
    assert "Thresholds saved: ALERT_AFTER_FAILURES." in page
    assert 'data-threshold="ALERT_AFTER_FAILURES" data-value="1"' in page and "admin@example.com, <time" in page
    assert app.config["ALERT_AFTER_FAILURES"] == 3  # the environment is untouched; the database wins
    link = make_link(make_property("Casa Azul"), url=failing_feed(httpserver).url, source="airbnb")
    sync_links([link.id])  # one failure is enough now
    db.session.expire_all()
    assert db.session.execute(select(Notification.kind)).scalars().all() == ["link_failing"]
    post(client, ALERT_AFTER_FAILURES="3")  # back to the environment's value: the row goes
    assert db.session.execute(select(AlertSetting)).first() is None
    assert thresholds(app.config)["ALERT_AFTER_FAILURES"] == 3


def test_stored_default_quiet_hours_hold_back_what_can_wait(app, login):
    client = login("admin")
    post(client, ALERT_QUIET_START_HOUR="0", ALERT_QUIET_END_HOUR="0")  # start == end: no quiet hours
    post(client, ALERT_QUIET_START_HOUR="22", ALERT_QUIET_END_HOUR="7", ALERT_QUIET_TIMEZONE="Europe/Madrid")
    limits = thresholds(app.config)
    assert (limits["ALERT_QUIET_START_HOUR"], limits["ALERT_QUIET_END_HOUR"], limits["ALERT_QUIET_TIMEZONE"]) \
        == (22, 7, "Europe/Madrid")
    app.config.update(SMTP_URL="smtp://127.0.0.1:1")  # pending, not kept: the send time is what we look at
    from jobs.notify.store import raise_notification
    night = datetime(2026, 7, 1, 22, 30)  # 00:30 in Madrid (summer time)
    note = raise_notification("link_recovered", "Recovered: x", now=night)
    urgent = raise_notification("held_change", "Held change: x", now=night)
    db.session.commit()
    assert [d.next_attempt_at for d in note.deliveries] == [datetime(2026, 7, 2, 5, 0)]  # 07:00 Madrid
    # Urgent: to the team and to the admin (a console user), both at once.
    assert [d.next_attempt_at for d in urgent.deliveries] == [night, night]


def test_bad_values_are_refused_and_nothing_is_stored(login):
    client = login("admin")
    page = post(client, ALERT_AFTER_FAILURES="0", ALERT_REMINDER_HOURS="12").get_data(as_text=True)
    assert "ALERT_AFTER_FAILURES: must be from 1 to 100" in page
    page = post(client, ALERT_QUIET_START_HOUR="22").get_data(as_text=True)
    assert "quiet hours need both a start and an end hour" in page
    page = post(client, ALERT_QUIET_TIMEZONE="Mars/Olympus").get_data(as_text=True)
    assert "is not a time zone" in page
    assert db.session.execute(select(AlertSetting)).first() is None


def test_only_admins_change_thresholds(login):
    client = login("staff")
    token = _csrf(client, "/notifications/settings")
    resp = client.post("/notifications/settings/thresholds", data={**FORM, "ALERT_AFTER_FAILURES": "1",
                                                                   "csrf_token": token})
    assert resp.status_code == 403
    page = client.get("/notifications/settings").get_data(as_text=True)
    assert 'id="threshold-form"' in page and 'name="ALERT_AFTER_FAILURES"' not in page
    assert db.session.execute(select(NotificationDelivery)).first() is None
