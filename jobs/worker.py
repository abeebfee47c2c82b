"""RQ worker and scheduler wiring: every job runs inside an app context of its own."""
from __future__ import annotations

import logging

from flask import Flask
from rq import Worker
from rq.cron import CronScheduler
from rq.job import Job

from jobs.queue import QUEUE_NAMES, redis_connection
from jobs.schedule import PERIODIC_JOBS

log = logging.getLogger(__name__)


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


def run_worker(app: Flask, *, burst: bool = False) -> bool:
    """Work the console's queues until stopped (or until empty with burst)."""
    AppJob.app = app
    # Import the pipeline once here: each job runs in a fresh fork, which would otherwise pay for
    # these imports again on every job.
    import jobs.kigo_reading  # noqa: F401
    import jobs.parse  # noqa: F401
    import jobs.sync_runner  # noqa: F401
    import jobs.tasks  # noqa: F401
    conn = redis_connection(app, for_worker=True)
    worker = Worker(list(QUEUE_NAMES), connection=conn, job_class=AppJob)
    return worker.work(burst=burst, logging_level="INFO")


def run_scheduler(app: Flask) -> None:
    """Enqueue the periodic jobs (PERIODIC_JOBS) on time, until stopped."""
    conn = redis_connection(app, for_worker=True)
    scheduler = CronScheduler(connection=conn, logging_level="INFO")
    for spec in PERIODIC_JOBS:
        scheduler.register(spec.func, queue_name=spec.queue, interval=spec.interval,
                           cron=spec.cron, job_timeout=spec.timeout, name=spec.name)
    log.info("scheduler: %d periodic jobs", len(PERIODIC_JOBS))
    scheduler.start()
