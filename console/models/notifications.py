"""Alerts: what was noticed (notifications), to whom and how it went (deliveries), per-link alert state,
provider incidents and the recipients staff configure."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from console.extensions import db
from console.timeutil import utcnow

CHANNELS = ("email", "slack", "webhook")
AUDIENCES = ("team", "staff", "tech", "managers", "owner")
DELIVERY_STATES = ("pending", "sending", "delivered", "failed", "dead", "kept", "digest", "batched")


class Notification(db.Model):
    """One thing noticed (a link failing, a held change, an incident...), with what is at stake."""

    __tablename__ = "notifications"
    __table_args__ = (Index("ix_notifications_kind_created", "kind", "created_at"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(32))
    urgent: Mapped[bool] = mapped_column(default=False)
    audience: Mapped[str] = mapped_column(String(16), default="team")
    title: Mapped[str] = mapped_column(String(300))
    body: Mapped[str] = mapped_column(Text, default="")
    advice: Mapped[str | None] = mapped_column(Text)
    owner_text: Mapped[str | None] = mapped_column(Text)  # plain words for the owner, when they are told
    property_id: Mapped[int | None] = mapped_column(
        ForeignKey("properties.id", ondelete="SET NULL"), index=True)
    link_id: Mapped[int | None] = mapped_column(
        ForeignKey("calendar_links.id", ondelete="SET NULL"), index=True)
    incident_id: Mapped[int | None] = mapped_column(ForeignKey("alert_incidents.id", ondelete="SET NULL"),
                                                    index=True)
    source: Mapped[str | None] = mapped_column(String(20))
    error_kind: Mapped[str | None] = mapped_column(String(32))
    # {"direct_bookings": n, "sellable_nights": n} over the next 30 days
    exposure: Mapped[dict | None] = mapped_column(JSON)
    details: Mapped[dict | None] = mapped_column(JSON)
    # One notification per noticed change: evaluating the same change twice stores it once.
    dedup_key: Mapped[str | None] = mapped_column(String(200), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)

    deliveries: Mapped[list[NotificationDelivery]] = relationship(
        back_populates="notification", cascade="all, delete-orphan", passive_deletes=True,
        order_by="NotificationDelivery.id", foreign_keys="NotificationDelivery.notification_id")


class NotificationDelivery(db.Model):
    """One notification to one recipient through one channel: its state, attempts and last error."""

    __tablename__ = "notification_deliveries"
    __table_args__ = (Index("ix_deliveries_state_next", "state", "next_attempt_at"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    notification_id: Mapped[int] = mapped_column(
        ForeignKey("notifications.id", ondelete="CASCADE"), index=True)
    channel: Mapped[str] = mapped_column(String(10))
    recipient: Mapped[str] = mapped_column(String(500))
    recipient_id: Mapped[int | None] = mapped_column(ForeignKey("alert_recipients.id", ondelete="SET NULL"),
                                                     index=True)
    audience: Mapped[str] = mapped_column(String(16), default="team")
    state: Mapped[str] = mapped_column(String(10), default="pending")
    # Sent along (Message-ID, Idempotency-Key): a resend after a crash is recognisable as the same message.
    idempotency_key: Mapped[str] = mapped_column(String(80), unique=True)
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[datetime | None]
    queued_at: Mapped[datetime | None]  # when a delivery job was last queued for it
    claimed_at: Mapped[datetime | None]
    delivered_at: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(Text)
    digest_id: Mapped[int | None] = mapped_column(ForeignKey("notifications.id", ondelete="SET NULL"),
                                                  index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    notification: Mapped[Notification] = relationship(back_populates="deliveries",
                                                      foreign_keys=[notification_id])


class LinkAlertState(db.Model):
    """What the alert rules remember of one link (jobs/rules/alerts.AlertState)."""

    __tablename__ = "link_alert_states"
    link_id: Mapped[int] = mapped_column(ForeignKey("calendar_links.id", ondelete="CASCADE"),
                                         primary_key=True)
    alerted: Mapped[bool] = mapped_column(default=False)
    last_ok: Mapped[bool | None]
    failing_since: Mapped[datetime | None]
    last_notice_at: Mapped[datetime | None]
    flips: Mapped[list] = mapped_column(JSON, default=list)
    flapping_since: Mapped[datetime | None]
    incident_id: Mapped[int | None] = mapped_column(ForeignKey("alert_incidents.id", ondelete="SET NULL"),
                                                    index=True)
    failure_notification_id: Mapped[int | None] = mapped_column(
        ForeignKey("notifications.id", ondelete="SET NULL"), index=True)


class AlertIncident(db.Model):
    """Many links of one source failing the same way (or our Kigo credentials refused): one alert."""

    __tablename__ = "alert_incidents"
    __table_args__ = (Index("ix_alert_incidents_open", "state", "source", "error_kind"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    source: Mapped[str] = mapped_column(String(20))
    error_kind: Mapped[str] = mapped_column(String(32))
    http_status: Mapped[int | None]
    state: Mapped[str] = mapped_column(String(10), default="open")
    opened_at: Mapped[datetime] = mapped_column(default=utcnow)
    first_failure_at: Mapped[datetime | None]
    resolved_at: Mapped[datetime | None]
    peak_links: Mapped[int] = mapped_column(default=0)


class AlertRecipient(db.Model):
    """A recipient staff added (besides ALERT_EMAIL_TO and the webhooks of the config)."""

    __tablename__ = "alert_recipients"
    id: Mapped[int] = mapped_column(primary_key=True)
    channel: Mapped[str] = mapped_column(String(10), default="email")
    address: Mapped[str] = mapped_column(String(500))
    audience: Mapped[str] = mapped_column(String(16), default="team")
    digest_mode: Mapped[str] = mapped_column(String(10), default="immediate")
    quiet_start_hour: Mapped[int | None]
    quiet_end_hour: Mapped[int | None]
    timezone: Mapped[str] = mapped_column(String(64), default="UTC")
    secret: Mapped[str | None] = mapped_column(String(200))  # webhook HMAC key
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class AlertSetting(db.Model):
    """A threshold an admin set in the console; without a row, the environment's value applies."""

    __tablename__ = "alert_settings"
    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str | None] = mapped_column(String(64))  # None: explicitly empty (e.g. no quiet hours)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_by: Mapped[str | None] = mapped_column(String(254))
