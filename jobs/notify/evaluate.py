"""Notice what a batch of syncs found (the one hook of jobs.sync.runner.sync_links): links failing and
recovering, flapping, held changes, overbookings, provider incidents, our Kigo credentials refused."""
from __future__ import annotations

import logging
from dataclasses import replace
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import select

from console.extensions import db
from console.models import (
    AlertRecipient,
    CalendarLink,
    LinkAlertState,
    Notification,
    NotificationDelivery,
    Overbooking,
    Property,
)
from console.timeutil import utcnow
from jobs.notify.deliver import enqueue_deliveries
from jobs.notify.facts import exposure_json, outcome_of, policy, property_exposure, state_of, store_state
from jobs.notify.incidents import KIGO_AUTH, update_incidents
from jobs.notify.messages import (
    LinkFacts,
    body_with_console,
    link_notice,
    owner_text,
    source_name,
    stake_line,
)
from jobs.notify.routing import Target, targets_for
from jobs.notify.store import pending_ids, raise_notification
from jobs.rules.alerts import decide

log = logging.getLogger(__name__)
OVERBOOKING_LOOKBACK = timedelta(days=2)


def notice_after_sync(summaries) -> int:
    """Notice and queue what a finished batch calls for; never raises: the syncs are already stored."""
    try:
        ids = notice_sync_results([s.link_id for s in summaries if s.outcome != "skipped"])
        return enqueue_deliveries(ids)
    except Exception:  # noqa: BLE001 - an alert failure must never cost the sync its results
        db.session.rollback()
        log.exception("alert evaluation of %d synced links failed", len(summaries))
        return 0


def facts_of(link: CalendarLink, property_name: str) -> LinkFacts:
    """A link's facts for its notice."""
    return LinkFacts(link.property_id, property_name, link.id, link.source, link.url, link.last_error_kind,
                     link.last_error_message, link.last_error_http_status, link.consecutive_failures or 0)


def _recovery_targets(failure_id: int | None) -> list[Target]:
    """Whoever got the failure hears of the recovery, nobody else."""
    if failure_id is None:
        return []
    rows = db.session.execute(select(NotificationDelivery, AlertRecipient).outerjoin(
        AlertRecipient, AlertRecipient.id == NotificationDelivery.recipient_id).where(
        NotificationDelivery.notification_id == failure_id)).all()
    return [Target(d.channel, d.recipient, d.audience, r.digest_mode if r else "immediate",
                   (r.quiet_start_hour, r.quiet_end_hour) if r else (None, None), r.timezone if r else "UTC",
                   r.secret if r else None, d.recipient_id) for d, r in rows]


def link_notification(kind: str, link: CalendarLink, property_name: str, row: LinkAlertState | None,
                      now: datetime, key: str) -> Notification | None:
    """Store a link's failing / reminder / recovered / flapping notice with its recipients."""
    config, facts = current_app.config, facts_of(link, property_name)
    stake = None if kind == "link_recovered" else property_exposure(link.property_id, now.date())
    since = row.failing_since if row is not None else None
    hours = (now - since).total_seconds() / 3600 if since else None
    words = link_notice(kind, facts, stake, config["PUBLIC_BASE_URL"], hours)
    targets = None
    if kind == "link_recovered":
        targets = _recovery_targets(row.failure_notification_id if row is not None else None)
    elif kind == "link_failing" and config.get("ALERT_NOTIFY_OWNERS"):
        owner = link.property.owner.email if link.property and link.property.owner else None
        targets = targets_for(kind, config) + ([Target("email", owner, "owner")] if owner else [])
    return raise_notification(
        kind, words["title"], body=words["body"], advice=words["advice"], now=now, targets=targets,
        owner_text=owner_text(facts) if kind == "link_failing" else None, property_id=link.property_id,
        link_id=link.id, source=link.source, error_kind=None if kind == "link_recovered" else link.last_error_kind,
        exposure=exposure_json(stake), dedup_key=key)


def _evaluate_links(rows, incidents, now: datetime) -> list[Notification]:
    config, notes = current_app.config, []
    rules = policy(config)
    for link, name, row in rows:
        before = state_of(row)
        decision = decide(before, outcome_of(link, now, config["SYNC_INTERVAL_MINUTES"]), rules)
        state, kind = decision.state, decision.notice
        if kind == "link_failing":
            incident = incidents.get(KIGO_AUTH if link.last_error_kind == "kigo_auth" else
                                     (link.source, link.last_error_kind))
            if incident is not None:  # the incident speaks for this link
                state, kind = replace(state, incident_id=incident.id), None
        if state == before and row is not None and kind is None:
            continue
        stamp = (before.failing_since or now).isoformat()
        key = {"link_failing": f"link:{link.id}:failing:{(state.failing_since or now).isoformat()}",
               "link_recovered": f"link:{link.id}:recovered:{stamp}",
               "link_flapping": f"link:{link.id}:flapping:{(state.flapping_since or now).isoformat()}"}.get(kind)
        note = link_notification(kind, link, name, row, now, key) if kind else None
        row = store_state(link.id, row, state)
        if note is not None and kind in ("link_failing", "link_flapping"):
            row.failure_notification_id = note.id
        notes.append(note)
    return notes


def _held(link: CalendarLink, name: str, now: datetime) -> Notification | None:
    hold = link.hold_state or {}
    warning = next((w for w in link.warnings or [] if w.get("kind") == "suspicious_empty"), {})
    lines = [f"A sync of the {source_name(link.source)} calendar of {name} would remove most of its future "
             "blocks, so it is held: every block is kept.", f"Held: {warning.get('message', 'suspicious change')}",
             "What to do: look within 2 hours. If the owner really cancelled these stays, accept the change on "
             "the property page; otherwise nothing to do (a repeated change is applied after 2 hours)."]
    # The held blocks still protect their nights; what is at stake is the property's 30 days if they are wrong.
    stake = property_exposure(link.property_id, now.date())
    return raise_notification("held_change", f"Held change: {name} · {source_name(link.source)} link",
                              body=body_with_console(lines + [stake_line(stake)],
                                                     current_app.config["PUBLIC_BASE_URL"], link.property_id),
                              exposure=exposure_json(stake), error_kind="suspicious_empty",
                              advice=lines[-1].removeprefix("What to do: "),
                              now=now, property_id=link.property_id, link_id=link.id, source=link.source,
                              dedup_key=f"held:{link.id}:{hold.get('first_seen_at') or hold.get('fingerprint')}")


def overbooking_notices(property_ids, now: datetime) -> list[Notification]:
    """One notice per overbooking recorded lately (by a sync or a reported direct booking)."""
    query = select(Overbooking, Property.name).join(Property, Property.id == Overbooking.property_id).where(
        Overbooking.detected_at >= now - OVERBOOKING_LOOKBACK)
    if property_ids is not None:
        query = query.where(Overbooking.property_id.in_(property_ids))
    rows = db.session.execute(query).all()
    known = set(db.session.execute(select(Notification.dedup_key).where(Notification.dedup_key.in_(
        [f"overbooking:{ob.id}" for ob, _n in rows]))).scalars()) if rows else set()
    notes = []
    for ob, name in rows:
        if f"overbooking:{ob.id}" in known:
            continue
        blame = "counts against the owner" if ob.counts_against_owner else "does not count against the owner"
        lines = [f"The same nights were sold twice at {name}: direct booking {ob.direct_code} and external "
                 f"block {ob.external_code} ({ob.link_source or 'unknown source'}), {ob.nights} night(s) from "
                 f"{ob.first_night}.", f"Evidence: the link was {ob.link_health_at_detection or 'unknown'} "
                 f"when it was found.", f"Blame: {blame}: {ob.attribution}",
                 "What to do: call the guest of the direct booking and the owner today, then resolve it on "
                 "the Overbookings page with a note."]
        stake = property_exposure(ob.property_id, now.date())
        notes.append(raise_notification(
            "overbooking", f"Overbooking: {name}: {ob.nights} night(s) from {ob.first_night} ({blame})",
            body=body_with_console(lines + [stake_line(stake)], current_app.config["PUBLIC_BASE_URL"],
                                   ob.property_id), now=now, exposure=exposure_json(stake),
            advice=lines[-1].removeprefix("What to do: "),
            counts_against_owner=ob.counts_against_owner, property_id=ob.property_id, link_id=ob.link_id,
            source=ob.link_source, details={"overbooking_id": ob.id, "counts_against_owner":
                                            ob.counts_against_owner, "attribution": ob.attribution},
            dedup_key=f"overbooking:{ob.id}"))
    return notes


def notice_sync_results(link_ids: list[int], now: datetime | None = None) -> list[int]:
    """Evaluate the links just synced; commit; return the deliveries to send now."""
    now = now or utcnow()
    if not link_ids:
        return []
    rows = db.session.execute(
        select(CalendarLink, Property.name, LinkAlertState)
        .join(Property, Property.id == CalendarLink.property_id)
        .outerjoin(LinkAlertState, LinkAlertState.link_id == CalendarLink.id)
        .where(CalendarLink.id.in_(link_ids))).all()
    failures = {(KIGO_AUTH if link.last_error_kind == "kigo_auth" else (link.source, link.last_error_kind))
                for link, _n, _r in rows if link.last_attempt_ok is False and link.last_error_kind}
    sources_ok = {link.source for link, _n, _r in rows if link.last_attempt_ok}
    incidents, notes = update_incidents(failures, sources_ok, now)
    notes += _evaluate_links(rows, incidents, now)
    notes += [_held(link, name, now) for link, name, _r in rows
              if any(w.get("kind") == "suspicious_empty" for w in link.warnings or [])]
    notes += overbooking_notices({link.property_id for link, _n, _r in rows}, now)
    ids = pending_ids([n for n in notes if n is not None], now)
    db.session.commit()
    return ids
