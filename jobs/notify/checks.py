"""The minute tick: what no sync reports by itself (reminders, links that stopped syncing, export feeds no
longer read, overbookings of reported bookings), digests whose time came, deliveries to send or retry."""
from __future__ import annotations

import logging
from dataclasses import replace
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import select

from console.extensions import db
from console.models import CalendarLink, ExportFetch, LinkAlertState, Notification, Property
from console.timeutil import utcnow
from jobs.notify.deliver import due_delivery_ids, enqueue_deliveries, release_dead_claims
from jobs.notify.digests import flush_digests
from jobs.notify.evaluate import link_notification, overbooking_notices
from jobs.notify.facts import exposure_json, is_stale, policy, property_exposure, state_of, store_state
from jobs.notify.messages import body_with_console, stake_line
from jobs.notify.store import raise_notification
from jobs.rules.alerts import export_stopped, reminder_due

log = logging.getLogger(__name__)
EXPORT_LOOKBACK = timedelta(days=8)


def reminders(now: datetime) -> list[Notification]:
    """A reminder per noticed link still failing, at most every ALERT_REMINDER_HOURS."""
    rules, notes = policy(current_app.config), []
    rows = db.session.execute(select(CalendarLink, Property.name, LinkAlertState)
                              .join(Property, Property.id == CalendarLink.property_id)
                              .join(LinkAlertState, LinkAlertState.link_id == CalendarLink.id)
                              .where(LinkAlertState.alerted.is_(True), LinkAlertState.last_ok.is_(False),
                                     CalendarLink.state == "active")).all()
    for link, name, row in rows:
        if reminder_due(state_of(row), now, rules):
            notes.append(link_notification("link_reminder", link, name, row, now,
                                           f"link:{link.id}:reminder:{now:%Y%m%dT%H%M}"))
            row.last_notice_at = now
    return notes


def silent_links(now: datetime) -> list[Notification]:
    """Active links whose last attempt was fine but which stopped syncing (stale): noticed once."""
    interval, notes = current_app.config["SYNC_INTERVAL_MINUTES"], []
    rows = db.session.execute(select(CalendarLink, Property.name, LinkAlertState)
                              .join(Property, Property.id == CalendarLink.property_id)
                              .outerjoin(LinkAlertState, LinkAlertState.link_id == CalendarLink.id)
                              .where(CalendarLink.state == "active", CalendarLink.last_attempt_ok.is_(True))).all()
    for link, name, row in rows:
        state = state_of(row)
        if state.alerted or not is_stale(link, now, interval):
            continue
        note = link_notification("link_failing", link, name, row, now,
                                 f"link:{link.id}:stale:{(link.last_success_at or now).isoformat()}")
        if note is not None:
            since = f"since {link.last_success_at:%Y-%m-%d %H:%M} UTC" if link.last_success_at else "ever"
            note.title = f"Stale: {name} · {link.source} link not synced {since}"
        row = store_state(link.id, row, replace(state, alerted=True, last_notice_at=now))
        row.failure_notification_id = note.id if note is not None else row.failure_notification_id
        notes.append(note)
    return notes


def export_silences(now: datetime) -> list[Notification]:
    """A platform that read a property's export feed daily and stopped for 24 h: the reverse sync broke."""
    rows = db.session.execute(select(ExportFetch.property_id, ExportFetch.platform, ExportFetch.fetched_at)
                              .where(ExportFetch.fetched_at >= now - EXPORT_LOOKBACK,
                                     ExportFetch.platform.is_not(None))).all()
    reads: dict[tuple[int, str], list[datetime]] = {}
    for pid, platform, at in rows:
        reads.setdefault((pid, platform), []).append(at)
    notes = []
    for (pid, platform), times in sorted(reads.items()):
        if not export_stopped(times, now):
            continue
        prop, last = db.session.get(Property, pid), max(times)
        lines = [f"{platform} read the Only-apartments calendar of {prop.name} every day, but not since "
                 f"{last:%Y-%m-%d %H:%M} UTC: our direct bookings no longer reach {platform}, which can sell "
                 "those nights again.",
                 f"What to do: ask the owner to check the calendar import on {platform} (the Only-apartments "
                 "export link must still be there and synced)."]
        stake = property_exposure(pid, now.date())
        notes.append(raise_notification(
            "export_not_read", f"Export not read: {platform} stopped reading {prop.name}'s calendar",
            body=body_with_console(lines + [stake_line(stake)], current_app.config["PUBLIC_BASE_URL"], pid),
            now=now, exposure=exposure_json(stake), advice=lines[-1].removeprefix("What to do: "),
            property_id=pid, source=platform, dedup_key=f"export:{pid}:{platform}:{last.isoformat()}"))
    return notes


def periodic_checks(now: datetime | None = None) -> int:
    """Run every check, flush due digests, queue the deliveries due; the number of new notifications."""
    now = now or utcnow()
    notes = reminders(now) + silent_links(now) + export_silences(now) + overbooking_notices(None, now)
    notes += flush_digests(now)
    db.session.commit()
    release_dead_claims(now)
    enqueue_deliveries(due_delivery_ids(now))
    made = [n for n in notes if n is not None]
    if made:
        log.info("alerts tick: %d notifications", len(made))
    return len(made)
