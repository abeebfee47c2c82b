"""Staff and admin users hear the staff audience's alerts at their login e-mail without being added by hand,
each in their own digest mode; viewers, inactive users and users who turned it off do not."""
from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from console.extensions import db
from console.models import AlertRecipient, Notification, NotificationDelivery, User
from console.timeutil import utcnow
from jobs.notify.checks import periodic_checks
from jobs.sync.runner import sync_links
from tests.console.admin.test_notifications import _csrf
from tests.jobs.notify.test_delivery import failing_feed, smtp  # noqa: F401 - fixture


def deliveries(kind: str) -> dict[str, str]:
    db.session.expire_all()
    rows = db.session.execute(select(NotificationDelivery.recipient, NotificationDelivery.state)
                              .join(Notification, Notification.id == NotificationDelivery.notification_id)
                              .where(Notification.kind == kind)).all()
    return dict(rows)


def test_staff_and_admins_hear_incidents_in_their_own_digest_mode(app, smtp, httpserver, make_property,
                                                                  make_link, make_user):
    app.config.update(ALERT_INCIDENT_MIN_LINKS=2, ALERT_INCIDENT_MIN_PERCENT=50, RQ_INLINE=True)
    make_user("sam@example.com", "staff")
    make_user("ada@example.com", "admin").alert_digest_mode = "daily"
    make_user("vic@example.com", "viewer")
    make_user("gone@example.com", "staff").active = False
    make_user("quiet@example.com", "staff").alert_digest_mode = "off"
    db.session.commit()
    feed = failing_feed(httpserver)
    links = [make_link(make_property(f"Flat {n}", owner_email=f"o{n}@example.com"), url=f"{feed.url}?{n}",
                       source="airbnb") for n in range(2)]
    sync_links([link.id for link in links])
    # Urgent: heard at once, whatever the digest mode.
    assert deliveries("provider_incident") == {"property@only-apartments.com": "delivered",
                                               "sam@example.com": "delivered", "ada@example.com": "delivered"}
    feed.status = 200
    sync_links([link.id for link in links])
    assert deliveries("incident_resolved") == {"property@only-apartments.com": "delivered",
                                               "sam@example.com": "delivered", "ada@example.com": "digest"}
    assert sorted(m["To"] for m in smtp.inbox.messages if m["Subject"].startswith("Resolved")) == \
        ["property@only-apartments.com", "sam@example.com"]
    periodic_checks(utcnow() + timedelta(days=1, hours=1))  # past the next 07:00 UTC
    [digest] = [m for m in smtp.inbox.messages if m["To"] == "ada@example.com" and "Digest" in m["Subject"]]
    assert "Resolved: Airbnb server_error" in digest.get_content()


def test_a_recipient_added_by_hand_keeps_its_own_settings_over_the_user(app, make_user):
    from jobs.notify.routing import targets_for
    make_user("sam@example.com", "staff")
    db.session.add(AlertRecipient(channel="email", address="sam@example.com", audience="staff",
                                  digest_mode="hourly"))
    db.session.commit()
    sams = [t for t in targets_for("held_change", app.config) if t.address == "sam@example.com"]
    assert [(t.digest_mode, t.recipient_id is not None) for t in sams] == [("hourly", True)]


def test_staff_set_only_their_own_digest_mode(login, make_user):
    other = make_user("other@example.com", "staff")
    staff = login("staff")
    token = _csrf(staff, "/notifications/settings")
    page = staff.get("/notifications/settings").get_data(as_text=True)
    assert 'id="staff-users"' in page and "other@example.com" in page
    assert staff.post(f"/notifications/settings/users/{other.id}/digest",
                      data={"digest_mode": "off", "csrf_token": token}).status_code == 403
    me = db.session.execute(select(User).filter_by(email="staff@example.com")).scalar_one()
    staff.post(f"/notifications/settings/users/{me.id}/digest", data={"digest_mode": "hourly",
                                                                      "csrf_token": token})
    db.session.expire_all()
    assert (me.alert_digest_mode, db.session.get(User, other.id).alert_digest_mode) == ("hourly", "immediate")


def test_admins_set_any_staff_users_digest_mode(login, make_user):
    other = make_user("other@example.com", "staff")
    admin = login("admin")
    token = _csrf(admin, "/notifications/settings")
    admin.post(f"/notifications/settings/users/{other.id}/digest", data={"digest_mode": "daily",
                                                                         "csrf_token": token})
    page = admin.post(f"/notifications/settings/users/{other.id}/digest", follow_redirects=True,
                      data={"digest_mode": "weekly", "csrf_token": token}).get_data(as_text=True)
    assert "must be one of immediate, hourly, daily, off" in page
    db.session.expire_all()
    assert db.session.get(User, other.id).alert_digest_mode == "daily"
    assert f'data-user-id="{other.id}" data-digest-mode="daily"' in \
        admin.get("/notifications/settings").get_data(as_text=True)
