"""API: a property's export feed (bearer token) and rotation of its secret export token (staff)."""
from __future__ import annotations

from flask import jsonify

from console.actions.exports import rotate_export_token
from console.actions.properties import get_property
from console.api.blueprint import api_bp, requires
from console.public.ical_feed import feed_response
from console.queries.serialize import export_url


@api_bp.get("/properties/<int:property_id>/calendar.ics")
def property_calendar(property_id: int):
    """The same feed as the property's export_url, for API clients (not logged as a platform read)."""
    return feed_response(get_property(property_id))


@api_bp.post("/properties/<int:property_id>/export-token")
@requires("staff")
def rotate_token(property_id: int):
    """Give the property a new secret export token: the old export_url stops working at once."""
    prop = rotate_export_token(get_property(property_id))
    return jsonify(property_id=prop.id, export_url=export_url(prop))
