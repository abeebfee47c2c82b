"""Console login and logout (Flask-Login sessions, Flask-WTF CSRF) and role checks for pages."""
from __future__ import annotations

import secrets
from functools import wraps
from urllib.parse import urlsplit

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required, login_user, logout_user
from flask_wtf import FlaskForm
from werkzeug.security import check_password_hash, generate_password_hash
from wtforms import EmailField, PasswordField
from wtforms.validators import DataRequired, Email, Length

from console.audit import trail
from console.extensions import db, login_manager
from console.models import User
from console.signin import login_limits

auth_bp = Blueprint("auth", __name__)
login_manager.login_view = "auth.login"
login_manager.login_message = "Please log in to use the console."


@login_manager.user_loader
def load_user(session_id: str) -> User | None:
    """The logged-in user of this session, if still active and the session not logged out:
    the session holds "<user id>:<session version>", and logout bumps the version."""
    user_id, _, version = session_id.partition(":")
    if not (user_id.isascii() and user_id.isdigit() and version.isascii() and version.isdigit()):
        return None
    user = db.session.get(User, int(user_id))
    if user is None or not user.active or user.session_version != int(version):
        return None
    return user


def _dummy_hash() -> str:
    """A password hash made like real ones, checked for unknown e-mails so they take as long."""
    global _DUMMY
    if _DUMMY is None:
        _DUMMY = generate_password_hash(secrets.token_hex(16))
    return _DUMMY


_DUMMY: str | None = None


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
        email, address = form.email.data.strip().lower(), request.remote_addr or "unknown"
        wait = login_limits.refused_for(email, address)
        if wait:
            _audit_login("login.locked_out", email, None, retry_after_seconds=wait)
            flash(f"Too many failed logins: try again in {_minutes(wait)}.", "error")
            return render_template("auth/login.html", form=form), 429, {"Retry-After": str(wait)}
        user = db.session.execute(db.select(User).filter_by(email=email)).scalar_one_or_none()
        # The same work whether the e-mail is known or not: timing tells nothing.
        good = check_password_hash(user.password_hash if user else _dummy_hash(), form.password.data)
        if user is not None and user.active and good:
            login_limits.forget_account(email, address)
            login_user(user)
            _audit_login("login.succeeded", email, user)
            return redirect(_safe_next(request.args.get("next")))
        login_limits.count_failure(email, address)
        _audit_login("login.failed", email, user, known_email=user is not None)
        flash("Wrong email or password.", "error")
        status = 401
    elif request.method == "POST":
        status = 400
    return render_template("auth/login.html", form=form), status


@auth_bp.post("/logout")
@login_required
def logout():
    """Sign the user out everywhere: POST with the CSRF token only, so no link or image can do it;
    the session version moves on, so a copy of the old cookie no longer signs anyone in."""
    current_user.session_version = (current_user.session_version or 0) + 1
    db.session.commit()
    logout_user()
    flash("You are logged out.", "info")
    return redirect(url_for("auth.login"))


def _audit_login(action: str, email: str, user: User | None, **details) -> None:
    """A login attempt's entry: the e-mail typed is the actor, even when no user has it."""
    trail.record(action, "user", user.id if user else None, None, details, actor=("user", email))
    db.session.commit()


def _minutes(seconds: int) -> str:
    minutes = max(1, -(-seconds // 60))
    return f"{minutes} minute{'s' if minutes != 1 else ''}"


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
