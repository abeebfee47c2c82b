"""RQ worker and scheduler wiring: every job runs inside an app context of its own."""
from __future__ import annotations

import contextlib
import logging
import os
import signal
import sys
import threading
import time
from urllib.parse import urlsplit, urlunsplit

import psutil
import redis
from flask import Flask
from rq import Worker
from rq.job import Job
from rq.job_lifecycle import call_exception_handlers

from console.timeutil import naive_utc, utcnow
from jobs import embedded_redis
from jobs.broker import QueueUnavailable, redis_connection
from jobs.outage import Outage
from jobs.periodic import ConsoleScheduler
from jobs.queue import QUEUE_NAMES
from jobs.schedule import PERIODIC_JOBS, periodic_jobs

log = logging.getLogger(__name__)

REDIS_RETRY_FIRST_SECONDS = 1
REDIS_RETRY_MAX_SECONDS = 30
MEMORY_CHECK_SECONDS = 0.1
HORSE_SWITCH_INTERVAL = 0.0005  # seconds (Python's default: 0.005)


class _StopWaiting(BaseException):
    """Raised by the SIGINT/SIGTERM handler while waiting for Redis (like KeyboardInterrupt)."""


def _raise_stop(signum, _frame):
    raise _StopWaiting(signum)


class AppJob(Job):
    """A job performed inside the worker's Flask app context (like flask-rq's FlaskJob)."""

    app: Flask | None = None

    def perform(self):
        """Run the job with an app context, on database connections of this process."""
        if self.app is None:
            return super().perform()
        from console.extensions import db
        with self.app.app_context():
            # The work horse is a fork: pooled connections of the parent must not be reused.
            db.engine.dispose(close=False)
            # A sync job's main thread stores results while up to FETCH_CONCURRENCY threads read feeds:
            # after each database round trip it waits for the GIL, by default up to 5 ms (the convoy
            # effect), several times per link. A short switch interval keeps it from starving.
            sys.setswitchinterval(HORSE_SWITCH_INTERVAL)
            watch_memory(self.id, self.connection, self.app.config["SYNC_MAX_MEMORY_MB"])
            try:
                return super().perform()
            finally:
                db.session.remove()


class ConsoleWorker(Worker):
    """An RQ worker that registers again when Redis came back empty (restarted without saving):
    otherwise it would work on unseen, and its jobs would look orphaned. Its Redis outages are
    said in one line when they start and one when they end."""

    outage: Outage | None = None

    def heartbeat(self, timeout: int | None = None, pipeline=None):
        # RQ writes its state into the worker's key as soon as Redis answers again, so the key may
        # exist without the worker's registration in it: the birth field tells.
        if pipeline is None and not self.connection.hexists(self.key, "birth"):
            self.connection.delete(self.key)
            self.register_birth()
        beat = super().heartbeat(timeout, pipeline)
        if pipeline is None and self.outage is not None:
            self.outage.back()
        return beat

    def handle_exception(self, job: Job, *exc_info):
        """A job stopped by a database outage is said in one line, not a traceback: every periodic
        job fails alike while it lasts (the failure is kept, and its links' outcomes recorded)."""
        from sqlalchemy.exc import InterfaceError, OperationalError
        from sqlalchemy.exc import TimeoutError as PoolTimeout
        exc = exc_info[1]
        if not isinstance(exc, (OperationalError, InterfaceError, PoolTimeout)):
            return super().handle_exception(job, *exc_info)
        first_line = str(exc).strip().splitlines()[0][:200] if str(exc).strip() else ""
        self.log.warning("Worker %s: job %s (%s) stopped: the database is not answering (%s: %s)",
                         self.name, job.id, job.func_name, type(exc).__name__, first_line)
        call_exception_handlers(self._exc_handlers, job, *exc_info)


class OneLinePerOutage(logging.Filter):
    """RQ's worker logs an error at every retry while Redis is away: the outage says it once."""

    def __init__(self, outage: Outage):
        super().__init__()
        self.outage = outage

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if "could not connect to Redis" not in message:
            return True
        self.outage.lost(message.partition("Redis instance: ")[2].partition(" retrying")[0])
        return False


def memory_key(job_id: str) -> str:
    """Where a work horse says it stopped itself for memory, for the worker that records it."""
    return f"csc:horse-memory:{job_id}"


def watch_memory(job_id: str, conn: redis.Redis, limit_mb: int) -> threading.Thread:
    """In a work horse: past `limit_mb` of resident memory, note it and end the horse at once, so one
    feed cannot take the machine; the worker then records the links' failure (horse_killed)."""
    process = psutil.Process()

    def watch():
        while True:
            rss_mb = process.memory_info().rss // 2 ** 20
            if rss_mb > limit_mb:
                try:
                    conn.set(memory_key(job_id), rss_mb, ex=3600)
                finally:
                    os.kill(os.getpid(), signal.SIGKILL)
            time.sleep(MEMORY_CHECK_SECONDS)  # a poll: memory growth sends no event

    thread = threading.Thread(target=watch, name="memory-watch", daemon=True)
    thread.start()
    return thread


def horse_killed(job: Job, _pid, ret_val, _rusage) -> None:
    """In the worker: a work horse died (killed, out of memory, over its ceiling) before its sync
    job ended; its links without a stored attempt get a recorded failure of our own."""
    from jobs import tasks
    from jobs.queue import forget_link_job
    from jobs.sync.attempts import record_own_failure_safely
    if AppJob.app is None or not tasks.job_link_ids(job):
        return
    with AppJob.app.app_context():
        link_ids = tasks.sync_job_links(job)
        over = job.connection.get(memory_key(job.id))
        if over is not None:
            why = (f"its worker passed the memory ceiling ({int(over)} MB used, "
                   f"SYNC_MAX_MEMORY_MB={AppJob.app.config['SYNC_MAX_MEMORY_MB']})")
        else:
            signal_no = os.WTERMSIG(ret_val) if ret_val and os.WIFSIGNALED(ret_val) else None
            why = f"its worker process was killed (signal {signal_no})" if signal_no else \
                f"its worker process ended unexpectedly (status {ret_val})"
        since = naive_utc(job.started_at) or utcnow()
        record_own_failure_safely(link_ids, "internal", f"Our own failure: the sync job stopped "
                                  f"before storing this link's result: {why}. The blocks are "
                                  "unchanged.", since)
        job.meta["csc_recorded"] = True
        job.save_meta()
        if job.func_name == "jobs.tasks.sync_link_job":
            forget_link_job(link_ids[0])


def _redis_address(app: Flask) -> str:
    """Where this app's Redis is, for log lines (password hidden)."""
    url = app.config.get("REDIS_URL")
    if not url:
        return f"unix:{embedded_redis.socket_path(app.config['INSTANCE_PATH'])} (embedded)"
    parts = urlsplit(url)
    if parts.password:
        host = parts.netloc.rpartition("@")[2]
        parts = parts._replace(netloc=f"{parts.username or ''}:***@{host}")
    return urlunsplit(parts)


def wait_for_redis(app: Flask, who: str, outage: Outage | None = None) -> redis.Redis | None:
    """Redis for a worker or scheduler, retried with capped exponential backoff until it answers;
    one line when it does not answer, one when it does again.

    Returns None when SIGINT/SIGTERM arrives while waiting: the process should then exit cleanly.
    """
    outage = outage or Outage(who, f"Redis at {_redis_address(app)}")
    delay = REDIS_RETRY_FIRST_SECONDS
    # A supervisor (or Ctrl-C) must be able to stop a process that is only waiting.
    own_signals = threading.current_thread() is threading.main_thread()
    previous = {}
    if own_signals:
        previous = {sig: signal.signal(sig, _raise_stop) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        while True:
            try:
                conn = redis_connection(app, for_worker=True)
                conn.ping()
                outage.back()
                return conn
            except (redis.RedisError, OSError, QueueUnavailable) as exc:
                outage.lost(exc)
                _drop_connection(app)
            time.sleep(delay)  # backoff between attempts; a signal interrupts it at once
            delay = min(delay * 2, REDIS_RETRY_MAX_SECONDS)
    except _StopWaiting:
        print(f"{who}: stopped while waiting for Redis", file=sys.stderr, flush=True)
        return None
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


class QuietJobs(logging.Filter):
    """Drops RQ's INFO lines about the quiet periodic jobs (the fleet tally: three lines every 10 s
    drowned the worker's and scheduler's output); their warnings and errors pass."""

    def __init__(self):
        super().__init__()
        self.names = tuple(spec.func.__name__ for spec in PERIODIC_JOBS if spec.quiet)

    def filter(self, record: logging.LogRecord) -> bool:
        return record.levelno >= logging.WARNING or not any(
            name in record.getMessage() for name in self.names)


def quiet_periodic_logs() -> None:
    """Put QuietJobs on RQ's worker and scheduler loggers (once)."""
    for name in ("rq.worker", "rq.cron"):
        logger = logging.getLogger(name)
        if not any(isinstance(f, QuietJobs) for f in logger.filters):
            logger.addFilter(QuietJobs())


def run_worker(app: Flask, *, burst: bool = False) -> bool:
    """Work the console's queues until stopped (or until empty with burst); when Redis goes away,
    wait for it and work on, instead of exiting with the syncs it holds."""
    AppJob.app = app
    # Import the pipeline once here: each job runs in a fresh fork, which would otherwise pay for
    # these imports again on every job.
    import jobs.ical.parse  # noqa: F401
    import jobs.sync.kigo_reading  # noqa: F401
    import jobs.sync.runner  # noqa: F401
    import jobs.tasks  # noqa: F401
    quiet_periodic_logs()
    if burst:
        queue_due_deliveries(app)
    outage = ConsoleWorker.outage = Outage("worker", f"Redis at {_redis_address(app)}")
    rq_log = logging.getLogger("rq.worker")
    for old in [f for f in rq_log.filters if isinstance(f, OneLinePerOutage)]:
        rq_log.removeFilter(old)  # a process running several workers in turn (tests) keeps one
    rq_log.addFilter(OneLinePerOutage(outage))
    while True:
        conn = wait_for_redis(app, "worker", outage)
        if conn is None:
            return False
        worker = ConsoleWorker(list(QUEUE_NAMES), connection=conn, job_class=AppJob,
                               work_horse_killed_handler=horse_killed)
        try:
            worked = worker.work(burst=burst, logging_level="INFO")
        except (redis.ConnectionError, redis.TimeoutError, OSError) as exc:
            outage.lost(exc)
            _drop_connection(app)
            continue
        # RQ's loop also ends on an error it does not handle (Redis lost mid-job among them):
        # only a stop request or an empty queue in burst mode ends this worker.
        if burst or worker._stop_requested or worker._shutdown_requested_date:
            return worked
        print("worker: RQ's loop ended unexpectedly; starting again", file=sys.stderr, flush=True)
        _drop_connection(app)


def queue_due_deliveries(app: Flask) -> int:
    """Queue the alert deliveries already due (retries whose backoff ended), so a burst worker sends them
    now instead of leaving them to the scheduler's minute tick; retries that come due later still wait."""
    from jobs.notify.deliver import due_delivery_ids, enqueue_deliveries
    try:
        with app.app_context():
            return enqueue_deliveries(due_delivery_ids(utcnow()))
    except Exception as exc:  # noqa: BLE001 - the burst's own queues must still be worked
        print(f"worker: could not queue due alert deliveries ({exc!r})", file=sys.stderr, flush=True)
        return 0


def _drop_connection(app: Flask) -> None:
    """Forget the worker's Redis connection so the next wait makes a new one."""
    conn = app.extensions.pop("csc_redis_worker", None)
    if conn is not None:
        with contextlib.suppress(redis.RedisError):
            conn.close()


def run_scheduler(app: Flask) -> None:
    """Enqueue the periodic jobs (PERIODIC_JOBS) on time, until stopped; several may run at once."""
    outage = Outage("scheduler", f"Redis at {_redis_address(app)}")
    if wait_for_redis(app, "scheduler", outage) is None:
        return
    quiet_periodic_logs()

    def connect() -> redis.Redis:
        _drop_connection(app)
        return redis_connection(app, for_worker=True)

    def run_here(func, args: tuple, kwargs: dict):
        """Run a periodic job in this process, in an app context of its own."""
        from console.extensions import db
        with app.app_context():
            try:
                return func(*args, **kwargs)
            finally:
                db.session.remove()

    scheduler = ConsoleScheduler(connect, outage, run_here, logging_level="INFO")
    specs = periodic_jobs(app.config)
    for spec in specs:
        scheduler.register(spec.func, queue_name=spec.queue, interval=spec.interval,
                           cron=spec.cron, job_timeout=spec.timeout, ttl=spec.ttl,
                           result_ttl=spec.result_ttl, failure_ttl=spec.failure_ttl, name=spec.name)
        if spec.in_scheduler:
            scheduler.in_process.add(spec.name)
            scheduler.log.info("'%s' runs in this scheduler, not on a worker", spec.name)
    log.info("scheduler: %d periodic jobs", len(specs))
    scheduler.start()
