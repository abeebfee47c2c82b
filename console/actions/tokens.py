"""API token actions: issue one (optionally expiring), revoke by name or id."""
from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from console.actions.errors import ActionError, required_text
from console.audit import trail
from console.extensions import db
from console.models import ROLES, ApiToken
from console.timeutil import utcnow

MAX_EXPIRY_DAYS = 3650


def issue_token(name, role: str, expires_in_days: int | None = None) -> tuple[ApiToken, str]:
    """A new token (its row and the clear token, shown once); it expires after the days given."""
    name = required_text(name, "name", 120)
    if role not in ROLES:
        raise ActionError("invalid_field", f"role: must be one of {', '.join(ROLES)}", field="role")
    if expires_in_days is not None and not 0 < expires_in_days <= MAX_EXPIRY_DAYS:
        raise ActionError("invalid_field", f"expires_in_days: must be 1 to {MAX_EXPIRY_DAYS}",
                          field="expires_in_days")
    now = utcnow()
    namesakes = db.session.execute(select(ApiToken).filter_by(name=name, revoked=False)).scalars()
    if any(t.live(now) for t in namesakes):  # `revoke-token NAME` must name one client, not two
        raise ActionError("duplicate_name", f"name: a live token is already named {name!r}; choose another "
                          "name, or revoke that token first", status=409, field="name")
    row, clear = ApiToken.issue(name, role)
    if expires_in_days:
        row.expires_at = now + timedelta(days=expires_in_days)
    db.session.add(row)
    db.session.flush()
    trail.record("token.created", "token", row.id, None, {
        "name": row.name, "role": row.role, "expires_at": row.expires_at.isoformat() if row.expires_at else None})
    db.session.commit()
    return row, clear


def revoke_tokens(name: str) -> list[ApiToken]:
    """Revoke every live token of that name (they answer 401 from now on); refused if none."""
    rows = db.session.execute(select(ApiToken).filter_by(name=name, revoked=False)).scalars().all()
    if not rows:
        raise ActionError("not_found", f"no live API token is named {name!r}", status=404)
    for row in rows:
        row.revoked = True
        _audit_revoked(row)
    db.session.commit()
    return rows


def revoke_token(token_id: int) -> ApiToken:
    """Revoke one token by its id."""
    row = db.session.get(ApiToken, token_id)
    if row is None:
        raise ActionError("not_found", f"API token {token_id} not found", status=404)
    before = row.revoked
    row.revoked = True
    _audit_revoked(row, before)
    db.session.commit()
    return row


def _audit_revoked(row: ApiToken, before: bool = False) -> None:
    trail.record("token.revoked", "token", row.id, None,
                 {"name": row.name, "role": row.role, "revoked": trail.change(before, True)})
