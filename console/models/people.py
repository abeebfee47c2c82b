"""Console users and API tokens, with their roles."""
from __future__ import annotations

import hashlib
import secrets
from datetime import datetime

from flask_login import UserMixin
from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column
from werkzeug.security import check_password_hash, generate_password_hash

from console.extensions import db
from console.timeutil import utcnow

ROLES = ("viewer", "staff", "admin")


def role_at_least(role: str, needed: str) -> bool:
    """True when `role` grants everything `needed` grants."""
    return ROLES.index(role) >= ROLES.index(needed)


class User(UserMixin, db.Model):
    """A person who logs into the console."""

    __tablename__ = "users"
    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    password_hash: Mapped[str] = mapped_column(String(256))
    role: Mapped[str] = mapped_column(String(16), default="viewer")
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # Part of the login cookie: logging out bumps it, so a cookie copied before stops working.
    session_version: Mapped[int] = mapped_column(default=0, server_default="0")
    # Staff and admins hear the staff audience's alerts at this address: immediate, hourly, daily or off.
    alert_digest_mode: Mapped[str] = mapped_column(String(10), default="immediate", server_default="immediate")

    @property
    def is_active(self) -> bool:  # Flask-Login refuses inactive users
        return self.active

    def set_password(self, password: str) -> None:
        """Store a salted hash of the password, never the password."""
        self.password_hash = generate_password_hash(password)

    def check_password(self, password: str) -> bool:
        """True when the password matches the stored hash."""
        return check_password_hash(self.password_hash, password)

    def can(self, needed: str) -> bool:
        """True when this user's role reaches `needed`."""
        return role_at_least(self.role, needed)

    def get_id(self) -> str:
        """The session's user id with its session version (see console.signin.auth.load_user)."""
        return f"{self.id}:{self.session_version or 0}"


def hash_token(token: str) -> str:
    """Tokens are long random strings, so a plain SHA-256 is enough (no brute force to slow down)."""
    return hashlib.sha256(token.encode()).hexdigest()


class ApiToken(db.Model):
    """A machine client's bearer token; only its hash is stored."""

    __tablename__ = "api_tokens"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(120))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    role: Mapped[str] = mapped_column(String(16), default="viewer")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_used_at: Mapped[datetime | None]
    revoked: Mapped[bool] = mapped_column(default=False)
    expires_at: Mapped[datetime | None]  # none: valid until revoked

    @classmethod
    def issue(cls, name: str, role: str) -> tuple[ApiToken, str]:
        """Create a token row and return it with the clear token, which is shown once."""
        clear = "csc_" + secrets.token_urlsafe(32)
        return cls(name=name, role=role, token_hash=hash_token(clear)), clear

    @classmethod
    def find(cls, clear: str) -> ApiToken | None:
        """The token matching a clear token, if any (revoked and expired ones too: see `live`)."""
        return db.session.execute(
            db.select(cls).filter_by(token_hash=hash_token(clear))).scalar_one_or_none()

    def live(self, now: datetime) -> bool:
        """Not revoked and not past its expiry."""
        return not self.revoked and (self.expires_at is None or now < self.expires_at)
