"""What risk and score are computed from, read for many properties at once in a few set queries."""
from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import Text, case, cast, func, or_, select

from console.extensions import db
from console.models import CalendarLink, Overbooking, Property, Reservation, SyncRun
from jobs.kigo.replies import instant_booking_is_on
from jobs.rules.advice import OUR_FAILURES
from jobs.rules.risk import RECENT_OVERBOOKING_DAYS, LinkFacts, PropertyFacts, link_health
from jobs.rules.score import OverbookingRecord

# Which properties a read covers: a filter on a property_id column (an id list or an id range).
Scope = Callable[[object], object]
# JSON columns are read as their text: decoding 50,000 of them per pass costs more than the queries.
LINK_COLUMNS = (CalendarLink.id, CalendarLink.property_id, CalendarLink.source, CalendarLink.state,
                CalendarLink.last_attempt_ok, CalendarLink.last_sync_at, CalendarLink.last_success_at,
                CalendarLink.last_error_kind, cast(CalendarLink.warnings, Text).label("warnings"),
                CalendarLink.ignored_events, CalendarLink.kigo_instant_booking_raw,
                cast(CalendarLink.hold_state, Text).label("hold_state"))


@dataclass
class PropertyRecord:
    """One property's stored state and the facts its risk and score come from."""

    id: int
    risk_level: str | None = None
    risk_factors: str | None = None  # as stored: JSON text
    risk_computed_at: datetime | None = None
    score_value: int | None = None
    score_components: dict | None = None
    links: list = field(default_factory=list)
    stays: dict[str, int] = field(default_factory=dict)
    overbookings: list[OverbookingRecord] = field(default_factory=list)
    attempts: int = 0
    successes: int = 0
    exposure_nights: int = 0  # as stored


def link_facts(link, now: datetime, interval: int) -> LinkFacts:
    """A link (ORM object or row of LINK_COLUMNS) as the risk rules see it."""
    warnings = link.warnings
    if isinstance(warnings, str):  # a row's JSON text: decoded only when it may hold the kind
        warnings = json.loads(warnings) if "free_busy_only" in warnings else []
    kinds = {w.get("kind") for w in (warnings or [])}
    instant = None
    if link.source == "kigo" and link.kigo_instant_booking_raw is not None:
        # What Kigo last said, not the last error: a later network failure does not turn it on.
        try:
            instant = instant_booking_is_on(json.loads(link.kigo_instant_booking_raw))
        except ValueError:  # cut at 64 characters: only the sync's own verdict is left
            instant = link.last_error_kind != "kigo_not_instant_booking"
    return LinkFacts(link_id=link.id, source=link.source, state=link.state,
                     health=link_health(link.state, link.last_attempt_ok, link.last_sync_at,
                                        link.last_success_at, now, interval),
                     # only Google's "Reserved" rule ignores real events; other sources drop noise
                     ignored_events=link.ignored_events if link.source == "google" else 0,
                     free_busy_only="free_busy_only" in kinds, kigo_instant_booking=instant,
                     failure_is_ours=link.last_error_kind in OUR_FAILURES)


def is_held(link) -> bool:
    """The suspicious-change guard holds a change of this link (a row's JSON text, or the object's)."""
    return link.hold_state not in (None, "null", {})


def property_facts(record: PropertyRecord, now: datetime, interval: int) -> PropertyFacts:
    """The risk rules' input for one property."""
    recent = now - timedelta(days=RECENT_OVERBOOKING_DAYS)
    return PropertyFacts(
        today=now.date(), links=[link_facts(link, now, interval) for link in record.links],
        manual_blocks=record.stays.get("manual", 0),
        upcoming_direct_bookings=record.stays.get("direct", 0),
        counted_overbooking_dates=[o.detected_at.date() for o in record.overbookings
                                   if o.counts_against_owner and o.detected_at >= recent])


def read_records(scope: Scope, now: datetime, *, scores: bool,
                 ids: list[int] | None = None) -> dict[int, PropertyRecord]:
    """The records of the properties in `scope` (those of `ids` when given, even unknown ones):
    4 queries for risk, 5 with the score's sync record, whatever their number."""
    records: dict[int, PropertyRecord] = {i: PropertyRecord(i) for i in ids or ()}
    components = Property.score_components if scores else Property.score_value.is_(None)
    for row in db.session.execute(select(
            Property.id, Property.risk_level, cast(Property.risk_factors, Text),
            Property.risk_computed_at, Property.score_value, components,
            Property.exposure_nights).where(scope(Property.id))):
        records[row[0]] = PropertyRecord(*row[:5], score_components=row[5] if scores else None,
                                         exposure_nights=row[6])
    for link in db.session.execute(select(*LINK_COLUMNS).where(scope(CalendarLink.property_id))
                                   .order_by(CalendarLink.id)):
        if link.property_id in records:
            records[link.property_id].links.append(link)
    for prop_id, origin, count in db.session.execute(
            select(Reservation.property_id, Reservation.origin, func.count()).where(
                scope(Reservation.property_id), Reservation.check_out > now.date(),
                Reservation.origin.in_(("manual", "direct")))
            .group_by(Reservation.property_id, Reservation.origin)):
        if prop_id in records:
            records[prop_id].stays[origin] = count
    obs = select(Overbooking.property_id, Overbooking.detected_at, Overbooking.nights,
                 Overbooking.counts_against_owner).where(scope(Overbooking.property_id))
    if not scores:  # risk only looks at recent counted ones
        obs = obs.where(Overbooking.counts_against_owner.is_(True),
                        Overbooking.detected_at >= now - timedelta(days=RECENT_OVERBOOKING_DAYS))
    for prop_id, detected, nights, counts in db.session.execute(obs.order_by(Overbooking.id)):
        if prop_id in records:
            records[prop_id].overbookings.append(OverbookingRecord(detected, nights, counts))
    if scores:
        for prop_id, attempts, successes in db.session.execute(sync_record(scope, now)):
            if prop_id in records:
                records[prop_id].attempts, records[prop_id].successes = attempts, int(successes)
    return records


def sync_record(scope: Scope, now: datetime):
    """(property id, attempts, successes) over the last 30 days; our own failures left out."""
    return (select(CalendarLink.property_id, func.count(SyncRun.id), func.coalesce(func.sum(
        case((SyncRun.outcome != "error", 1), else_=0)), 0))
        .join(CalendarLink, SyncRun.link_id == CalendarLink.id)
        .where(scope(CalendarLink.property_id), SyncRun.started_at >= now - timedelta(days=30),
               # our own failures are not the owner's record
               or_(SyncRun.error_kind.is_(None), SyncRun.error_kind.not_in(OUR_FAILURES)))
        .group_by(CalendarLink.property_id))
