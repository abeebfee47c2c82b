
"""The RQ queues: queue a link's sync (once at a time), many at once, batches; tell live jobs from dead ones."""
from __future__ import annotations

import contextlib
import os
import socket
import uuid
from datetime import timedelta

import psutil
import redis
from flask import Flask, current_app
from rq import Queue, Worker
from rq.defaults import DEFAULT_JOB_MONITORING_INTERVAL
from rq.job import Job, JobStatus

from jobs.broker import QueueUnavailable, redis_connection
from jobs.notify.deliver import ALERT_QUEUE
from jobs.sync.requests import note_requested, note_requests, withdraw

# A worker drains them in this order: alerts go out before the next sync batch.
QUEUE_NAMES = ("forced", ALERT_QUEUE, "sync", "maintenance")
LIVE_STATUSES = {JobStatus.QUEUED, JobStatus.STARTED, JobStatus.DEFERRED, JobStatus.SCHEDULED}
SYNC_JOB_TIMEOUT = 600
# Named, not imported: the queue sits below the tasks it runs (tasks import the whole pipeline).
SYNC_LINK_JOB = "jobs.tasks.sync_link_job"
FAN_OUT_JOB = "jobs.tasks.fan_out_link_syncs_job"
# A running job's worker beats every DEFAULT_JOB_MONITORING_INTERVAL (30) seconds; silence for this
# long means the worker died (killed, machine gone) without saying so. With the sweep's 30 s, a sync
# lost with a worker on another machine is recorded within 2 minutes of its death.
HEARTBEAT_SILENCE = timedelta(seconds=2 * DEFAULT_JOB_MONITORING_INTERVAL + 15)
# Links whose jobs go to Redis in one pipeline (one round trip to read their markers, one to write).
PIPELINE_BATCH = 500


def get_queue(name: str = "sync", app: Flask | None = None) -> Queue:
    """An RQ queue on this app's Redis; synchronous (inline) when RQ_INLINE is set, as in tests."""
    app = app or current_app._get_current_object()
    return Queue(name, connection=redis_connection(app),
                 is_async=not app.config["RQ_INLINE"],
                 default_timeout=SYNC_JOB_TIMEOUT)


# A link's newest sync job is remembered as long as RQ keeps a failed job, so its page can say
# how that job ended (a finished job's own record may go sooner: then its run says it).
LAST_JOB_TTL = 7 * 86400


def _link_key(link_id: int) -> str:
    return f"csc:link-job:{link_id}"


def _last_job_key(link_id: int) -> str:
    return f"csc:link-last-job:{link_id}"


def enqueue_link_sync(link_id: int, *, queue_name: str = "forced") -> str:
    """Queue a sync of one link, or return the job already queued or running for it."""
    conn = redis_connection()
    try:
        with conn.lock(f"csc:link-lock:{link_id}", timeout=10, blocking_timeout=5):
            existing = conn.get(_link_key(link_id))
            if existing:
                job_id = existing.decode()
                try:
                    if job_is_live(Job.fetch(job_id, connection=conn), conn):
                        return job_id
                except Exception:  # noqa: BLE001 - a vanished job simply gets replaced
                    pass
            queue = get_queue(queue_name)
            job_id = _promise([link_id])
            try:
                job = queue.enqueue_call(SYNC_LINK_JOB, args=(link_id,), job_id=job_id,
                                         timeout=SYNC_JOB_TIMEOUT, result_ttl=3600,
                                         failure_ttl=7 * 86400)
            except (redis.RedisError, OSError):
                withdraw([link_id], [job_id])
                raise
            if queue.is_async:
                conn.set(_link_key(link_id), job.id, ex=SYNC_JOB_TIMEOUT + 60)
            conn.set(_last_job_key(link_id), job.id, ex=LAST_JOB_TTL)
            return job.id
    except (redis.RedisError, OSError) as exc:
        raise QueueUnavailable(f"the job queue (Redis) is unreachable: {exc}") from exc


def _promise(link_ids: list[int]) -> str:
    """A new job's id, marked on its links in the database before the job is queued: a job lost with
    Redis is then found and run again (jobs/lost_syncs.py)."""
    job_id = uuid.uuid4().hex
    note_requested(link_ids, job_id)
    return job_id


def enqueue_link_syncs(link_ids: list[int], *, queue_name: str = "forced",
                       fan_out_above: int = PIPELINE_BATCH) -> tuple[int, int]:
    """Queue a sync of each link as enqueue_link_sync does (one job per link, its marker; a link
    already queued or running is not queued again), PIPELINE_BATCH links per Redis pipeline;
    (links queued, links that already had a live job). Above `fan_out_above` links, one fan-out job
    per PIPELINE_BATCH links queues them from a worker, so that the request answers at once."""
    conn = redis_connection()
    queue = get_queue(queue_name)
    queued = already = 0
    fan_out = len(link_ids) > fan_out_above and queue.is_async
    promised: dict[str, list[int]] = {}  # fan-out job -> its links, taken back if Redis fails
    try:
        with conn.pipeline() as fan_outs:
            for start in range(0, len(link_ids), PIPELINE_BATCH):
                chunk = link_ids[start:start + PIPELINE_BATCH]
                live = _links_with_live_jobs(chunk, conn)
                already += len(live)
                todo = [i for i in chunk if i not in live]
                queued += len(todo)
                if not queue.is_async:  # inline (tests): each job runs as it is queued, one by one
                    for link_id in todo:
                        enqueue_link_sync(link_id, queue_name=queue_name)
                elif fan_out and todo:
                    job_id = _promise(todo)
                    promised[job_id] = todo
                    queue.enqueue_many([Queue.prepare_data(FAN_OUT_JOB, args=(todo, queue_name),
                                                           job_id=job_id,
                                                           timeout=SYNC_JOB_TIMEOUT, result_ttl=600,
                                                           failure_ttl=7 * 86400)], pipeline=fan_outs)
                elif todo:
                    _enqueue_each(todo, queue, conn)
            fan_outs.execute()
    except (redis.RedisError, OSError) as exc:
        if promised:
            withdraw([i for ids in promised.values() for i in ids], list(promised))
        raise QueueUnavailable(f"the job queue (Redis) is unreachable: {exc}") from exc
    return queued, already


def _enqueue_each(link_ids: list[int], queue: Queue, conn: redis.Redis) -> None:
    """One sync job per link and its marker, in one pipeline."""
    # No per-link lock as enqueue_link_sync takes (5,000 locks cost seconds): a single
    # "Synchronize now" racing this batch can at worst queue one extra sync of its link.
    job_ids = [uuid.uuid4().hex for _ in link_ids]
    note_requests(dict(zip(link_ids, job_ids, strict=True)))
    try:
        with conn.pipeline() as pipe:
            jobs = queue.enqueue_many([Queue.prepare_data(
                SYNC_LINK_JOB, args=(i,), job_id=job_id, timeout=SYNC_JOB_TIMEOUT, result_ttl=3600,
                failure_ttl=7 * 86400) for i, job_id in zip(link_ids, job_ids, strict=True)], pipeline=pipe)
            for link_id, job in zip(link_ids, jobs, strict=True):
                pipe.set(_link_key(link_id), job.id, ex=SYNC_JOB_TIMEOUT + 60)
            pipe.execute()
    except (redis.RedisError, OSError):
        withdraw(link_ids, job_ids)
        raise


def _links_with_live_jobs(link_ids: list[int], conn: redis.Redis) -> set[int]:
    """The links among these whose marked job is still queued or running (two round trips)."""
    marked = [(i, m.decode()) for i, m in zip(link_ids, conn.mget([_link_key(i) for i in link_ids]), strict=True) if m]
    if not marked:
        return set()
    jobs = Job.fetch_many([job_id for _, job_id in marked], connection=conn)
    # fetch_many read each job's status already: only a running one costs more (its worker's check).
    return {i for (i, _), job in zip(marked, jobs, strict=True) if job is not None and (
        job.get_status(refresh=False) in LIVE_STATUSES - {JobStatus.STARTED}
        or (job.get_status(refresh=False) == JobStatus.STARTED and _worker_alive(job, conn)))}


def job_is_live(job: Job, conn: redis.Redis) -> bool:
    """Queued, or running on a worker that is still alive. A job stays STARTED when its worker is
    killed (SIGKILL, OOM, a lost machine): such a job will never end, so it must not block new syncs."""
    status = job.get_status()
    if status not in LIVE_STATUSES:
        return False
    if status != JobStatus.STARTED:
        return True
    return _worker_alive(job, conn)


def _worker_alive(job: Job, conn: redis.Redis) -> bool:
    """Whether the worker that started `job` still runs: its key exists (it expires when heartbeats
    stop), it did not register its death, its process exists when it runs on this machine, and it
    (or the job) beat recently."""
    from console.timeutil import naive_utc, utcnow
    if not job.worker_name:
        return True  # no owner recorded: trust the status
    key = Worker.redis_worker_namespace_prefix + job.worker_name
    worker = Worker.find_by_key(key, connection=conn)
    if worker is None or conn.hexists(key, "death"):
        return False
    worker.refresh()
    if worker.hostname == socket.gethostname() and worker.pid and not _process_runs(worker.pid):
        return False
    beats = [b for b in (worker.last_heartbeat, job.last_heartbeat) if b is not None]
    if beats:
        latest = max(naive_utc(b) for b in beats)
        if utcnow() - latest > HEARTBEAT_SILENCE:
            return False
    return True


def _process_runs(pid: int) -> bool:
    """A process with this id exists here and is not a zombie (killed but not yet reaped)."""
    if pid == os.getpid():
        return True
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False
    except psutil.Error:  # another user's process: it exists
        return True


def latest_link_jobs(link_ids: list[int]) -> dict[int, str]:
    """The id of each link's newest queued sync (Synchronize now, resync, resume, accept, or the
    scheduler's batch holding it), one read."""
    if not link_ids:
        return {}
    try:
        values = redis_connection().mget([_last_job_key(i) for i in link_ids])
    except (redis.RedisError, OSError) as exc:
        raise QueueUnavailable(f"the job queue (Redis) is unreachable: {exc}") from exc
    return {i: v.decode() for i, v in zip(link_ids, values, strict=True) if v}


def forget_link_job(link_id: int) -> None:
    """Drop the 'sync in progress' marker of a link (called when its job ends)."""
    with contextlib.suppress(redis.RedisError, OSError, QueueUnavailable):  # the marker expires by itself
        redis_connection().delete(_link_key(link_id))


def forget_link(link_id: int) -> None:
    """Drop every key of a deleted link (its sync marker and its newest job), so that nothing of it
    is shown again; a job still queued for it finds no link and records nothing."""
    # the keys expire by themselves, and link ids are never given twice
    with contextlib.suppress(redis.RedisError, OSError, QueueUnavailable):
        redis_connection().delete(_link_key(link_id), _last_job_key(link_id))


def enqueue_batch(func, link_ids: list[int], *, queue_name: str = "sync",
                  timeout: int = SYNC_JOB_TIMEOUT, stream: bool = False) -> str:
    """Queue one job that syncs a batch of links (the scheduler's path); each link's page then shows
    this job's state as its own (one pipeline of keys, as for a link's own sync)."""
    try:
        job = get_queue(queue_name).enqueue_call(func, args=(link_ids,),
                                                 kwargs={"stream": True} if stream else None,
                                                 job_id=_promise(link_ids),
                                                 timeout=timeout, result_ttl=600,
                                                 failure_ttl=7 * 86400)
        note_last_job(link_ids, job.id)
        return job.id
    except (redis.RedisError, OSError) as exc:
        raise QueueUnavailable(f"the job queue (Redis) is unreachable: {exc}") from exc


def note_last_job(link_ids: list[int], job_id: str) -> None:
    """Each link's page shows this job's state as its own sync's (one pipeline)."""
    pipe = redis_connection().pipeline(transaction=False)
    for link_id in link_ids:
        pipe.set(_last_job_key(link_id), job_id, ex=LAST_JOB_TTL)
    pipe.execute()


def waiting_jobs(queue_names: tuple[str, ...]) -> int:
    """Jobs waiting in these queues (one round trip)."""
    conn = redis_connection()
    with conn.pipeline(transaction=False) as pipe:
        for name in queue_names:
            pipe.llen(Queue(name, connection=conn).key)
        return sum(pipe.execute())


def free_sync_workers() -> int | None:
    """Workers that would start a sync batch now: the idle ones that take the sync queue (and the one
    running this job, free once it ends), less the batches already waiting. None when no worker is
    registered: then everything due is queued for the first to start."""
    from rq import get_current_job
    try:
        workers = [w for w in Worker.all(connection=redis_connection()) if "sync" in w.queue_names()]
        if not workers:
            return None
        idle = sum(1 for w in workers if w.get_state() == "idle")
        current = get_current_job()
        if current is not None and current.worker_name in {w.name for w in workers}:
            idle += 1
        return max(0, idle - waiting_jobs(("sync",)))
    except (redis.RedisError, OSError) as exc:
        raise QueueUnavailable(f"the job queue (Redis) is unreachable: {exc}") from exc
