"""201 answers carry Location, the created resource's API address, which answers that same object;
202 answers carry the queued job's address."""
from __future__ import annotations

from datetime import date, timedelta

from console.models import Property, Reservation


def follow(client, resp):
    """GET the Location of an answer (it is an /api/v1 path)."""
    location = resp.headers["Location"]
    assert location.startswith("/api/v1/")
    return client.get(location.removeprefix("/api/v1"))


def test_a_created_property_is_at_its_location(api):
    staff = api("staff")
    resp = staff.post("/properties", json={"name": "Casa", "owner_email": "o@example.com"})
    assert resp.status_code == 201
    assert resp.headers["Location"] == f"/api/v1/properties/{resp.get_json()['id']}"
    assert follow(staff, resp).get_json() == resp.get_json()


def test_a_created_link_is_at_its_location(api, make_property):
    staff, prop = api("staff"), make_property()
    resp = staff.post(f"/properties/{prop.id}/links",
                      json={"url": "https://www.airbnb.com/calendar/ical/123.ics?s=ab"})
    assert resp.status_code == 201
    assert resp.headers["Location"] == f"/api/v1/links/{resp.get_json()['id']}"
    assert follow(staff, resp).get_json() == resp.get_json()


def test_a_created_reservation_is_at_its_location(api, make_property, db):
    staff, prop = api("staff"), make_property()
    start = date.today() + timedelta(days=30)
    resp = staff.post(f"/properties/{prop.id}/reservations", json={
        "origin": "direct", "check_in": start.isoformat(),
        "check_out": (start + timedelta(days=3)).isoformat(), "guest_name": "Ana"})
    assert resp.status_code == 201
    code = resp.get_json()["code"]
    assert resp.headers["Location"] == f"/api/v1/reservations/{code}"
    assert follow(staff, resp).get_json() == resp.get_json()
    assert db.session.query(Reservation).filter_by(code=code).one().property_id == prop.id


def test_an_unknown_reservation_code_is_404(api):
    resp = api("viewer").get("/reservations/OA-NOPE")
    assert resp.status_code == 404 and resp.get_json()["error"]["code"] == "not_found"


def test_a_refused_creation_has_no_location_and_stores_nothing(api, db):
    resp = api("staff").post("/properties", json={"name": "Casa", "owner_email": "not an email"})
    assert resp.status_code == 422 and "Location" not in resp.headers
    assert db.session.query(Property).count() == 0


def test_a_queued_sync_names_its_job_in_location(api, make_property, make_link):
    link = make_link(make_property(), state="active")
    resp = api("staff").post(f"/links/{link.id}/sync")
    assert resp.status_code == 202
    assert resp.headers["Location"] == f"/api/v1/jobs/{resp.get_json()['job_id']}"
    assert follow(api("viewer"), resp).get_json()["state"] in ("queued", "running", "finished")
