"""API: direct bookings and manual blocks, date-range listing, deletion, availability."""
from datetime import date, timedelta

from console.extensions import db
from console.models import Reservation
from console.timeutil import utcnow


def _d(days: int) -> str:
    return (date.today() + timedelta(days=days)).isoformat()


def test_create_direct_and_manual_reservations(api, make_property):
    prop = make_property()
    staff = api("staff")
    resp = staff.post(f"/properties/{prop.id}/reservations", json={
        "origin": "direct", "check_in": _d(10), "check_out": _d(13), "guest_name": "Ana"})
    assert resp.status_code == 201
    body = resp.get_json()
    assert body["code"].startswith("OA-") and body["origin"] == "direct"
    assert body["check_in"] == _d(10) and body["check_out"] == _d(13)
    assert body["link_id"] is None and body["created_at"].endswith("Z")
    manual = staff.post(f"/properties/{prop.id}/reservations", json={
        "origin": "manual", "check_in": _d(20), "check_out": _d(21)}).get_json()
    assert manual["code"].startswith("MB-")


def test_manual_blocks_created_or_deleted_move_the_property_risk_at_once(
        api, make_property, make_link):
    prop = make_property()
    link = make_link(prop, source="airbnb", url="https://www.airbnb.com/calendar/ical/1.ics")
    link.last_sync_at = link.last_success_at = link.activated_at = utcnow()
    link.last_attempt_ok = True
    db.session.commit()
    staff = api("staff")
    manual = staff.post(f"/properties/{prop.id}/reservations", json={
        "origin": "manual", "check_in": _d(20), "check_out": _d(21)}).get_json()
    risk = staff.get(f"/properties/{prop.id}").get_json()["risk"]
    assert (risk["level"], [f["kind"] for f in risk["factors"]]) == ("medium", ["manual_blocks"])
    assert staff.delete(f"/reservations/{manual['code']}").status_code == 204
    risk = staff.get(f"/properties/{prop.id}").get_json()["risk"]
    assert (risk["level"], risk["factors"]) == ("none", [])


def test_bad_reservations_get_422_and_store_nothing(api, make_property):
    prop = make_property()
    staff = api("staff")
    cases = [
        ({"origin": "external", "check_in": _d(1), "check_out": _d(2)}, "origin"),
        ({"check_in": _d(1), "check_out": _d(2)}, "origin"),
        ({"origin": "direct", "check_out": _d(2)}, "check_in"),
        ({"origin": "direct", "check_in": "2026-02-30", "check_out": _d(2)}, "check_in"),
        ({"origin": "direct", "check_in": _d(5), "check_out": _d(5)}, "check_out"),
        ({"origin": "direct", "check_in": _d(5), "check_out": _d(3)}, "check_out"),
        ({"origin": "direct", "check_in": 20260101, "check_out": _d(3)}, "check_in"),
        ({"origin": "direct", "check_in": _d(1), "check_out": _d(900)}, "check_out"),
        ({"origin": "direct", "check_in": "20300101", "check_out": "2030-01-03"}, "check_in"),
        ({"origin": "direct", "check_in": "2030-01-01", "check_out": "2030-W01-3"}, "check_out"),
        ({"origin": "direct", "check_in": "2030-1-01", "check_out": "2030-01-03"}, "check_in"),
    ]
    for body, field in cases:
        resp = staff.post(f"/properties/{prop.id}/reservations", json=body)
        assert resp.status_code == 422, body
        assert resp.get_json()["error"]["field"] == field, body
    assert db.session.query(Reservation).count() == 0
    assert staff.post("/properties/999/reservations", json={
        "origin": "direct", "check_in": _d(1), "check_out": _d(2)}).status_code == 404


def test_list_returns_stays_overlapping_the_range(api, make_property, make_reservation):
    prop = make_property()
    before = make_reservation(prop, "direct", in_days=1, nights=2)   # nights 1,2
    inside = make_reservation(prop, "manual", in_days=5, nights=2)   # nights 5,6
    edge = make_reservation(prop, "direct", in_days=9, nights=3)     # check-in on `to`
    viewer = api("viewer")
    items = viewer.get(f"/properties/{prop.id}/reservations?from={_d(3)}&to={_d(9)}"
                       ).get_json()["items"]
    assert [i["code"] for i in items] == [inside.code]
    items = viewer.get(f"/properties/{prop.id}/reservations?from={_d(2)}&to={_d(10)}"
                       ).get_json()["items"]
    assert [i["code"] for i in items] == [before.code, inside.code, edge.code]
    everything = viewer.get(f"/properties/{prop.id}/reservations").get_json()["items"]
    assert len(everything) == 3
    assert viewer.get(f"/properties/{prop.id}/reservations?from=nope").status_code == 422
    assert viewer.get(
        f"/properties/{prop.id}/reservations?from={_d(5)}&to={_d(1)}").status_code == 422


def test_delete_direct_booking_but_not_an_external_block(api, make_property, make_link,
                                                         make_reservation):
    prop = make_property()
    link = make_link(prop)
    direct = make_reservation(prop, "direct")
    block = make_reservation(prop, "external", link=link)
    block.code = "EX-TESTBLOCK1"
    db.session.commit()
    staff = api("staff")
    assert staff.delete(f"/reservations/{direct.code}").status_code == 204
    resp = staff.delete("/reservations/EX-TESTBLOCK1")
    assert resp.status_code == 409
    assert resp.get_json()["error"]["code"] == "owned_by_link"
    assert db.session.query(Reservation).filter_by(code="EX-TESTBLOCK1").count() == 1
    assert staff.delete("/reservations/OA-NOPE").status_code == 404
    assert api("viewer").delete(f"/reservations/{block.code}").status_code == 403


def test_availability_lists_conflicting_codes(api, make_property, make_link, make_reservation):
    prop = make_property()
    link = make_link(prop)
    block = make_reservation(prop, "external", in_days=10, nights=4, link=link)
    viewer = api("viewer")
    free = viewer.get(f"/properties/{prop.id}/availability?check_in={_d(14)}&check_out={_d(16)}")
    answer = free.get_json()
    assert (answer["available"], answer["conflicts"], answer["fresh"]) == (True, [], False)
    assert answer["links"] == [{"id": link.id, "source": "ical", "read": "stored", "read_at": None,
                                "error_kind": None}] and answer["checked_at"].endswith("Z")
    busy = viewer.get(f"/properties/{prop.id}/availability?check_in={_d(12)}&check_out={_d(15)}")
    assert {k: busy.get_json()[k] for k in ("available", "conflicts")} == {
        "available": False, "conflicts": [block.code]}
    bad = viewer.get(f"/properties/{prop.id}/availability?check_in={_d(3)}")
    assert bad.status_code == 422 and bad.get_json()["error"]["field"] == "check_out"
