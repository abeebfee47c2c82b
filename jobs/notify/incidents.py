"""Provider incidents: many links of one source failing the same way at once are one alert, and one
"resolved" when they answer again. Our own Kigo credentials refused (kigo_auth) is one incident for tech."""
from __future__ import annotations

from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import func, select

from console.extensions import db
from console.models import AlertIncident, CalendarLink, LinkAlertState, Notification
from jobs.notify.facts import exposure_json, exposure_over
from jobs.notify.messages import source_name, stake_line
from jobs.notify.store import raise_notification
from jobs.notify.thresholds import thresholds
from jobs.rules.advice import advice_for
from jobs.rules.alerts import IncidentPolicy, incident_groups, incident_resolved, incident_title

KIGO_AUTH = ("kigo", "kigo_auth")


def incident_policy(config) -> IncidentPolicy:
    """The incident thresholds in force (an admin's stored value, else the config's)."""
    limits = thresholds(config)
    return IncidentPolicy(min_links=limits["ALERT_INCIDENT_MIN_LINKS"],
                          min_share=limits["ALERT_INCIDENT_MIN_PERCENT"] / 100,
                          window=timedelta(minutes=limits["ALERT_INCIDENT_WINDOW_MINUTES"]))


def open_incidents() -> dict[tuple[str, str], AlertIncident]:
    """Open incidents by (source, error kind)."""
    rows = db.session.execute(select(AlertIncident).filter_by(state="open")).scalars()
    return {(i.source, i.error_kind): i for i in rows}


def _failing_now(keys: set[tuple[str, str]], since: datetime | None = None) -> dict[tuple[str, str], int]:
    """Active links whose last attempt failed, by (source, kind), optionally only those that failed since."""
    if not keys:
        return {}
    query = (select(CalendarLink.source, CalendarLink.last_error_kind, func.count())
             .where(CalendarLink.state == "active", CalendarLink.last_attempt_ok.is_(False),
                    CalendarLink.source.in_({s for s, _k in keys}),
                    CalendarLink.last_error_kind.in_({k for _s, k in keys}))
             .group_by(CalendarLink.source, CalendarLink.last_error_kind))
    if since is not None:
        query = query.where(CalendarLink.last_error_at >= since)
    return {(s, k): n for s, k, n in db.session.execute(query) if (s, k) in keys}


def _totals(sources: set[str]) -> dict[str, int]:
    rows = db.session.execute(select(CalendarLink.source, func.count()).where(
        CalendarLink.state == "active", CalendarLink.source.in_(sources)).group_by(CalendarLink.source))
    return dict(rows.all())


def _open(source: str, kind: str, links: int, now: datetime, window_start: datetime) -> Notification | None:
    failing = select(CalendarLink).where(CalendarLink.source == source, CalendarLink.last_error_kind == kind,
                                         CalendarLink.last_attempt_ok.is_(False),
                                         CalendarLink.last_error_at >= window_start)
    first = db.session.execute(failing.with_only_columns(func.min(CalendarLink.last_error_at),
                                                         func.max(CalendarLink.last_error_http_status))).one()
    incident = AlertIncident(source=source, error_kind=kind, http_status=first[1], opened_at=now,
                             first_failure_at=first[0] or now, peak_links=links)
    db.session.add(incident)
    db.session.flush()
    # Summed over the distinct properties of the failing links: a property with two broken links counts once.
    affected = set(db.session.execute(failing.with_only_columns(CalendarLink.property_id).distinct()).scalars())
    stake = exposure_over(affected, now.date())
    if (source, kind) == KIGO_AUTH:
        title = "Kigo refuses our API credentials (kigo_auth): every Kigo link stops syncing"
        body = ["Kigo answered 401/403 to our own API account: this is ours to fix, not the owners'.",
                "What to do: check KIGO_API_USERNAME / KIGO_API_PASSWORD (or the subscription key) and the "
                "account's status at Kigo. One alert for all Kigo links; a 'resolved' follows.",
                f"{stake_line(stake)} (over the {len(affected)} affected properties)"]
        kind_of_note = "kigo_auth"
    else:
        title = incident_title(source, kind, links, incident.first_failure_at, first[1])
        body = [f"{links} links of {source_name(source)} fail with {kind} within "
                f"{int((now - window_start).total_seconds() // 60)} minutes: most likely a problem on "
                f"{source_name(source)}'s side, not the owners'. One alert instead of one per link.",
                f"{stake_line(stake)} (over the {len(affected)} affected properties)",
                "Blocks are kept; we retry automatically. A 'resolved' notice follows when they answer again."]
        kind_of_note = "provider_incident"
    return raise_notification(kind_of_note, title, body="\n".join(body), now=now, incident_id=incident.id,
                              source=source, error_kind=kind, dedup_key=f"incident:{incident.id}:open",
                              exposure=exposure_json(stake), advice=advice_for(kind, source, first[1]),
                              details={"links": links, "properties": len(affected)})


def _resolve(incident: AlertIncident, now: datetime) -> Notification | None:
    incident.state, incident.resolved_at = "resolved", now
    # Links still failing are noticed on their own from now on (their next failure).
    table = LinkAlertState.__table__
    db.session.execute(table.update().where(table.c.incident_id == incident.id)
                       .values(incident_id=None, alerted=False))
    kind = "kigo_auth_resolved" if (incident.source, incident.error_kind) == KIGO_AUTH else "incident_resolved"
    minutes = int((now - incident.opened_at).total_seconds() // 60)
    title = (f"Resolved: {source_name(incident.source)} {incident.error_kind} "
             f"(up to {incident.peak_links} links, {minutes} min)")
    return raise_notification(kind, title, body=f"{title}. Links sync again.", now=now,
                              incident_id=incident.id, source=incident.source, error_kind=incident.error_kind,
                              dedup_key=f"incident:{incident.id}:resolved")


def update_incidents(failures: set[tuple[str, str]], sources_ok: set[str], now: datetime
                     ) -> tuple[dict[tuple[str, str], AlertIncident], list[Notification]]:
    """Open incidents this batch's failures make, resolve those that ended; the open ones and the notices."""
    config, notes = current_app.config, []
    rule = incident_policy(config)
    current = open_incidents()
    new_keys = {key for key in failures if key not in current}
    if KIGO_AUTH in new_keys:  # one refusal of our own account is enough
        notes.append(_open(*KIGO_AUTH, links=1, now=now, window_start=now - rule.window))
        new_keys.discard(KIGO_AUTH)
    recent = _failing_now(new_keys, since=now - rule.window)
    for source, kind in incident_groups(recent, _totals({s for s, _k in recent}), rule):
        notes.append(_open(source, kind, recent[(source, kind)], now, now - rule.window))
    watched = {key for key, inc in current.items() if key[0] in sources_ok | {s for s, _k in failures}}
    still = _failing_now(watched)
    for key in watched:
        incident = current[key]
        incident.peak_links = max(incident.peak_links, still.get(key, 0))
        if incident_resolved(still.get(key, 0), incident.peak_links, rule):
            notes.append(_resolve(incident, now))
            del current[key]
    return {**current, **open_incidents()}, [n for n in notes if n is not None]
