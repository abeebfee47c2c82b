"""Console page: list the Kigo properties an owner's account shares with us and link one to a property."""
from __future__ import annotations

from flask import abort, flash, redirect, request, url_for
from flask_admin import expose
from flask_login import current_user
from sqlalchemy import select

from console.actions.errors import ActionError
from console.actions.kigo import account_properties
from console.actions.links import add_kigo_link
from console.admin.base import ConsoleView
from console.extensions import db
from console.models import Property

PROPERTY_CHOICES = 1000  # the picker lists this many of our properties; beyond, type the id


class KigoView(ConsoleView):
    """Pick a Kigo property shared by an owner's account and link it to one of our properties."""

    @expose("/")
    def index(self):
        """Ask Kigo for the account's properties (read-only; linking needs staff)."""
        code = (request.args.get("kigo_code") or "").strip()[:64]
        chosen = request.args.get("property_id", type=int)
        items, error = None, None
        if code:
            try:
                items = account_properties(code)
            except ActionError as err:
                error = {"kind": err.code, "message": err.message, "advice": err.extra.get("advice")}
        ours = db.session.execute(select(Property.id, Property.name).order_by(Property.name)
                                  .limit(PROPERTY_CHOICES)).all()
        return self.render("kigo/properties.html", kigo_code=code, items=items, error=error,
                           ours=ours, chosen=chosen, can_link=current_user.can("staff"))

    @expose("/link", methods=["POST"])
    def link(self):
        """Staff: create the Kigo link (state "linked"; activate it on the property page)."""
        if not current_user.can("staff"):
            abort(403)
        code = (request.form.get("kigo_code") or "").strip()
        try:
            kigo_id = int(request.form.get("kigo_property_id", ""))
            property_id = int(request.form.get("property_id", ""))
        except ValueError:
            flash("Choose a Kigo property and one of our properties.", "error")
            return redirect(url_for(".index", kigo_code=code))
        prop = db.session.get(Property, property_id)
        if prop is None:
            flash(f"Our property {property_id} does not exist.", "error")
            return redirect(url_for(".index", kigo_code=code))
        try:
            link = add_kigo_link(prop, code or None, kigo_id)
        except ActionError as err:
            flash(f"Not linked: {err.message}", "error")
            return redirect(url_for(".index", kigo_code=code, property_id=property_id))
        flash(f"Kigo property {kigo_id} linked to {prop.name} (link {link.id}). Press \"Synchronize now\" "
              f"to activate it.", "success")
        return redirect(url_for("properties.detail", property_id=prop.id))
