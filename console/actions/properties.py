"""Property actions: find one, register one (the main site calls this through the API)."""
from __future__ import annotations

from sqlalchemy import select

from console.actions.errors import ActionError, not_found
from console.audit import trail
from console.extensions import db
from console.models import Owner, Property


def get_property(property_id: int) -> Property:
    """The property or a 404."""
    prop = db.session.get(Property, property_id)
    if prop is None:
        raise not_found(f"property {property_id}")
    return prop


def owner_for(email_address: str) -> Owner:
    """The owner with this email, created on first sight."""
    owner = db.session.execute(select(Owner).filter_by(email=email_address)).scalar_one_or_none()
    if owner is None:
        owner = Owner(email=email_address)
        db.session.add(owner)
    return owner


def create_property(name: str, owner_email: str, timezone: str, instant_booking: bool,
                    external_ref: str | None = None, city: str | None = None) -> Property:
    """Register a property of the owner with this e-mail; external references are unique (409)."""
    if external_ref and db.session.execute(
            select(Property.id).filter_by(external_ref=external_ref)).first():
        raise ActionError("duplicate_external_ref",
                          f"a property with external_ref {external_ref!r} exists", status=409,
                          field="external_ref")
    prop = Property(name=name, owner=owner_for(owner_email), timezone=timezone,
                    instant_booking=instant_booking, external_ref=external_ref, city=city)
    db.session.add(prop)
    db.session.flush()
    trail.record("property.created", "property", prop.id, prop.id, {
        "name": name, "external_ref": external_ref, "timezone": timezone, "instant_booking": instant_booking})
    db.session.commit()
    return prop
