"""The API blueprint (/api/v1): bearer-token authentication and the role each view needs."""
from __future__ import annotations

from datetime import timedelta

from flask import Blueprint, g, request
from sqlalchemy.exc import SQLAlchemyError

from console.api.errors import ApiError, register_error_handlers
from console.extensions import db
from console.models import ApiToken, role_at_least
from console.timeutil import utcnow

REALM = "Calendar Sync Console API"
api_bp = Blueprint("api", __name__, url_prefix="/api/v1")
register_error_handlers(api_bp)


def public(view):
    """Mark a view that answers without a token (the API's own description)."""
    view._api_public = True
    return view


def requires(role: str):
    """Mark a view with the role it needs (default: viewer to read, staff to write)."""
    def decorate(view):
        view._api_role = role
        return view
    return decorate


@api_bp.before_request
def authenticate():
    """Bearer-token auth: 401 without a valid token, 403 when the role is too low."""
    view = _view_for_request()
    if getattr(view, "_api_public", False):
        return None
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise ApiError(401, "unauthorized", "send Authorization: Bearer <token>",
                       headers={"WWW-Authenticate": f'Bearer realm="{REALM}"'})
    api_token, now = ApiToken.find(token.strip()), utcnow()
    if api_token is None or not api_token.live(now):
        # RFC 6750: a token was sent but is not good, so the challenge says invalid_token.
        raise ApiError(401, "unauthorized", "the token is invalid, revoked or expired",
                       headers={"WWW-Authenticate": f'Bearer realm="{REALM}", error="invalid_token"'})
    needed = getattr(view, "_api_role", None) or (
        "viewer" if request.method in ("GET", "HEAD", "OPTIONS") else "staff")
    if not role_at_least(api_token.role, needed):
        raise ApiError(403, "forbidden", f"this needs the {needed} role; the token has "
                       f"{api_token.role}")
    g.api_token = api_token
    # Touch last_used_at at most once a minute: a write on every read would be wasteful.
    if api_token.last_used_at is None or now - api_token.last_used_at > timedelta(minutes=1):
        api_token.last_used_at = now
        try:
            db.session.commit()
        except SQLAlchemyError:  # a busy database must not fail a read for a bookkeeping write
            db.session.rollback()


def token_may(role: str) -> bool:
    """Whether this request's token has at least `role` (staff see the export secrets, viewers not)."""
    token = g.get("api_token")
    return token is not None and role_at_least(token.role, role)


def _view_for_request():
    """The view function that will answer this request."""
    from flask import current_app
    return current_app.view_functions.get(request.endpoint)
