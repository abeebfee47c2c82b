"""The owner status page: made by staff (API and console), opened without a login, showing one property in
an owner's words and never an e-mail address, a full calendar address, another property or internal text."""
from __future__ import annotations

import re
from datetime import timedelta

from sqlalchemy import select

from console.extensions import db
from console.models import Notification, NotificationDelivery, OwnerStatusLink, Reservation
from console.timeutil import utcnow
from jobs.notify.deliver import message_of

FEED = "https://www.airbnb.com/calendar/ical/123456789012345678.ics?s=8f2e4c0a9b7d6e5f"
INTERNAL = "HTTPSConnectionPool(host='10.2.3.4', port=8443): job 7f3a-rq-id refused"


def failing_airbnb(prop, make_link):
    """An Airbnb link failing with a 403, its message full of internal detail."""
    return make_link(prop, url=FEED, source="airbnb", last_attempt_ok=False, consecutive_failures=4,
                     last_sync_at=utcnow(), last_success_at=utcnow() - timedelta(days=2),
                     last_error_kind="forbidden", last_error_message=INTERNAL, last_error_http_status=403,
                     last_error_at=utcnow())


def path_of(url: str) -> str:
    return "/" + url.split("/", 3)[3]


def test_staff_get_an_owner_link_that_opens_without_login(app, client, api, make_property, make_link):
    prop = make_property("Casa Azul", owner_email="lucia@example.com")
    make_link(prop, url="https://calendar.google.com/calendar/ical/x%40gmail.com/public/basic.ics",
              source="google", last_attempt_ok=True, last_sync_at=utcnow(), last_success_at=utcnow())
    resp = api("staff").post(f"/properties/{prop.id}/owner-link")
    assert resp.status_code == 201
    url = resp.get_json()["url"]
    assert url.startswith(app.config["PUBLIC_BASE_URL"] + "/owner-status/")
    page = client.get(path_of(url))
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "Casa Azul" in html and "Google Calendar" in html and "calendar.google.com/…" in html
    assert page.headers["X-Robots-Tag"] == "noindex, nofollow"


def test_the_token_is_stored_only_hashed(app, api, make_property):
    prop = make_property()
    url = api("staff").post(f"/properties/{prop.id}/owner-link").get_json()["url"]
    token = url.rsplit("/", 1)[1]
    row = db.session.execute(select(OwnerStatusLink)).scalar_one()
    assert token not in (row.token_hash, row.nonce) and len(token) >= 40


def test_the_page_never_shows_email_full_address_other_properties_or_internal_errors(
        app, client, api, make_property, make_link, make_reservation):
    prop = make_property("Casa Azul", owner_email="lucia@example.com")
    failing_airbnb(prop, make_link)
    other = make_property("Villa Secreta", owner_email="someone-else@example.com")
    make_link(other, url="https://www.vrbo.com/icalendar/abc.ics", source="vrbo")
    html = client.get(path_of(api("staff").post(f"/properties/{prop.id}/owner-link").get_json()["url"])
                      ).get_data(as_text=True)
    for secret in ("lucia@example.com", "someone-else@example.com", "property@only-apartments.com",
                   FEED, "123456789012345678", "8f2e4c0a9b7d6e5f", "Villa Secreta", "vrbo.com",
                   "10.2.3.4", "HTTPSConnectionPool", "7f3a-rq-id", "HTTP 403", "forbidden", "/export/",
                   prop.export_token):
        assert secret not in html, secret
    assert not re.search(r"[\w.+-]+@[\w-]+\.[\w.]+", html), "no e-mail address at all"
    assert "www.airbnb.com/…" in html


def test_a_failing_calendar_tells_the_owner_what_to_do_step_by_step(app, client, api, make_property,
                                                                     make_link):
    prop = make_property("Casa Azul")
    failing_airbnb(prop, make_link)
    html = client.get(path_of(api("staff").post(f"/properties/{prop.id}/owner-link").get_json()["url"])
                      ).get_data(as_text=True)
    assert 'data-state="failing"' in html and "1 calendar needs your attention" in html
    for step in ("Availability", "Connect calendars", "Export calendar"):
        assert step in html
    assert "4 times" in html and "2 days ago" in html


def test_manual_blocks_are_listed_for_the_owner_to_remove(app, client, api, make_property, make_link,
                                                          make_reservation):
    prop = make_property()
    link = make_link(prop, url=FEED, source="airbnb", last_attempt_ok=True, last_sync_at=utcnow(),
                     last_success_at=utcnow())
    make_reservation(prop, "manual", in_days=10, nights=3)
    make_reservation(prop, "external", in_days=30, nights=2, link=link)
    make_reservation(prop, "direct", in_days=40, nights=2)
    html = client.get(path_of(api("staff").post(f"/properties/{prop.id}/owner-link").get_json()["url"])
                      ).get_data(as_text=True)
    assert html.count('data-test="manual-block"') == 1 and "please remove these blocks" in html
    assert "1 upcoming booking or block" in html
    codes = db.session.execute(select(Reservation.code)).scalars().all()
    assert not any(code in html for code in codes), "no booking codes"


def test_a_new_link_ends_the_old_one(app, client, api, make_property):
    prop = make_property()
    staff = api("staff")
    first = staff.post(f"/properties/{prop.id}/owner-link").get_json()["url"]
    second = staff.post(f"/properties/{prop.id}/owner-link").get_json()["url"]
    assert first != second
    assert client.get(path_of(first)).status_code == 404
    assert client.get(path_of(second)).status_code == 200


def test_a_forged_or_malformed_link_answers_404(app, client, api, make_property):
    prop = make_property()
    url = api("staff").post(f"/properties/{prop.id}/owner-link").get_json()["url"]
    token = url.rsplit("/", 1)[1]
    forged = token[:-1] + ("A" if token[-1] != "A" else "B")
    for path in (f"/owner-status/{forged}", "/owner-status/x", "/owner-status/" + "a" * 500):
        resp = client.get(path)
        assert resp.status_code == 404 and "not valid" in resp.get_data(as_text=True)


def test_viewers_cannot_make_an_owner_link(app, api, make_property):
    prop = make_property()
    assert api("viewer").post(f"/properties/{prop.id}/owner-link").status_code == 403
    assert api("staff").post("/properties/999999/owner-link").status_code == 404
    assert db.session.execute(select(OwnerStatusLink)).first() is None


def test_staff_share_from_the_property_page_and_viewers_cannot(app, client, login, make_property):
    prop = make_property("Casa Azul")
    login("viewer")
    html = client.get(f"/properties/{prop.id}").get_data(as_text=True)
    assert 'id="owner-share"' not in html
    token = re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)
    assert client.post(f"/properties/{prop.id}/owner-link", data={"csrf_token": token}).status_code == 403
    assert client.post(f"/properties/{prop.id}/owner-link/email",
                       data={"csrf_token": token}).status_code == 403
    assert db.session.execute(select(OwnerStatusLink)).first() is None


def test_staff_share_replace_needs_a_confirm_and_says_when_mail_is_not_set(app, client, login, make_property):
    prop = make_property("Casa Azul")
    login("staff")
    html = client.get(f"/properties/{prop.id}").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)
    assert "Share status with the owner" in html
    client.post(f"/properties/{prop.id}/owner-link", data={"csrf_token": token})
    html = client.get(f"/properties/{prop.id}").get_data(as_text=True)
    url = re.search(r'id="owner-link-url" value="([^"]+)"', html).group(1)
    assert client.get(path_of(url)).status_code == 200
    assert "SMTP_URL is unset" in html and "E-mail it to the owner" not in html
    client.post(f"/properties/{prop.id}/owner-link", data={"csrf_token": token})  # no confirm: kept
    assert client.get(path_of(url)).status_code == 200
    client.post(f"/properties/{prop.id}/owner-link", data={"csrf_token": token, "confirm": "yes"})
    assert client.get(path_of(url)).status_code == 404


def test_staff_email_the_link_to_the_owner_with_the_live_address(app, client, login, make_property):
    app.config.update(SMTP_URL="smtp://127.0.0.1:1", RQ_INLINE=False)
    prop = make_property("Casa Azul", owner_email="lucia@example.com")
    login("staff")
    html = client.get(f"/properties/{prop.id}").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)
    client.post(f"/properties/{prop.id}/owner-link", data={"csrf_token": token})
    html = client.get(f"/properties/{prop.id}").get_data(as_text=True)
    assert "E-mail it to the owner" in html
    url = re.search(r'id="owner-link-url" value="([^"]+)"', html).group(1)
    client.post(f"/properties/{prop.id}/owner-link/email", data={"csrf_token": token})
    note = db.session.execute(select(Notification).filter_by(kind="owner_status")).scalar_one()
    delivery = db.session.execute(select(NotificationDelivery)).scalar_one()
    assert delivery.recipient == "lucia@example.com" and delivery.audience == "owner"
    assert url not in (note.body + (note.owner_text or "")), "the address is never stored in clear"
    text = message_of(delivery, app.config["PUBLIC_BASE_URL"], app.config["SECRET_KEY"]).text
    assert url in text and "Casa Azul" in text


def test_an_owner_alert_carries_the_status_link(app, client, make_property, make_link):
    from jobs.notify.routing import Target
    from jobs.notify.store import raise_notification
    prop = make_property("Casa Azul", owner_email="lucia@example.com")
    note = raise_notification("link_failing", "Failing", body="team words", owner_text="owner words",
                              property_id=prop.id, targets=[Target("email", "lucia@example.com", "owner"),
                                                            Target("email", "team@example.com", "team")])
    db.session.commit()
    owner, team = sorted(note.deliveries, key=lambda d: d.audience != "owner")
    text = message_of(owner, app.config["PUBLIC_BASE_URL"], app.config["SECRET_KEY"]).text
    url = re.search(r"(http\S+/owner-status/\S+)", text).group(1)
    assert client.get(path_of(url)).status_code == 200
    assert "owner-status" not in message_of(team, app.config["PUBLIC_BASE_URL"], app.config["SECRET_KEY"]).text
    again = message_of(owner, app.config["PUBLIC_BASE_URL"], app.config["SECRET_KEY"]).text
    assert url in again, "the same live address on every alert"


def test_making_and_emailing_an_owner_link_is_in_the_audit_trail_once_each(app, client, api, login,
                                                                           make_property):
    from console.models import AuditEntry
    app.config.update(SMTP_URL="smtp://127.0.0.1:1", RQ_INLINE=False)
    prop = make_property("Casa Azul", owner_email="lucia@example.com")
    url = api("staff").post(f"/properties/{prop.id}/owner-link").get_json()["url"]
    login("staff")
    html = client.get(f"/properties/{prop.id}").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)
    client.post(f"/properties/{prop.id}/owner-link/email", data={"csrf_token": token})
    entries = db.session.execute(select(AuditEntry).where(AuditEntry.action.like("owner_link.%"))
                                 .order_by(AuditEntry.id)).scalars().all()
    assert [(e.action, e.actor_kind, e.property_id) for e in entries] == [
        ("owner_link.created", "token", prop.id), ("owner_link.emailed", "user", prop.id)]
    assert all(url.rsplit("/", 1)[1] not in str(e.details) for e in entries), "the address is never kept"
