"""The Notifications page: what was noticed, to whom, through which channel and how it went; filters;
settings with "send a test"; the property page's alert history."""
from __future__ import annotations

import re

from sqlalchemy import select

from console.extensions import db
from console.models import AlertRecipient, Notification, NotificationDelivery
from jobs.sync.runner import sync_links
from tests.jobs.notify.servers import SmtpServer
from tests.jobs.notify.test_delivery import failing_feed


def _csrf(client, path):
    return re.search(r'name="csrf_token" type="hidden" value="([^"]+)"|name="csrf_token" value="([^"]+)"',
                     client.get(path).get_data(as_text=True)).group(0).split('value="')[1].rstrip('"')


def _failing_link(httpserver, make_property, make_link, name="Casa Azul"):
    link = make_link(make_property(name), url=failing_feed(httpserver).url, source="airbnb")
    for _ in range(3):
        sync_links([link.id])
    return link


def test_viewer_sees_what_was_noticed_and_where_it_went(login, httpserver, make_property, make_link):
    client = login("viewer")
    link = _failing_link(httpserver, make_property, make_link)
    html = client.get("/notifications/").get_data(as_text=True)
    assert 'data-kind="link_failing"' in html and "Casa Azul" in html
    assert 'data-delivery-state="kept"' in html and "property@only-apartments.com" in html
    assert 'id="no-smtp"' in html and "sellable nights" in html
    assert "/retry" not in html  # nothing failed, and viewers do not act
    page = client.get(f"/properties/{link.property_id}").get_data(as_text=True)
    assert 'id="alert-history"' in page and 'data-notification-kind="link_failing"' in page


def test_filters_by_kind_state_channel_and_property(login, httpserver, make_property, make_link):
    client = login("viewer")
    a = _failing_link(httpserver, make_property, make_link, "North Flat")
    html = client.get("/notifications/?kind=link_recovered").get_data(as_text=True)
    assert "North Flat" not in html and "Nothing noticed." in html
    assert "North Flat" in client.get("/notifications/?state=kept&channel=email").get_data(as_text=True)
    assert "North Flat" not in client.get("/notifications/?state=delivered").get_data(as_text=True)
    assert "North Flat" not in client.get(f"/notifications/?property_id={a.property_id + 99}").get_data(as_text=True)
    assert "North Flat" in client.get(f"/notifications/?property_id={a.property_id}").get_data(as_text=True)


def test_staff_send_a_test_and_see_it_delivered(app, login):
    client = login("staff")
    app.config["RQ_INLINE"] = True
    with SmtpServer() as smtp:
        app.config["SMTP_URL"] = smtp.url
        token = _csrf(client, "/notifications/settings")
        resp = client.post("/notifications/settings/test", data={"channel": "email", "address": "me@example.com",
                                                                 "csrf_token": token})
        assert resp.status_code == 302
        assert [m["To"] for m in smtp.inbox.messages] == ["me@example.com"]
    html = client.get("/notifications/?kind=test").get_data(as_text=True)
    assert 'data-delivery-state="delivered"' in html


def test_a_test_webhook_to_a_private_address_is_refused(app, login):
    client = login("staff")
    app.config["FETCH_ALLOW_HOSTS"] = ""
    token = _csrf(client, "/notifications/settings")
    client.post("/notifications/settings/test", data={"channel": "webhook", "address": "http://10.0.0.5/hook",
                                                      "csrf_token": token})
    html = client.get("/notifications/settings").get_data(as_text=True)
    assert "not a public internet address" in html
    assert db.session.execute(select(Notification)).first() is None


def test_only_admins_manage_recipients_and_viewers_cannot_send_tests(login, client, make_user):
    viewer = login("viewer")
    token = _csrf(viewer, "/notifications/settings")
    assert viewer.post("/notifications/settings/test", data={"channel": "email", "address": "x@example.com",
                                                             "csrf_token": token}).status_code == 403
    assert viewer.post("/notifications/settings/recipients", data={"channel": "email", "address": "x@example.com",
                                                                   "csrf_token": token}).status_code == 403


def test_admin_adds_a_digest_recipient(login):
    client = login("admin")
    token = _csrf(client, "/notifications/settings")
    client.post("/notifications/settings/recipients", data={
        "channel": "email", "address": "night@example.com", "audience": "team", "digest_mode": "daily",
        "quiet_start": "22", "quiet_end": "7", "timezone": "Europe/Madrid", "csrf_token": token})
    row = db.session.execute(select(AlertRecipient)).scalar_one()
    assert (row.address, row.digest_mode, row.quiet_start_hour, row.quiet_end_hour) == \
        ("night@example.com", "daily", 22, 7)
    assert "night@example.com" in client.get("/notifications/settings").get_data(as_text=True)


def test_staff_retry_a_failed_delivery(app, login, httpserver, make_property, make_link):
    client = login("staff")
    app.config.update(SMTP_URL="smtp://127.0.0.1:1", RQ_INLINE=True)
    _failing_link(httpserver, make_property, make_link)
    delivery = db.session.execute(select(NotificationDelivery)).scalar_one()
    assert delivery.state == "failed"
    html = client.get("/notifications/?state=failed").get_data(as_text=True)
    assert f"/notifications/deliveries/{delivery.id}/retry" in html and "e-mail not sent" in html
    with SmtpServer() as smtp:
        app.config["SMTP_URL"] = smtp.url
        token = _csrf(client, "/notifications/")
        client.post(f"/notifications/deliveries/{delivery.id}/retry", data={"csrf_token": token})
        assert len(smtp.inbox.messages) == 1


def test_the_property_page_shows_each_links_own_alert_history(login, httpserver, make_property, make_link):
    from tests.jobs.feeds import airbnb_feed
    from tests.jobs.sync.test_feeds import FeedServer, day
    client = login("viewer")
    broken = _failing_link(httpserver, make_property, make_link, "Two Links Flat")
    healthy = make_link(broken.property, source="vrbo", url=FeedServer(
        httpserver, "/ok.ics", airbnb_feed([(day(40), day(42), "Reserved")])).url)
    sync_links([healthy.id])
    html = client.get(f"/properties/{broken.property_id}").get_data(as_text=True)
    def beside(link):  # the link's card, up to the next card or the end of the links section
        return html.split(f'data-link-alerts="{link.id}"')[1].split('class="card mb-2"')[0].split("</section>")[0]
    mine, other = beside(broken), beside(healthy)
    assert 'data-notification-kind="link_failing"' in mine and "property@only-apartments.com: kept" in mine
    assert "data-notification-kind" not in other and "none yet" in other
    assert f"/notifications/?link_id={broken.id}" in mine
    listed = client.get(f"/notifications/?link_id={healthy.id}").get_data(as_text=True)
    assert "Nothing noticed." in listed
