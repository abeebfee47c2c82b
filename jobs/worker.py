"""RQ worker and scheduler wiring: every job runs inside an app context of its own."""
from __future__ import annotations

import logging
import signal
import sys
import threading
import time
from urllib.parse import urlsplit, urlunsplit

import redis
from flask import Flask
from rq import Worker
from rq.cron import CronScheduler
from rq.job import Job

from jobs import embedded_redis
from jobs.broker import QueueUnavailable, redis_connection
from jobs.queue import QUEUE_NAMES
from jobs.schedule import PERIODIC_JOBS

log = logging.getLogger(__name__)

REDIS_RETRY_FIRST_SECONDS = 1
REDIS_RETRY_MAX_SECONDS = 30


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
            try:
                return super().perform()
            finally:
                db.session.remove()


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


def wait_for_redis(app: Flask, who: str) -> redis.Redis | None:
    """Redis for a worker or scheduler, retried with capped exponential backoff until it answers.

    Returns None when SIGINT/SIGTERM arrives while waiting: the process should then exit cleanly.
    """
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
                return conn
            except (redis.RedisError, OSError, QueueUnavailable) as exc:
                print(f"{who}: Redis at {_redis_address(app)} unreachable ({exc}); "
                      f"retrying in {delay} s", file=sys.stderr, flush=True)
            time.sleep(delay)  # backoff between attempts; a signal interrupts it at once
            delay = min(delay * 2, REDIS_RETRY_MAX_SECONDS)
    except _StopWaiting:
        print(f"{who}: stopped while waiting for Redis", file=sys.stderr, flush=True)
        return None
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def run_worker(app: Flask, *, burst: bool = False) -> bool:
    """Work the console's queues until stopped (or until empty with burst)."""
    conn = wait_for_redis(app, "worker")
    if conn is None:
        return False
    AppJob.app = app
    # Import the pipeline once here: each job runs in a fresh fork, which would otherwise pay for
    # these imports again on every job.
    import jobs.ical.parse  # noqa: F401
    import jobs.sync.kigo_reading  # noqa: F401
    import jobs.sync.runner  # noqa: F401
    import jobs.tasks  # noqa: F401
    worker = Worker(list(QUEUE_NAMES), connection=conn, job_class=AppJob)
    return worker.work(burst=burst, logging_level="INFO")


def run_scheduler(app: Flask) -> None:
    """Enqueue the periodic jobs (PERIODIC_JOBS) on time, until stopped."""
    conn = wait_for_redis(app, "scheduler")
    if conn is None:
        return
    scheduler = CronScheduler(connection=conn, logging_level="INFO")
    for spec in PERIODIC_JOBS:
        scheduler.register(spec.func, queue_name=spec.queue, interval=spec.interval,
                           cron=spec.cron, job_timeout=spec.timeout, name=spec.name)
    log.info("scheduler: %d periodic jobs", len(PERIODIC_JOBS))
    scheduler.start()
