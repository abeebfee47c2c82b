"""Reservation, overbooking and export actions: refusals name the field, and a refusal keeps the data."""
from __future__ import annotations

from datetime import date, timedelta

import pytest
from sqlalchemy import select

from console.actions import exports, overbookings, reservations
from console.actions.errors import ActionError
from console.extensions import db
from console.models import Overbooking, Reservation


def refusal(call, *args) -> ActionError:
    with pytest.raises(ActionError) as caught:
        call(*args)
    return caught.value


def codes() -> list[str]:
    return sorted(db.session.execute(select(Reservation.code)).scalars())


@pytest.mark.parametrize("origin, expected", [(None, "missing_field"), ("external", "invalid_field")])
def test_only_direct_bookings_and_manual_blocks_are_reported(make_property, origin, expected):
    soon = date.today() + timedelta(days=3)
    err = refusal(reservations.add_reservation, make_property(), origin, soon, soon + timedelta(days=2))
    assert (err.code, err.field) == (expected, "origin") and codes() == []


@pytest.mark.parametrize("nights, message", [(0, "must be after check_in"), (-2, "must be after check_in"),
                                             (367, "at most 366 nights")])
def test_a_stay_is_one_night_to_a_year(make_property, nights, message):
    start = date.today() + timedelta(days=3)
    err = refusal(reservations.add_reservation, make_property(), "direct", start,
                  start + timedelta(days=nights))
    assert err.field == "check_out" and message in err.message and codes() == []


def test_a_manual_block_shows_as_a_risk_at_once(make_property, make_link):
    prop = make_property()
    make_link(prop)
    start = date.today() + timedelta(days=5)
    res = reservations.add_reservation(prop, "manual", start, start + timedelta(days=2))
    assert res.code in codes()
    assert "manual_blocks" in [f["kind"] for f in prop.risk_factors]


def test_an_external_block_belongs_to_its_link(make_property, make_link, make_reservation):
    prop = make_property()
    block = make_reservation(prop, origin="external", link=make_link(prop), uid="x")
    err = refusal(reservations.delete_reservation, block.code)
    assert (err.code, err.status) == ("owned_by_link", 409) and codes() == [block.code]
    assert refusal(reservations.delete_reservation, "OA-NOPE").status == 404


def test_a_direct_booking_is_cancelled(make_property, make_reservation):
    booking = make_reservation(make_property(), origin="direct")
    reservations.delete_reservation(booking.code)
    assert codes() == []


def test_an_overbooking_is_resolved_once_with_a_note(make_property):
    prop = make_property()
    ob = Overbooking(property_id=prop.id, direct_code="OA-X", external_code="EX-Y",
                     first_night=date.today(), last_night=date.today(), nights=1,
                     counts_against_owner=True)
    db.session.add(ob)
    db.session.commit()
    err = refusal(overbookings.resolve_overbooking, ob, "ops@example.com", "  ")
    assert (err.code, err.field) == ("invalid_field", "note") and ob.state == "open"
    overbookings.resolve_overbooking(ob, "ops@example.com", " guest moved ")
    assert (ob.state, ob.resolved_by, ob.resolution_note) == ("resolved", "ops@example.com",
                                                              "guest moved")
    err = refusal(overbookings.resolve_overbooking, ob, "other@example.com", "again")
    assert (err.code, err.status, err.extra["resolved_by"]) == ("already_resolved", 409,
                                                               "ops@example.com")
    assert db.session.get(Overbooking, ob.id).resolved_by == "ops@example.com"


def test_rotating_the_export_token_gives_a_new_secret(make_property):
    prop = make_property()
    before = prop.export_token
    exports.rotate_export_token(prop)
    assert prop.export_token != before and len(prop.export_token) == 43
