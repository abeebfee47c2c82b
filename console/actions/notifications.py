"""Alert actions: recipients staff add or remove, users' digest modes, "send a test" on a channel, retry a
failed delivery."""
from __future__ import annotations

import re
from urllib.parse import urlsplit

from flask import current_app

from console.actions.errors import ActionError, invalid, not_found
from console.audit import trail
from console.extensions import db
from console.models import AlertRecipient, AlertSetting, NotificationDelivery, User
from console.models.notifications import AUDIENCES, CHANNELS
from console.timeutil import utcnow
from jobs.fetch.addresses import AllowList, resolve_public
from jobs.notify.deliver import enqueue_deliveries
from jobs.notify.routing import Target
from jobs.notify.store import raise_notification
from jobs.notify.thresholds import THRESHOLDS, parse, stored
from jobs.rules.alerts import DIGEST_MODES
from jobs.rules.stays import SyncFailure

USER_DIGEST_MODES = DIGEST_MODES + ("off",)
EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def check_address(channel: str, address) -> str:
    """An e-mail address, or a webhook URL that passes the calendar links' public-address rule."""
    if channel not in CHANNELS:
        raise invalid("channel", f"must be one of {', '.join(CHANNELS)}")
    address = (address or "").strip() if isinstance(address, str) else ""
    if not address or len(address) > 500:
        raise invalid("address", "is required (at most 500 characters)", "missing_field")
    if channel == "email":
        if not EMAIL.match(address):
            raise invalid("address", "is not an e-mail address")
        return address
    parts = urlsplit(address)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise invalid("address", "must be an http:// or https:// address", "invalid_url")
    try:
        resolve_public(parts.hostname, parts.port or (443 if parts.scheme == "https" else 80),
                       AllowList.parse(current_app.config["FETCH_ALLOW_HOSTS"]))
    except SyncFailure as failure:
        if failure.kind == "blocked_address":
            raise ActionError("blocked_address", failure.message, field="address") from failure
    return address


def _hour(value, field: str) -> int | None:
    if value in (None, ""):
        return None
    try:
        hour = int(value)
    except (TypeError, ValueError):
        raise invalid(field, "must be an hour from 0 to 23") from None
    if not 0 <= hour <= 23:
        raise invalid(field, "must be an hour from 0 to 23")
    return hour


def add_recipient(channel: str, address, audience: str = "team", digest_mode: str = "immediate",
                  quiet_start=None, quiet_end=None, timezone: str = "UTC", secret=None) -> AlertRecipient:
    """A new recipient of an audience's alerts, with its digest mode and quiet hours."""
    address = check_address(channel, address)
    if audience not in AUDIENCES:
        raise invalid("audience", f"must be one of {', '.join(AUDIENCES)}")
    if digest_mode not in DIGEST_MODES:
        raise invalid("digest_mode", f"must be one of {', '.join(DIGEST_MODES)}")
    row = AlertRecipient(channel=channel, address=address, audience=audience, digest_mode=digest_mode,
                         quiet_start_hour=_hour(quiet_start, "quiet_start"),
                         quiet_end_hour=_hour(quiet_end, "quiet_end"), timezone=(timezone or "UTC")[:64],
                         secret=(secret or None) if channel == "webhook" else None)
    db.session.add(row)
    db.session.flush()
    trail.record("alert_recipient.added", "alert_recipient", row.id, None, _recipient(row))
    db.session.commit()
    return row


def remove_recipient(recipient_id: int) -> None:
    """Stop alerting a recipient (its past deliveries stay on record)."""
    row = db.session.get(AlertRecipient, recipient_id)
    if row is None:
        raise not_found(f"recipient {recipient_id}")
    trail.record("alert_recipient.removed", "alert_recipient", row.id, None, _recipient(row))
    db.session.delete(row)
    db.session.commit()


def send_test(channel: str, address, by: str) -> int:
    """Send a test notification through one channel now; the delivery's id (its outcome shows on the page)."""
    address = check_address(channel, address)
    secret = current_app.config.get("ALERT_WEBHOOK_SECRET") if channel == "webhook" else None
    note = raise_notification("test", f"Test alert from the Calendar Sync Console ({by})",
                              body=f"{by} sent this test through {channel}. Nothing is wrong.",
                              targets=[Target(channel, address, "team", secret=secret)])
    db.session.commit()
    delivery = note.deliveries[0]
    enqueue_deliveries([delivery.id] if delivery.state == "pending" else [])
    return delivery.id


def retry_delivery(delivery_id: int) -> NotificationDelivery:
    """Send a failed or given-up delivery again now."""
    delivery = db.session.get(NotificationDelivery, delivery_id)
    if delivery is None:
        raise not_found(f"delivery {delivery_id}")
    if delivery.state not in ("failed", "dead"):
        raise ActionError("not_retryable", f"delivery {delivery_id} is {delivery.state}", status=409)
    before = delivery.state
    delivery.state, delivery.next_attempt_at, delivery.queued_at = "pending", None, None
    trail.record("delivery.retried", "delivery", delivery.id, None, {"state": trail.change(before, "pending")})
    db.session.commit()
    enqueue_deliveries([delivery.id])
    return delivery


def set_user_digest(user_id: int, mode: str) -> User:
    """How a staff or admin user hears the staff alerts: immediate, hourly, daily or off."""
    user = db.session.get(User, user_id)
    if user is None:
        raise not_found(f"user {user_id}")
    if mode not in USER_DIGEST_MODES:
        raise invalid("digest_mode", f"must be one of {', '.join(USER_DIGEST_MODES)}")
    trail.record("alert_settings.changed", "user", user.id, None,
                 {"user": user.email, "alert_digest_mode": trail.change(user.alert_digest_mode, mode)})
    user.alert_digest_mode = mode
    db.session.commit()
    return user


def save_thresholds(form, by: str) -> list[str]:
    """Store the thresholds an admin submitted; a value equal to the environment's is not stored, so the
    environment applies again. All or nothing: the names changed, or ActionError on the first bad value."""
    config, rows, values = current_app.config, stored(), {}
    for threshold in THRESHOLDS:
        if threshold.name not in form:
            continue
        try:
            values[threshold.name] = parse(threshold, form.get(threshold.name))
        except ValueError as exc:
            raise invalid(threshold.name, str(exc)) from None
    start = values.get("ALERT_QUIET_START_HOUR", config.get("ALERT_QUIET_START_HOUR"))
    end = values.get("ALERT_QUIET_END_HOUR", config.get("ALERT_QUIET_END_HOUR"))
    if (start is None) != (end is None):
        raise invalid("ALERT_QUIET_START_HOUR", "quiet hours need both a start and an end hour")
    changed, was = [], {}
    for name, value in values.items():
        row = rows.get(name)
        was[name] = row.value if row is not None else _text(config.get(name))
        if value == config.get(name):
            if row is not None:
                db.session.delete(row)
                changed.append(name)
            continue
        text = None if value is None else str(value)
        if row is None:
            db.session.add(AlertSetting(name=name, value=text, updated_by=by, updated_at=utcnow()))
        elif row.value != text:
            row.value, row.updated_by, row.updated_at = text, by, utcnow()
        else:
            continue
        changed.append(name)
    if changed:
        trail.record("alert_settings.changed", "alert_settings", None, None,
                     {name: trail.change(was[name], _text(values[name])) for name in changed})
    db.session.commit()
    return changed


def _text(value) -> str | None:
    return None if value is None else str(value)


def _recipient(row: AlertRecipient) -> dict:
    """What the trail keeps of a recipient (never its webhook secret)."""
    return {"channel": row.channel, "address": row.address, "audience": row.audience,
            "digest_mode": row.digest_mode}
