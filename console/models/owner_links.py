"""The owner status link: one secret address per property that shows its owner the calendars' state."""
from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from datetime import datetime

from sqlalchemy import ForeignKey, String, select
from sqlalchemy.orm import Mapped, mapped_column

from console.extensions import db
from console.timeutil import utcnow

STATUS_PATH = "/owner-status/"


def owner_token(secret_key: str, property_id: int, nonce: str) -> str:
    """The token in the owner's URL: derived from the app's secret, so only its hash and a nonce are stored
    and the alert e-mails can still carry the same address."""
    mac = hmac.new(secret_key.encode(), f"owner-status:{property_id}:{nonce}".encode(), hashlib.sha256)
    return base64.urlsafe_b64encode(mac.digest()).decode().rstrip("=")


def hash_owner_token(token: str) -> str:
    """What the database keeps of a token (a long random token: SHA-256 is enough)."""
    return hashlib.sha256(token.encode()).hexdigest()


class OwnerStatusLink(db.Model):
    """A property's owner status address; a new one ends the old (ended_at), which then answers 404."""

    __tablename__ = "owner_status_links"
    id: Mapped[int] = mapped_column(primary_key=True)
    property_id: Mapped[int] = mapped_column(ForeignKey("properties.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    nonce: Mapped[str] = mapped_column(String(32))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    created_by: Mapped[str | None] = mapped_column(String(254))
    ended_at: Mapped[datetime | None]

    def token(self, secret_key: str) -> str:
        """The clear token (derived again from the secret: never stored)."""
        return owner_token(secret_key, self.property_id, self.nonce)

    def url(self, base_url: str, secret_key: str) -> str:
        """The address the owner opens."""
        return f"{base_url.rstrip('/')}{STATUS_PATH}{self.token(secret_key)}"

    @classmethod
    def current(cls, property_id: int) -> OwnerStatusLink | None:
        """The property's live status link, if it has one."""
        return db.session.execute(select(cls).where(cls.property_id == property_id, cls.ended_at.is_(None))
                                  .order_by(cls.id.desc()).limit(1)).scalar_one_or_none()

    @classmethod
    def open_new(cls, property_id: int, secret_key: str, created_by: str | None,
                 now: datetime | None = None) -> OwnerStatusLink:
        """End the property's live link (if any) and add a new one, in the caller's transaction."""
        now = now or utcnow()
        for old in db.session.execute(select(cls).where(cls.property_id == property_id,
                                                        cls.ended_at.is_(None))).scalars():
            old.ended_at = now
        nonce = secrets.token_hex(16)
        row = cls(property_id=property_id, nonce=nonce, created_at=now, created_by=created_by,
                  token_hash=hash_owner_token(owner_token(secret_key, property_id, nonce)))
        db.session.add(row)
        return row

    @classmethod
    def find_live(cls, token: str) -> OwnerStatusLink | None:
        """The live link of a clear token; None for an ended, forged or malformed one."""
        if not token or len(token) > 64:
            return None
        return db.session.execute(select(cls).where(cls.token_hash == hash_owner_token(token),
                                                    cls.ended_at.is_(None))).scalar_one_or_none()
