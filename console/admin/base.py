"""What every console page is built on: the login every page needs."""
from __future__ import annotations

from flask import redirect, request, url_for
from flask_admin import AdminIndexView, BaseView
from flask_login import current_user


class LoginRequired:
    """Views mixin: every console page needs a login; staff pages check the role on actions."""

    def is_accessible(self) -> bool:
        return current_user.is_authenticated

    def inaccessible_callback(self, name, **kwargs):
        return redirect(url_for("auth.login", next=request.full_path.rstrip("?")))


class ConsoleView(LoginRequired, BaseView):
    """A console page behind the login."""


class ConsoleIndexView(LoginRequired, AdminIndexView):
    """The dashboard at /, behind the login."""
