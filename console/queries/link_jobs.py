"""Each link's sync job as its page shows it (and GET /api/v1/jobs/<id> answers it): queued, running,
finished with what its run did, or failed; read from RQ (the job in Redis) and the database (the run
it recorded), never guessed."""
from __future__ import annotations

import redis
from rq.exceptions import NoSuchJobError
from rq.job import Job, JobStatus
from sqlalchemy import func, select

from console.extensions import db
from console.models import CalendarLink, SyncRun
from console.timeutil import iso, naive_utc
from jobs.broker import QueueUnavailable, redis_connection
from jobs.queue import SYNC_LINK_JOB, job_is_live, latest_link_jobs
from jobs.rules.advice import advice_for

IN_FLIGHT = ("queued", "running")
BATCH_JOB = "jobs.tasks.sync_batch_job"  # named, not imported: the console reads jobs, it does not run them
WAITING = {JobStatus.QUEUED, JobStatus.DEFERRED, JobStatus.SCHEDULED}
ENDED_BADLY = {JobStatus.FAILED, JobStatus.STOPPED, JobStatus.CANCELED}
LOST_WORKER = ("Our own failure: the worker running this sync stopped without finishing (killed "
               "or lost). The blocks are unchanged.")
LOST_JOB_WORKER = "Our own failure: the worker running this job stopped without finishing (killed or lost)."


def _newest_runs(link_ids: list[int]) -> dict[int, SyncRun]:
    """Each link's newest recorded sync run, in one query."""
    if not link_ids:
        return {}
    newest = select(func.max(SyncRun.id)).where(SyncRun.link_id.in_(link_ids)) \
        .group_by(SyncRun.link_id)
    return {run.link_id: run for run in db.session.execute(
        select(SyncRun).where(SyncRun.id.in_(newest))).scalars()}


def _run_summary(run: SyncRun, source: str) -> dict:
    """What a run did, as the card says it."""
    error = None
    if run.error_kind:
        error = {"kind": run.error_kind, "message": run.error_message,
                 "advice": advice_for(run.error_kind, source, run.http_status)}
    return {"id": run.id, "outcome": run.outcome, "added": run.added, "updated": run.updated,
            "removed": run.removed, "events": run.events, "http_status": run.http_status,
            "held": (run.details or {}).get("held"), "error": error,
            "finished_at": iso(run.finished_at)}


def _crash_line(job: Job) -> str:
    """The last line of the exception a failed job stopped on."""
    result = job.latest_result()
    said = str(getattr(result, "exc_string", None) or "").strip()
    return said.splitlines()[-1] if said else "no exception recorded"


def _times(job: Job) -> dict:
    """When the job was queued, began and ended (naive UTC, as ISO text)."""
    return {"enqueued_at": iso(naive_utc(job.enqueued_at) or naive_utc(job.created_at)),
            "started_at": iso(naive_utc(job.started_at)), "ended_at": iso(naive_utc(job.ended_at))}


def _rq_state(job: Job, conn: redis.Redis, what: str, stored: bool = False) -> tuple[str, str | None]:
    """(state, why it failed) from RQ: queued, running, finished, or failed; `what` names the job in the
    message ("sync job" or "job"); `stored`: a running batch whose part for the link is stored already."""
    status = job.get_status(refresh=False)
    if status in WAITING:
        return "queued", None
    if status == JobStatus.STARTED:
        if stored:
            return "finished", None
        if job_is_live(job, conn):
            return "running", None
        return "failed", LOST_WORKER if what == "sync job" else LOST_JOB_WORKER
    if status in ENDED_BADLY:
        return "failed", f"Our own failure: the {what} stopped ({_crash_line(job)})."
    return "finished", None


def _state(job: Job, conn: redis.Redis, link: CalendarLink, run: SyncRun | None) -> dict:
    """One link's job state from its RQ job and the run recorded since it was queued."""
    queued_at = naive_utc(job.enqueued_at) or naive_utc(job.created_at)
    if run is not None and queued_at is not None and run.started_at < queued_at:
        run = None  # an older run: not this job's
    body = {"job_id": job.id, **_times(job), "run": _run_summary(run, link.source) if run else None,
            "error": None}
    state, message = _rq_state(job, conn, "sync job", stored=bool(run) and job.func_name == BATCH_JOB)
    if state != "failed":
        return {**body, "state": state}
    if body["run"] and body["run"]["error"]:
        return {**body, "state": "failed", "error": body["run"]["error"]}
    return {**body, "state": "failed", "error": {"kind": "internal", "message": message,
                                                 "advice": advice_for("internal", link.source)}}


def link_job_states(links: list[CalendarLink]) -> dict[int, dict]:
    """Per link id: its newest sync job's state ("idle" when none is known; "unknown" when Redis
    does not answer), with what the run did once it ended."""
    ids = [link.id for link in links]
    try:
        conn = redis_connection()
        job_ids = latest_link_jobs(ids)
        found = Job.fetch_many(list(job_ids.values()), connection=conn)
        jobs = {job.id: job for job in found if job is not None}
        runs = _newest_runs(list(job_ids))
        states = {}
        for link in links:
            job = jobs.get(job_ids.get(link.id))
            state = _state(job, conn, link, runs.get(link.id)) if job else {"state": "idle"}
            states[link.id] = {**state, "version": state_version(state)}
        return states
    except (redis.RedisError, OSError, QueueUnavailable, NoSuchJobError):
        return {i: {"state": "unknown", "error": {
            "kind": "queue_unavailable", "message": "The job queue (Redis) is not answering: the "
            "state of this link's sync cannot be read right now.", "advice": ""},
            "version": "unknown"} for i in ids}


def state_version(state: dict) -> str:
    """A short tag that changes whenever the card must be drawn again."""
    run = state.get("run") or {}
    return f"{state.get('job_id', '')}:{state['state']}:{run.get('id', '')}"


def _synced_link_id(job: Job) -> int | None:
    """The link a single-link sync job syncs, or None for any other job."""
    if job.func_name != SYNC_LINK_JOB or not job.args:
        return None
    return job.args[0] if isinstance(job.args[0], int) else None


def _any_job_state(job: Job, conn: redis.Redis) -> dict:
    """A job that is not one link's sync, read from RQ alone."""
    state, message = _rq_state(job, conn, "job")
    error = {"kind": "internal", "message": message, "advice": advice_for("internal", "ical")} \
        if state == "failed" else None
    return {**_times(job), "error": error, "state": state}


def job_state(job_id: str) -> dict | None:
    """One queued job by id as {id, kind, state, ...}, a link's sync read exactly as its card
    reads it; None when RQ does not know the id (never queued, or its record expired).
    QueueUnavailable when Redis does not answer."""
    try:
        conn = redis_connection()
        try:
            job = Job.fetch(job_id, connection=conn)
        except NoSuchJobError:
            return None
        link_id = _synced_link_id(job)
        link = db.session.get(CalendarLink, link_id) if link_id is not None else None
        if link is None:  # another kind of job, or its link was deleted since
            kind = "link_sync" if link_id is not None else job.func_name
            extra = {"link_id": link_id} if link_id is not None else {}
            return {"id": job.id, "kind": kind, **extra, **_any_job_state(job, conn)}
        state = _state(job, conn, link, _newest_runs([link.id]).get(link.id))
        state.pop("job_id")
        return {"id": job.id, "kind": "link_sync", "link_id": link.id, **state}
    except (redis.RedisError, OSError) as exc:
        raise QueueUnavailable(f"the job queue (Redis) is unreachable: {exc}") from exc
