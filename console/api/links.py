"""API: calendar links (link, activate, sync, accept a held change, pause, resume, delete, dry run,
history)."""
from __future__ import annotations

from flask import jsonify, url_for
from sqlalchemy import select

from console.actions import links as link_actions
from console.actions.links import get_link
from console.actions.properties import get_property
from console.api.blueprint import api_bp
from console.api.validate import json_body, query_int, text
from console.extensions import db
from console.models import SyncRun
from console.queries.serialize import link_json, run_json


@api_bp.post("/properties/<int:property_id>/links")
def create_link(property_id: int):
    """Link an external calendar ("Link" then "Save"); it syncs once activated."""
    prop = get_property(property_id)
    data = json_body()
    if data.get("source") == "kigo":
        code = text(data, "kigo_code", required=True, max_len=link_actions.KIGO_CODE_MAX)
        link = link_actions.add_kigo_link(prop, code, data.get("kigo_property_id"))
    else:
        url = text(data, "url", required=True, max_len=link_actions.URL_MAX)
        link = link_actions.add_ical_link(prop, url, data.get("source"))
    return jsonify(link_json(link)), 201, {"Location": url_for("api.get_link_view", link_id=link.id)}


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


def queued(job_id: str, **body):
    """A 202 naming the queued job, with its address (GET /jobs/<id>) in Location."""
    return jsonify(job_id=job_id, **body), 202, {"Location": url_for("api.get_job", job_id=job_id)}


@api_bp.post("/links/<int:link_id>/activate")
def activate_link(link_id: int):
    """"Synchronize now": make the link active and queue its first sync."""
    link = get_link(link_id)
    job_id = link_actions.activate_link(link)
    return queued(job_id, link=link_json(link))


@api_bp.post("/links/<int:link_id>/resume")
def resume_link(link_id: int):
    """Sync a paused link again, starting now."""
    link = get_link(link_id)
    job_id = link_actions.resume_link(link)
    return queued(job_id, link=link_json(link))


@api_bp.post("/links/<int:link_id>/sync")
def force_sync(link_id: int):
    """Force a resync now; while one is queued or running, answer with that job."""
    return queued(link_actions.sync_link_now(get_link(link_id)))


@api_bp.post("/links/<int:link_id>/accept-change")
def accept_held_change(link_id: int):
    """Staff accept the change the suspicious-change guard is holding; a sync applies it now."""
    link = get_link(link_id)
    job_id = link_actions.accept_held_change(link)
    return queued(job_id, link=link_json(link))


@api_bp.post("/links/<int:link_id>/pause")
def pause_link(link_id: int):
    """Stop syncing a link; its blocks stay until it is deleted."""
    return jsonify(link_json(link_actions.pause_link(get_link(link_id))))


@api_bp.delete("/links/<int:link_id>")
def delete_link(link_id: int):
    """Unlink a calendar and remove the EX- blocks it brought."""
    link_actions.delete_link(get_link(link_id))
    return "", 204


@api_bp.post("/links/<int:link_id>/test")
def test_link(link_id: int):
    """Dry run: fetch and parse now, show what a sync would do, store nothing."""
    return jsonify(link_actions.preview_link(get_link(link_id)))
