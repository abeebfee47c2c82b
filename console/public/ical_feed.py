"""Our iCal export feed, public at a property's secret export_url, and the log of who reads it.

Choices:
- The feed holds the property's direct bookings and manual blocks, never EX- blocks (a platform importing it
  would echo our imports of its own calendar back), from stays that ended at most EXPORT_HISTORY_DAYS ago (in the
  property's zone) onwards: platforms only block future nights, and a month of history lets a person check what
  a platform saw recently, while the feed stays small.
- The token in the URL is the only credential. An unknown or rotated token gets the app's ordinary 404, the same
  answer as a path that does not exist, so the URL does not reveal whether a property exists.
- Conditional GET: a strong ETag (hash of the body) and `If-None-Match` -> 304. Last-Modified (the newest change
  of an exported stay) is sent, but `If-Modified-Since` alone never yields a 304: a deleted reservation leaves no
  timestamp behind, so a date comparison could keep a platform on a feed that still shows freed nights.
- Each read of the public URL is logged in ExportFetch with the platform told by its User-Agent, at most one row
  per (property, platform, UTC hour): the newest row of the current hour is updated instead, so a platform
  polling every minute writes 24 rows a day, not 1,440. A failure to log never fails the feed.
"""
from __future__ import annotations

import hashlib
import logging
import re
from collections import defaultdict
from collections.abc import Iterable
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from flask import Blueprint, Response, abort, request
from sqlalchemy import func, select
from sqlalchemy.exc import SQLAlchemyError

from console.extensions import db
from console.models import ExportFetch, Property, Reservation
from console.timeutil import iso, utcnow
from jobs.ical.export import ExportedStay, cached_export_calendar

ical_feed_bp = Blueprint("export", __name__)
log = logging.getLogger(__name__)

EXPORT_HISTORY_DAYS = 30
EXPORTED_ORIGINS = ("direct", "manual")
CACHE_CONTROL_MAX_AGE = 300
_TOKEN_SHAPE = re.compile(r"[A-Za-z0-9_-]{16,64}")

# First match wins; Google last, because other crawlers sometimes add "compatible; Googlebot" to their own name.
_PLATFORM_PATTERNS: tuple[tuple[str, re.Pattern], ...] = tuple(
    (platform, re.compile(pattern, re.IGNORECASE)) for platform, pattern in (
        ("airbnb", r"airbnb"),
        ("booking", r"booking\.com|\bbookingcom\b"),
        ("vrbo", r"vrbo|homeaway|abritel|fewo-?direkt|stayz|bookabach"),
        ("holidaylettings", r"tripadvisor|holiday-?lettings|flipkey"),
        ("kigo", r"\bkigo\b"),
        ("9flats", r"9flats"),
        ("google", r"google"),
    ))
PLATFORM_LABELS = {
    "airbnb": "Airbnb", "booking": "Booking.com", "vrbo": "Vrbo/HomeAway", "google": "Google",
    "holidaylettings": "TripAdvisor/HolidayLettings", "kigo": "Kigo", "9flats": "9flats",
    "other": "Another client", "unknown": "A client without a User-Agent",
}


def platform_from_user_agent(user_agent: str | None) -> str:
    """The platform reading our feed, from its User-Agent: a source name, `other` or `unknown`."""
    if not user_agent or not user_agent.strip():
        return "unknown"
    for platform, pattern in _PLATFORM_PATTERNS:
        if pattern.search(user_agent):
            return platform
    return "other"


def exported_stays(prop: Property, today: date | None = None) -> tuple[ExportedStay, ...]:
    """The stays the feed shows, in one query on the (property, dates) index."""
    today = today or datetime.now(ZoneInfo(prop.timezone)).date()
    cutoff = today - timedelta(days=EXPORT_HISTORY_DAYS)
    rows = db.session.execute(
        select(Reservation.code, Reservation.check_in, Reservation.check_out,
               Reservation.updated_at, Reservation.created_at)
        .where(Reservation.property_id == prop.id, Reservation.origin.in_(EXPORTED_ORIGINS),
               Reservation.check_out > cutoff)
        .order_by(Reservation.check_in, Reservation.code))
    return tuple(ExportedStay(code, check_in, check_out, updated_at or created_at)
                 for code, check_in, check_out, updated_at, created_at in rows)


def feed_response(prop: Property) -> Response:
    """The property's calendar as text/calendar, or 304 when the client's ETag is current."""
    stays = exported_stays(prop)
    body = cached_export_calendar(prop.name, stays)
    etag = hashlib.sha256(body).hexdigest()[:32]
    # Weak comparison, as RFC 9110 asks for If-None-Match (a gzipping proxy may have weakened our tag).
    not_modified = request.if_none_match.contains_weak(etag)
    resp = Response(b"" if not_modified else body, status=304 if not_modified else 200,
                    content_type="text/calendar; charset=utf-8")
    resp.set_etag(etag)
    resp.last_modified = max((s.changed_at for s in stays), default=prop.created_at)
    resp.cache_control.private = True
    resp.cache_control.max_age = CACHE_CONTROL_MAX_AGE
    return resp


def record_export_fetch(property_id: int, user_agent: str | None, remote_addr: str | None,
                        now: datetime | None = None) -> ExportFetch:
    """Log one read of the feed: update this hour's row for the platform, or add one; commits."""
    now = now or utcnow()
    platform = platform_from_user_agent(user_agent)
    hour = now.replace(minute=0, second=0, microsecond=0)
    row = db.session.execute(
        select(ExportFetch).where(ExportFetch.property_id == property_id,
                                  ExportFetch.platform == platform, ExportFetch.fetched_at >= hour)
        .order_by(ExportFetch.fetched_at.desc(), ExportFetch.id.desc()).limit(1)).scalar_one_or_none()
    if row is None:
        row = ExportFetch(property_id=property_id, platform=platform)
        db.session.add(row)
    row.fetched_at = max(now, row.fetched_at or now)
    row.user_agent = user_agent[:500] if user_agent else None  # the column's size
    row.remote_addr = remote_addr[:64] if remote_addr else None
    db.session.commit()
    return row


def export_reads_by_property(property_ids: Iterable[int]) -> dict[int, list[dict]]:
    """For each property, when each platform last read its feed (newest first), in one query."""
    ids = list(property_ids)
    if not ids:
        return {}
    rows = db.session.execute(
        select(ExportFetch.property_id, ExportFetch.platform, func.max(ExportFetch.fetched_at))
        .where(ExportFetch.property_id.in_(ids))
        .group_by(ExportFetch.property_id, ExportFetch.platform))
    reads: dict[int, list[tuple[datetime, str]]] = defaultdict(list)
    for property_id, platform, last_read_at in rows:
        reads[property_id].append((last_read_at, platform or "unknown"))
    return {pid: [{"platform": platform, "label": PLATFORM_LABELS.get(platform, platform),
                   "last_read_at": iso(at)}
                  for at, platform in sorted(reads.get(pid, []), reverse=True)] for pid in ids}


def export_reads(property_id: int) -> list[dict]:
    """[{platform, label, last_read_at}] for one property, the most recent reader first."""
    return export_reads_by_property([property_id])[property_id]


def property_for_token(token: str) -> Property | None:
    """The property whose current export token this is (tokens of the wrong shape never reach the database)."""
    if not _TOKEN_SHAPE.fullmatch(token):
        return None
    return db.session.execute(select(Property).filter_by(export_token=token)).scalar_one_or_none()


@ical_feed_bp.get("/export/<token>/calendar.ics")
def public_feed(token: str):
    """The feed platforms import: the token in the URL is the credential."""
    prop = property_for_token(token)
    if prop is None:
        abort(404)
    resp = feed_response(prop)
    resp.headers["X-Robots-Tag"] = "noindex, nofollow"  # a leaked secret URL should not be searchable
    try:
        record_export_fetch(prop.id, request.headers.get("User-Agent"), request.remote_addr)
    except SQLAlchemyError:
        # The platform must get our calendar even when the log cannot be written (e.g. a locked database).
        db.session.rollback()
        log.warning("could not log an export read of property %s", prop.id, exc_info=True)
    return resp
