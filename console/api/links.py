"""API: calendar links (link, activate, sync, accept a held change, pause, delete, dry run, history)."""
from __future__ import annotations

from datetime import timedelta

from flask import current_app, jsonify
from sqlalchemy import delete, select

from console.api import api_bp
from console.api.errors import ApiError, not_found
from console.api.properties import get_property
from console.api.serialize import link_json, run_json
from console.api.validate import invalid, json_body, query_int, text
from console.extensions import db
from console.models import SOURCES, CalendarLink, Reservation, SyncRun
from console.timeutil import utcnow
from jobs.addresses import AllowList
from jobs.link_urls import LinkUrlError, check_link_url, normalize_for_compare
from jobs.queue import QueueUnavailable, enqueue_link_sync


def get_link(link_id: int) -> CalendarLink:
    """The link or a 404."""
    link = db.session.get(CalendarLink, link_id)
    if link is None:
        raise not_found(f"link {link_id}")
    return link


def activation(link: CalendarLink) -> dict:
    """The changes that activate a link ("Synchronize now"), for `change_and_queue`."""
    # The queued job syncs it now; the scheduler must not queue it a second time meanwhile, so
    # its regular turn starts one interval from now (the job sets the real next time).
    turn = utcnow() + timedelta(minutes=current_app.config["SYNC_INTERVAL_MINUTES"])
    return {"state": "active", "next_sync_at": turn,
            "activated_at": link.activated_at or utcnow()}


def change_and_queue(link: CalendarLink, **changes) -> str:
    """Apply `changes` to the link and queue its sync; the job id. When the queue is unreachable
    the changes are undone and QueueUnavailable raised: nothing changes without its sync."""
    previous = {name: getattr(link, name) for name in changes}
    for name, value in changes.items():
        setattr(link, name, value)
    db.session.commit()
    try:
        return enqueue_link_sync(link.id)
    except QueueUnavailable:
        for name, value in previous.items():
            setattr(link, name, value)
        db.session.commit()
        raise


def _queue_error(exc: QueueUnavailable) -> ApiError:
    return ApiError(503, "queue_unavailable", f"{exc}. Nothing was changed; try again shortly.")


def _kigo_link(prop, data: dict) -> CalendarLink:
    """A Kigo link from {source: kigo, kigo_code, kigo_property_id}."""
    code = text(data, "kigo_code", required=True, max_len=64)
    prop_id = data.get("kigo_property_id")
    if prop_id is None:
        raise invalid("kigo_property_id", "is required", "missing_field")
    if isinstance(prop_id, bool) or not isinstance(prop_id, int) or not 0 < prop_id < 2 ** 63:
        raise invalid("kigo_property_id", "must be a positive whole number (Kigo PROP_ID)")
    if any(link.source == "kigo" and link.kigo_property_id == prop_id for link in prop.links):
        raise ApiError(422, "duplicate_link", f"Kigo property {prop_id} is already linked",
                       field="kigo_property_id")
    return CalendarLink(property=prop, source="kigo", kigo_code=code, kigo_property_id=prop_id)


def _ical_link(prop, data: dict) -> CalendarLink:
    """An iCal link after the CONTRACT URL checks."""
    url = text(data, "url", required=True, max_len=2048)
    source = data.get("source")
    if source is not None and (source not in SOURCES or source == "kigo"):
        raise invalid("source", f"must be one of {', '.join(s for s in SOURCES if s != 'kigo')}")
    try:
        checked = check_link_url(url, AllowList.parse(current_app.config["FETCH_ALLOW_HOSTS"]))
    except LinkUrlError as err:
        extra = {"field": "url"}
        if err.suggested_url:
            extra["suggested_url"] = err.suggested_url
        raise ApiError(422, err.code, err.message, **extra) from None
    wanted = normalize_for_compare(checked.url)
    if any(link.url and normalize_for_compare(link.url) == wanted for link in prop.links):
        raise ApiError(422, "duplicate_link", "this calendar is already linked to the property",
                       field="url")
    return CalendarLink(property=prop, source=source or checked.source, url=checked.url)


@api_bp.post("/properties/<int:property_id>/links")
def create_link(property_id: int):
    """Link an external calendar ("Link" then "Save"); it syncs once activated."""
    prop = get_property(property_id)
    data = json_body()
    link = _kigo_link(prop, data) if data.get("source") == "kigo" else _ical_link(prop, data)
    db.session.add(link)
    db.session.commit()
    return jsonify(link_json(link)), 201


@api_bp.get("/links/<int:link_id>")
def get_link_view(link_id: int):
    """One link with its status."""
    return jsonify(link_json(get_link(link_id)))


@api_bp.get("/links/<int:link_id>/runs")
def link_runs(link_id: int):
    """The link's sync history, newest first."""
    get_link(link_id)
    limit = query_int("limit", 100, maximum=1000)
    runs = db.session.execute(select(SyncRun).filter_by(link_id=link_id)
                              .order_by(SyncRun.started_at.desc(), SyncRun.id.desc())
                              .limit(limit)).scalars()
    return jsonify(items=[run_json(r) for r in runs])


@api_bp.post("/links/<int:link_id>/activate")
def activate_link(link_id: int):
    """"Synchronize now": make the link active and queue its first sync."""
    link = get_link(link_id)
    try:
        job_id = change_and_queue(link, **activation(link))
    except QueueUnavailable as exc:
        raise _queue_error(exc) from None
    return jsonify(job_id=job_id, link=link_json(link)), 202


@api_bp.post("/links/<int:link_id>/sync")
def force_sync(link_id: int):
    """Force a resync now; while one is queued or running, answer with that job."""
    link = get_link(link_id)
    if link.state != "active":
        raise ApiError(409, "link_not_active", f"the link is {link.state}: activate it first "
                       "(POST /links/<id>/activate)")
    try:
        job_id = enqueue_link_sync(link.id)
    except QueueUnavailable as exc:
        raise _queue_error(exc) from None
    return jsonify(job_id=job_id), 202


@api_bp.post("/links/<int:link_id>/accept-change")
def accept_held_change(link_id: int):
    """Staff accept the change the suspicious-change guard is holding; a sync applies it now."""
    link = get_link(link_id)
    if not link.hold_state:
        raise ApiError(409, "nothing_held", "this link has no held change to accept")
    try:
        job_id = change_and_queue(link, accept_next_change=True)
    except QueueUnavailable as exc:
        raise _queue_error(exc) from None
    return jsonify(job_id=job_id, link=link_json(link)), 202


@api_bp.post("/links/<int:link_id>/pause")
def pause_link(link_id: int):
    """Stop syncing a link; its blocks stay until it is deleted."""
    link = get_link(link_id)
    link.state, link.next_sync_at = "paused", None
    db.session.commit()
    return jsonify(link_json(link))


@api_bp.delete("/links/<int:link_id>")
def delete_link(link_id: int):
    """Unlink a calendar and remove the EX- blocks it brought."""
    link = get_link(link_id)
    db.session.execute(delete(Reservation).where(Reservation.link_id == link.id,
                                                 Reservation.origin == "external"))
    db.session.delete(link)
    db.session.commit()
    return "", 204


@api_bp.post("/links/<int:link_id>/test")
def test_link(link_id: int):
    """Dry run: fetch and parse now, show what a sync would do, store nothing."""
    from jobs.dry_run import dry_run_link  # late: pulls in the whole pipeline
    return jsonify(dry_run_link(get_link(link_id)))
