"""Overbookings found end to end: a real sync from a loopback feed, or a direct booking over the API."""
from __future__ import annotations

import threading
from datetime import date, timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from console.extensions import db
from console.models import Overbooking, Reservation, SyncRun
from console.timeutil import utcnow
from jobs.sync.overbookings import detect_for_property, resolve
from jobs.sync.runner import sync_links
from tests.jobs.feeds import airbnb_feed


def today() -> date:
    return utcnow().date()


def serve(httpserver, stays: list[tuple[int, int]], path: str = "/cal.ics") -> str:
    """Serve an Airbnb feed with stays given as (days from today, nights); return its URL."""
    httpserver.clear_all_handlers()
    feed = airbnb_feed([(today() + timedelta(days=start), today() + timedelta(days=start + nights),
                         "Reserved") for start, nights in stays])
    httpserver.expect_request(path).respond_with_data(feed, content_type="text/calendar")
    return httpserver.url_for(path)


def healthy(minutes_ago: int = 5) -> dict:
    """Link fields of a link whose last sync succeeded `minutes_ago` minutes ago."""
    at = utcnow() - timedelta(minutes=minutes_ago)
    return {"last_sync_at": at, "last_success_at": at, "last_attempt_ok": True}


def booked(res: Reservation, minutes_ago: int) -> Reservation:
    """Backdate a direct booking's creation (when the guest booked)."""
    res.created_at = res.updated_at = utcnow() - timedelta(minutes=minutes_ago)
    db.session.commit()
    return res


def overbookings() -> list[Overbooking]:
    db.session.expire_all()
    return db.session.execute(select(Overbooking).order_by(Overbooking.id)).scalars().all()


def external_codes(prop) -> list[str]:
    return list(db.session.execute(select(Reservation.code).filter_by(
        property_id=prop.id, origin="external")).scalars())


def test_sync_bringing_block_over_direct_booking_records_one_overbooking_with_evidence(
        httpserver, make_property, make_link, make_reservation):
    prop = make_property()
    direct = booked(make_reservation(prop, "direct", in_days=10, nights=3, today=today()), 2 * 24 * 60)
    link = make_link(prop, url=serve(httpserver, [(11, 4)]), source="airbnb", **healthy())

    [summary] = sync_links([link.id])

    assert summary.outcome == "changed"
    [ob] = overbookings()
    run = db.session.execute(select(SyncRun).filter_by(link_id=link.id)).scalar_one()
    assert (ob.direct_code, ob.external_code) == (direct.code, external_codes(prop)[0])
    assert ob.first_night == today() + timedelta(days=11)
    assert ob.last_night == today() + timedelta(days=12)  # the direct booking leaves on day 13
    assert ob.nights == 2
    assert ob.sync_run_id == run.id and ob.link_id == link.id and ob.link_source == "airbnb"
    assert ob.link_health_at_detection == "ok"
    # Healthy link, but the other channel sold nights we had sold two days earlier: rule 6.
    assert ob.counts_against_owner is True
    assert "sold twice" in ob.attribution and "not blocking the dates" in ob.attribution
    assert ob.state == "open"


def test_resyncing_and_redetecting_never_record_an_overbooking_twice(
        httpserver, make_property, make_link, make_reservation):
    prop = make_property()
    booked(make_reservation(prop, "direct", in_days=10, nights=3, today=today()), 2 * 24 * 60)
    link = make_link(prop, url=serve(httpserver, [(11, 4)]), source="airbnb", **healthy())
    sync_links([link.id])
    sync_links([link.id])  # same feed: unchanged
    serve(httpserver, [(11, 4), (40, 2)])  # a new, unrelated stay: detection runs again
    [summary] = sync_links([link.id])
    assert summary.added == 1

    again = detect_for_property(prop.id, today=today())
    db.session.commit()

    assert again == []
    assert len(overbookings()) == 1


def test_two_concurrent_detectors_record_the_pair_once(app, make_property, make_link,
                                                       make_reservation):
    prop = make_property()
    link = make_link(prop, **healthy())
    make_reservation(prop, "external", in_days=5, nights=4, link=link, uid="u1", today=today())
    make_reservation(prop, "direct", in_days=6, nights=2, today=today())
    prop_id = prop.id  # read here: the test's own session must not be used from the threads
    start, found, errors = threading.Barrier(2), [], []

    def detector():
        with app.app_context():  # its own session, as a second worker would have
            try:
                start.wait()
                found.append(len(detect_for_property(prop_id, today=today())))
                db.session.commit()
            except Exception as exc:  # noqa: BLE001 - reported below
                errors.append(exc)
            finally:
                db.session.remove()

    threads = [threading.Thread(target=detector) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    assert sorted(found) in ([0, 1], [1, 1])  # both may find it; only one row is kept
    assert len(overbookings()) == 1


def test_database_refuses_a_second_row_for_the_same_pair(make_property):
    prop = make_property()
    fields = dict(property_id=prop.id, direct_code="OA-AAAAAAAAAA", external_code="EX-BBBBBBBBBB",
                  first_night=today(), last_night=today(), nights=1)
    db.session.add(Overbooking(**fields))
    db.session.commit()
    db.session.add(Overbooking(**fields))
    with pytest.raises(IntegrityError):
        db.session.commit()
    db.session.rollback()
    assert len(overbookings()) == 1


def test_direct_booking_reported_over_blocked_nights_is_recorded_and_does_not_count(
        api, make_property, make_link, make_reservation):
    prop = make_property()
    link = make_link(prop, source="vrbo", **healthy())
    block = make_reservation(prop, "external", in_days=20, nights=5, link=link, uid="b1",
                             today=today())
    staff = api("staff")

    resp = staff.post(f"/properties/{prop.id}/reservations", json={
        "origin": "direct", "check_in": (today() + timedelta(days=22)).isoformat(),
        "check_out": (today() + timedelta(days=30)).isoformat()})

    assert resp.status_code == 201
    [ob] = overbookings()
    assert (ob.direct_code, ob.external_code) == (resp.get_json()["code"], block.code)
    assert (ob.first_night, ob.last_night, ob.nights) == (
        today() + timedelta(days=22), today() + timedelta(days=24), 3)
    assert ob.sync_run_id is None and ob.link_health_at_detection == "ok"
    # jobs/rules/detect.py rule 1: the block predated the booking, so our availability check failed,
    # not the owner.
    assert ob.counts_against_owner is False
    assert "already in our calendar" in ob.attribution


def test_direct_booking_on_free_nights_records_nothing(api, make_property, make_link,
                                                       make_reservation):
    prop = make_property()
    link = make_link(prop, **healthy())
    make_reservation(prop, "external", in_days=20, nights=5, link=link, today=today())
    resp = api("staff").post(f"/properties/{prop.id}/reservations", json={
        "origin": "direct", "check_in": (today() + timedelta(days=25)).isoformat(),
        "check_out": (today() + timedelta(days=27)).isoformat()})
    assert resp.status_code == 201
    assert overbookings() == []


def test_direct_booking_while_a_link_fails_makes_the_property_high_risk_at_once(
        api, make_property, make_link):
    prop = make_property()
    make_link(prop, last_sync_at=utcnow(), last_attempt_ok=False)
    resp = api("staff").post(f"/properties/{prop.id}/reservations", json={
        "origin": "direct", "check_in": (today() + timedelta(days=3)).isoformat(),
        "check_out": (today() + timedelta(days=5)).isoformat()})
    assert resp.status_code == 201
    db.session.expire_all()
    assert prop.risk_level == "high"
    assert "unprotected_bookings" in {f["kind"] for f in prop.risk_factors}


def test_race_within_one_sync_interval_on_a_healthy_link_does_not_count(
        httpserver, make_property, make_link, make_reservation):
    prop = make_property()
    booked(make_reservation(prop, "direct", in_days=10, nights=3, today=today()), 5)
    link = make_link(prop, url=serve(httpserver, [(10, 3)]), source="airbnb", **healthy())

    sync_links([link.id])

    [ob] = overbookings()
    assert ob.link_health_at_detection == "ok"
    assert ob.counts_against_owner is False
    assert "within one sync interval" in ob.attribution


@pytest.mark.parametrize("fields, health, words", [
    ({"last_sync_at": utcnow() - timedelta(minutes=5), "last_attempt_ok": False,
      "last_success_at": utcnow() - timedelta(days=2)}, "failing", "its last sync failed"),
    (healthy(minutes_ago=3 * 60), "stale", "had not synced successfully for too long"),
    ({"state": "linked"}, "never_synced", "never activated"),
], ids=["failing", "stale", "never-activated"])
def test_unhealthy_or_inactive_link_counts_even_within_one_sync_interval(
        httpserver, make_property, make_link, make_reservation, fields, health, words):
    prop = make_property()
    booked(make_reservation(prop, "direct", in_days=10, nights=3, today=today()), 5)
    link = make_link(prop, url=serve(httpserver, [(9, 3)]), source="airbnb",
                     **{"state": "active", **fields})

    sync_links([link.id])  # this sync succeeds; the health that matters is the one before it

    [ob] = overbookings()
    assert ob.link_health_at_detection == health
    assert ob.counts_against_owner is True
    assert words in ob.attribution
    assert (ob.first_night, ob.nights) == (today() + timedelta(days=10), 2)


def test_manual_blocks_beside_the_sync_are_named_in_the_attribution(
        httpserver, make_property, make_link, make_reservation):
    prop = make_property()
    make_reservation(prop, "manual", in_days=60, nights=2, today=today())
    booked(make_reservation(prop, "direct", in_days=10, nights=3, today=today()), 3 * 24 * 60)
    link = make_link(prop, url=serve(httpserver, [(10, 1)]), source="airbnb", **healthy())
    sync_links([link.id])
    [ob] = overbookings()
    assert ob.counts_against_owner is True
    assert "manual blocks are kept beside the sync" in ob.attribution


def test_evidence_survives_the_block_leaving_the_feed_and_the_link_being_deleted(
        httpserver, api, make_property, make_link, make_reservation):
    prop = make_property()
    booked(make_reservation(prop, "direct", in_days=10, nights=3, today=today()), 2 * 24 * 60)
    link = make_link(prop, url=serve(httpserver, [(50, 3), (11, 4)]), source="airbnb", **healthy())
    sync_links([link.id])
    [before] = overbookings()
    codes = (before.direct_code, before.external_code, before.first_night, before.nights)

    serve(httpserver, [(50, 3)])  # the owner cancelled the external stay
    link.accept_next_change = True  # staff accept the removal, so it is applied at once
    db.session.commit()
    [summary] = sync_links([link.id])
    assert summary.removed == 1 and before.external_code not in external_codes(prop)
    assert api("staff").delete(f"/links/{link.id}").status_code == 204

    [after] = overbookings()
    assert (after.direct_code, after.external_code, after.first_night, after.nights) == codes
    assert after.counts_against_owner is True and after.sync_run_id is None  # its run went with the link
    assert after.link_id is None and after.link_source == "airbnb"


def test_failed_sync_keeps_blocks_and_records_no_overbooking(
        httpserver, make_property, make_link, make_reservation):
    prop = make_property()
    link = make_link(prop, url=serve(httpserver, [(30, 3)]), source="airbnb", **healthy())
    sync_links([link.id])
    blocks = external_codes(prop)
    booked(make_reservation(prop, "direct", in_days=30, nights=2, today=today()), 60)
    httpserver.clear_all_handlers()
    httpserver.expect_request("/cal.ics").respond_with_data("down", status=503)

    [summary] = sync_links([link.id])

    assert summary.outcome == "error" and summary.error_kind == "server_error"
    assert external_codes(prop) == blocks
    assert overbookings() == []  # nothing new was brought, so nothing new is claimed


def test_resolve_records_who_when_and_the_note_and_keeps_counting(make_property):
    prop = make_property()
    ob = Overbooking(property_id=prop.id, direct_code="OA-X", external_code="EX-Y",
                     first_night=today(), last_night=today(), nights=1, counts_against_owner=True)
    db.session.add(ob)
    db.session.commit()
    resolve(ob, "ops@example.com", "guest moved to flat 2")
    db.session.commit()
    [stored] = overbookings()
    assert (stored.state, stored.resolved_by, stored.resolution_note) == (
        "resolved", "ops@example.com", "guest moved to flat 2")
    assert stored.resolved_at is not None and stored.counts_against_owner is True
