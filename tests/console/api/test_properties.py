"""API: creating, listing, filtering and reading properties."""
from datetime import timedelta

from console.extensions import db
from console.models import Property
from console.timeutil import utcnow


def test_create_property_returns_contract_fields(api):
    resp = api("staff").post("/properties", json={
        "name": "Loft", "owner_email": "Owner@Example.com", "timezone": "Europe/Lisbon",
        "instant_booking": False, "external_ref": "oa-1"})
    assert resp.status_code == 201
    body = resp.get_json()
    for field in ("id", "name", "owner_email", "timezone", "instant_booking", "external_ref",
                  "export_url", "health", "links", "risk", "score"):
        assert field in body
    assert body["owner_email"] == "owner@example.com"
    assert body["timezone"] == "Europe/Lisbon" and body["instant_booking"] is False
    assert body["health"] == "none" and body["links"] == [] and body["score"] is None
    assert body["risk"]["level"] in ("none", "low", "medium", "high")
    assert "/export/" in body["export_url"] and body["export_url"].endswith("/calendar.ics")


def test_create_property_defaults(api):
    body = api("staff").post("/properties", json={"name": "A", "owner_email": "a@example.com"}
                             ).get_json()
    assert body["timezone"] == "Europe/Madrid" and body["instant_booking"] is True


def test_bad_bodies_get_422_naming_the_field_and_store_nothing(api, app):
    staff = api("staff")
    cases = [
        ({"owner_email": "a@example.com"}, "name"),
        ({"name": "", "owner_email": "a@example.com"}, "name"),
        ({"name": 5, "owner_email": "a@example.com"}, "name"),
        ({"name": "A"}, "owner_email"),
        ({"name": "A", "owner_email": "not-an-email"}, "owner_email"),
        ({"name": "A", "owner_email": "a@example.com", "timezone": "Mars/Olympus"}, "timezone"),
        ({"name": "A", "owner_email": "a@example.com", "instant_booking": "yes"},
         "instant_booking"),
        ({"name": "x" * 201, "owner_email": "a@example.com"}, "name"),
    ]
    for body, field in cases:
        resp = staff.post("/properties", json=body)
        assert resp.status_code == 422, body
        assert resp.get_json()["error"]["field"] == field, body
    assert db.session.query(Property).count() == 0


def test_non_json_body_is_400_not_500(api):
    resp = api("staff").post("/properties", data="name=x",
                             headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert resp.status_code == 400
    assert resp.get_json()["error"]["code"] == "invalid_json"
    resp = api("staff").post("/properties", json=["a", "list"])
    assert resp.status_code == 422


def test_duplicate_external_ref_is_409_and_keeps_the_first(api):
    staff = api("staff")
    first = staff.post("/properties", json={"name": "A", "owner_email": "a@example.com",
                                            "external_ref": "r1"}).get_json()
    resp = staff.post("/properties", json={"name": "B", "owner_email": "b@example.com",
                                           "external_ref": "r1"})
    assert resp.status_code == 409
    assert staff.get(f"/properties/{first['id']}").get_json()["name"] == "A"


def test_get_missing_property_is_404(api):
    resp = api("viewer").get("/properties/999")
    assert resp.status_code == 404
    assert resp.get_json()["error"]["code"] == "not_found"


def _set_attempt(link, ok, success_minutes_ago=None):
    link.last_sync_at = utcnow()
    link.last_attempt_ok = ok
    if success_minutes_ago is not None:
        link.last_success_at = utcnow() - timedelta(minutes=success_minutes_ago)


def test_list_filters_by_health(api, make_property, make_link):
    ok = make_property("OK flat")
    _set_attempt(make_link(ok, url="https://a.example/1.ics"), True, 1)
    failing = make_property("Failing flat")
    _set_attempt(make_link(failing, url="https://a.example/2.ics"), True, 1)
    _set_attempt(make_link(failing, url="https://a.example/3.ics"), False)
    stale = make_property("Stale flat")
    _set_attempt(make_link(stale, url="https://a.example/4.ics"), True, 600)
    make_property("No links")
    db.session.commit()
    viewer = api("viewer")

    def names(query):
        resp = viewer.get(f"/properties?{query}")
        assert resp.status_code == 200
        return sorted(p["name"] for p in resp.get_json()["items"])

    assert names("health=failing") == ["Failing flat"]
    assert names("health=stale") == ["Stale flat"]
    assert names("health=ok") == ["OK flat"]
    assert names("") == ["Failing flat", "No links", "OK flat", "Stale flat"]
    by_id = {p["name"]: p for p in viewer.get("/properties").get_json()["items"]}
    assert by_id["Failing flat"]["health"] == "failing"
    assert by_id["Stale flat"]["health"] == "stale"
    assert by_id["No links"]["health"] == "none"


def test_list_filters_by_risk_and_rejects_unknown_values(api, make_property):
    make_property("Risky", risk_level="high")
    make_property("Calm")
    viewer = api("viewer")
    items = viewer.get("/properties?risk=high").get_json()["items"]
    assert [p["name"] for p in items] == ["Risky"]
    resp = viewer.get("/properties?risk=extreme")
    assert resp.status_code == 422 and resp.get_json()["error"]["field"] == "risk"
    assert viewer.get("/properties?health=bad").status_code == 422
    assert viewer.get("/properties?page=0").status_code == 422
    assert viewer.get("/properties?page=abc").status_code == 422


def test_list_paginates_with_total(api, make_property):
    for i in range(55):
        make_property(f"P{i:02d}")
    viewer = api("viewer")
    first = viewer.get("/properties").get_json()
    second = viewer.get("/properties?page=2").get_json()
    assert first["total"] == 55 and first["page"] == 1 and len(first["items"]) == 50
    assert len(second["items"]) == 5
    assert not {p["id"] for p in first["items"]} & {p["id"] for p in second["items"]}


def test_deeply_nested_json_is_400_invalid_json_not_500(api):
    resp = api("staff").post("/properties", data=b"[" * 200_000,
                             headers={"Content-Type": "application/json"})
    assert resp.status_code == 400
    assert resp.get_json()["error"]["code"] == "invalid_json"
    assert db.session.query(Property).count() == 0
