"""API: the owner status link of a property (staff)."""
from __future__ import annotations

from flask import g, jsonify

from console.actions.owner_links import new_status_url
from console.actions.properties import get_property
from console.api.blueprint import api_bp, requires


@api_bp.post("/properties/<int:property_id>/owner-link")
@requires("staff")
def create_owner_link(property_id: int):
    """A new address of the property's owner status page ({url}); the previous one answers 404 from now."""
    prop = get_property(property_id)
    url = new_status_url(prop, f"token {g.api_token.name}")
    return jsonify(url=url), 201, {"Location": url}  # the created resource: the page itself
