"""Kigo links synced through the real runner against the loopback Kigo stand-in."""
from __future__ import annotations

from datetime import date, timedelta

import pytest
from sqlalchemy import func, select

from console.extensions import db
from console.models import CalendarLink, Property, Reservation, SyncRun
from console.timeutil import utcnow
from jobs.kigo.account import MAX_RETRIES
from jobs.sync.property_state import recompute_property
from jobs.sync.runner import sync_links


@pytest.fixture
def kigo(app, kigo_standin):
    """The app pointed at the stand-in with good credentials; returns the stand-in."""
    app.config.update(KIGO_API_URL=kigo_standin.url, KIGO_API_USERNAME="kigo-user",
                      KIGO_API_PASSWORD="kigo-pass")
    return kigo_standin


@pytest.fixture
def kigo_link(kigo, make_property, make_link) -> CalendarLink:
    """An active link to Kigo property 101, shared by account ACC1 with Instant Booking on."""
    kigo.add_property("ACC1", 101, "Casa Azul", instant_booking=True)
    prop = make_property(name="Casa Azul")
    return make_link(prop, url=None, source="kigo", kigo_code="ACC1", kigo_property_id=101)


def day(offset: int) -> date:
    """A date `offset` days from today (the sync's today)."""
    return utcnow().date() + timedelta(days=offset)


def blocks(link_id: int) -> dict[str, tuple[str, date, date]]:
    """The link's EX- blocks by Kigo uid: (code, check_in, check_out)."""
    db.session.expire_all()
    rows = db.session.execute(select(Reservation).where(Reservation.link_id == link_id,
                                                        Reservation.origin == "external")).scalars()
    return {r.external_uid: (r.code, r.check_in, r.check_out) for r in rows}


def sync(link: CalendarLink) -> CalendarLink:
    """Run the real sync for one link and return it freshly loaded."""
    link_id = link.id
    sync_links([link_id])
    db.session.expire_all()
    return db.session.get(CalendarLink, link_id)


def test_confirmed_and_hold_reservations_become_ex_blocks(kigo, kigo_link, api):
    kigo.add_reservation(101, 1, day(5), day(8), "CONFIRMED")
    kigo.add_reservation(101, 2, day(20), day(22), "HOLD")
    kigo.add_reservation(101, 3, day(30), day(33), "CANCELLED")
    kigo.add_reservation(999, 4, day(40), day(41), "CONFIRMED")  # another property's
    link = sync(kigo_link)
    found = blocks(link.id)
    assert {uid: dates for uid, (_code, *dates) in found.items()} == {
        "kigo-1": [day(5), day(8)], "kigo-2": [day(20), day(22)]}
    assert all(code.startswith("EX-") for code, _, _ in found.values())
    body = api("viewer").get(f"/links/{link.id}").get_json()
    assert body["health"] == "ok" and body["last_error"] is None and body["blocks"] == 2
    assert body["kigo_code"] == "ACC1" and body["kigo_property_id"] == 101
    assert body["kigo_instant_booking_raw"] == "true"


def test_cancelled_reservation_block_is_removed_on_next_sync(kigo, kigo_link):
    for res_id, start in ((1, 5), (2, 20), (3, 40)):
        kigo.add_reservation(101, res_id, day(start), day(start + 3))
    link = sync(kigo_link)
    before = blocks(link.id)
    kigo.cancel_reservation(2)
    link = sync(link)
    after = blocks(link.id)
    assert set(after) == {"kigo-1", "kigo-3"}
    assert after["kigo-1"] == before["kigo-1"] and after["kigo-3"] == before["kigo-3"]
    run = db.session.execute(select(SyncRun).filter_by(link_id=link.id).order_by(SyncRun.id.desc())).scalars().first()
    assert run.outcome == "changed" and run.removed == 1


def test_moved_reservation_updates_its_block_and_keeps_the_code(kigo, kigo_link):
    kigo.add_reservation(101, 1, day(5), day(8))
    link = sync(kigo_link)
    code = blocks(link.id)["kigo-1"][0]
    kigo.add_reservation(101, 1, day(6), day(10))
    link = sync(link)
    assert blocks(link.id) == {"kigo-1": (code, day(6), day(10))}


def test_same_reservations_twice_change_nothing(kigo, kigo_link):
    kigo.add_reservation(101, 1, day(5), day(8))
    link = sync(kigo_link)
    before = blocks(link.id)
    link = sync(link)
    assert blocks(link.id) == before
    outcomes = db.session.execute(select(SyncRun.outcome).filter_by(link_id=link.id)
                                  .order_by(SyncRun.id)).scalars().all()
    assert outcomes == ["changed", "unchanged"]


def test_instant_booking_off_fails_the_link_and_still_applies_reservations(kigo, kigo_link, api):
    kigo.set_instant_booking(101, False)
    kigo.add_reservation(101, 1, day(5), day(8))
    link = sync(kigo_link)
    # Reservations are real bookings whatever the setting: they block dates (see jobs/sync/kigo_reading.py).
    assert set(blocks(link.id)) == {"kigo-1"}
    recompute_property(db.session.get(Property, link.property_id))
    db.session.commit()
    body = api("viewer").get(f"/properties/{link.property_id}").get_json()
    link_body = body["links"][0]
    assert link_body["health"] == "failing"
    assert link_body["last_error"]["kind"] == "kigo_not_instant_booking"
    assert "Instant Booking" in link_body["last_error"]["advice"]
    assert "PROP_INSTANT_BOOK = false" in link_body["last_error"]["message"]
    assert link_body["kigo_instant_booking_raw"] == "false"
    factors = {f["kind"]: f for f in body["risk"]["factors"]}
    assert factors["kigo_not_instant_booking"]["level"] == "high"
    assert factors["kigo_not_instant_booking"]["advice"]


def test_instant_booking_switched_on_clears_the_error_and_the_risk(kigo, kigo_link, api):
    kigo.set_instant_booking(101, False)
    link = sync(kigo_link)
    assert link.last_error_kind == "kigo_not_instant_booking"
    kigo.set_instant_booking(101, True)
    link = sync(link)
    body = api("viewer").get(f"/properties/{link.property_id}").get_json()
    assert body["links"][0]["last_error"] is None and body["links"][0]["health"] == "ok"
    assert "kigo_not_instant_booking" not in {f["kind"] for f in body["risk"]["factors"]}


def test_instant_booking_off_stays_a_risk_when_a_later_sync_fails_otherwise(app, kigo, kigo_link, api):
    kigo.set_instant_booking(101, False)
    link = sync(kigo_link)
    app.config["KIGO_API_PASSWORD"] = "wrong"
    link = sync(link)
    assert link.last_error_kind == "kigo_auth" and link.kigo_instant_booking_raw == "false"
    body = api("viewer").get(f"/properties/{link.property_id}").get_json()
    # Kigo's last word on Instant Booking was "off": a wrong password does not make it on.
    assert {"kigo_not_instant_booking", "link_failing"} <= {f["kind"] for f in body["risk"]["factors"]}


def _wrong_password(kigo, app, link):
    app.config["KIGO_API_PASSWORD"] = "wrong"


def _other_account(kigo, app, link):
    link.kigo_code = "ACC2"
    db.session.commit()


FAILURES = {
    "401": (_wrong_password, "kigo_auth"),
    "403": (lambda kigo, app, link: kigo.fail_next("*", 403), "kigo_auth"),
    "E_NOSUCH": (lambda kigo, app, link: kigo.fail_next("readProperty2", "E_NOSUCH"), "kigo_not_found"),
    "unshared": (lambda kigo, app, link: kigo.remove_property(101), "kigo_not_found"),
    "other_account": (_other_account, "kigo_not_found"),
    "429": (lambda kigo, app, link: kigo.fail_next("listPropertyCalendarReservations", 429, times=20,
                                                   retry_after=0), "rate_limited"),
    "409": (lambda kigo, app, link: kigo.fail_next("listPropertyCalendarReservations", 409, times=20,
                                                   retry_after=0), "kigo_error"),
    "malformed_json": (lambda kigo, app, link: kigo.fail_next("listPropertyCalendarReservations",
                                                              "malformed_json"), "kigo_error"),
    "null_reply": (lambda kigo, app, link: kigo.fail_next("listPropertyCalendarReservations", "null_reply"),
                   "kigo_error"),
    "html": (lambda kigo, app, link: kigo.fail_next("listProperties2", "html"), "kigo_error"),
    "E_INVALID": (lambda kigo, app, link: kigo.fail_next("listPropertyCalendarReservations", "E_INVALID"),
                  "kigo_error"),
    "500": (lambda kigo, app, link: kigo.fail_next("readProperty2", 500), "server_error"),
}


@pytest.mark.parametrize("name", list(FAILURES))
def test_every_failure_is_explained_and_leaves_blocks_exactly_as_they_were(name, app, kigo, kigo_link, api):
    break_it, kind = FAILURES[name]
    kigo.add_reservation(101, 1, day(5), day(8))
    kigo.add_reservation(101, 2, day(20), day(22))
    link = sync(kigo_link)
    before = blocks(link.id)
    assert len(before) == 2
    # What a successful sync would now change: one moved, one cancelled, one new.
    kigo.add_reservation(101, 1, day(6), day(9))
    kigo.cancel_reservation(2)
    kigo.add_reservation(101, 3, day(50), day(52))
    break_it(kigo, app, link)
    link = sync(link)
    assert blocks(link.id) == before
    body = api("viewer").get(f"/links/{link.id}").get_json()
    assert body["health"] == "failing"
    assert body["last_error"]["kind"] == kind
    assert body["last_error"]["advice"]
    run = db.session.execute(select(SyncRun).filter_by(link_id=link.id).order_by(SyncRun.id.desc())).scalars().first()
    assert (run.outcome, run.error_kind, run.added, run.updated, run.removed) == ("error", kind, 0, 0, 0)


def test_rate_limit_is_retried_a_bounded_number_of_times(kigo, kigo_link):
    kigo.fail_next("listPropertyCalendarReservations", 429, times=20, retry_after=0)
    link = sync(kigo_link)
    assert link.last_error_kind == "rate_limited"
    assert len(kigo.calls_to("listPropertyCalendarReservations")) == MAX_RETRIES + 1


def test_rate_limit_that_clears_within_the_retries_syncs_normally(kigo, kigo_link):
    kigo.add_reservation(101, 1, day(5), day(8))
    kigo.fail_next("listPropertyCalendarReservations", 429, times=MAX_RETRIES, retry_after=0)
    link = sync(kigo_link)
    assert link.last_error_kind is None and set(blocks(link.id)) == {"kigo-1"}
    assert len(kigo.calls_to("listPropertyCalendarReservations")) == MAX_RETRIES + 1


def test_long_retry_after_gives_up_at_once_and_the_next_sync_waits_for_it(kigo, kigo_link):
    kigo.fail_next("listPropertyCalendarReservations", 429, times=20, retry_after=3600)
    started = utcnow()
    link = sync(kigo_link)
    assert link.last_error_kind == "rate_limited"
    assert len(kigo.calls_to("listPropertyCalendarReservations")) == 1  # the worker did not wait an hour
    assert link.next_sync_at >= started + timedelta(seconds=3500)


def test_sudden_empty_reservation_list_is_held_and_blocks_kept(kigo, kigo_link):
    for res_id, start in ((1, 5), (2, 20), (3, 40)):
        kigo.add_reservation(101, res_id, day(start), day(start + 3))
    link = sync(kigo_link)
    before = blocks(link.id)
    kigo.fail_next("listPropertyCalendarReservations", "E_EMPTY")  # Kigo's "no reservations"
    link = sync(link)
    assert blocks(link.id) == before
    assert "suspicious_empty" in {w["kind"] for w in link.warnings}
    run = db.session.execute(select(SyncRun).filter_by(link_id=link.id).order_by(SyncRun.id.desc())).scalars().first()
    assert run.outcome == "held" and run.removed == 0


def test_dry_run_shows_kigo_reservations_and_stores_nothing(kigo, kigo_link, api):
    kigo.add_reservation(101, 1, day(5), day(8))
    kigo.add_reservation(101, 2, day(20), day(22), "HOLD")
    resp = api("staff").post(f"/links/{kigo_link.id}/test")
    assert resp.status_code == 200
    body = resp.get_json()
    assert body["ok"] is True and body["blocking"] == 2 and body["would"]["add"] == 2
    assert [(s["uid"], s["check_in"]) for s in body["stays"]] == [("kigo-1", day(5).isoformat()),
                                                                  ("kigo-2", day(20).isoformat())]
    db.session.expire_all()
    link = db.session.get(CalendarLink, kigo_link.id)
    assert blocks(link.id) == {}
    assert db.session.execute(select(func.count(SyncRun.id))).scalar() == 0
    assert link.last_sync_at is None and link.kigo_instant_booking_raw is None


def test_dry_run_reports_instant_booking_off_and_kigo_failures(kigo, kigo_link, api):
    kigo.set_instant_booking(101, False)
    kigo.add_reservation(101, 1, day(5), day(8))
    body = api("staff").post(f"/links/{kigo_link.id}/test").get_json()
    assert body["ok"] is False and body["error"]["kind"] == "kigo_not_instant_booking"
    assert body["blocking"] == 1
    kigo.fail_next("listProperties2", 401)
    body = api("staff").post(f"/links/{kigo_link.id}/test").get_json()
    assert body["ok"] is False and body["error"]["kind"] == "kigo_auth" and body["error"]["advice"]
    assert blocks(kigo_link.id) == {}
