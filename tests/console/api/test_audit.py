"""API: every change through the API writes its one audit entry with the token as actor; admins read the
trail (filters, keyset pages); nothing changes or deletes an entry."""
from __future__ import annotations

from datetime import date, timedelta

import pytest
from sqlalchemy import select

from console.extensions import db
from console.models import AuditEntry, Overbooking
from console.timeutil import utcnow

FEED = "http://127.0.0.1:1/feed.ics"


def entries(action: str | None = None) -> list[AuditEntry]:
    """The trail as stored (fresh from the database), oldest first, of one action when named."""
    db.session.expire_all()
    query = select(AuditEntry).order_by(AuditEntry.id)
    return db.session.execute(query.where(AuditEntry.action == action) if action else query).scalars().all()


def only(action: str) -> AuditEntry:
    """The one entry of this action (exactly one, or the test fails)."""
    rows = entries(action)
    assert len(rows) == 1, [(e.action, e.details) for e in entries()]
    return rows[0]


def _d(days: int) -> str:
    return (date.today() + timedelta(days=days)).isoformat()


def test_each_link_action_through_the_api_writes_one_entry_with_the_token_as_actor(api, make_property, make_link):
    prop = make_property()
    staff = api("staff")
    link_id = staff.post(f"/properties/{prop.id}/links", json={"url": FEED}).get_json()["id"]
    for path in ("activate", "sync", "pause", "resume"):
        assert staff.post(f"/links/{link_id}/{path}").status_code in (200, 202), path
    held = make_link(prop, url="http://127.0.0.1:1/other.ics", hold_state={"codes": ["EX-1"], "confirmations": 0})
    assert staff.post(f"/links/{held.id}/accept-change").status_code == 202
    assert staff.delete(f"/links/{link_id}").status_code == 204
    assert [e.action for e in entries()] == ["link.added", "link.activated", "link.synced", "link.paused",
                                             "link.resumed", "link.accepted", "link.deleted"]
    for entry in entries():
        assert (entry.actor_kind, entry.actor_name) == ("token", "test-staff")
        assert entry.property_id == prop.id and entry.remote_addr == "127.0.0.1" and entry.target_kind == "link"
    assert only("link.added").details["calendar"] == "http://127.0.0.1/…"  # never the feed's secret path
    assert only("link.activated").details["state"] == {"before": "linked", "after": "active"}
    assert only("link.paused").details["state"] == {"before": "active", "after": "paused"}
    assert only("link.resumed").details["state"] == {"before": "paused", "after": "active"}
    assert only("link.accepted").details["held"] == {"codes": ["EX-1"], "confirmations": 0}
    assert only("link.deleted").details["state"] == {"before": "active", "after": None}
    assert only("link.synced").details["job_id"]


def test_a_refused_action_writes_no_entry(api, make_property, make_link):
    link = make_link(make_property(), state="paused")
    staff = api("staff")
    assert staff.post(f"/links/{link.id}/sync").status_code == 409  # paused: not synced
    assert staff.post(f"/links/{link.id}/accept-change").status_code == 409  # nothing held
    assert api("viewer").post(f"/links/{link.id}/pause").status_code == 403
    assert entries() == []


def test_testing_a_link_is_recorded_with_its_outcome(api, make_property, make_link):
    link = make_link(make_property())  # nothing listens on port 1: the test fails, and says so
    assert api("staff").post(f"/links/{link.id}/test").status_code == 200
    entry = only("link.tested")
    assert entry.target_id == link.id and entry.details["ok"] is False and entry.details["error_kind"]


def test_reservations_overbookings_properties_and_export_tokens_are_recorded(api, make_property):
    staff = api("staff")
    prop_id = staff.post("/properties", json={"name": "Loft", "owner_email": "o@example.com"}).get_json()["id"]
    code = staff.post(f"/properties/{prop_id}/reservations", json={
        "origin": "direct", "check_in": _d(10), "check_out": _d(13), "guest_name": "Ana"}).get_json()["code"]
    assert staff.delete(f"/reservations/{code}").status_code == 204
    assert staff.post(f"/properties/{prop_id}/export-token").status_code == 200
    ob = Overbooking(property_id=prop_id, direct_code="OA-1", external_code="EX-1", first_night=date.today(),
                     last_night=date.today(), nights=1, counts_against_owner=True, state="open",
                     attribution="why", link_health_at_detection="ok", detected_at=utcnow())
    db.session.add(ob)
    db.session.commit()
    assert staff.post(f"/overbookings/{ob.id}/resolve", json={"note": "moved"}).status_code == 200
    assert [e.action for e in entries()] == ["property.created", "reservation.reported", "reservation.cancelled",
                                             "export_token.rotated", "overbooking.resolved"]
    assert {e.property_id for e in entries()} == {prop_id}
    assert only("reservation.reported").details == {"code": code, "origin": "direct", "check_in": _d(10),
                                                    "check_out": _d(13)}  # no guest name
    assert only("overbooking.resolved").details == {"state": {"before": "open", "after": "resolved"},
                                                    "note": "moved"}
    assert all(e.actor_name == "test-staff" for e in entries())


@pytest.fixture
def trail(app):
    """Five entries by two actors on two properties, a day apart (the newest today)."""
    now = utcnow()
    for n, (name, action, prop) in enumerate([("ana@example.com", "link.paused", 1),
                                              ("main-site", "reservation.reported", 2),
                                              ("ana@example.com", "link.resumed", 1),
                                              ("ana@example.com", "token.created", None),
                                              ("main-site", "link.added", 2)]):
        db.session.add(AuditEntry(at=now - timedelta(days=4 - n), actor_kind="user" if "@" in name else "token",
                                  actor_name=name, action=action, target_kind="link", target_id=n,
                                  property_id=prop, details={"n": n}))
    db.session.commit()
    return [e.id for e in entries()]


def test_admins_read_the_trail_in_the_contract_shape(api, trail):
    body = api("admin").get("/audit").get_json()
    assert body["next_after_id"] is None
    assert [i["id"] for i in body["items"]] == trail  # oldest first
    first = body["items"][0]
    assert set(first) == {"id", "at", "actor", "action", "target", "property_id", "details", "remote_addr"}
    assert first["actor"] == {"kind": "user", "name": "ana@example.com"} and first["at"].endswith("Z")
    assert first["target"] == {"kind": "link", "id": 0} and first["details"] == {"n": 0}


@pytest.mark.parametrize("query, expected", [
    ("actor=ana@example.com", [0, 2, 3]),
    ("action=link.paused", [0]),
    ("action=link", [0, 2, 4]),  # a group: every link.* action
    ("property_id=2", [1, 4]),
    ("actor=main-site&property_id=2&action=link", [4]),
])
def test_the_trail_filters_by_actor_action_and_property(api, trail, query, expected):
    items = api("admin").get(f"/audit?{query}").get_json()["items"]
    assert [i["details"]["n"] for i in items] == expected


def test_the_trail_filters_by_time(api, trail):
    today, now = date.today(), utcnow()
    admin = api("admin")
    recent = admin.get(f"/audit?from={(now - timedelta(days=1, hours=1)).isoformat()}Z").get_json()["items"]
    assert [i["details"]["n"] for i in recent] == [3, 4]
    days = admin.get(f"/audit?from={today - timedelta(days=4)}&to={today - timedelta(days=3)}").get_json()
    assert [i["details"]["n"] for i in days["items"]] == [0, 1]  # `to` as a day takes the whole day


def test_keyset_pages_walk_the_whole_trail_once(api, trail):
    admin, seen, after = api("admin"), [], None
    while True:
        body = admin.get("/audit?limit=2" + (f"&after_id={after}" if after else "")).get_json()
        seen += [i["id"] for i in body["items"]]
        after = body["next_after_id"]
        if after is None:
            break
    assert seen == trail


@pytest.mark.parametrize("query, field", [("property_id=x", "property_id"), ("from=yesterday", "from"),
                                          ("after_id=-1", "after_id"), ("from=2026-12-06&to=2026-12-01", "to")])
def test_bad_filters_are_refused_naming_the_field(api, trail, query, field):
    resp = api("admin").get(f"/audit?{query}")
    assert resp.status_code == 422 and resp.get_json()["error"]["field"] == field


@pytest.mark.parametrize("role", ["viewer", "staff"])
def test_viewers_and_staff_cannot_read_the_trail(api, trail, role):
    resp = api(role).get("/audit")
    assert resp.status_code == 403 and "items" not in resp.get_json()


@pytest.mark.parametrize("method", ["put", "patch", "delete", "post"])
def test_no_route_changes_or_deletes_an_entry(api, trail, method):
    admin = api("admin")
    before = [(e.id, e.action, e.details) for e in entries()]
    for path in ("/audit", f"/audit/{trail[0]}"):
        resp = getattr(admin, method)(path, json={"action": "nothing.happened", "details": {}})
        assert resp.status_code in (404, 405), (method, path)
    assert [(e.id, e.action, e.details) for e in entries()] == before


def test_cli_token_and_user_commands_are_recorded_with_the_system_as_actor(runner):
    assert runner.invoke(args=["create-token", "feeder", "--role", "staff"]).exit_code == 0
    assert runner.invoke(args=["revoke-token", "feeder"]).exit_code == 0
    assert runner.invoke(args=["create-user", "new@example.com", "--role", "viewer",
                               "--password", "long enough"]).exit_code == 0
    assert [e.action for e in entries()] == ["token.created", "token.revoked", "user.created"]
    assert {e.actor_kind for e in entries()} == {"system"} and entries()[0].actor_name.startswith("cli")
    assert only("user.created").details["role"] == {"before": None, "after": "viewer"}
    assert only("token.revoked").details["revoked"] == {"before": False, "after": True}


def test_a_kigo_link_added_is_recorded_with_its_kigo_property_and_no_address(api, make_property):
    prop = make_property()
    data = {"source": "kigo", "kigo_code": "ACC1", "kigo_property_id": 101}
    assert api("staff").post(f"/properties/{prop.id}/links", json=data).status_code == 201
    assert api("staff").post(f"/properties/{prop.id}/links", json=data).status_code == 422  # refused: no entry
    entry = only("link.added")
    assert entry.details == {"source": "kigo", "calendar": None, "kigo_property_id": 101, "state": "linked"}
