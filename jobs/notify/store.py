"""Store a notification once (by its dedup key) with one delivery per recipient and channel."""
from __future__ import annotations

import hashlib
import logging
from datetime import datetime

from flask import current_app
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from console.extensions import db
from console.models import Notification, NotificationDelivery
from console.timeutil import utcnow
from jobs.notify.routing import Target, targets_for
from jobs.notify.thresholds import thresholds
from jobs.rules.alerts import is_urgent, send_after

log = logging.getLogger(__name__)


def idempotency_key(notification_id: int, channel: str, address: str) -> str:
    """The same (notification, channel, recipient) always has the same key: a resend is recognisable."""
    digest = hashlib.sha256(address.encode()).hexdigest()[:12]
    return f"csc-n{notification_id}-{channel}-{digest}"


def _delivery(note: Notification, target: Target, now: datetime, config, limits: dict) -> NotificationDelivery:
    quiet, zone = target.quiet, target.zone
    if quiet == (None, None):  # no quiet hours of its own: the defaults in force
        quiet = (limits["ALERT_QUIET_START_HOUR"], limits["ALERT_QUIET_END_HOUR"])
        zone = limits["ALERT_QUIET_TIMEZONE"] or zone
    mode, when = send_after(note.kind, note.urgent, target.digest_mode, now, quiet, zone)
    if mode == "digest":
        state = "digest"
    elif target.channel == "email" and not config.get("SMTP_URL"):
        state, when = "kept", None  # the embedded default: kept here and shown on the Notifications page
    else:
        state = "pending"
    return NotificationDelivery(notification_id=note.id, channel=target.channel, recipient=target.address,
                                recipient_id=target.recipient_id, audience=target.audience, state=state,
                                next_attempt_at=when,
                                idempotency_key=idempotency_key(note.id, target.channel, target.address))


def raise_notification(kind: str, title: str, *, dedup_key: str | None = None, now: datetime | None = None,
                       targets: list[Target] | None = None, counts_against_owner: bool = False,
                       **fields) -> Notification | None:
    """Store what was noticed and its deliveries (in the caller's transaction); None when already stored."""
    config, now = current_app.config, now or utcnow()
    if dedup_key and db.session.execute(select(Notification.id).filter_by(dedup_key=dedup_key)).first():
        return None
    note = Notification(kind=kind, title=title[:300], urgent=is_urgent(kind, counts_against_owner),
                        dedup_key=dedup_key, created_at=now, **fields)
    try:
        with db.session.begin_nested():  # another worker may notice the same change at the same moment
            db.session.add(note)
    except IntegrityError:
        return None
    limits = thresholds(config)
    for target in targets if targets is not None else targets_for(kind, config):
        note.deliveries.append(_delivery(note, target, now, config, limits))
    db.session.flush()
    log.info("notification %s [%s] %s (%d deliveries)", note.id, kind, note.title, len(note.deliveries))
    return note


def pending_ids(notes: list[Notification], now: datetime | None = None) -> list[int]:
    """Deliveries of these notifications that may go out now."""
    now = now or utcnow()
    return [d.id for n in notes if n is not None for d in n.deliveries
            if d.state == "pending" and (d.next_attempt_at is None or d.next_attempt_at <= now)]
