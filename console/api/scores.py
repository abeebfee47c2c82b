"""API: reward scores for the ranking service (incremental, cursor-paged) and a property's history."""
from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta

from flask import current_app, jsonify, request
from sqlalchemy import Text, cast, select

from console.actions.properties import get_property
from console.api.blueprint import api_bp
from console.api.validate import invalid, query_int
from console.extensions import db
from console.inputs import ID_MAX
from console.models import Property
from console.queries.serialize import score_history_items
from console.timeutil import iso, utcnow

PAGE_SIZE = 1000
# A snapshot's computed_at is when it was computed, not when it became visible: the nightly job
# commits every 2,000 properties (a fraction of a second of work; seconds on a loaded database,
# longer behind lock waits) while sync workers commit theirs in between, and
# computed_at comes from the worker's clock, the query time from the web server's. The watermark
# handed to the ranking service stays this far behind the start of its pass: the longest
# compute-to-commit delay plus clock skew, with a wide margin. The price: a pull re-sends the
# last 10 minutes' snapshots (cheap, and harmless: each item is the property's newest score).
# The lag is SCORES_WATERMARK_LAG_SECONDS (config.py), 600 by default.
HISTORY_SIZE = 100
# No score is older; and the watermark, minutes before as_of, must stay a valid time (0001-01-01
# minus 10 minutes is not one): earlier times are refused with a 422, never a 500.
EARLIEST = datetime(2000, 1, 1)
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
    try:
        if moment.tzinfo is not None:
            moment = moment.astimezone(UTC).replace(tzinfo=None)
    except OverflowError:
        raise invalid(field, f"{raw!r} is out of range") from None
    if moment < EARLIEST:
        raise invalid(field, f"{raw!r} is before {EARLIEST.year}")
    return moment


def latest_scores_page(since: datetime | None, after_id: int, limit: int):
    """One page of (property id, external_ref, score, components as JSON text, computed_at): each
    property's newest score, by property id."""
    # The newest score is kept on the property's row (console.models.bookings): one range scan of
    # the primary key per page, and the components are passed on as the JSON text they are stored as.
    query = (select(Property.id, Property.external_ref, Property.score_value,
                    cast(Property.score_components, Text), Property.score_computed_at)
             .where(Property.id > after_id, Property.score_computed_at.is_not(None)))
    if since is not None:
        query = query.where(Property.score_computed_at > since)
    return db.session.execute(query.order_by(Property.id).limit(limit)).all()


def _item(prop_id: int, ref: str | None, score: int, components: str | None, at: datetime) -> str:
    """One item as JSON text, written without an object per item (the whole fleet is 40,000)."""
    return (f'{{"property_id":{prop_id},"external_ref":{json.dumps(ref)},"score":{score},'
            f'"components":{components or "{}"},"computed_at":"{iso(at)}"}}')


def watermark_lag() -> timedelta:
    """How far the handed-out watermark stays behind the start of a pass."""
    return timedelta(seconds=current_app.config["SCORES_WATERMARK_LAG_SECONDS"])


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
    # Property ids are 32-bit on every backend (ID_MAX): a larger cursor is refused, not sent to the database.
    after_id = query_int("after_id", 0, minimum=0, maximum=ID_MAX)
    per_page = query_int("per_page", PAGE_SIZE, maximum=5000)
    rows = latest_scores_page(since, after_id, per_page)
    # A full page may have more behind it; the client passes next_after_id back until it is null.
    next_after = rows[-1][0] if len(rows) == per_page else None
    # iso() drops microseconds: the watermark can only move earlier (a repeat, never a miss).
    watermark = iso(as_of - watermark_lag()) if next_after is None else None
    tail = json.dumps({"next_after_id": next_after, "per_page": per_page,
                       "as_of": as_of.isoformat() + "Z", "next_updated_since": watermark})
    body = '{"items":[' + ",".join(_item(*row) for row in rows) + "]," + tail[1:]
    return current_app.response_class(body, mimetype="application/json")


@api_bp.get("/properties/<int:property_id>/score/history")
def score_history(property_id: int):
    """A property's snapshots, newest first, each with the reasons it differs from the one before."""
    prop = get_property(property_id)
    items = score_history_items(prop.id, query_int("limit", HISTORY_SIZE, maximum=1000))
    return jsonify(property_id=prop.id, items=items)
