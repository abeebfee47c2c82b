"""Admin page: the API tokens (who has one, its role, when it was last used, when it expires),
with revoke and issue."""
from __future__ import annotations

from flask import abort, flash, redirect, request, url_for
from flask_admin import expose
from flask_login import current_user
from sqlalchemy import select

from console.actions.errors import ActionError
from console.actions.tokens import issue_token, revoke_token
from console.admin.base import ConsoleView
from console.extensions import db
from console.models import ROLES, ApiToken
from console.timeutil import iso, utcnow


class TokensView(ConsoleView):
    """API tokens, for admins only."""

    def is_visible(self) -> bool:
        return current_user.is_authenticated and current_user.can("admin")

    def _admin_only(self) -> None:
        if not current_user.can("admin"):
            abort(403)

    @expose("/")
    def index(self):
        """Every token, newest first."""
        self._admin_only()
        rows = db.session.execute(select(ApiToken).order_by(ApiToken.id.desc())).scalars().all()
        return self.render("tokens/index.html", tokens=rows, now=utcnow(), roles=ROLES,
                           issued=None, iso=iso)

    @expose("/", methods=["POST"])
    def issue(self):
        """Issue a token: its clear value is shown once, on this page."""
        self._admin_only()
        days = request.form.get("expires_in_days", "").strip()
        try:
            row, clear = issue_token(request.form.get("name"), request.form.get("role", ""),
                                     int(days) if days.isascii() and days.isdigit() else None)
        except ActionError as err:
            flash(f"Not issued: {err.message}", "error")
            return redirect(url_for(".index"))
        rows = db.session.execute(select(ApiToken).order_by(ApiToken.id.desc())).scalars().all()
        return self.render("tokens/index.html", tokens=rows, now=utcnow(), roles=ROLES,
                           issued=(row, clear), iso=iso)

    @expose("/<int:token_id>/revoke", methods=["POST"])
    def revoke(self, token_id: int):
        """Revoke a token: it answers 401 from now on."""
        self._admin_only()
        if request.form.get("confirm") != "yes":
            flash("Tick the box to confirm the revocation: the client using that token will be refused.",
                  "error")
            return redirect(url_for(".index"))
        try:
            row = revoke_token(token_id)
        except ActionError:
            abort(404)
        flash(f"Token {row.name!r} revoked: it no longer opens the API.", "success")
        return redirect(url_for(".index"))
