"""API: reward scores for the ranking service (incremental, cursor-paged) and a property's history."""
from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone

from flask import current_app, jsonify, request
from sqlalchemy import select

from console.actions.properties import get_property
from console.api.blueprint import api_bp
from console.api.validate import invalid, query_int
from console.extensions import db
from console.models import Property, ScoreSnapshot
from console.serialize import newest_snapshot_id, score_history_items
from console.timeutil import iso, utcnow

PAGE_SIZE = 1000
# A snapshot's computed_at is when it was computed, not when it became visible: the nightly job
# commits every 100 properties (0.2 s of work measured on the embedded database; seconds on a
# loaded one, longer behind lock waits) while sync workers commit theirs in between, and
# computed_at comes from the worker's clock, the query time from the web server's. The watermark
# handed to the ranking service stays this far behind the start of its pass: the longest
# compute-to-commit delay plus clock skew, with a wide margin. The price: a pull re-sends the
# last 10 minutes' snapshots (cheap, and harmless: each item is the property's newest score).
# App config SCORES_WATERMARK_LAG_SECONDS overrides it.
WATERMARK_LAG = timedelta(minutes=10)
HISTORY_SIZE = 100
# "+00:00" arrives as " 00:00" when a client forgets to percent-encode the query string.
_UNENCODED_PLUS = re.compile(r" (\d\d:?\d\d)$")


def parse_utc(raw: str | None, field: str) -> datetime | None:
    """An ISO 8601 time as naive UTC (offsets converted; no offset means UTC), or a 422."""
    if raw is None or raw.strip() == "":
        return None
    value = _UNENCODED_PLUS.sub(r"+\1", raw.strip())
    try:
        moment = datetime.fromisoformat(value.replace("z", "Z"))
    except ValueError:
        raise invalid(field, f"{raw!r} is not an ISO 8601 time such as 2025-06-01T00:00:00Z") from None
    if moment.tzinfo is not None:
        moment = moment.astimezone(timezone.utc).replace(tzinfo=None)
    return moment


def latest_scores_page(since: datetime | None, after_id: int, limit: int):
    """One page of (snapshot, external_ref): each property's newest snapshot, by property id."""
    # Walk properties in id order, each one's newest snapshot found through the index.
    query = (select(ScoreSnapshot, Property.external_ref).select_from(Property)
             .join(ScoreSnapshot, ScoreSnapshot.id == newest_snapshot_id())
             .where(Property.id > after_id))
    if since is not None:
        query = query.where(ScoreSnapshot.computed_at > since)
    return db.session.execute(query.order_by(Property.id).limit(limit)).all()


def watermark_lag() -> timedelta:
    seconds = current_app.config.get("SCORES_WATERMARK_LAG_SECONDS")
    return WATERMARK_LAG if seconds is None else timedelta(seconds=float(seconds))


@api_bp.get("/scores")
def list_scores():
    """Newest score per property computed after ?updated_since=, paged by ?after_id= (a property id).

    Incremental pulls: pass back the last page's `next_updated_since` (a server watermark), never
    the largest computed_at seen, which would miss snapshots committed late with an older
    computed_at. Every page answers `as_of`, when the pass began; passing it back with `after_id`
    keeps the watermark anchored at the start of the pass, not of its last page.
    """
    started = utcnow()  # before the query: anything committed after it is caught by the next pull
    since = parse_utc(request.args.get("updated_since"), "updated_since")
    as_of = parse_utc(request.args.get("as_of"), "as_of")
    as_of = started if as_of is None else min(as_of, started)
    after_id = query_int("after_id", 0, minimum=0, maximum=2**63 - 1)
    per_page = query_int("per_page", PAGE_SIZE, maximum=5000)
    rows = latest_scores_page(since, after_id, per_page)
    items = [{"property_id": snap.property_id, "external_ref": ref, "score": snap.score,
              "components": snap.components, "computed_at": iso(snap.computed_at)}
             for snap, ref in rows]
    # A full page may have more behind it; the client passes next_after_id back until it is null.
    next_after = items[-1]["property_id"] if len(items) == per_page else None
    # iso() drops microseconds: the watermark can only move earlier (a repeat, never a miss).
    watermark = iso(as_of - watermark_lag()) if next_after is None else None
    return jsonify(items=items, next_after_id=next_after, per_page=per_page,
                   as_of=as_of.isoformat() + "Z", next_updated_since=watermark)


@api_bp.get("/properties/<int:property_id>/score/history")
def score_history(property_id: int):
    """A property's snapshots, newest first, each with the reasons it differs from the one before."""
    prop = get_property(property_id)
    items = score_history_items(prop.id, query_int("limit", HISTORY_SIZE, maximum=1000))
    return jsonify(property_id=prop.id, items=items)
