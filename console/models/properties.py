"""Owners and their properties."""
from __future__ import annotations

import secrets
from datetime import datetime

from sqlalchemy import JSON, Computed, ForeignKey, Index, String, event
from sqlalchemy.orm import Mapped, mapped_column, relationship

from console.extensions import db
from console.models.text_keys import NAME_KEY_MAX, SEARCH_KEY_MAX, fold, name_key, search_key
from console.timeutil import utcnow
from jobs.rules.risk import property_health

# jobs.rules.risk.LEVELS as numbers, in SQL (a generated column must name its values).
RISK_RANK_SQL = "CASE risk_level WHEN 'low' THEN 1 WHEN 'medium' THEN 2 WHEN 'high' THEN 3 ELSE 0 END"


class Owner(db.Model):
    """A property owner, known by email; the score is about owners' records."""

    __tablename__ = "owners"
    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    name: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # The e-mail folded (no case, no accents) for the property search; kept by the hook below.
    email_key: Mapped[str] = mapped_column(String(254), default="")
    properties: Mapped[list[Property]] = relationship(back_populates="owner")


class Property(db.Model):
    """A rental property on Only-apartments, with its external calendar links."""

    __tablename__ = "properties"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), index=True)
    owner_id: Mapped[int] = mapped_column(ForeignKey("owners.id"), index=True)
    timezone: Mapped[str] = mapped_column(String(64), default="Europe/Madrid")
    instant_booking: Mapped[bool] = mapped_column(default=True)
    external_ref: Mapped[str | None] = mapped_column(String(120), unique=True)
    city: Mapped[str | None] = mapped_column(String(120))
    export_token: Mapped[str] = mapped_column(
        String(64), unique=True, default=lambda: secrets.token_urlsafe(24))
    # Written by the risk job so lists can filter without recomputing.
    risk_level: Mapped[str] = mapped_column(String(8), default="none", index=True)
    # The level as a number (none 0 ... high 3) for orders, computed by the database from risk_level
    # whoever writes it (the ORM, the risk passes' bulk updates): never out of step.
    risk_rank: Mapped[int] = mapped_column(Computed(RISK_RANK_SQL, persisted=True))
    risk_factors: Mapped[list] = mapped_column(JSON, default=list)
    risk_computed_at: Mapped[datetime | None]
    # A copy of the newest score snapshot (by computed_at, then id), kept by every snapshot insert
    # (console/models/bookings.py, jobs/sync/property_state.py): the ranking pull reads the fleet in one
    # range scan of this table.
    # A plain integer, not a foreign key: score_snapshots already points here, and a cycle of keys
    # would need deferred constraints on every backend.
    score_snapshot_id: Mapped[int | None]
    score_value: Mapped[int | None] = mapped_column(index=True)  # the managers' score spread
    score_components: Mapped[dict | None] = mapped_column(JSON)
    score_computed_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # Kept by the ORM hooks below (and by every bulk writer, with the same functions): a search
    # without case or accents, a natural order of names, on SQLite and PostgreSQL alike.
    search_key: Mapped[str] = mapped_column(String(SEARCH_KEY_MAX), default="")
    # Byte order ("C") on PostgreSQL, as SQLite compares: a locale collation skips spaces and
    # punctuation, which would put "Flat 5b" among other names than on SQLite.
    name_key: Mapped[str] = mapped_column(
        String(NAME_KEY_MAX).with_variant(String(NAME_KEY_MAX, collation="C"), "postgresql"),
        default="", index=True)
    # Sellable nights of the next 30 days a failing, stale or never-synced link (or a held change)
    # leaves unprotected; 0 when every link is well. Kept by the risk passes (jobs/sync/property_state.py).
    exposure_nights: Mapped[int] = mapped_column(default=0, server_default="0", index=True)

    owner: Mapped[Owner] = relationship(back_populates="properties")
    links: Mapped[list[CalendarLink]] = relationship(  # noqa: F821
        back_populates="property", order_by="CalendarLink.id", cascade="all, delete-orphan")

    def health(self, now: datetime, interval_minutes: int) -> str:
        """The worst health of this property's links; `none` without links."""
        return property_health([link.health(now, interval_minutes) for link in self.links])


# The list's default order (nights at stake, then risk, then natural name, then id) read straight from
# this index: its first page costs the same at 1,000 and 100,000 properties (migration 0010).
Index("ix_properties_attention", Property.exposure_nights.desc(), Property.risk_rank.desc(),
      Property.name_key, Property.id)


@event.listens_for(Property, "before_insert")
@event.listens_for(Property, "before_update")
def _keep_text_keys(_mapper, _connection, prop: Property) -> None:
    """The folded search text and the sort key follow the name, city and reference."""
    prop.search_key = search_key(prop.name, prop.city, prop.external_ref)
    prop.name_key = name_key(prop.name)


@event.listens_for(Owner, "before_insert")
@event.listens_for(Owner, "before_update")
def _keep_email_key(_mapper, _connection, owner: Owner) -> None:
    """The folded e-mail follows the e-mail."""
    owner.email_key = fold(owner.email)[:254]
