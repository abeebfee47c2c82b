"""API: overbookings (list by property, nights, state and blame) and staff resolution."""
from __future__ import annotations

from flask import g, jsonify, request
from sqlalchemy import func, select

from console.actions import overbookings as overbooking_actions
from console.actions.overbookings import NOTE_MAX, get_overbooking
from console.actions.properties import get_property
from console.api.blueprint import api_bp
from console.api.validate import invalid, json_body, parse_date, query_choice, query_int, text
from console.extensions import db
from console.models import Overbooking
from console.queries.availability import prevented_json, prevented_rows
from console.queries.serialize import overbooking_json
from console.reports.date_range import parse_range
from console.reports.overbooking_rates import DIMENSIONS, rates_by_dimension
from console.timeutil import utcnow

PAGE_SIZE = 100


def overbooking_query():
    """Overbookings filtered by ?property_id=&from=&to=&state=&counts= (nights overlapping [from, to))."""
    query = select(Overbooking)
    raw_property = request.args.get("property_id")
    if raw_property not in (None, ""):
        query = query.where(Overbooking.property_id == get_property(
            query_int("property_id", 0, maximum=2**31 - 1)).id)
    start = parse_date(request.args.get("from"), "from", required=False)
    end = parse_date(request.args.get("to"), "to", required=False)
    if start and end and end < start:
        raise invalid("to", "must not be before from")
    # `to` is exclusive, like a check-out: an overbooking whose last night is `to` is outside.
    if end is not None:
        query = query.where(Overbooking.first_night < end)
    if start is not None:
        query = query.where(Overbooking.last_night >= start)
    state = query_choice("state", ("open", "resolved"))
    if state:
        query = query.where(Overbooking.state == state)
    counts = query_choice("counts", ("true", "false"))
    if counts:
        query = query.where(Overbooking.counts_against_owner.is_(counts == "true"))
    return query


@api_bp.get("/overbookings")
def list_overbookings():
    """Overbookings overlapping ?from=&to=, by first night; paged (?page=&per_page=)."""
    query = overbooking_query()
    page = query_int("page", 1)
    per_page = query_int("per_page", PAGE_SIZE, maximum=1000)
    total = db.session.execute(select(func.count()).select_from(query.subquery())).scalar()
    rows = db.session.execute(query.order_by(Overbooking.first_night, Overbooking.id)
                              .limit(per_page).offset((page - 1) * per_page)).scalars()
    return jsonify(items=[overbooking_json(ob) for ob in rows], page=page, per_page=per_page,
                   total=total)


@api_bp.get("/overbookings/prevented")
def list_prevented_overbookings():
    """Overbookings a fresh availability read prevented, detected within ?from=&to= (dates, to exclusive)."""
    start = parse_date(request.args.get("from"), "from", required=False)
    end = parse_date(request.args.get("to"), "to", required=False)
    if start and end and end < start:
        raise invalid("to", "must not be before from")
    return jsonify(items=[prevented_json(row) for row in prevented_rows(start, end)])


@api_bp.get("/overbookings/rates")
def overbooking_rates():
    """Overbookings per 1,000 direct bookings and nights sold, ?by=week|source|city|owner over ?from=&to=
    (days included; default the last 26 weeks): `{by, from, to, age_seconds, items: [rate]}`, the age
    being how old the count is (kept a minute)."""
    by = query_choice("by", DIMENSIONS) or "week"
    r, problem = parse_range({k: request.args.get(k) for k in ("from", "to")}, utcnow().date())
    if problem:
        raise invalid("to" if "end date" in problem else "from", problem.split(":")[0])
    counted, age = rates_by_dimension(r)
    return jsonify(by=by, **r.args(), age_seconds=round(age, 1), items=[rate.json() for rate in counted[by]])


@api_bp.get("/overbookings/<int:overbooking_id>")
def get_overbooking_view(overbooking_id: int):
    """One overbooking with its evidence."""
    return jsonify(overbooking_json(get_overbooking(overbooking_id)))


@api_bp.post("/overbookings/<int:overbooking_id>/resolve")
def resolve_overbooking(overbooking_id: int):
    """Staff mark an overbooking handled, with a note; it keeps counting (it happened)."""
    ob = get_overbooking(overbooking_id)
    note = text(json_body(), "note", required=True, max_len=NOTE_MAX)
    return jsonify(overbooking_json(overbooking_actions.resolve_overbooking(ob, g.api_token.name, note)))
