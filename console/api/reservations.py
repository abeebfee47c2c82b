"""API: reservations (direct bookings, manual blocks, EX- blocks), availability, overbookings."""
from __future__ import annotations

from flask import jsonify, request, url_for
from sqlalchemy import select

from console.actions import reservations as reservation_actions
from console.actions.properties import get_property
from console.api.blueprint import api_bp
from console.api.validate import invalid, json_body, parse_date, query_choice, stay_dates, text
from console.extensions import db
from console.models import Reservation
from console.queries.availability import availability_answer
from console.queries.serialize import reservation_json
from jobs.sync.demand import record_availability_demand


def overlapping(property_id: int, start, end):
    """Reservations of a property whose nights overlap [start, end) (open ends allowed)."""
    query = select(Reservation).filter_by(property_id=property_id)
    if end is not None:
        query = query.where(Reservation.check_in < end)
    if start is not None:
        query = query.where(Reservation.check_out > start)
    return query.order_by(Reservation.check_in, Reservation.code)


@api_bp.get("/properties/<int:property_id>/reservations")
def list_reservations(property_id: int):
    """Stays overlapping ?from=&to= (both optional)."""
    get_property(property_id)
    start = parse_date(request.args.get("from"), "from", required=False)
    end = parse_date(request.args.get("to"), "to", required=False)
    if start and end and end < start:
        raise invalid("to", "must not be before from")
    rows = db.session.execute(overlapping(property_id, start, end)).scalars()
    return jsonify(items=[reservation_json(r) for r in rows])


@api_bp.post("/properties/<int:property_id>/reservations")
def create_reservation(property_id: int):
    """Report a direct booking or an owner's manual block."""
    prop = get_property(property_id)
    data = json_body()
    reservation_actions.check_origin(data.get("origin"))
    check_in, check_out = stay_dates(data.get("check_in"), data.get("check_out"))
    res = reservation_actions.add_reservation(
        prop, data.get("origin"), check_in, check_out, guest_name=text(data, "guest_name"),
        summary=text(data, "summary", max_len=500))
    return jsonify(reservation_json(res)), 201, {
        "Location": url_for("api.get_reservation", code=res.code)}


@api_bp.get("/reservations/<code>")
def get_reservation(code: str):
    """One reservation (or EX- block) by its code."""
    return jsonify(reservation_json(reservation_actions.get_reservation(code)))


@api_bp.delete("/reservations/<code>")
def delete_reservation(code: str):
    """Cancel a direct booking or remove a manual block; EX- blocks belong to their link."""
    reservation_actions.delete_reservation(code)
    return "", 204


@api_bp.get("/properties/<int:property_id>/availability")
def availability(property_id: int):
    """Whether [check_in, check_out) is free, which stays block it, how fresh that is (?fresh=1 reads)."""
    get_property(property_id)
    check_in, check_out = stay_dates(request.args.get("check_in"), request.args.get("check_out"))
    record_availability_demand(property_id)  # guests are looking: its calendars are read sooner
    fresh = query_choice("fresh", ("0", "1", "true", "false")) in ("1", "true")
    return jsonify(availability_answer(property_id, check_in, check_out, fresh))
