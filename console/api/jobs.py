"""API: a queued job's state by the id a 202 answered (queued, running, finished, failed)."""
from __future__ import annotations

from flask import jsonify

from console.actions.errors import ActionError, not_found
from console.api.blueprint import api_bp
from console.link_jobs import job_state
from jobs.broker import QueueUnavailable

JOB_ID_MAX = 64


@api_bp.get("/jobs/<job_id>")
def get_job(job_id: str):
    """One job as the console's live state reads it; 404 when unknown (or its record expired)."""
    try:
        state = job_state(job_id) if len(job_id) <= JOB_ID_MAX else None
    except QueueUnavailable as exc:
        raise ActionError("queue_unavailable", f"{exc}; try again shortly.", status=503) from None
    if state is None:
        raise not_found(f"job {job_id}")
    return jsonify(state)
