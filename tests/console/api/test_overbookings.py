"""GET /overbookings filters and staff resolution, over the real API with tokens."""
from __future__ import annotations

from datetime import date, timedelta

import pytest

from console.extensions import db
from console.models import Overbooking
from console.timeutil import utcnow

DAY0 = date(2030, 3, 1)


@pytest.fixture
def fleet(make_property):
    """Two properties with overbookings on known nights; returns (flat, villa, overbookings)."""
    flat, villa = make_property(name="Flat"), make_property(name="Villa", owner_email="v@example.com")

    def ob(prop, n, start, nights, counts=True, state="open"):
        row = Overbooking(property_id=prop.id, direct_code=f"OA-{n}", external_code=f"EX-{n}",
                          first_night=DAY0 + timedelta(days=start),
                          last_night=DAY0 + timedelta(days=start + nights - 1), nights=nights,
                          counts_against_owner=counts, state=state, attribution=f"why {n}",
                          link_health_at_detection="ok", detected_at=utcnow())
        db.session.add(row)
        return row
    rows = [ob(flat, 1, 0, 3), ob(flat, 2, 10, 2, counts=False), ob(flat, 3, 20, 1, state="resolved"),
            ob(villa, 4, 1, 5)]
    db.session.commit()
    return flat, villa, rows


def codes(resp) -> list[str]:
    assert resp.status_code == 200, resp.get_json()
    return [item["direct_code"] for item in resp.get_json()["items"]]


def test_list_shows_every_contract_field(api, fleet):
    flat, _, _ = fleet
    item = api("viewer").get(f"/overbookings?property_id={flat.id}").get_json()["items"][0]
    assert {"id", "property_id", "direct_code", "external_code", "first_night", "last_night",
            "nights", "detected_at", "link_health_at_detection", "counts_against_owner",
            "attribution", "state"} <= set(item)
    assert (item["first_night"], item["last_night"], item["nights"]) == ("2030-03-01", "2030-03-03", 3)
    assert item["counts_against_owner"] is True and item["attribution"] == "why 1"


def test_list_filters_by_property(api, fleet):
    flat, villa, _ = fleet
    viewer = api("viewer")
    assert codes(viewer.get(f"/overbookings?property_id={flat.id}")) == ["OA-1", "OA-2", "OA-3"]
    assert codes(viewer.get(f"/overbookings?property_id={villa.id}")) == ["OA-4"]
    assert codes(viewer.get("/overbookings")) == ["OA-1", "OA-4", "OA-2", "OA-3"]  # by first night


@pytest.mark.parametrize("query, expected", [
    ("from=2030-03-03&to=2030-03-04", ["OA-1", "OA-4"]),   # last night of OA-1 is the 3rd
    ("from=2030-03-04&to=2030-03-11", ["OA-4"]),           # `to` is exclusive: OA-2 starts on the 11th
    ("from=2030-03-04&to=2030-03-12", ["OA-4", "OA-2"]),
    ("from=2030-03-21", ["OA-3"]),
    ("to=2030-03-01", []),
    ("to=2030-03-02", ["OA-1"]),
])
def test_list_keeps_overbookings_whose_nights_overlap_the_range(api, fleet, query, expected):
    assert codes(api("viewer").get(f"/overbookings?{query}")) == expected


def test_list_filters_by_state_and_by_blame(api, fleet):
    viewer = api("viewer")
    assert codes(viewer.get("/overbookings?state=resolved")) == ["OA-3"]
    assert codes(viewer.get("/overbookings?state=open&counts=true")) == ["OA-1", "OA-4"]
    assert codes(viewer.get("/overbookings?counts=false")) == ["OA-2"]


def test_list_pages(api, fleet):
    body = api("viewer").get("/overbookings?per_page=3&page=2").get_json()
    assert [i["direct_code"] for i in body["items"]] == ["OA-3"]
    assert (body["page"], body["per_page"], body["total"]) == (2, 3, 4)


@pytest.mark.parametrize("query, field", [
    ("from=2030-13-01", "from"), ("to=tomorrow", "to"), ("from=2030-03-05&to=2030-03-01", "to"),
    ("state=closed", "state"), ("counts=yes", "counts"), ("property_id=abc", "property_id"),
])
def test_list_refuses_bad_filters_naming_the_field(api, fleet, query, field):
    resp = api("viewer").get(f"/overbookings?{query}")
    assert resp.status_code == 422
    assert resp.get_json()["error"]["field"] == field


def test_list_for_an_unknown_property_is_404(api, fleet):
    resp = api("viewer").get("/overbookings?property_id=999999")
    assert resp.status_code == 404 and resp.get_json()["error"]["code"] == "not_found"


def test_staff_resolve_records_state_who_when_and_note(app, api, fleet):
    ob = fleet[2][0]
    client = api("staff")  # the token's name is test-staff
    resp = client.post(f"/overbookings/{ob.id}/resolve", json={"note": "  guest moved to Villa  "})
    assert resp.status_code == 200
    body = resp.get_json()
    assert body["state"] == "resolved" and body["resolved_by"] == "test-staff"
    assert body["resolution_note"] == "guest moved to Villa" and body["resolved_at"].endswith("Z")
    assert body["counts_against_owner"] is True
    db.session.expire_all()
    assert (ob.state, ob.resolved_by) == ("resolved", "test-staff")
    assert codes(client.get("/overbookings?state=open")) == ["OA-4", "OA-2"]


def test_resolve_refuses_viewers_and_keeps_the_overbooking_open(api, fleet):
    ob = fleet[2][0]
    resp = api("viewer").post(f"/overbookings/{ob.id}/resolve", json={"note": "done"})
    assert resp.status_code == 403
    db.session.expire_all()
    assert ob.state == "open" and ob.resolved_by is None


@pytest.mark.parametrize("body, code", [({}, "missing_field"), ({"note": "   "}, "invalid_field"),
                                        ({"note": 5}, "invalid_field"),
                                        ({"note": "x" * 2001}, "invalid_field")])
def test_resolve_needs_a_note(api, fleet, body, code):
    ob = fleet[2][0]
    resp = api("staff").post(f"/overbookings/{ob.id}/resolve", json=body)
    assert resp.status_code == 422
    assert resp.get_json()["error"] == {**resp.get_json()["error"], "code": code, "field": "note"}
    db.session.expire_all()
    assert ob.state == "open"


def test_resolve_unknown_overbooking_is_404(api, fleet):
    resp = api("staff").post("/overbookings/999999/resolve", json={"note": "x"})
    assert resp.status_code == 404 and resp.get_json()["error"]["code"] == "not_found"


def test_resolving_twice_is_a_conflict_that_keeps_the_first_resolution(api, fleet):
    ob = fleet[2][0]
    staff = api("staff")
    assert staff.post(f"/overbookings/{ob.id}/resolve", json={"note": "first"}).status_code == 200
    resp = staff.post(f"/overbookings/{ob.id}/resolve", json={"note": "second"})
    assert resp.status_code == 409 and resp.get_json()["error"]["code"] == "already_resolved"
    assert staff.get(f"/overbookings/{ob.id}").get_json()["resolution_note"] == "first"


def test_overbookings_need_a_token(client, fleet):
    assert client.get("/api/v1/overbookings").status_code == 401
