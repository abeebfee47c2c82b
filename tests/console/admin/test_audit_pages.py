"""The audit trail in the console: each console action writes its one entry with the user as actor, logins
are recorded, admins read /audit/ (filters, pages, CSV) and each property's changes; viewers and staff are
refused, and no page offers to change or delete an entry."""
from __future__ import annotations

import csv
import io
import re
from datetime import date, timedelta

import pytest
from sqlalchemy import select

from console.extensions import db
from console.models import AlertRecipient, AuditEntry, Overbooking
from console.timeutil import utcnow
from tests.console.api.test_audit import entries, only

PASSWORD = "correct horse battery"


def _token(html: str) -> str:
    return re.search(r'name="csrf_token"[^>]*value="([^"]+)"', html).group(1)


def post(client, path: str, data: dict | None = None, page: str = "/properties/"):
    """POST a console form with the CSRF token of `page` (as the browser would)."""
    return client.post(path, data={**(data or {}), "csrf_token": _token(client.get(page).get_data(as_text=True))})


def test_each_link_action_in_the_console_writes_one_entry_with_the_user_as_actor(login, make_property,
                                                                                make_link):
    client = login("staff")
    prop = make_property()
    base = f"/properties/{prop.id}/links"
    assert post(client, f"{base}/new", {"url": "http://127.0.0.1:1/feed.ics", "step": "save"}).status_code == 302
    link_id = db.session.execute(select(AuditEntry.target_id)).scalar()
    for action in ("activate", "sync", "pause", "resume"):
        assert post(client, f"{base}/{link_id}/{action}").status_code == 302
    held = make_link(prop, url="http://127.0.0.1:1/held.ics", hold_state={"codes": ["EX-1"], "confirmations": 0})
    post(client, f"{base}/{held.id}/accept")
    post(client, f"{base}/{link_id}/test")
    assert post(client, f"{base}/{link_id}/delete", {"confirm": "yes"}).status_code == 302
    actions = [e.action for e in entries() if not e.action.startswith("login.")]
    assert actions == ["link.added", "link.activated", "link.synced", "link.paused", "link.resumed",
                       "link.accepted", "link.tested", "link.deleted"]
    for entry in entries():
        assert (entry.actor_kind, entry.actor_name, entry.remote_addr) == ("user", "staff@example.com", "127.0.0.1")
    assert only("link.paused").details["state"] == {"before": "active", "after": "paused"}


def test_a_bulk_action_writes_one_entry_for_all_its_links(login, make_property, make_link):
    client = login("staff")
    links = [make_link(make_property(f"Flat {n}", owner_email=f"o{n}@example.com")) for n in range(3)]
    make_link(links[0].property, url="http://127.0.0.1:1/paused.ics", state="paused")
    assert post(client, "/properties/bulk/run", {"all": "1", "action": "pause"}).status_code == 302
    entry = only("bulk.pause")
    assert (entry.actor_name, entry.target_kind, entry.property_id) == ("staff@example.com", "links", None)
    assert entry.details["done"] == 3 and sorted(entry.details["link_ids"]) == sorted(k.id for k in links)
    assert entry.details["refused"] == {"already paused": 1} and entry.details["properties"] == 3


def test_resolving_an_overbooking_in_the_console_is_recorded(login, make_property):
    client = login("staff")
    prop = make_property()
    ob = Overbooking(property_id=prop.id, direct_code="OA-1", external_code="EX-1", first_night=date.today(),
                     last_night=date.today(), nights=1, counts_against_owner=True, state="open",
                     attribution="why", link_health_at_detection="ok", detected_at=utcnow())
    db.session.add(ob)
    db.session.commit()
    post(client, f"/overbookings/{ob.id}/resolve", {"note": "guest moved"})
    entry = only("overbooking.resolved")
    assert entry.actor_name == "staff@example.com" and entry.property_id == prop.id
    assert entry.details == {"state": {"before": "open", "after": "resolved"}, "note": "guest moved"}


def test_tokens_issued_and_revoked_in_the_console_are_recorded(login):
    client = login("admin")
    post(client, "/tokens/", {"name": "main-site", "role": "staff", "expires_in_days": "30"}, page="/tokens/")
    token_id = only("token.created").target_id
    post(client, f"/tokens/{token_id}/revoke", {"confirm": "yes"}, page="/tokens/")
    created, revoked = only("token.created"), only("token.revoked")
    assert created.details["name"] == "main-site" and created.details["role"] == "staff"
    assert created.details["expires_at"] and "csc_" not in str(created.details)  # never the token itself
    assert revoked.target_id == token_id and revoked.actor_name == "admin@example.com"


def test_alert_settings_changes_are_recorded_with_old_and_new_values(login, make_user):
    from tests.console.admin.test_thresholds import FORM
    client = login("admin")
    page = "/notifications/settings"
    post(client, "/notifications/settings/thresholds", {**FORM, "ALERT_AFTER_FAILURES": "1"}, page=page)
    post(client, "/notifications/settings/thresholds", {**FORM, "ALERT_AFTER_FAILURES": "1"}, page=page)  # no change
    post(client, "/notifications/settings/thresholds", {**FORM, "ALERT_AFTER_FAILURES": "3"}, page=page)
    changes = [e.details for e in entries("alert_settings.changed")]
    assert changes == [{"ALERT_AFTER_FAILURES": {"before": "3", "after": "1"}},
                       {"ALERT_AFTER_FAILURES": {"before": "1", "after": "3"}}]
    post(client, "/notifications/settings/recipients", {"channel": "email", "address": "team@example.com",
                                                        "audience": "team", "digest_mode": "immediate"}, page=page)
    recipient = db.session.execute(select(AlertRecipient)).scalar_one()
    post(client, f"/notifications/settings/recipients/{recipient.id}/remove", page=page)
    staff = make_user("ops@example.com", "staff")
    post(client, f"/notifications/settings/users/{staff.id}/digest", {"digest_mode": "daily"}, page=page)
    assert only("alert_recipient.added").details["address"] == "team@example.com"
    assert only("alert_recipient.removed").target_id == recipient.id
    digest = [e for e in entries("alert_settings.changed") if e.target_kind == "user"]
    assert [d.details["alert_digest_mode"] for d in digest] == [{"before": "immediate", "after": "daily"}]
    assert {e.actor_name for e in entries() if not e.action.startswith("login.")} == {"admin@example.com"}


def _login_form(client, email: str, password: str):
    token = _token(client.get("/login").get_data(as_text=True))
    return client.post("/login", data={"email": email, "password": password, "csrf_token": token})


def test_logins_are_recorded_succeeded_failed_and_locked_out(app, client, make_user):
    app.config["LOGIN_MAX_FAILURES"] = 2
    user = make_user("ana@example.com", "staff")
    assert _login_form(client, "ana@example.com", "wrong one").status_code == 401
    assert _login_form(client, "nobody@example.com", "wrong one").status_code == 401
    assert _login_form(client, "ana@example.com", "wrong again").status_code == 401
    assert _login_form(client, "ana@example.com", PASSWORD).status_code == 429  # locked out, even when right
    assert [(e.action, e.actor_name, e.target_id) for e in entries()] == [
        ("login.failed", "ana@example.com", user.id), ("login.failed", "nobody@example.com", None),
        ("login.failed", "ana@example.com", user.id), ("login.locked_out", "ana@example.com", None)]
    app.config["LOGIN_MAX_FAILURES"] = 50
    from jobs.broker import redis_connection
    redis_connection(app).flushdb()
    assert _login_form(client, "ana@example.com", PASSWORD).status_code == 302
    assert entries()[-1].action == "login.succeeded" and entries()[-1].remote_addr == "127.0.0.1"
    assert all(e.actor_kind == "user" for e in entries())


@pytest.fixture
def trail(app):
    """Three entries on property 7 and 150 others, a minute apart (the newest now)."""
    now = utcnow()
    for n in range(153):
        db.session.add(AuditEntry(at=now - timedelta(minutes=153 - n), actor_kind="user",
                                  actor_name="ana@example.com" if n < 3 else "bo@example.com",
                                  action="link.paused" if n < 3 else "token.created", target_kind="link",
                                  target_id=n, property_id=7 if n < 3 else None,
                                  details={"state": {"before": "active", "after": "paused"}} if n < 3
                                  else {"name": "=HYPERLINK(\"x\")"}))
    db.session.commit()


@pytest.mark.parametrize("role", ["viewer", "staff"])
def test_viewers_and_staff_are_refused_the_trail_and_do_not_see_it_in_the_menu(login, trail, role):
    client = login(role)
    assert client.get("/audit/").status_code == 403
    assert client.get("/audit/?format=csv").status_code == 403
    assert 'href="/audit/"' not in client.get("/properties/").get_data(as_text=True)


def test_admins_filter_the_trail_newest_first_and_page_back(login, trail):
    client = login("admin")
    html = client.get("/properties/").get_data(as_text=True)
    assert 'href="/audit/"' in html
    page = client.get("/audit/?actor=ana@example.com").get_data(as_text=True)
    assert page.count("data-audit-id=") == 3 and "bo@example.com" not in page
    assert "active</span> → <strong data-test=\"after\">paused" in page
    first = client.get("/audit/").get_data(as_text=True)
    ids = [int(i) for i in re.findall(r'data-audit-id="(\d+)"', first)]
    assert len(ids) == 100 and ids == sorted(ids, reverse=True)
    older = re.search(r'href="([^"]+)" data-test="older"', first).group(1).replace("&amp;", "&")
    rest = [int(i) for i in re.findall(r'data-audit-id="(\d+)"', client.get(older).get_data(as_text=True))]
    assert len(rest) == 54 and max(rest) < min(ids)  # 153 entries and the admin's own login


def test_the_admin_page_offers_no_edit_or_delete_and_takes_no_writes(login, trail):
    client = login("admin")
    page = client.get("/audit/").get_data(as_text=True)
    body = page.split('data-test="audit-entries"')[1]
    assert "<form" not in body and "method=\"post\"" not in body.lower()
    assert not re.search(r">\s*(Edit|Delete|Remove)\s*<", body)
    before = [(e.id, e.action, e.details) for e in entries()]
    first = before[0][0]
    for path in ("/audit/", f"/audit/{first}", f"/audit/{first}/delete", f"/audit/edit/?id={first}"):
        resp = client.post(path, data={"csrf_token": _token(page), "action": "nothing.happened"})
        assert resp.status_code in (404, 405), path
    assert [(e.id, e.action, e.details) for e in entries()] == before


def test_a_bad_filter_is_said_and_every_entry_shown(login, trail):
    page = login("admin").get("/audit/?from=yesterday").get_data(as_text=True)
    assert "from: must be a date" in page and page.count("data-audit-id=") == 100


def test_the_csv_holds_every_matching_entry_safe_for_spreadsheets(login, trail):
    client = login("admin")
    resp = client.get("/audit/?format=csv&actor=bo@example.com")
    assert resp.status_code == 200 and resp.mimetype == "text/csv"
    assert "attachment" in resp.headers["Content-Disposition"]
    rows = list(csv.reader(io.StringIO(resp.get_data(as_text=True).lstrip("\ufeff"))))
    assert rows[0][:5] == ["id", "at", "actor_kind", "actor", "action"] and len(rows) == 151
    assert {r[3] for r in rows[1:]} == {"bo@example.com"}
    assert rows[1][8] == '{"name": "=HYPERLINK(\\"x\\")"}'  # details as JSON text
    db.session.add(AuditEntry(actor_kind="token", actor_name="=HYPERLINK(1)", action="link.added",
                              target_kind="link", details={}))
    db.session.commit()
    rows = list(csv.reader(io.StringIO(client.get("/audit/?format=csv&action=link.added")
                                       .get_data(as_text=True).lstrip("\ufeff"))))
    assert rows[1][3] == "'=HYPERLINK(1)"  # a formula-looking cell is quoted


def test_the_property_page_shows_its_own_changes_to_admins_only(login, make_property, trail):
    prop = make_property()
    db.session.add(AuditEntry(actor_kind="token", actor_name="main-site", action="reservation.reported",
                              target_kind="reservation", target_id=1, property_id=prop.id, details={"code": "OA-9"}))
    db.session.commit()
    client = login("admin")
    page = client.get(f"/properties/{prop.id}").get_data(as_text=True)
    section = page.split('id="changes"')[1]
    assert section.count("data-audit-id=") == 1 and "main-site" in section and "OA-9" in section
    assert f'/audit/?property_id={prop.id}' in section
    client.post("/logout", data={"csrf_token": _token(page)})
    staff = login("staff")
    assert 'id="changes"' not in staff.get(f"/properties/{prop.id}").get_data(as_text=True)


def test_the_check_save_runs_itself_is_not_a_test_in_the_trail(login, make_property):
    client = login("staff")
    prop = make_property()
    base = f"/properties/{prop.id}/links"
    post(client, f"{base}/new", {"url": "http://127.0.0.1:1/feed.ics", "step": "test"})
    post(client, f"{base}/new", {"url": "http://127.0.0.1:1/feed.ics", "step": "save"})
    assert [e.action for e in entries() if not e.action.startswith("login.")] == ["link.tested", "link.added"]
