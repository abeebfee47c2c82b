"""API: reward scores for the ranking service (incremental, cursor-paged) and a property's history."""
from __future__ import annotations

import re
from datetime import datetime, timezone

from flask import jsonify, request
from sqlalchemy import select
from sqlalchemy.orm import aliased

from console.api import api_bp
from console.api.properties import get_property
from console.api.validate import invalid, query_int
from console.extensions import db
from console.models import Property, ScoreSnapshot
from console.timeutil import iso
from jobs.score import explain_change

PAGE_SIZE = 1000
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
    newer = aliased(ScoreSnapshot)
    # Walk properties in id order and fetch each one's newest snapshot id from the (property_id,
    # computed_at) index: the work is proportional to the page, never to the whole history.
    newest_id = (select(newer.id).where(newer.property_id == Property.id)
                 .order_by(newer.computed_at.desc(), newer.id.desc()).limit(1).scalar_subquery())
    query = (select(ScoreSnapshot, Property.external_ref).select_from(Property)
             .join(ScoreSnapshot, ScoreSnapshot.id == newest_id).where(Property.id > after_id))
    if since is not None:
        query = query.where(ScoreSnapshot.computed_at > since)
    return db.session.execute(query.order_by(Property.id).limit(limit)).all()


@api_bp.get("/scores")
def list_scores():
    """Newest score per property computed after ?updated_since=, paged by ?after_id= (a property id)."""
    since = parse_utc(request.args.get("updated_since"), "updated_since")
    after_id = query_int("after_id", 0, minimum=0, maximum=2**63 - 1)
    per_page = query_int("per_page", PAGE_SIZE, maximum=5000)
    rows = latest_scores_page(since, after_id, per_page)
    items = [{"property_id": snap.property_id, "external_ref": ref, "score": snap.score,
              "components": snap.components, "computed_at": iso(snap.computed_at)}
             for snap, ref in rows]
    # A full page may have more behind it; the client passes next_after_id back until it is null.
    next_after = items[-1]["property_id"] if len(items) == per_page else None
    return jsonify(items=items, next_after_id=next_after, per_page=per_page)


@api_bp.get("/properties/<int:property_id>/score/history")
def score_history(property_id: int):
    """A property's snapshots, newest first, each with the reasons it differs from the one before."""
    prop = get_property(property_id)
    limit = query_int("limit", HISTORY_SIZE, maximum=1000)
    # One extra, older snapshot explains the oldest one shown.
    snaps = db.session.execute(select(ScoreSnapshot).filter_by(property_id=prop.id)
                               .order_by(ScoreSnapshot.computed_at.desc(), ScoreSnapshot.id.desc())
                               .limit(limit + 1)).scalars().all()
    items = []
    for index, snap in enumerate(snaps[:limit]):
        before = snaps[index + 1] if index + 1 < len(snaps) else None
        items.append({"value": snap.score, "components": snap.components,
                      "computed_at": iso(snap.computed_at),
                      "previous_value": before.score if before else None,
                      "reasons": explain_change(before.components if before else None,
                                                snap.components)})
    return jsonify(property_id=prop.id, items=items)
