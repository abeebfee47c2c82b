"""Find and record overbookings in the database, once per (direct booking, external stay) pair.

Overlaps that are echoes of our own export feed (jobs/rules/detect.py is_echo: an "unavailable" block,
all of whose nights our direct bookings and manual blocks hold, that appeared after the direct booking)
are not recorded.
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import date, datetime

from flask import current_app
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from console.extensions import db
from console.models import CalendarLink, Overbooking, Reservation, SyncRun
from console.timeutil import utcnow
from jobs.rules.detect import (
    Attribution,
    DirectBooking,
    ExternalBlock,
    LinkAtDetection,
    Overlap,
    PropertyAtDetection,
    attribute,
    find_overbookings,
    is_echo,
    says_unavailable,
)
from jobs.rules.stays import NOT_RESERVED
from jobs.sync.property_state import recompute_property


@dataclass(frozen=True)
class LinkBeforeSync:
    """What a link was just before the sync that brought new blocks (the sync overwrites it)."""

    health: str | None
    last_success_at: datetime | None = None
    ignored_detail: list[dict] = field(default_factory=list)
    brought: frozenset[str] = frozenset()  # codes of the blocks this sync added or moved

    def ignored_uids(self) -> frozenset[str]:
        """UIDs of the events the previous read ignored for not being titled "Reserved"."""
        return frozenset(item["uid"] for item in self.ignored_detail
                         if item.get("reason") == NOT_RESERVED and item.get("uid"))


def _property_facts(property_id: int, links: dict[int, CalendarLink], today: date,
                    interval: int) -> PropertyAtDetection:
    manual = db.session.execute(select(Reservation.id).where(
        Reservation.property_id == property_id, Reservation.origin == "manual",
        Reservation.check_out > today).limit(1)).first() is not None
    ignored = any(link.source == "google" and (link.ignored_events or 0) > 0
                  for link in links.values())
    return PropertyAtDetection(has_manual_blocks=manual and any(
        link.state == "active" for link in links.values()),
        has_ignored_google_events=ignored, sync_interval_minutes=interval)


def _link_facts(block: ExternalBlock, link: CalendarLink | None, health: str | None,
                before: LinkBeforeSync | None) -> LinkAtDetection | None:
    if link is None:
        return None
    if before is None:
        return LinkAtDetection(health=health, state=link.state, source=link.source)
    return LinkAtDetection(
        health=health, state=link.state, source=link.source,
        # The previous read only dates the stay's arrival for the blocks this sync brought.
        previous_success_at=before.last_success_at if block.code in before.brought else None,
        previously_ignored_uids=before.ignored_uids())


def _known_pairs(property_id: int) -> tuple[set[tuple[str, str]], set[tuple]]:
    """Recorded (direct, EX- code) pairs and (direct, source, UID) stays of a property."""
    rows = db.session.execute(select(Overbooking.direct_code, Overbooking.external_code,
                                     Overbooking.link_source, Overbooking.external_uid)
                              .where(Overbooking.property_id == property_id)).all()
    return ({(r.direct_code, r.external_code) for r in rows},
            {(r.direct_code, r.link_source, r.external_uid) for r in rows if r.external_uid})


def _own_stays(property_id: int, blocks: list[ExternalBlock]) -> list[tuple[date, date]]:
    """The property's direct bookings and manual blocks (what our export feed publishes) around `blocks`."""
    if not blocks:
        return []
    start, end = min(b.check_in for b in blocks), max(b.check_out for b in blocks)
    return [(r.check_in, r.check_out) for r in db.session.execute(
        select(Reservation.check_in, Reservation.check_out).where(
            Reservation.property_id == property_id, Reservation.origin.in_(("direct", "manual")),
            Reservation.check_out > start, Reservation.check_in < end))]


def _without_echoes(property_id: int, overlaps: list[Overlap], directs: dict[str, DirectBooking],
                    blocks: dict[str, ExternalBlock], links: dict[int, CalendarLink]) -> list[Overlap]:
    """The overlaps that are not echoes of our own export feed (jobs/rules/detect.py is_echo)."""
    def source(block: ExternalBlock) -> str | None:
        link = links.get(block.link_id)
        return link.source if link else None

    candidates = {o.external_code for o in overlaps
                  if says_unavailable(blocks[o.external_code].summary, source(blocks[o.external_code]))}
    if not candidates:
        return overlaps
    own = _own_stays(property_id, [blocks[code] for code in candidates])
    return [o for o in overlaps if o.external_code not in candidates or not is_echo(
        directs[o.direct_code], blocks[o.external_code], source(blocks[o.external_code]), own)]


def detect_for_property(property_id: int, *, today: date, sync_run: SyncRun | None = None,
                        before: dict[int, LinkBeforeSync] | None = None) -> list[Overbooking]:
    """Record every new overbooking of a property (current and future nights); return them."""
    interval = current_app.config["SYNC_INTERVAL_MINUTES"]
    now = utcnow()
    rows = db.session.execute(select(Reservation).where(
        Reservation.property_id == property_id, Reservation.check_out > today,
        Reservation.origin.in_(("direct", "external")))).scalars().all()
    directs = {r.code: DirectBooking(r.code, r.check_in, r.check_out, r.created_at)
               for r in rows if r.origin == "direct"}
    blocks = {r.code: ExternalBlock(r.code, r.link_id or 0, r.external_uid or "", r.check_in, r.check_out,
                                    # when we first held it with these dates: moves count as new, a UID or
                                    # summary rewrite (UID-regenerating feeds) does not
                                    r.dates_changed_at or r.created_at, summary=r.summary or "")
              for r in rows if r.origin == "external"}
    overlaps = find_overbookings(list(directs.values()), list(blocks.values()))
    if not overlaps:
        return []
    links = {link.id: link for link in db.session.execute(
        select(CalendarLink).filter_by(property_id=property_id)).scalars()}
    overlaps = _without_echoes(property_id, overlaps, directs, blocks, links)
    if not overlaps:
        return []
    known, known_stays = _known_pairs(property_id)
    prop_facts = _property_facts(property_id, links, today, interval)
    found = []
    for overlap in overlaps:
        block = blocks[overlap.external_code]
        link = links.get(block.link_id)
        # The same stay under a new EX- code (relinked, or gone from the feed and back): once.
        stay = (overlap.direct_code, link.source if link else None, block.uid)
        if (overlap.direct_code, overlap.external_code) in known or (block.uid and stay in known_stays):
            continue  # recorded once, never double-counted
        link_before = (before or {}).get(block.link_id)
        health = (link_before.health if link_before else None) or (
            link.health(now, interval) if link else None)
        verdict: Attribution = attribute(overlap, directs[overlap.direct_code], block,
                                         _link_facts(block, link, health, link_before), prop_facts)
        ob = Overbooking(property_id=property_id, direct_code=overlap.direct_code,
                         external_code=overlap.external_code, external_uid=block.uid or None,
                         link_id=block.link_id or None,
                         sync_run_id=sync_run.id if sync_run else None,
                         first_night=overlap.first_night, last_night=overlap.last_night,
                         nights=overlap.nights, detected_at=now, link_health_at_detection=health,
                         link_source=link.source if link else None,
                         counts_against_owner=verdict.counts_against_owner,
                         attribution=verdict.reason)
        try:
            with db.session.begin_nested():  # a concurrent detector may have recorded it first
                db.session.add(ob)
        except IntegrityError:
            continue
        if block.uid:
            known_stays.add(stay)
        found.append(ob)
    return found


def after_sync(link: CalendarLink, run: SyncRun, today: date, before: LinkBeforeSync) -> None:
    """Look for overbookings when a sync brought new or moved blocks."""
    if run.added or run.updated:
        details = run.details or {}
        brought = frozenset(details.get("added", [])) | frozenset(details.get("updated", []))
        detect_for_property(link.property_id, today=today, sync_run=run,
                            before={link.id: replace(before, brought=brought)})


def record_overbookings_for_direct(reservation_id: int, today: date | None = None) -> list[Overbooking]:
    """A direct booking was reported: record it if it lands on blocked nights, and refresh risk."""
    res = db.session.get(Reservation, reservation_id)
    if res is None or res.origin != "direct":
        return []
    found = detect_for_property(res.property_id, today=today or utcnow().date())
    # A new booking can make the property's risk high at once (unprotected_bookings): do not wait.
    recompute_property(res.property)
    db.session.commit()
    return found


def resolve(ob: Overbooking, who: str, note: str, when: datetime | None = None) -> None:
    """Mark an overbooking resolved by staff, with their note (it still counts: it happened)."""
    ob.state, ob.resolved_by, ob.resolution_note = "resolved", who, note
    ob.resolved_at = when or utcnow()
