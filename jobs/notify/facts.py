"""What the alert rules read from the database: a link's alert state, its outcome, what is at stake."""
from __future__ import annotations

from dataclasses import asdict
from datetime import date, datetime, timedelta

from sqlalchemy import select

from console.extensions import db
from console.models import CalendarLink, LinkAlertState, Reservation
from jobs.notify.thresholds import thresholds
from jobs.rules.alerts import EXPOSURE_DAYS, AlertPolicy, AlertState, Exposure, Outcome, exposure
from jobs.rules.risk import STALE_AFTER_INTERVALS


def policy(config) -> AlertPolicy:
    """The alert thresholds in force (an admin's stored value, else the config's)."""
    limits = thresholds(config)
    return AlertPolicy(after_failures=limits["ALERT_AFTER_FAILURES"], reminder_hours=limits["ALERT_REMINDER_HOURS"])


def state_of(row: LinkAlertState | None) -> AlertState:
    """The stored alert state as the rules see it."""
    if row is None:
        return AlertState()
    return AlertState(alerted=row.alerted, last_ok=row.last_ok, failing_since=row.failing_since,
                      last_notice_at=row.last_notice_at,
                      flips=tuple(datetime.fromisoformat(t) for t in (row.flips or [])),
                      flapping_since=row.flapping_since, incident_id=row.incident_id)


def store_state(link_id: int, row: LinkAlertState | None, state: AlertState) -> LinkAlertState:
    """Write the rules' state back (a new row for a link seen the first time)."""
    if row is None:
        row = LinkAlertState(link_id=link_id)
        db.session.add(row)
    values = asdict(state)
    values["flips"] = [t.isoformat() for t in state.flips]
    for name, value in values.items():
        setattr(row, name, value)
    return row


def is_stale(link: CalendarLink, now: datetime, interval_minutes: int) -> bool:
    """The last success (or, never synced well, the activation) is older than the freshness limit."""
    since = link.last_success_at or link.activated_at or link.created_at
    return since is not None and now - since > timedelta(minutes=STALE_AFTER_INTERVALS * interval_minutes)


def outcome_of(link: CalendarLink, now: datetime, interval_minutes: int) -> Outcome:
    """The link's last finished attempt."""
    ok = bool(link.last_attempt_ok)
    return Outcome(ok=ok, at=link.last_sync_at or now, consecutive_failures=link.consecutive_failures or 0,
                   error_kind=None if ok else link.last_error_kind, stale=is_stale(link, now, interval_minutes))


def property_exposure(property_id: int, today: date) -> Exposure:
    """Upcoming direct bookings and free nights of a property over the next 30 days."""
    return exposure_over([property_id], today)


def exposure_over(property_ids, today: date) -> Exposure:
    """Exposure summed over distinct properties (a provider incident's), in one query."""
    ids = set(property_ids)
    if not ids:
        return Exposure(direct_bookings=0, sellable_nights=0)
    stays = upcoming_stays(lambda column: column.in_(ids), today)
    each = [exposure(stays.get(pid, []), today) for pid in ids]
    return Exposure(direct_bookings=sum(e.direct_bookings for e in each),
                    sellable_nights=sum(e.sellable_nights for e in each))


def upcoming_stays(scope, today: date) -> dict[int, list[tuple[str, date, date]]]:
    """(origin, check-in, check-out) of the stays within the next EXPOSURE_DAYS of each property
    whose id `scope(column)` accepts, in one query (properties without any are absent)."""
    end = today + timedelta(days=EXPOSURE_DAYS)
    stays: dict[int, list] = {}
    rows = db.session.execute(select(Reservation.property_id, Reservation.origin, Reservation.check_in,
                                     Reservation.check_out).where(
        scope(Reservation.property_id), Reservation.check_out > today, Reservation.check_in < end))
    for pid, origin, check_in, check_out in rows:
        stays.setdefault(pid, []).append((origin, check_in, check_out))
    return stays


def exposure_json(stake: Exposure | None) -> dict | None:
    """The stored form of an exposure (Notification.exposure, the webhook's "exposure")."""
    if stake is None:
        return None
    return {"direct_bookings": stake.direct_bookings, "sellable_nights": stake.sellable_nights}
