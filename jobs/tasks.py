"""RQ entry points: each takes ids (never ORM objects) and runs in the worker's app context."""
from __future__ import annotations

import logging
from contextlib import contextmanager
from datetime import timedelta

from flask import current_app
from rq import get_current_job
from rq.job import Job
from rq.registry import FailedJobRegistry, StartedJobRegistry
from rq.timeouts import JobTimeoutException

from console.timeutil import naive_utc, utcnow
from jobs.batches import batch_size, batch_timeout, enqueue_batches  # noqa: F401 - the tasks' API
from jobs.rules.advice import describe
from jobs.sync.attempts import failure_kind, record_own_failure, record_own_failure_safely
from jobs.sync.due import claim_due_links, due_link_ids  # noqa: F401 - the tasks' API

log = logging.getLogger(__name__)
def _job_id() -> str:
    job = get_current_job()
    return job.id if job else "inline"


SYNC_JOB_FUNCS = ("jobs.tasks.sync_link_job", "jobs.tasks.sync_batch_job")


def job_link_ids(job) -> list[int]:
    """The links a sync job was asked to sync (none for other jobs)."""
    if job.func_name == "jobs.tasks.sync_link_job":
        return [int(job.args[0])]
    if job.func_name == "jobs.tasks.sync_batch_job":
        return [int(i) for i in job.args[0]]
    return []


def sync_job_links(job) -> list[int]:
    """The links a sync job was asked to sync and those a streaming batch claimed while it ran (marked
    with its id in the database)."""
    from jobs.sync.requests import promised_to
    asked = job_link_ids(job)
    if job.func_name != "jobs.tasks.sync_batch_job" or not (job.kwargs or {}).get("stream"):
        return asked
    return list(dict.fromkeys([*asked, *promised_to(job.id)]))


def stopped_message(exc: BaseException) -> str:
    """Why a sync job stopped before storing a link's result, in words for the property team."""
    if isinstance(exc, JobTimeoutException):
        return ("Our own failure: the sync job ran past its time limit and was stopped before this "
                "link's result was stored. The blocks are unchanged.")
    detail = describe(exc)
    if failure_kind(exc) == "database":
        return (f"Our own failure: the database could not be used while syncing ({detail}). "
                "The blocks are unchanged.")
    return f"Our own failure: the sync job crashed ({detail}). The blocks are unchanged."


class OutcomesNotStored(Exception):
    """Some links' outcome could not be stored (the database refused even the failure): the job
    fails, so the sweep of failed jobs records it once the database answers."""


def check_recorded(summaries) -> None:
    """Fail the job when a link's outcome, even a failure, could not be stored."""
    lost = [s.link_id for s in summaries if not s.recorded]
    if lost:
        raise OutcomesNotStored(f"the outcome of links {lost} could not be stored")


@contextmanager
def outcomes_recorded(link_ids: list[int]):
    """Whatever stops the sync of these links (a crash, the job's timeout, the database), each link
    without a stored attempt gets a recorded failure of our own, then the error goes on to RQ."""
    since = utcnow()
    try:
        yield
    except BaseException as exc:
        record_own_failure_safely(link_ids, failure_kind(exc), stopped_message(exc), since)
        raise


def sync_link_job(link_id: int) -> str:
    """Sync one link now (activation, forced resync), then free its 'in progress' marker."""
    from jobs.queue import forget_link_job
    from jobs.sync.runner import sync_links
    try:
        with outcomes_recorded([link_id]):
            summaries = sync_links([link_id])
        check_recorded(summaries)
    finally:
        forget_link_job(link_id)
    line = summaries[0].line() if summaries else f"link {link_id}: gone"
    log.info("[job %s] %s", _job_id(), line)
    return line


def fan_out_link_syncs_job(link_ids: list[int], queue_name: str = "forced") -> str:
    """Queue one sync job per link of a bulk resync (the request queued this job instead, to answer at once)."""
    from jobs.queue import enqueue_link_syncs
    queued, already = enqueue_link_syncs(link_ids, queue_name=queue_name, fan_out_above=len(link_ids))
    line = f"{queued} link syncs queued, {already} already queued or running"
    log.info("[job %s] %s", _job_id(), line)
    return line


def sync_batch_job(link_ids: list[int], stream: bool = False) -> list[str]:
    """Sync a batch of due links concurrently; a streaming batch also claims the links that fall due
    meanwhile (jobs/batches.py), and then returns a count of outcomes instead of a line per link."""
    from jobs.batches import Stream
    from jobs.sync.runner import sync_links
    ids = list(link_ids)  # grows with the stream's claims: a crash records them all
    more = Stream(ids, _job_id()) if stream and current_app.config["SYNC_STREAM_SECONDS"] else None
    with outcomes_recorded(ids):
        summaries = sync_links(link_ids, more=more)
    check_recorded(summaries)
    if more is not None:
        try:
            more.queue_successor()
        except Exception:  # noqa: BLE001 - its links are promised: the sweep queues them again
            log.warning("[job %s] the next batch could not be queued", _job_id(), exc_info=True)
        lines = more.report(summaries)
    else:
        lines = [s.line() for s in summaries]
    log.info("[job %s] synced %d links", _job_id(), len(summaries))
    return lines


def record_failed_sync_jobs() -> int:
    """Sweep RQ's registries: a sync job that failed or whose worker died without saying so (killed,
    the machine lost) leaves its links with a recorded failure of our own; each job is swept once.
    Then the links promised a sync whose job Redis lost are queued again (jobs/lost_syncs.py)."""
    from jobs.broker import redis_connection
    from jobs.lost_syncs import lost_job_outcome, recover_requested_syncs
    from jobs.queue import QUEUE_NAMES, job_is_live
    conn, recorded = redis_connection(), 0
    for name in QUEUE_NAMES:
        for registry in (FailedJobRegistry(name, connection=conn),
                         StartedJobRegistry(name, connection=conn)):
            ids = dict.fromkeys(registry.parse_job_id(entry)
                                for entry in registry.get_job_ids(cleanup=False))
            for job in Job.fetch_many(list(ids), connection=conn):
                if job is None or job.meta.get("csc_recorded") or job.func_name not in SYNC_JOB_FUNCS:
                    continue
                if isinstance(registry, StartedJobRegistry) and job_is_live(job, conn):
                    continue  # still running on a live worker
                since = naive_utc(job.started_at or job.enqueued_at) or utcnow()
                recorded += len(record_own_failure(sync_job_links(job), *lost_job_outcome(job),
                                                   since))
                job.meta["csc_recorded"] = True
                job.save_meta()
    recorded += recover_requested_syncs(conn)[1]
    if recorded:
        log.info("[job %s] recorded %d lost sync attempts", _job_id(), recorded)
    return recorded




def schedule_due_syncs() -> int:
    """Queue batches of due links for the workers free to take them; claim them first so they are
    not queued twice. Busy workers' streaming batches claim the rest themselves."""
    from jobs.queue import free_sync_workers
    now = utcnow()
    free = free_sync_workers()
    if free == 0:
        return 0  # every worker is busy: their streaming batches claim due links as they free up
    # Claimed until one interval from now: a batch that dies is retried then.
    ids = claim_due_links(now, now + timedelta(minutes=current_app.config["SYNC_INTERVAL_MINUTES"]),
                          limit=None if free is None else free * batch_size(current_app.config))
    enqueue_batches(ids)
    if ids:
        log.info("[job %s] queued %d due links", _job_id(), len(ids))
    return len(ids)


def prune_runs_job() -> int:
    """Delete sync runs older than SYNC_RUN_RETENTION_DAYS, except overbooking evidence, and audit entries
    older than AUDIT_RETENTION_DAYS."""
    from jobs.sync.history import prune_runs
    pruned = prune_runs(utcnow() - timedelta(days=current_app.config["SYNC_RUN_RETENTION_DAYS"]))
    log.info("[job %s] pruned %d sync runs", _job_id(), pruned)
    _prune_audit()
    return pruned


def _prune_audit() -> None:
    """The audit trail's retention, beside the sync runs' (AUDIT_RETENTION_DAYS)."""
    from jobs.sync.history import prune_audit
    gone = prune_audit(utcnow() - timedelta(days=current_app.config["AUDIT_RETENTION_DAYS"]))
    log.info("[job %s] pruned %d audit entries", _job_id(), gone)


def recompute_scores_job() -> int:
    """Recompute every property's risk and reward score."""
    from jobs.sync.property_state import recompute_all
    count = recompute_all(scores=True)
    log.info("[job %s] recomputed %d properties", _job_id(), count)
    return count


def recompute_risk_job() -> int:
    """Recompute every property's risk (cheap; the score waits for the nightly run)."""
    from jobs.sync.property_state import recompute_all
    return recompute_all(scores=False)


def deliver_notification_job(delivery_id: int) -> str:
    """Send one notification to one recipient through one channel (claimed: never by two workers)."""
    from jobs.notify.deliver import deliver
    outcome = deliver(delivery_id)
    log.info("[job %s] delivery %s: %s", _job_id(), delivery_id, outcome)
    return outcome


def fleet_tally_job() -> int | None:
    """Every 10 s: count the fleet for the dashboard, the managers' page and /metrics
    (jobs/sync/fleet_tally.py), renew the managers' fell-most list before it ends and count the page's
    default overbooking rates ahead of it; the fleet's size."""
    from jobs.broker import redis_connection
    from jobs.sync import fell_most, fleet_tally, rate_tally
    conn, now = redis_connection(), utcnow()
    tally = fleet_tally.refresh(conn, now, current_app.config["SYNC_INTERVAL_MINUTES"])
    fell_most.warm(conn, now)
    rate_tally.warm(conn, now)
    return None if tally is None else tally["fleet"]


def alerts_tick_job() -> int:
    """Every minute: reminders, stale links, export feeds no longer read, digests, deliveries to retry."""
    from jobs.notify.checks import periodic_checks
    return periodic_checks()


def weekly_digest_job() -> int:
    """Managers' weekly digest: overbookings of the week and the score movers."""
    from jobs.notify.digests import weekly_digest
    return weekly_digest()
