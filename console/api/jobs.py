"""API: a queued job's state by the id a 202 answered (queued, running, finished, failed)."""
from __future__ import annotations

import re

from flask import jsonify

from console.actions.errors import ActionError, not_found
from console.api.blueprint import api_bp
from console.queries.link_jobs import job_state
from jobs.broker import QueueUnavailable

# RQ's own rule for a job id (it raises on anything else), bounded: other ids name no job.
JOB_ID = re.compile(r"[A-Za-z0-9_-]{1,64}", re.ASCII)


@api_bp.get("/jobs/<job_id>")
def get_job(job_id: str):
    """One job as the console's live state reads it; 404 when unknown (or its record expired)."""
    try:
        state = job_state(job_id) if JOB_ID.fullmatch(job_id) else None
    except QueueUnavailable as exc:
        raise ActionError("queue_unavailable", f"{exc}; try again shortly.", status=503) from None
    if state is None:
        raise not_found(f"job {job_id}")
    return jsonify(state)
