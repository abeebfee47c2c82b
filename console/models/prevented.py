"""Overbookings prevented at booking time: a fresh read turned an available stay unavailable."""
from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from console.extensions import db
from console.timeutil import utcnow


class PreventedOverbooking(db.Model):
    """One stay the stored blocks called available until a fresh read found it taken, recorded once."""

    __tablename__ = "prevented_overbookings"
    # Once per asked stay and block: the main site may ask again, or twice at the same time.
    __table_args__ = (UniqueConstraint("property_id", "check_in", "check_out", "external_code",
                                       name="uq_prevented_stay_block"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    property_id: Mapped[int] = mapped_column(ForeignKey("properties.id", ondelete="CASCADE"), index=True)
    link_id: Mapped[int | None] = mapped_column(ForeignKey("calendar_links.id", ondelete="SET NULL"),
                                                index=True)
    # Kept as text: the evidence outlives a deleted link (its source) or a block gone since.
    source: Mapped[str] = mapped_column(String(20))
    check_in: Mapped[date]
    check_out: Mapped[date]
    external_code: Mapped[str] = mapped_column(String(20))
    detected_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
