"""API: properties (create, list with filters, get)."""
from __future__ import annotations

from flask import current_app, jsonify, url_for

from console.actions import properties as property_actions
from console.actions.properties import get_property
from console.api.blueprint import api_bp, token_may
from console.api.validate import (
    boolean,
    email,
    json_body,
    query_choice,
    query_int,
    query_text,
    text,
    timezone_name,
)
from console.extensions import db
from console.models import SOURCES
from console.queries.property_filters import HEALTHS, RISKS, count_matching, property_query, with_relations
from console.queries.serialize import properties_json, property_json
from console.timeutil import utcnow
from jobs.rules.advice import ERROR_KINDS

PAGE_SIZE = 50


@api_bp.post("/properties")
def create_property():
    """Register a property (the main site calls this)."""
    data = json_body()
    name = text(data, "name", required=True)
    owner_email = email(data, "owner_email")
    tz = timezone_name(data, "timezone", "Europe/Madrid")
    instant = boolean(data, "instant_booking", True)
    external_ref = text(data, "external_ref", max_len=120)
    city = text(data, "city", max_len=120)
    prop = property_actions.create_property(name, owner_email, tz, instant, external_ref, city)
    resp = jsonify(property_json(prop, secrets=token_may("staff")))
    resp.status_code = 201
    resp.headers["Location"] = url_for("api.get_property_view", property_id=prop.id)
    return resp


@api_bp.get("/properties")
def list_properties():
    """Properties, filtered by health, risk, source, error kind, held change or text, 50 a page."""
    health = query_choice("health", HEALTHS)
    risk = query_choice("risk", RISKS)
    source = query_choice("source", SOURCES)
    page = query_int("page", 1)
    per_page = query_int("per_page", PAGE_SIZE, maximum=500)
    query = property_query(now=utcnow(), interval_minutes=current_app.config[
        "SYNC_INTERVAL_MINUTES"], health=health, risk=risk, source=source,
        search=query_text("q"), error=query_choice("error", ERROR_KINDS),
        held=query_choice("held", ("true", "false")) == "true")
    total = count_matching(query)
    props = db.session.execute(with_relations(query.limit(per_page).offset((page - 1) * per_page))
                               ).scalars().all()
    return jsonify(items=properties_json(props, secrets=token_may("staff")), page=page,
                   per_page=per_page, total=total)


@api_bp.get("/properties/<int:property_id>")
def get_property_view(property_id: int):
    """One property with links, risk and score."""
    return jsonify(property_json(get_property(property_id), secrets=token_may("staff")))
