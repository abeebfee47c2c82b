"""On the property page, staff share the property's status with its owner: a new status address to copy,
and an e-mail of it to the owner when SMTP is set."""
from __future__ import annotations

from flask import abort, current_app, flash, redirect, request, url_for
from flask_admin import expose
from flask_login import current_user

from console.actions.owner_links import email_status_link, new_status_url
from console.extensions import db
from console.models import OwnerStatusLink, Property


def owner_share_panel(prop: Property) -> dict:
    """What the "Share status with the owner" panel shows: the live address (if any), and whether it can
    be e-mailed."""
    row = OwnerStatusLink.current(prop.id)
    config = current_app.config
    return {"url": row.url(config["PUBLIC_BASE_URL"], config["SECRET_KEY"]) if row else None,
            "created_at": row.created_at if row else None, "created_by": row.created_by if row else None,
            "can_email": bool(config.get("SMTP_URL"))}


class OwnerSharePages:
    """Mixed into the properties view."""

    def _staff_property(self, property_id: int) -> Property:
        if not current_user.can("staff"):
            abort(403)
        return db.session.get(Property, property_id) or abort(404)

    @expose("/<int:property_id>/owner-link", methods=["POST"])
    def share_with_owner(self, property_id: int):
        """Make a new status address for the owner (the old one stops working)."""
        prop = self._staff_property(property_id)
        if OwnerStatusLink.current(prop.id) is not None and request.form.get("confirm") != "yes":
            flash("Tick the box to confirm that the owner's current link should stop working.", "error")
            return redirect(url_for(".detail", property_id=prop.id) + "#owner-share")
        new_status_url(prop, current_user.email)
        flash("A new status link for the owner is ready below: copy it or e-mail it. Any link made before "
              "no longer works.", "success")
        return redirect(url_for(".detail", property_id=prop.id) + "#owner-share")

    @expose("/<int:property_id>/owner-link/email", methods=["POST"])
    def email_owner_link(self, property_id: int):
        """E-mail the live status address to the owner (only when SMTP_URL is set)."""
        prop = self._staff_property(property_id)
        if not current_app.config.get("SMTP_URL"):
            flash("E-mail is not set up here (SMTP_URL is unset): copy the link and send it yourself.", "error")
        else:
            email_status_link(prop, current_user.email)
            flash("The status link is on its way to the owner (see Notifications for its delivery).", "success")
        return redirect(url_for(".detail", property_id=prop.id) + "#owner-share")
