"""Deliver one notification to one recipient: claim it (one sender at a time), send, record the outcome and
the next attempt's backoff. The RQ entry point (jobs.tasks.deliver_notification_job) calls `deliver`."""
from __future__ import annotations

import logging
from datetime import datetime, timedelta

import redis
from flask import current_app
from rq import Queue
from sqlalchemy import and_, or_, select

from console.extensions import db
from console.models import NotificationDelivery, OwnerStatusLink
from console.timeutil import iso, utcnow
from jobs.broker import QueueUnavailable, redis_connection
from jobs.fetch.addresses import AllowList
from jobs.notify.channels import DeliveryError, Message, post_slack, post_webhook, send_email
from jobs.notify.messages import property_url
from jobs.rules.alerts import retry_delay

log = logging.getLogger(__name__)
ALERT_QUEUE = "alerts"
DELIVER_JOB = "jobs.tasks.deliver_notification_job"  # named: the tasks sit above this package
# A claim older than this belongs to a sender that died (killed worker): the delivery may be tried again.
CLAIM_LEASE = timedelta(minutes=5)
REQUEUE_AFTER = timedelta(minutes=2)  # a queued job not taken by then was lost (Redis flushed, queue down)
WEBHOOK_TIMEOUT = 10


def message_of(delivery: NotificationDelivery, base_url: str, secret_key: str | None = None) -> Message:
    """What a delivery sends, from its notification (the owner's own words for an owner, with the address
    of their status page when the secret that derives it is given)."""
    note = delivery.notification
    text = note.owner_text if delivery.audience == "owner" and note.owner_text else note.body
    if delivery.audience == "owner" and note.property_id and secret_key:
        text += f"\n\nYour calendars' status, at any time: {owner_status_url(note.property_id, base_url, secret_key)}"
    payload = {"id": note.id, "kind": note.kind, "urgent": note.urgent, "title": note.title, "text": text,
               "advice": note.advice, "property_id": note.property_id, "link_id": note.link_id,
               "source": note.source, "error_kind": note.error_kind, "exposure": note.exposure,
               "incident_id": note.incident_id, "details": note.details, "created_at": iso(note.created_at),
               "idempotency_key": delivery.idempotency_key,
               "console_url": property_url(base_url, note.property_id) if note.property_id else None}
    return Message(delivery.idempotency_key, note.title, text, payload)


def owner_status_url(property_id: int, base_url: str, secret_key: str) -> str:
    """The property's live owner status address; one is made (and committed) when it has none yet."""
    row = OwnerStatusLink.current(property_id)
    if row is None:
        row = OwnerStatusLink.open_new(property_id, secret_key, created_by="owner alert")
        db.session.commit()
    return row.url(base_url, secret_key)


def claim(delivery_id: int, now: datetime) -> bool:
    """Take a delivery for sending, committed: a second worker (or a retry racing a slow send) gets False."""
    table = NotificationDelivery.__table__
    taken = db.session.execute(table.update().where(
        table.c.id == delivery_id,
        or_(table.c.state.in_(("pending", "failed")),
            and_(table.c.state == "sending", table.c.claimed_at < now - CLAIM_LEASE)))
        .values(state="sending", claimed_at=now, attempts=table.c.attempts + 1)).rowcount
    db.session.commit()
    return bool(taken)


def send(delivery: NotificationDelivery, config) -> None:
    """Send one delivery through its channel; raises DeliveryError."""
    message = message_of(delivery, config["PUBLIC_BASE_URL"], config.get("SECRET_KEY"))
    allow = AllowList.parse(config["FETCH_ALLOW_HOSTS"])
    if delivery.channel == "email":
        if not config.get("SMTP_URL"):
            raise DeliveryError("SMTP_URL is not set", permanent=True)
        send_email(config["SMTP_URL"], config["SMTP_FROM"], delivery.recipient, message,
                   config["SMTP_TIMEOUT_SECONDS"])
    elif delivery.channel == "slack":
        post_slack(delivery.recipient, message, allow, WEBHOOK_TIMEOUT)
    elif delivery.channel == "webhook":
        secret = config.get("ALERT_WEBHOOK_SECRET") if delivery.recipient_id is None else (
            _recipient_secret(delivery.recipient_id) or config.get("ALERT_WEBHOOK_SECRET"))
        post_webhook(delivery.recipient, secret, message, allow, WEBHOOK_TIMEOUT)
    else:
        raise DeliveryError(f"unknown channel {delivery.channel}", permanent=True)


def _recipient_secret(recipient_id: int) -> str | None:
    from console.models import AlertRecipient
    row = db.session.get(AlertRecipient, recipient_id)
    return row.secret if row else None


def deliver(delivery_id: int, now: datetime | None = None) -> str:
    """Send one delivery once: claimed, sent, recorded (delivered, or failed with the next attempt)."""
    now = now or utcnow()
    if not claim(delivery_id, now):
        return "not claimed"
    delivery = db.session.get(NotificationDelivery, delivery_id)
    try:
        send(delivery, current_app.config)
    except DeliveryError as exc:
        delay = None if exc.permanent else retry_delay(delivery.attempts)
        delivery.last_error = str(exc)[:2000]
        delivery.state = "dead" if delay is None else "failed"
        delivery.next_attempt_at = None if delay is None else now + delay
        delivery.queued_at = None
        db.session.commit()
        log.warning("delivery %s (%s to %s) attempt %d failed: %s", delivery_id, delivery.channel,
                    delivery.recipient, delivery.attempts, exc)
        return delivery.state
    delivery.state, delivery.delivered_at, delivery.last_error = "delivered", utcnow(), None
    db.session.commit()
    log.info("delivery %s (%s to %s) delivered", delivery_id, delivery.channel, delivery.recipient)
    return "delivered"


def release_dead_claims(now: datetime) -> int:
    """Deliveries claimed by a sender that died (killed worker): back to "failed", to be sent again once.

    The SMTP server or the receiver got nothing (or, in the instant between its acceptance and our commit,
    a message whose Message-ID / Idempotency-Key shows the resend for what it is)."""
    table = NotificationDelivery.__table__
    count = db.session.execute(table.update().where(
        table.c.state == "sending", table.c.claimed_at < now - CLAIM_LEASE).values(
        state="failed", next_attempt_at=None, queued_at=None,
        last_error="the sender stopped mid-send (worker killed?): sent again")).rowcount
    db.session.commit()
    return count


def due_delivery_ids(now: datetime, limit: int = 1000) -> list[int]:
    """Deliveries whose time has come: new ones whose job was lost, retries after their backoff."""
    d = NotificationDelivery
    query = select(d.id).where(
        d.state.in_(("pending", "failed")), or_(d.next_attempt_at.is_(None), d.next_attempt_at <= now),
        or_(d.queued_at.is_(None), d.queued_at < now - REQUEUE_AFTER))
    return list(db.session.execute(query.order_by(NotificationDelivery.id).limit(limit)).scalars())


def enqueue_deliveries(ids: list[int]) -> int:
    """Queue one job per delivery (after the caller's commit); a queue that is down leaves them for the
    minute tick (jobs.tasks.alerts_tick_job) to queue again."""
    if not ids:
        return 0
    app = current_app._get_current_object()
    table = NotificationDelivery.__table__
    db.session.execute(table.update().where(table.c.id.in_(ids)).values(queued_at=utcnow()))
    db.session.commit()
    try:
        queue = Queue(ALERT_QUEUE, connection=redis_connection(app),
                      is_async=not app.config["RQ_INLINE"])
        for delivery_id in ids:
            queue.enqueue_call(DELIVER_JOB, args=(delivery_id,), timeout=120, result_ttl=600,
                               failure_ttl=7 * 86400)
    except (redis.RedisError, OSError, QueueUnavailable) as exc:
        log.warning("could not queue %d deliveries (%s): the minute tick will", len(ids), exc)
        return 0
    return len(ids)
