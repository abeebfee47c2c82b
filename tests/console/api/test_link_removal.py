"""What a deleted or paused link leaves behind: its id is never given again, its job state goes with
it, and the property's risk, nights at stake and score follow at once."""
from __future__ import annotations

from datetime import timedelta

from console.extensions import db
from console.models import CalendarLink, Property
from console.queries.link_jobs import link_job_states
from console.timeutil import utcnow
from jobs.sync.property_state import recompute_properties


def healthy(minutes_ago: int = 5) -> dict:
    at = utcnow() - timedelta(minutes=minutes_ago)
    return {"last_sync_at": at, "last_success_at": at, "last_attempt_ok": True}


def failing() -> dict:
    at = utcnow() - timedelta(minutes=2)
    return {"last_sync_at": at, "last_success_at": at - timedelta(days=1), "last_attempt_ok": False,
            "last_error_kind": "not_found", "last_error_at": at, "consecutive_failures": 3}


def stored(prop_id: int) -> Property:
    db.session.expire_all()
    return db.session.get(Property, prop_id)


def factor_kinds(body: dict) -> set[str]:
    return {f["kind"] for f in body["risk"]["factors"]}


def test_a_deleted_links_id_is_never_given_to_a_new_link(api, make_property):
    staff, prop = api("staff"), make_property()
    first = staff.post(f"/properties/{prop.id}/links", json={"url": "https://example.com/a.ics"})
    newest = staff.post(f"/properties/{prop.id}/links", json={"url": "https://example.com/b.ics"})
    assert first.status_code == newest.status_code == 201
    gone = newest.get_json()["id"]
    assert staff.delete(f"/links/{gone}").status_code == 204
    again = staff.post(f"/properties/{prop.id}/links", json={"url": "https://example.com/c.ics"})
    assert again.status_code == 201 and again.get_json()["id"] > gone
    assert staff.get(f"/links/{gone}").status_code == 404


def test_a_deleted_links_job_goes_with_it_and_a_new_link_shows_none(api, make_property, make_link,
                                                                   redis_conn):
    staff, prop = api("staff"), make_property()
    link = make_link(prop, state="linked")
    assert staff.post(f"/links/{link.id}/activate").status_code == 202
    keys = (f"csc:link-job:{link.id}", f"csc:link-last-job:{link.id}")
    assert link_job_states([link])[link.id]["state"] == "queued"
    assert redis_conn.exists(*keys) == 2
    assert staff.delete(f"/links/{link.id}").status_code == 204
    assert redis_conn.exists(*keys) == 0
    added = staff.post(f"/properties/{prop.id}/links", json={"url": "https://example.com/new.ics"})
    new_link = db.session.get(CalendarLink, added.get_json()["id"])
    assert link_job_states([new_link])[new_link.id] == {"state": "idle", "version": ":idle:"}


def test_deleting_the_only_link_shows_no_active_link_and_moves_the_score_at_once(api, make_property,
                                                                                 make_link):
    prop = make_property()
    link = make_link(prop, **healthy())
    recompute_properties([prop.id])
    before = api("viewer").get(f"/properties/{prop.id}").get_json()
    assert factor_kinds(before) == set() and before["score"] is not None
    assert api("staff").delete(f"/links/{link.id}").status_code == 204
    after = api("viewer").get(f"/properties/{prop.id}").get_json()
    assert factor_kinds(after) == {"no_active_link"} and after["risk"]["level"] == "medium"
    assert after["score"]["value"] < before["score"]["value"]
    assert [f["kind"] for f in after["score"]["components"]["hygiene"]["factors"]] == ["no_active_link"]
    assert after["score"]["components"]["sync_freshness"]["last_success_at"] is None


def test_deleting_a_failing_link_frees_the_nights_it_put_at_stake_at_once(api, make_property, make_link,
                                                                          make_reservation):
    prop = make_property()
    make_link(prop, url="http://127.0.0.1:1/ok.ics", **healthy())
    broken = make_link(prop, url="http://127.0.0.1:1/broken.ics", **failing())
    make_reservation(prop, "direct", in_days=10, nights=3)
    recompute_properties([prop.id])
    assert stored(prop.id).exposure_nights > 0 and "link_failing" in {
        f["kind"] for f in stored(prop.id).risk_factors}
    assert api("staff").delete(f"/links/{broken.id}").status_code == 204
    after = stored(prop.id)
    assert after.exposure_nights == 0 and after.risk_level == "none"


def test_pausing_the_last_active_link_shows_no_active_link_at_once(api, make_property, make_link):
    prop = make_property()
    link = make_link(prop, **healthy())
    recompute_properties([prop.id])
    scored_before = stored(prop.id).score_value
    resp = api("staff").post(f"/links/{link.id}/pause")
    assert resp.status_code == 200 and resp.get_json()["state"] == "paused"
    after = api("viewer").get(f"/properties/{prop.id}").get_json()
    assert factor_kinds(after) == {"no_active_link"}
    assert after["score"]["value"] < scored_before


def test_a_delete_refused_for_a_viewer_changes_nothing(api, make_property, make_link, redis_conn):
    prop = make_property()
    link = make_link(prop, **healthy())
    recompute_properties([prop.id])
    risk_before = stored(prop.id).risk_computed_at
    assert api("viewer").delete(f"/links/{link.id}").status_code == 403
    assert db.session.get(CalendarLink, link.id) is not None
    assert stored(prop.id).risk_computed_at == risk_before
