"""API: a property's export feed (bearer token) and rotation of its secret export token (staff)."""
from __future__ import annotations

import secrets

from flask import jsonify

from console.api import api_bp, requires
from console.api.properties import get_property
from console.api.serialize import export_url
from console.export import feed_response
from console.extensions import db


@api_bp.get("/properties/<int:property_id>/calendar.ics")
def property_calendar(property_id: int):
    """The same feed as the property's export_url, for API clients (not logged as a platform read)."""
    return feed_response(get_property(property_id))


@api_bp.post("/properties/<int:property_id>/export-token")
@requires("staff")
def rotate_export_token(property_id: int):
    """Give the property a new secret export token: the old export_url stops working at once."""
    prop = get_property(property_id)
    prop.export_token = secrets.token_urlsafe(32)  # 256 random bits, 43 URL-safe characters
    db.session.commit()
    return jsonify(property_id=prop.id, export_url=export_url(prop))
