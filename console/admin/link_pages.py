"""The link lifecycle on the property page: add a calendar (test it before saving, take the suggested
address), test a linked one, delete one; every step through console.actions, as the API does."""
from __future__ import annotations

from flask import abort, flash, jsonify, redirect, render_template, request, url_for
from flask_admin import expose
from flask_login import current_user

from console.actions import links as link_actions
from console.actions.errors import ActionError
from console.admin.notifications import alert_history
from console.extensions import db
from console.models import Property
from console.queries.link_jobs import IN_FLIGHT, link_job_states
from console.queries.serialize import block_counts, link_json
from console.timeutil import utcnow

LINK_ALERTS = 5  # beside each link: its newest alerts (as on the property page)


def _refusal(err: ActionError) -> dict:
    """A refusal as the form shows it beside its field."""
    return {"code": err.code, "message": err.message, "field": err.field,
            "suggested_url": err.extra.get("suggested_url"), "advice": err.extra.get("advice")}


class LinkPages:
    """Mixed into the properties view: its pages answer with the property page and a panel."""

    def inaccessible_callback(self, name, **kwargs):
        if name == "link_status":  # polled by a script: an answer it can read, not a login page
            return jsonify(error={"code": "login_required", "message": "log in again"}), 401
        return super().inaccessible_callback(name, **kwargs)

    @expose("/<int:property_id>/status")
    def link_status(self, property_id: int):
        """Each link's sync job state and its card drawn again, for link_status.js to swap in."""
        prop = db.session.get(Property, property_id) or abort(404)
        states = link_job_states(prop.links)
        counts, now = block_counts(link.id for link in prop.links), utcnow()
        prop_json = {"id": prop.id}
        cards = []
        for link in prop.links:
            body = link_json(link, now, counts.get(link.id, 0))
            html = render_template(
                "properties/_link_card.html", l=body, prop=prop_json, jobs=states,
                ignored={link.id: link.ignored_detail or []},
                link_alerts={link.id: alert_history(link_id=link.id, limit=LINK_ALERTS)},
                can_act=current_user.can("staff"), link_test=None)
            cards.append({"id": link.id, "job": states[link.id],
                          "version": states[link.id]["version"], "html": html})
        return jsonify(property_id=prop.id, links=cards,
                       in_flight=any(c["job"]["state"] in IN_FLIGHT for c in cards)), \
            {"Cache-Control": "no-store"}

    def _staff_property(self, property_id: int) -> Property:
        if not current_user.can("staff"):
            abort(403)
        return db.session.get(Property, property_id) or abort(404)

    @expose("/<int:property_id>/links/new", methods=["POST"])
    def add_link(self, property_id: int):
        """Test (step=test) or save (step=save) an iCal address for the property."""
        prop = self._staff_property(property_id)
        url = (request.form.get("url") or "").strip()
        source = request.form.get("source") or None  # empty: tell it from the address
        form = {"url": url, "source": source or ""}
        try:
            if request.form.get("step") == "save" and request.form.get("confirm_overlaps") != "yes":
                # Save asks first when the calendar's stays overlap direct bookings already sold.
                form["test"] = _overlap_check(prop, url, source)
                if form["test"].get("direct_overlaps"):
                    flash("This calendar's stays overlap direct bookings already sold (below): tick the box "
                          "to save it anyway.", "error")
                    return self.property_page(prop, new_link=form)
            if request.form.get("step") == "save":
                link = link_actions.add_ical_link(prop, url, source)
                flash(f"{link.source} calendar linked (link {link.id}). Press \"Synchronize now\" to "
                      "activate it: its bookings are then blocked here.", "success")
                return redirect(url_for(".detail", property_id=prop.id) + f"#link-{link.id}")
            form["test"] = link_actions.preview_address(prop, url, source)
        except ActionError as err:
            form["error"] = _refusal(err)
            return self.property_page(prop, status=err.status if err.status < 500 else 200,
                                      new_link=form)
        return self.property_page(prop, new_link=form)

    @expose("/<int:property_id>/links/<int:link_id>/test", methods=["POST"])
    def test_link(self, property_id: int, link_id: int):
        """Test a linked calendar now: what a sync would do, storing nothing."""
        prop = self._staff_property(property_id)
        try:
            link = link_actions.get_link(link_id, property_id)
            result = link_actions.preview_link(link)
        except ActionError as err:
            if err.status == 404:
                abort(404)
            result = {"ok": False, "error": _refusal(err)}
        return self.property_page(prop, link_test={"link_id": link_id, "result": result})

    @expose("/<int:property_id>/links/<int:link_id>/delete", methods=["POST"])
    def delete_link(self, property_id: int, link_id: int):
        """Delete a link and its EX- blocks, once the confirm box says the person means it."""
        self._staff_property(property_id)
        try:
            link = link_actions.get_link(link_id, property_id)
        except ActionError:
            abort(404)
        if request.form.get("confirm") != "yes":
            flash("Tick the box to confirm that the link and its blocks should go.", "error")
            return redirect(url_for(".detail", property_id=property_id) + f"#link-{link_id}")
        source, removed = link.source, link_actions.delete_link(link)
        flash(f"The {source} link was deleted with its {removed} EX- block"
              f"{'s' if removed != 1 else ''}; its dates are no longer blocked.", "success")
        return redirect(url_for(".detail", property_id=property_id))


def _overlap_check(prop: Property, url: str, source: str | None) -> dict:
    """The test Save runs first; a test that ran out of time does not stop a save (it warns of nothing)."""
    try:
        return link_actions.preview_address(prop, url, source, audited=False)
    except ActionError as err:
        if err.code == "test_timeout":
            return {}
        raise
