"""External calendar links and the record of every sync attempt."""
from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import JSON, BigInteger, ForeignKey, Index, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from console.extensions import db
from console.timeutil import utcnow
from jobs.rules.risk import link_health

LINK_STATES = ("linked", "active", "paused")
SOURCES = ("airbnb", "vrbo", "booking", "google", "9flats", "holidaylettings", "ical", "kigo")


class CalendarLink(db.Model):
    """One external calendar (iCal URL or Kigo property) feeding blocks into a property."""

    __tablename__ = "calendar_links"
    # The dashboard's failing links, longest failing first, ties newest first (migration 0010).
    # SQLite AUTOINCREMENT: a deleted link's id is never given to a new link (migration 0015).
    # Active links by due time: the schedulers' and streaming batches' claims walk it (migration 0017).
    __table_args__ = (Index("ix_calendar_links_failing", "last_attempt_ok", "consecutive_failures", "id"),
                      Index("ix_calendar_links_due", "next_sync_at", "id",
                            postgresql_where=text("state = 'active'"), sqlite_where=text("state = 'active'")),
                      {"sqlite_autoincrement": True})
    id: Mapped[int] = mapped_column(primary_key=True)
    property_id: Mapped[int] = mapped_column(ForeignKey("properties.id"), index=True)
    source: Mapped[str] = mapped_column(String(20))
    url: Mapped[str | None] = mapped_column(Text)
    kigo_code: Mapped[str | None] = mapped_column(String(64))
    kigo_property_id: Mapped[int | None] = mapped_column(BigInteger)
    state: Mapped[str] = mapped_column(String(10), default="linked", index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    activated_at: Mapped[datetime | None]

    # Outcome of the last finished attempt.
    last_sync_at: Mapped[datetime | None]
    last_success_at: Mapped[datetime | None]
    last_attempt_ok: Mapped[bool | None]
    next_sync_at: Mapped[datetime | None] = mapped_column(index=True)
    consecutive_failures: Mapped[int] = mapped_column(default=0)
    last_error_kind: Mapped[str | None] = mapped_column(String(32))
    last_error_message: Mapped[str | None] = mapped_column(Text)
    last_error_http_status: Mapped[int | None]
    last_error_at: Mapped[datetime | None]
    warnings: Mapped[list] = mapped_column(JSON, default=list)
    ignored_events: Mapped[int] = mapped_column(default=0)
    ignored_detail: Mapped[list] = mapped_column(JSON, default=list)

    # Cheap re-fetching: conditional GET validators and the last body's hash.
    etag: Mapped[str | None] = mapped_column(String(256))
    last_modified: Mapped[str | None] = mapped_column(String(64))
    content_hash: Mapped[str | None] = mapped_column(String(64))
    # The property's day of the last full parse: an unchanged feed is parsed again each new day,
    # because its repeating events and the 18-month horizon move with the calendar.
    parsed_on: Mapped[date | None]
    # Suspicious-change guard and Kigo state.
    hold_state: Mapped[dict | None] = mapped_column(JSON)
    accept_next_change: Mapped[bool] = mapped_column(default=False)
    kigo_diff_id: Mapped[str | None] = mapped_column(String(64))
    kigo_instant_booking_raw: Mapped[str | None] = mapped_column(String(64))
    # A sync queued for this link and not yet recorded (migration 0014): the sweep of lost syncs
    # queues it again or records its outcome when its job is gone (Redis restarted empty, worker dead).
    sync_requested_at: Mapped[datetime | None] = mapped_column(index=True)
    sync_job_id: Mapped[str | None] = mapped_column(String(64))
    # The schedule by value (jobs/rules/sync_interval.py, migration 0016): the interval chosen at the last
    # read and why, the weight the fleet's budget is shared by, when a read last changed its blocks, and the
    # due time a scheduler claimed it at (its lateness is measured from there when its sync starts).
    sync_interval_seconds: Mapped[int | None]
    sync_interval_reason: Mapped[str | None] = mapped_column(Text)
    sync_weight: Mapped[float | None]
    last_changed_at: Mapped[datetime | None]
    due_at: Mapped[datetime | None]

    property: Mapped[Property] = relationship(back_populates="links")  # noqa: F821
    runs: Mapped[list[SyncRun]] = relationship(
        back_populates="link", cascade="all, delete-orphan", passive_deletes=True)

    def health(self, now: datetime, interval_minutes: int) -> str:
        """Health (docs/outcomes.md): never_synced, failing, stale (3 x interval) or ok."""
        return link_health(self.state, self.last_attempt_ok, self.last_sync_at,
                           self.last_success_at, now, interval_minutes)


class SyncRun(db.Model):
    """One sync attempt of one link: what it fetched and what it changed."""

    __tablename__ = "sync_runs"
    __table_args__ = (Index("ix_sync_runs_link_started", "link_id", "started_at"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    link_id: Mapped[int] = mapped_column(ForeignKey("calendar_links.id", ondelete="CASCADE"))
    started_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    finished_at: Mapped[datetime | None]
    outcome: Mapped[str | None] = mapped_column(String(16))
    http_status: Mapped[int | None]
    bytes: Mapped[int | None]
    events: Mapped[int | None]
    added: Mapped[int] = mapped_column(default=0)
    updated: Mapped[int] = mapped_column(default=0)
    removed: Mapped[int] = mapped_column(default=0)
    error_kind: Mapped[str | None] = mapped_column(String(32))
    error_message: Mapped[str | None] = mapped_column(Text)
    duration_ms: Mapped[int | None]
    lateness_ms: Mapped[int | None]  # a scheduled sync's wait past its due time (migration 0016)
    details: Mapped[dict | None] = mapped_column(JSON)  # codes added/updated/removed, held reason

    link: Mapped[CalendarLink] = relationship(back_populates="runs")
