"""Console login and logout (Flask-Login sessions, Flask-WTF CSRF) and role checks for pages."""
from __future__ import annotations

from functools import wraps
from urllib.parse import urlsplit

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required, login_user, logout_user
from flask_wtf import FlaskForm
from wtforms import EmailField, PasswordField
from wtforms.validators import DataRequired, Email, Length

from console.extensions import db, login_manager
from console.models import User

auth_bp = Blueprint("auth", __name__)
login_manager.login_view = "auth.login"
login_manager.login_message = "Please log in to use the console."


@login_manager.user_loader
def load_user(user_id: str) -> User | None:
    """The logged-in user of this session, if still active."""
    user = db.session.get(User, int(user_id)) if user_id.isdigit() else None
    return user if user is not None and user.active else None


class LoginForm(FlaskForm):
    """Email and password, CSRF-protected."""

    email = EmailField("Email", validators=[DataRequired(), Email(check_deliverability=False),
                                            Length(max=254)])
    password = PasswordField("Password", validators=[DataRequired(), Length(max=512)])


def _safe_next(target: str | None) -> str:
    """Only same-site paths as a post-login target (no open redirect)."""
    if target and target.startswith("/") and not target.startswith("//") \
            and not urlsplit(target).netloc:
        return target
    return url_for("admin.index")


@auth_bp.route("/login", methods=["GET", "POST"])
def login():
    """Show the login form and sign a user in."""
    if current_user.is_authenticated:
        return redirect(_safe_next(request.args.get("next")))
    form = LoginForm()
    status = 200
    if form.validate_on_submit():
        email = form.email.data.strip().lower()
        user = db.session.execute(db.select(User).filter_by(email=email)).scalar_one_or_none()
        if user is not None and user.active and user.check_password(form.password.data):
            login_user(user)
            return redirect(_safe_next(request.args.get("next")))
        flash("Wrong email or password.", "error")
        status = 401
    elif request.method == "POST":
        status = 400
    return render_template("auth/login.html", form=form), status


@auth_bp.post("/logout")
@login_required
def logout():
    """Sign the user out: POST with the CSRF token only, so no link or image can do it."""
    logout_user()
    flash("You are logged out.", "info")
    return redirect(url_for("auth.login"))


def role_required(role: str):
    """Page decorator: logged in, and with at least `role` (403 otherwise)."""
    def decorate(view):
        @wraps(view)
        def wrapped(*args, **kwargs):
            if not current_user.is_authenticated:
                return login_manager.unauthorized()
            if not current_user.can(role):
                abort(403)
            return view(*args, **kwargs)
        return wrapped
    return decorate
