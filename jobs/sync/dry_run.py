"""A link's test (`POST /links/<id>/test`, "Test" in the console, also before a link is saved): what a
sync would do now, storing nothing."""
from __future__ import annotations

from dataclasses import replace
from datetime import date

from flask import current_app
from sqlalchemy import select

from console.extensions import db
from console.models import CalendarLink, Reservation
from console.timeutil import local_today, utcnow
from jobs.rules.advice import advice_for
from jobs.rules.reconcile import guard_change
from jobs.sync.blocks import hold_from, reconcile_feed, stored_blocks
from jobs.sync.reading import LinkSnapshot, read_ical_link
from jobs.sync.runner import HORIZON_DAYS, fetch_settings, host_limiter, snapshot

IGNORED_SHOWN = 100


def dry_run_link(link: CalendarLink) -> dict:
    """Fetch and parse the link now and compare with its stored blocks; nothing is written."""
    config, today = current_app.config, local_today(link.property.timezone)
    # A full read: validators and the content hash would hide what the feed holds.
    snap = replace(snapshot(link, link.property.timezone), etag=None, last_modified=None,
                   content_hash=None, reuse_unchanged=False)
    if link.source == "kigo":
        from jobs.sync.kigo_reading import read_kigo_link
        reading = read_kigo_link(snap, config, today, HORIZON_DAYS)
    else:
        reading = read_ical_link(snap, fetch_settings(config), host_limiter(config), today,
                                 HORIZON_DAYS)
    return _answer(reading, link.source, stored_blocks(link.id), today, link.hold_state,
                   link.accept_next_change, direct_bookings(link.property_id, today))


def dry_run_url(property_id: int, timezone: str, url: str, source: str) -> dict:
    """What the first sync of a calendar address would do, before any link is stored."""
    config, today = current_app.config, local_today(timezone)
    snap = LinkSnapshot(link_id=0, property_id=property_id, source=source, url=url,
                        timezone=timezone, reuse_unchanged=False, today=today)
    reading = read_ical_link(snap, fetch_settings(config), host_limiter(config), today, HORIZON_DAYS)
    return _answer(reading, source, [], today, None, False, direct_bookings(property_id, today))


def direct_bookings(property_id: int, today) -> list[tuple[str, date, date]]:
    """The property's direct bookings not yet over, as (code, check_in, check_out)."""
    rows = db.session.execute(select(Reservation.code, Reservation.check_in, Reservation.check_out).where(
        Reservation.property_id == property_id, Reservation.origin == "direct",
        Reservation.check_out > today).order_by(Reservation.check_in, Reservation.code)).all()
    return [tuple(row) for row in rows]


def direct_overlaps(stays, direct: list[tuple[str, date, date]]) -> list[dict]:
    """Each (stay, direct booking) pair sharing a night: what Save would record as overbookings."""
    return [{"direct_code": code, "direct_check_in": d_in.isoformat(), "direct_check_out": d_out.isoformat(),
             "check_in": stay.check_in.isoformat(), "check_out": stay.check_out.isoformat(),
             "summary": stay.summary}
            for stay in stays for code, d_in, d_out in direct
            if stay.check_in < d_out and d_in < stay.check_out]


def _answer(reading, source: str, stored, today, hold_state, accepted: bool, direct=()) -> dict:
    """The test's answer: the read's error and advice, or what it would add, move and keep."""
    answer: dict = {"ok": reading.failure is None, "events_total": 0, "blocking": 0,
                    "direct_overlaps": [], "ignored": [], "warnings": [], "duration_ms": reading.duration_ms,
                    "http_status": reading.fetch.http_status if reading.fetch else None}
    if reading.failure is not None:
        failure = reading.failure
        answer["error"] = {"kind": failure.kind, "message": failure.message,
                           "http_status": failure.http_status,
                           "advice": advice_for(failure.kind, source, failure.http_status)}
    parsed = reading.parsed
    if parsed is None:
        return answer
    changes = reconcile_feed(stored, parsed, today)
    future = sum(1 for b in stored if b.check_out > today)
    # The link's own hold and staff acceptance: the answer is what a sync now would do.
    decision = guard_change(future, changes, today, hold_from(hold_state), utcnow(),
                            accepted_by_staff=accepted, feed_doubt=parsed.doubt)
    answer.update(
        events_total=parsed.events_total, blocking=len(parsed.stays),
        ignored=[_ignored(i) for i in parsed.ignored[:IGNORED_SHOWN]],
        warnings=[{"kind": w.kind, "message": w.message} for w in parsed.warnings],
        unreadable=[{"uid": e.uid, "summary": e.summary, "line": e.line, "reason": e.reason, "detail": e.detail}
                    for e in parsed.unreadable[:IGNORED_SHOWN]],
        would={"add": len(changes.added), "update": len(changes.updated),
               "remove": 0 if decision.hold else len(changes.removed),
               "keep": len(changes.unchanged), "hold": bool(decision.hold)},
        direct_overlaps=direct_overlaps(parsed.stays, list(direct)),
        stays=[{"uid": s.uid, "check_in": s.check_in.isoformat(),
                "check_out": s.check_out.isoformat(), "summary": s.summary}
               for s in parsed.stays[:200]])
    if decision.hold:
        answer["warnings"].append({"kind": "suspicious_empty", "message": decision.reason})
    return answer


def _ignored(event) -> dict:
    """An ignored event as the test shows it: its title, why, and its nights when known."""
    item = {"summary": event.summary, "reason": event.reason}
    check_in, check_out = getattr(event, "check_in", None), getattr(event, "check_out", None)
    if check_in and check_out:
        item.update(check_in=check_in.isoformat(), check_out=check_out.isoformat())
    return item
