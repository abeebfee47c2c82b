"""Bulk actions on the property list for staff: a confirm step that says what will happen, then a summary."""
from __future__ import annotations

from flask import abort, flash, redirect, request, url_for
from flask_admin import expose
from flask_login import current_user

from console.actions import bulk
from console.actions.errors import ActionError
from console.admin.property_list import ListState, list_state
from console.timeutil import utcnow

MAX_CHECKED = 1000  # checked rows come from one page; more is not a person's selection


def _checked_ids() -> list[int] | None:
    """The checked rows' ids, or None for "all N matching" (the server re-runs the filter)."""
    if request.form.get("all") == "1":
        return None
    ids = request.form.getlist("ids", type=int)[:MAX_CHECKED]
    return ids


def _plan(state: ListState) -> bulk.Plan | None:
    """The plan of the posted action on the posted selection; None when nothing is selected."""
    ids = _checked_ids()
    if ids == []:
        return None
    chosen = bulk.selected_properties(state.query(utcnow()), ids)
    return bulk.plan(request.form.get("action", ""), chosen, source=state.filters["source"],
                     error=state.filters["error"])


class BulkPages:
    """Views mixin: /bulk/confirm and /bulk/run on the filtered property list."""

    def _staff_plan(self):
        if not current_user.can("staff"):
            abort(403)
        state = list_state(request.form)
        try:
            return state, _plan(state)
        except ActionError as err:
            abort(err.status)

    @expose("/bulk/confirm", methods=["POST"])
    def bulk_confirm(self):
        """Say how many links the action touches, which it leaves alone and why, before doing it."""
        state, action_plan = self._staff_plan()
        if action_plan is None:
            flash("Nothing selected: check rows, or \"all matching\", then choose an action.", "error")
            return redirect(url_for(".index", **state.args()))
        return self.render("properties/bulk_confirm.html", plan=action_plan, state=state,
                           ids=_checked_ids(), back=url_for(".index", **state.args()))

    @expose("/bulk/run", methods=["POST"])
    def bulk_run(self):
        """Carry the action out on the same selection (the filter re-run now) and say what was done."""
        state, action_plan = self._staff_plan()
        if action_plan is None:
            flash("Nothing selected: nothing was changed.", "error")
        else:
            try:
                outcome = bulk.run(action_plan)
                flash(outcome.summary(), "success" if outcome.done else "info")
            except ActionError as err:
                flash(err.message, "error")
        return redirect(url_for(".index", **state.args()))
