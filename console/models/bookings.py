"""Reservations (direct, manual, external blocks), overbookings, score snapshots, export reads."""
from __future__ import annotations

import secrets
from datetime import date, datetime

from sqlalchemy import (
    JSON,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    and_,
    bindparam,
    event,
    or_,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from console.extensions import db
from console.timeutil import utcnow

ORIGINS = ("external", "direct", "manual")
_CODE_PREFIX = {"external": "EX-", "direct": "OA-", "manual": "MB-"}
# Crockford-style alphabet: no 0/O or 1/I/L to confuse on the phone with an owner.
_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"


def new_reservation_code(origin: str) -> str:
    """A fresh, hard-to-guess reservation code; external codes start with EX-."""
    return _CODE_PREFIX[origin] + "".join(secrets.choice(_ALPHABET) for _ in range(10))


class Reservation(db.Model):
    """A stay on a property: direct booking, owner's manual block, or an external block (EX-)."""

    __tablename__ = "reservations"
    __table_args__ = (
        Index("ix_reservations_property_dates", "property_id", "check_in", "check_out"),
        Index("ix_reservations_link_uid", "link_id", "external_uid"),
        # Direct bookings by the day they were made, with what the rates count (migration 0018): the
        # managers' rates read only the range's direct bookings, from the index alone.
        Index("ix_reservations_direct_made", "created_at", "property_id", "check_in", "check_out",
              postgresql_where=text("origin = 'direct'"), sqlite_where=text("origin = 'direct'")),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(20), unique=True)
    property_id: Mapped[int] = mapped_column(ForeignKey("properties.id"))
    origin: Mapped[str] = mapped_column(String(10))
    link_id: Mapped[int | None] = mapped_column(
        ForeignKey("calendar_links.id", ondelete="SET NULL"))
    check_in: Mapped[date]
    check_out: Mapped[date]
    external_uid: Mapped[str | None] = mapped_column(String(512))
    summary: Mapped[str | None] = mapped_column(String(500))
    guest_name: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    # When the row was created or a sync last moved its check-in/check-out (jobs/sync/blocks.py):
    # unlike updated_at, not touched by UID or summary rewrites, so it dates when we first held these
    # nights (overbooking blame).
    dates_changed_at: Mapped[datetime] = mapped_column(default=utcnow)

    property: Mapped[Property] = relationship()  # noqa: F821


class Overbooking(db.Model):
    """The same nights sold twice: a direct booking over an external block, recorded once."""

    __tablename__ = "overbookings"
    __table_args__ = (UniqueConstraint("direct_code", "external_code"),
                      Index("ix_overbookings_direct_stay", "direct_code", "external_uid"))
    id: Mapped[int] = mapped_column(primary_key=True)
    property_id: Mapped[int] = mapped_column(ForeignKey("properties.id"), index=True)
    # Codes, not foreign keys: the evidence must outlive a deleted block or booking.
    direct_code: Mapped[str] = mapped_column(String(20))
    external_code: Mapped[str] = mapped_column(String(20))
    # The stay's own identity (its UID; with link_source, unique per property): an EX- code is
    # new after a relink or when a stay leaves the feed and returns, the UID is not.
    external_uid: Mapped[str | None] = mapped_column(String(512))
    # Indexed: deleting a link or pruning a sync run looks up its overbookings (ON DELETE SET NULL).
    link_id: Mapped[int | None] = mapped_column(
        ForeignKey("calendar_links.id", ondelete="SET NULL"), index=True)
    sync_run_id: Mapped[int | None] = mapped_column(
        ForeignKey("sync_runs.id", ondelete="SET NULL"), index=True)
    first_night: Mapped[date]
    last_night: Mapped[date]
    nights: Mapped[int]
    detected_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    link_health_at_detection: Mapped[str | None] = mapped_column(String(16))
    link_source: Mapped[str | None] = mapped_column(String(20))
    counts_against_owner: Mapped[bool] = mapped_column(default=True)
    attribution: Mapped[str] = mapped_column(Text, default="")
    state: Mapped[str] = mapped_column(String(10), default="open")
    resolved_at: Mapped[datetime | None]
    resolved_by: Mapped[str | None] = mapped_column(String(254))
    resolution_note: Mapped[str | None] = mapped_column(Text)


class ScoreSnapshot(db.Model):
    """A property's reward score at one moment, with the components that explain it."""

    __tablename__ = "score_snapshots"
    __table_args__ = (Index("ix_score_snapshots_property_time", "property_id", "computed_at"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    property_id: Mapped[int] = mapped_column(ForeignKey("properties.id"))
    score: Mapped[int]
    components: Mapped[dict] = mapped_column(JSON, default=dict)
    computed_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)


def newest_score_update():
    """UPDATE copying a snapshot onto its property's row unless the row holds a newer one (by
    computed_at, then id: the order of every score reader); run with s_pid, s_id, s_value,
    s_components, s_at, one parameter set per snapshot."""
    from console.models.properties import Property
    table = Property.__table__
    at, snap_id = bindparam("s_at", type_=DateTime()), bindparam("s_id", type_=Integer())
    return table.update().where(
        table.c.id == bindparam("s_pid", type_=Integer()),
        or_(table.c.score_computed_at.is_(None), table.c.score_computed_at < at,
            and_(table.c.score_computed_at == at, table.c.score_snapshot_id < snap_id))
    ).values(score_snapshot_id=snap_id, score_value=bindparam("s_value", type_=Integer()),
             score_components=bindparam("s_components", type_=JSON()), score_computed_at=at)


def newest_score_params(snap_id: int, property_id: int, score: int, components, at) -> dict:
    """One parameter set of newest_score_update."""
    return {"s_pid": property_id, "s_id": snap_id, "s_value": score, "s_components": components,
            "s_at": at}


@event.listens_for(ScoreSnapshot, "after_insert")
def _copy_to_property(_mapper, connection, snap: ScoreSnapshot) -> None:
    # Every snapshot written through the ORM keeps the property's copy current; the nightly job's
    # bulk inserts run the same UPDATE for a whole batch at once.
    connection.execute(newest_score_update(), [newest_score_params(
        snap.id, snap.property_id, snap.score, snap.components, snap.computed_at)])


class ExportFetch(db.Model):
    """One read of a property's export feed by a platform: shows the reverse direction."""

    __tablename__ = "export_fetches"
    id: Mapped[int] = mapped_column(primary_key=True)
    property_id: Mapped[int] = mapped_column(ForeignKey("properties.id"), index=True)
    fetched_at: Mapped[datetime] = mapped_column(default=utcnow)
    user_agent: Mapped[str | None] = mapped_column(String(500))
    platform: Mapped[str | None] = mapped_column(String(32))
    remote_addr: Mapped[str | None] = mapped_column(String(64))
