"""Recording the audit trail: who acts (the console user, the API token or the system), and one entry per
change, added to the action's own transaction (console.actions call `record` once per action)."""
from __future__ import annotations

import getpass
from urllib.parse import urlsplit

from flask import g, has_request_context, request
from flask_login import current_user

from console.extensions import db
from console.models import AuditEntry

# Every action the trail records (docs/audit.md says when each is written).
ACTIONS = ("link.added", "link.tested", "link.activated", "link.synced", "link.paused", "link.resumed",
           "link.accepted", "link.deleted", "bulk.resync", "bulk.pause", "bulk.resume", "reservation.reported",
           "reservation.cancelled", "overbooking.resolved", "property.created", "export_token.rotated",
           "token.created", "token.revoked", "user.created", "user.updated", "alert_settings.changed",
           "alert_recipient.added", "alert_recipient.removed", "delivery.retried", "login.succeeded",
           "login.failed", "login.locked_out", "owner_link.created", "owner_link.emailed")
ID_LIST_MAX = 1000  # a bulk action's link ids kept in its entry; the count is always whole


def current_actor() -> tuple[str, str]:
    """(kind, name) of whoever asks now: the API token, the logged-in console user, or the system (CLI)."""
    if has_request_context():
        # Only in an API request: g outlives a request where an app context is held around several (tests).
        token = g.get("api_token") if (request.blueprint or "").startswith("api") else None
        if token is not None:
            return "token", token.name
        if current_user.is_authenticated:
            return "user", current_user.email
    return "system", _cli_name()


def _cli_name() -> str:
    try:
        return f"cli ({getpass.getuser()})"
    except (KeyError, OSError):  # no name for this uid (a bare container)
        return "cli"


def record(action: str, target_kind: str, target_id: int | None = None, property_id: int | None = None,
           details: dict | None = None, actor: tuple[str, str] | None = None) -> AuditEntry:
    """Add one entry to the session (the caller's commit writes it with the change it records)."""
    kind, name = actor or current_actor()
    entry = AuditEntry(actor_kind=kind, actor_name=name[:254], action=action, target_kind=target_kind,
                       target_id=target_id, property_id=property_id, details=details or {},
                       remote_addr=(request.remote_addr or None) if has_request_context() else None)
    if entry.remote_addr:
        entry.remote_addr = entry.remote_addr[:64]
    db.session.add(entry)
    return entry


def change(before, after) -> dict:
    """A field's before and after, as every entry writes them."""
    return {"before": before, "after": after}


def calendar_shown(url: str | None) -> str | None:
    """A calendar address as the trail keeps it: scheme and host only (a feed's path and query are its
    secret, and an entry outlives the link)."""
    if not url:
        return None
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.hostname or ''}/…"


def ids_kept(ids: list[int]) -> dict:
    """A bulk action's link ids for its entry: all of them up to ID_LIST_MAX, and whether some were left out."""
    return {"link_ids": ids[:ID_LIST_MAX], "link_ids_cut": len(ids) > ID_LIST_MAX}
