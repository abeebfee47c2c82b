"""The scheduler of periodic jobs: any number may run at once (each job runs once per period among
them, claimed in Redis), and each rides out a Redis outage instead of exiting."""
from __future__ import annotations

import contextlib
import math
import time
from collections.abc import Callable
from datetime import UTC, datetime

import redis
from rq.cron import CronJob, CronScheduler
from rq.exceptions import StopRequested
from rq.utils import now
from sqlalchemy.exc import SQLAlchemyError

from jobs.outage import Failing, Outage

RETRY_FIRST_SECONDS = 1
RETRY_MAX_SECONDS = 30
# A cron job's period is its due time: its claim only has to outlive the schedulers' late wake-ups.
CRON_CLAIM_SECONDS = 86400
LOST = (redis.ConnectionError, redis.TimeoutError, OSError)
# Failures said without a traceback (an outage, not a bug): Redis's and the database's.
EXPECTED_FAILURES = (redis.RedisError, OSError, SQLAlchemyError)
# How many runs of a job run in the scheduler its history keeps (RQ keeps as many enqueued ones).
HISTORY_KEPT = 100
HISTORY_SECONDS = 86400


def slot_key(name: str, slot: int) -> str:
    """The Redis key that the one scheduler running `name` for period `slot` holds."""
    return f"csc:periodic:{name}:{slot}"


def period_slot(job: CronJob, at: datetime) -> tuple[int, int]:
    """(slot, seconds its claim lives): interval jobs' periods are aligned on the epoch, so every
    scheduler names the same period alike; a cron job's period is the time it is due at."""
    if job.cron:
        return int(job.next_enqueue_time.timestamp()), CRON_CLAIM_SECONDS
    return int(at.timestamp() // job.interval), 2 * job.interval


def _next_slot_start(interval: int, at: datetime) -> datetime:
    start = (math.floor(at.timestamp() / interval) + 1) * interval
    return datetime.fromtimestamp(start, UTC)


class ConsoleScheduler(CronScheduler):
    """RQ's cron scheduler, with a claim per job and period, and waiting out Redis outages. The jobs
    named in `in_process` are run by the scheduler itself through `run_here` instead of enqueued, so
    they run while every worker is dead or busy (the lost-sync sweep)."""

    def __init__(self, connect: Callable[[], redis.Redis], outage: Outage,
                 run_here: Callable[[Callable, tuple, dict], object] | None = None, **kwargs):
        super().__init__(connection=connect(), **kwargs)
        self.connect, self.outage, self.run_here = connect, outage, run_here
        self.in_process: set[str] = set()
        self.failing: dict[str, Failing] = {}
        self.claimed = 0
        self.stop_requested = False

    def _request_stop(self, signum, frame):
        """SIGINT/SIGTERM: remembered, then raised as RQ does. Raised inside a database call, the
        driver may answer it with its own error (psycopg: "another command is already in progress")
        and the stop would be lost: the job's failure path reads the flag."""
        self.stop_requested = True
        super()._request_stop(signum, frame)

    def enqueue_jobs(self) -> list[CronJob]:
        """Enqueue the due jobs whose period no other scheduler claimed first."""
        at = now()
        enqueued = []
        for job in self._cron_jobs:
            if not job.should_run():
                continue
            slot, ttl = period_slot(job, at)
            if self.connection.set(slot_key(job.name, slot), self.name, nx=True, ex=ttl):
                if job.name in self.in_process:
                    self.run_in_process(job, at)
                else:
                    job.enqueue(self.connection)
                enqueued.append(job)
            job.set_enqueue_time(at)
            if job.interval and not job.cron:
                # Wake at the next period's start, as every other scheduler does.
                job.next_enqueue_time = _next_slot_start(job.interval, at)
        return enqueued

    def run_in_process(self, job: CronJob, at: datetime) -> bool:
        """Run `job` here, in the app context `run_here` gives; a failure (the database or Redis
        lost, a bug) is said once until it works again and never stops the scheduler. Its run is
        kept in RQ's history of the job, as an enqueued one is. Whether it worked."""
        failing = self.failing.setdefault(job.name, Failing("scheduler", job.name))
        started = time.monotonic()
        try:
            self.run_here(job.func, job.args, job.kwargs)
        except (*LOST, StopRequested, KeyboardInterrupt):
            # Redis lost mid-run: the scheduler's own outage says it once and waits it out; asked to
            # stop (SIGTERM while the job ran): the scheduler stops.
            raise
        except Exception as exc:  # noqa: BLE001 - the scheduler must outlive any failure of it
            if self.stop_requested:  # the signal came mid-query and the driver answered it
                raise StopRequested() from exc
            said = f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"
            if failing.lost(said) and not isinstance(exc, EXPECTED_FAILURES):
                self.log.exception("%s failed in the scheduler", job.name)
            worked = False
        else:
            failing.back()
            worked = True
        took = time.monotonic() - started
        self.log.debug("%s ran in this scheduler in %.3f s", job.name, took)
        if job.interval and took > job.interval:
            self.log.warning("%s took %.1f s in the scheduler, longer than its period (%d s)",
                             job.name, took, job.interval)
        with self.connection.pipeline() as pipeline:
            pipeline.zadd(job.job_history_key, {f"{self.name}:{at.timestamp():.3f}": at.timestamp()})
            pipeline.zremrangebyrank(job.job_history_key, 0, -(HISTORY_KEPT + 1))
            pipeline.expire(job.job_history_key, HISTORY_SECONDS)
            pipeline.execute()
        return worked

    def start(self):
        """Enqueue on time until SIGINT/SIGTERM; while Redis is lost, wait for it and carry on."""
        self._install_signal_handlers()
        registered, delay = False, RETRY_FIRST_SECONDS
        try:
            while True:
                try:
                    if not registered:
                        self.register_birth()
                        registered = True
                    if self.enqueue_jobs():
                        self.save()
                    self.heartbeat()
                except LOST as exc:
                    if self.stop_requested:  # the signal came mid-command: stop, not an outage
                        raise StopRequested() from exc
                    self.outage.lost(exc)
                    registered = False
                    time.sleep(delay)  # backoff between attempts; a signal interrupts it at once
                    delay = min(delay * 2, RETRY_MAX_SECONDS)
                    self.connection = self._reconnect()
                    continue
                self.outage.back()
                delay = RETRY_FIRST_SECONDS
                time.sleep(self.calculate_sleep_interval())
        except (KeyboardInterrupt, StopRequested):
            self.log.info("CronScheduler %s: stop requested", self.name)
        finally:
            with contextlib.suppress(LOST):  # Redis gone: the registry forgets us when our entry ages out
                self.register_death()
            self.log.info("CronScheduler %s: shutdown complete", self.name)

    def _reconnect(self) -> redis.Redis:
        try:
            return self.connect()
        except Exception:  # noqa: BLE001 - the next round tries again
            return self.connection


