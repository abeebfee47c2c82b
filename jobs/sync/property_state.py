"""Recompute and store each property's risk and reward score (the database side of risk/score)."""
from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import case, func, or_, select

from console.extensions import db
from console.models import CalendarLink, Overbooking, Property, Reservation, ScoreSnapshot, SyncRun
from console.timeutil import utcnow
from jobs.kigo.replies import instant_booking_is_on
from jobs.rules.advice import OUR_FAILURES
from jobs.rules.risk import RECENT_OVERBOOKING_DAYS, LinkFacts, PropertyFacts, Risk, assess_risk
from jobs.rules.score import OverbookingRecord, OwnerRecord, Score, compute_score

RISK_CHUNK = 500  # properties whose risk is read in one set of queries


def _link_facts(link: CalendarLink, now: datetime, interval: int) -> LinkFacts:
    kinds = {w.get("kind") for w in (link.warnings or [])}
    instant = None
    if link.source == "kigo" and link.kigo_instant_booking_raw is not None:
        # What Kigo last said, not the last error: a later network failure does not turn it on.
        try:
            instant = instant_booking_is_on(json.loads(link.kigo_instant_booking_raw))
        except ValueError:  # cut at 64 characters: only the sync's own verdict is left
            instant = link.last_error_kind != "kigo_not_instant_booking"
    return LinkFacts(link_id=link.id, source=link.source, state=link.state,
                     health=link.health(now, interval),
                     # only Google's "Reserved" rule ignores real events; other sources drop noise
                     ignored_events=link.ignored_events if link.source == "google" else 0,
                     free_busy_only="free_busy_only" in kinds, kigo_instant_booking=instant,
                     failure_is_ours=link.last_error_kind in OUR_FAILURES)


def risks_of(property_ids: Iterable[int], now: datetime, interval: int) -> dict[int, Risk]:
    """The risk of each named property (a few hundred at most: refresh_risks chunks), from
    three queries whatever their number."""
    ids, today = list(property_ids), now.date()
    links: dict[int, list[CalendarLink]] = {i: [] for i in ids}
    counts: dict[int, dict[str, int]] = {i: {} for i in ids}
    counted: dict[int, list] = {i: [] for i in ids}
    for link in db.session.execute(select(CalendarLink).where(
            CalendarLink.property_id.in_(ids)).order_by(CalendarLink.id)).scalars():
        links[link.property_id].append(link)
    for prop_id, origin, count in db.session.execute(
            select(Reservation.property_id, Reservation.origin, func.count()).where(
                Reservation.property_id.in_(ids), Reservation.check_out > today,
                Reservation.origin.in_(("manual", "direct")))
            .group_by(Reservation.property_id, Reservation.origin)):
        counts[prop_id][origin] = count
    for prop_id, detected in db.session.execute(select(
            Overbooking.property_id, Overbooking.detected_at).where(
            Overbooking.property_id.in_(ids), Overbooking.counts_against_owner.is_(True),
            Overbooking.detected_at >= now - timedelta(days=RECENT_OVERBOOKING_DAYS))):
        counted[prop_id].append(detected.date())
    return {i: assess_risk(PropertyFacts(
        today=today, links=[_link_facts(link, now, interval) for link in links[i]],
        manual_blocks=counts[i].get("manual", 0), upcoming_direct_bookings=counts[i].get("direct", 0),
        counted_overbooking_dates=counted[i])) for i in ids}


def property_risk(prop: Property, now: datetime, interval: int) -> Risk:
    """The risk factors of one property, from its links, stays and overbookings."""
    return risks_of([prop.id], now, interval)[prop.id]


def store_risk(prop: Property, risk: Risk, now: datetime) -> None:
    """Keep a property's risk level and factors on its row."""
    prop.risk_level = risk.level
    prop.risk_factors = [{"kind": f.kind, "level": f.level, "message": f.message,
                          "advice": f.advice} for f in risk.factors]
    prop.risk_computed_at = now


def refresh_risks(property_ids: Iterable[int], now: datetime | None = None) -> int:
    """Recompute and keep the risk of many properties at once (the caller commits)."""
    now, ids, count = now or utcnow(), sorted(set(property_ids)), 0
    interval = current_app.config["SYNC_INTERVAL_MINUTES"]
    for start in range(0, len(ids), RISK_CHUNK):  # bounded IN lists
        chunk = ids[start:start + RISK_CHUNK]
        risks = risks_of(chunk, now, interval)
        for prop in db.session.execute(select(Property).where(Property.id.in_(chunk))).scalars():
            store_risk(prop, risks[prop.id], now)
            count += 1
    return count


def owner_record(prop: Property, risk: Risk, now: datetime, interval: int) -> OwnerRecord:
    """The record the score is computed from: overbookings, 30 days of syncs, risk factors."""
    obs = db.session.execute(select(Overbooking.detected_at, Overbooking.nights,
                                    Overbooking.counts_against_owner)
                             .where(Overbooking.property_id == prop.id)).all()
    attempts, successes = db.session.execute(
        select(func.count(SyncRun.id), func.coalesce(func.sum(
            case((SyncRun.outcome != "error", 1), else_=0)), 0))
        .join(CalendarLink, SyncRun.link_id == CalendarLink.id)
        .where(CalendarLink.property_id == prop.id,
               SyncRun.started_at >= now - timedelta(days=30),
               # our own failures are not the owner's record
               or_(SyncRun.error_kind.is_(None), SyncRun.error_kind.not_in(OUR_FAILURES)))).one()
    active = [link for link in prop.links if link.state == "active"]
    successes_at = [link.last_success_at for link in active]
    weakest = None if not active or None in successes_at else min(successes_at)
    return OwnerRecord(
        overbookings=[OverbookingRecord(o.detected_at, o.nights, o.counts_against_owner)
                      for o in obs],
        sync_attempts_30d=attempts or 0, sync_successes_30d=int(successes or 0),
        last_success_at=weakest, sync_interval_minutes=interval, risk_factors=risk.factors)


def _latest_snapshot(property_id: int) -> ScoreSnapshot | None:
    # Newest by time, as GET /scores sees it (the (property_id, computed_at) index serves both).
    return db.session.execute(select(ScoreSnapshot).filter_by(property_id=property_id)
                              .order_by(ScoreSnapshot.computed_at.desc(), ScoreSnapshot.id.desc())
                              .limit(1)).scalar_one_or_none()


def store_score(prop: Property, score: Score, now: datetime) -> ScoreSnapshot | None:
    """Keep a new snapshot when the score or any component's points moved; None if unchanged."""
    last = _latest_snapshot(prop.id)
    if last is not None and last.score == score.value and _points(last.components) == \
            _points(score.components):
        return None
    snap = ScoreSnapshot(property_id=prop.id, score=score.value, components=score.components,
                         computed_at=now)
    db.session.add(snap)
    return snap


def _points(components: dict) -> dict:
    return {k: v.get("points") for k, v in (components or {}).items() if isinstance(v, dict)}


def recompute_property(prop: Property, now: datetime | None = None, *, scores: bool = True) -> None:
    """Refresh one property's stored risk (and score)."""
    now = now or utcnow()
    interval = current_app.config["SYNC_INTERVAL_MINUTES"]
    risk = property_risk(prop, now, interval)
    store_risk(prop, risk, now)
    if scores:
        store_score(prop, compute_score(owner_record(prop, risk, now, interval), now), now)


def recompute_properties(property_ids: Iterable[int], *, scores: bool = True) -> int:
    """Refresh the named properties, committing every 100."""
    count = 0
    for prop_id in property_ids:
        prop = db.session.get(Property, prop_id)
        if prop is None:
            continue
        recompute_property(prop, scores=scores)
        count += 1
        if count % 100 == 0:
            db.session.commit()
    db.session.commit()
    return count


def recompute_all(*, scores: bool = True) -> int:
    """Refresh every property."""
    ids = list(db.session.execute(select(Property.id).order_by(Property.id)).scalars())
    if scores:
        return recompute_properties(ids, scores=True)
    count = 0
    for start in range(0, len(ids), RISK_CHUNK):  # risk alone: a few queries per chunk, committed
        count += refresh_risks(ids[start:start + RISK_CHUNK])
        db.session.commit()
    return count
