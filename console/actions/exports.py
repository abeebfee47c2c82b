"""Export actions: rotate a property's secret export token."""
from __future__ import annotations

import secrets

from console.audit import trail
from console.extensions import db
from console.models import Property


def rotate_export_token(prop: Property) -> Property:
    """Give the property a new secret export token: the old export address stops working at once."""
    prop.export_token = secrets.token_urlsafe(32)  # 256 random bits, 43 URL-safe characters
    trail.record("export_token.rotated", "property", prop.id, prop.id)  # never the token itself
    db.session.commit()
    return prop
