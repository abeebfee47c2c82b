"""Objects as the API's JSON (docs/api.md): property, link, sync run, reservation, overbooking, score."""
from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from flask import current_app
from sqlalchemy import func

from console.extensions import db
from console.models import CalendarLink, Overbooking, Property, Reservation, ScoreSnapshot, SyncRun
from console.public.ical_feed import export_reads_by_property
from console.timeutil import iso, utcnow
from jobs.rules.advice import advice_for
from jobs.rules.score import explain_change, with_moments


def _interval() -> int:
    return current_app.config["SYNC_INTERVAL_MINUTES"]


def export_url(prop: Property) -> str:
    """The secret address platforms import our calendar from."""
    return f"{current_app.config['PUBLIC_BASE_URL']}/export/{prop.export_token}/calendar.ics"


def block_counts(link_ids: Iterable[int]) -> dict[int, int]:
    """Number of EX- blocks per link, in one query."""
    ids = list(link_ids)
    if not ids:
        return {}
    rows = db.session.execute(
        db.select(Reservation.link_id, func.count()).where(
            Reservation.link_id.in_(ids), Reservation.origin == "external")
        .group_by(Reservation.link_id))
    return {link_id: n for link_id, n in rows}


def link_json(link: CalendarLink, now: datetime | None = None, blocks: int | None = None) -> dict:
    """A link as the API shows it."""
    now = now or utcnow()
    if blocks is None:
        blocks = block_counts([link.id]).get(link.id, 0)
    last_error = None
    if link.last_error_kind:
        last_error = {"kind": link.last_error_kind, "message": link.last_error_message,
                      "http_status": link.last_error_http_status,
                      "advice": advice_for(link.last_error_kind, link.source,
                                           link.last_error_http_status),
                      "at": iso(link.last_error_at)}
    body = {
        "id": link.id, "property_id": link.property_id, "source": link.source, "url": link.url,
        "state": link.state, "health": link.health(now, _interval()),
        "last_sync_at": iso(link.last_sync_at), "last_success_at": iso(link.last_success_at),
        "next_sync_at": iso(link.next_sync_at),
        # The schedule by value (docs/schedule.md): the interval chosen at its last read, and why.
        "sync_interval_seconds": link.sync_interval_seconds, "sync_interval_reason": link.sync_interval_reason,
        "consecutive_failures": link.consecutive_failures, "last_error": last_error,
        "warnings": [{"kind": w.get("kind"), "message": w.get("message")}
                     for w in (link.warnings or [])],
        "blocks": blocks, "ignored_events": link.ignored_events or 0,
        "created_at": iso(link.created_at),
    }
    if link.source == "kigo":
        body.update(kigo_code=link.kigo_code, kigo_property_id=link.kigo_property_id,
                    kigo_instant_booking_raw=link.kigo_instant_booking_raw)
    return body


def score_history_items(property_id: int, limit: int) -> list[dict]:
    """A property's newest snapshots, newest first, each with the reasons it differs from the one
    before (one extra, older snapshot is read so that the oldest one shown is explained too)."""
    snaps = db.session.execute(db.select(ScoreSnapshot).filter_by(property_id=property_id)
                               .order_by(ScoreSnapshot.computed_at.desc(), ScoreSnapshot.id.desc())
                               .limit(limit + 1)).scalars().all()
    items = []
    for index, snap in enumerate(snaps[:limit]):
        before = snaps[index + 1] if index + 1 < len(snaps) else None
        items.append({"id": snap.id, "value": snap.score,
                      "components": with_moments(snap.components, snap.computed_at),
                      "computed_at": iso(snap.computed_at),
                      "previous_value": before.score if before else None,
                      "reasons": explain_change(before.components if before else None,
                                                snap.components or {})})
    return items


def score_json(prop: Property) -> dict | None:
    """A property's newest score (the copy on its row) as {value, components, computed_at}."""
    if prop.score_computed_at is None:
        return None
    return {"value": prop.score_value,
            "components": with_moments(prop.score_components, prop.score_computed_at),
            "computed_at": iso(prop.score_computed_at)}


def properties_json(props: list[Property], *, secrets: bool = False) -> list[dict]:
    """Many properties, with their links, block counts and export reads in a few queries (load
    their owners and links with the list: see console.queries.property_filters.with_relations)."""
    now = utcnow()
    counts = block_counts(link.id for p in props for link in p.links)
    reads = export_reads_by_property(p.id for p in props)
    return [property_json(p, now=now, counts=counts, reads=reads.get(p.id, []), secrets=secrets)
            for p in props]


def property_json(prop: Property, *, now: datetime | None = None, counts: dict | None = None,
                  reads: list | None = None, secrets: bool = False) -> dict:
    """A property as the API shows it; its export_url (the feed's secret) only with `secrets`
    (staff and admin), else null."""
    now = now or utcnow()
    if reads is None:
        reads = export_reads_by_property([prop.id]).get(prop.id, [])
    if counts is None:
        counts = block_counts(link.id for link in prop.links)
    return {
        "id": prop.id, "name": prop.name, "owner_email": prop.owner.email,
        "timezone": prop.timezone, "instant_booking": prop.instant_booking,
        "external_ref": prop.external_ref, "city": prop.city,
        "export_url": export_url(prop) if secrets else None,
        "health": prop.health(now, _interval()),
        "links": [link_json(link, now, counts.get(link.id, 0)) for link in prop.links],
        "risk": {"level": prop.risk_level or "none", "factors": prop.risk_factors or [],
                 "computed_at": iso(prop.risk_computed_at)},
        "score": score_json(prop),
        "export_reads": reads,
        "created_at": iso(prop.created_at),
    }


def run_json(run: SyncRun) -> dict:
    """A sync run as the API shows it."""
    return {
        "id": run.id, "link_id": run.link_id, "started_at": iso(run.started_at),
        "finished_at": iso(run.finished_at), "outcome": run.outcome,
        "http_status": run.http_status, "bytes": run.bytes, "events": run.events,
        "added": run.added, "updated": run.updated, "removed": run.removed,
        "error_kind": run.error_kind, "error_message": run.error_message,
        "duration_ms": run.duration_ms, "details": run.details or {},
    }


def reservation_json(res: Reservation) -> dict:
    """A reservation (or EX- block) as the API shows it."""
    return {
        "code": res.code, "origin": res.origin, "link_id": res.link_id,
        "check_in": res.check_in.isoformat(), "check_out": res.check_out.isoformat(),
        "summary": res.summary, "guest_name": res.guest_name, "created_at": iso(res.created_at),
    }


def overbooking_json(ob: Overbooking) -> dict:
    """An overbooking with its evidence and attribution."""
    return {
        "id": ob.id, "property_id": ob.property_id, "direct_code": ob.direct_code,
        "external_code": ob.external_code, "first_night": ob.first_night.isoformat(),
        "last_night": ob.last_night.isoformat(), "nights": ob.nights,
        "detected_at": iso(ob.detected_at), "link_id": ob.link_id, "sync_run_id": ob.sync_run_id,
        "link_health_at_detection": ob.link_health_at_detection,
        "counts_against_owner": ob.counts_against_owner, "attribution": ob.attribution,
        "state": ob.state, "resolved_at": iso(ob.resolved_at), "resolved_by": ob.resolved_by,
        "resolution_note": ob.resolution_note,
    }
