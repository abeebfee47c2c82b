"""A periodic job the scheduler runs itself (the lost-sync sweep): run once per period among several
schedulers, never enqueued for a worker, kept in RQ's history, and any failure said once while the
scheduler carries on."""
from __future__ import annotations

import logging
from datetime import timedelta

from rq import Queue
from rq.cron import get_cron_job_ids
from rq.utils import now
from sqlalchemy.exc import OperationalError

from jobs.outage import Outage
from jobs.periodic import ConsoleScheduler
from jobs.schedule import PERIODIC_JOBS

CALLS: list[str] = []
FAILURES: list[BaseException] = []


def noted_job(who: str = "") -> None:
    """A periodic job that notes its run, or raises the next failure queued for it."""
    if FAILURES:
        raise FAILURES.pop(0)
    CALLS.append(who)


def _scheduler(redis_conn, ran: list) -> ConsoleScheduler:
    def run_here(func, args, kwargs):
        ran.append(func.__name__)
        return func(*args, **kwargs)

    scheduler = ConsoleScheduler(lambda: redis_conn, Outage("scheduler", "Redis"), run_here)
    scheduler.register(noted_job, queue_name="maintenance", interval=3600, name="noted")
    scheduler.in_process.add("noted")
    return scheduler


def test_the_sweep_the_due_link_look_and_the_fleet_tally_run_in_the_scheduler():
    # Short jobs that must run while every worker is dead, or busy streaming batches.
    assert [spec.name for spec in PERIODIC_JOBS if spec.in_scheduler] == [
        "schedule-due-syncs", "record-failed-sync-jobs", "fleet-tally"]


def test_a_job_run_in_the_scheduler_runs_once_per_period_among_schedulers_and_is_never_enqueued(
        app, redis_conn):
    CALLS.clear()
    FAILURES.clear()
    ran_first, ran_second = [], []
    first, second = _scheduler(redis_conn, ran_first), _scheduler(redis_conn, ran_second)

    assert [job.name for job in first.enqueue_jobs()] == ["noted"]
    assert second.enqueue_jobs() == []  # the period is claimed: the second scheduler skips it

    assert (CALLS, ran_first, ran_second) == ([""], ["noted_job"], [])
    assert Queue("maintenance", connection=redis_conn).count == 0
    [run] = get_cron_job_ids("noted", redis_conn)
    assert run.startswith(first.name + ":")
    # Its next period starts at the next hour, as for every scheduler.
    assert first.get_jobs()[0].next_enqueue_time > now()


def test_a_failing_job_in_the_scheduler_is_said_once_until_it_works_again_and_never_raises(
        app, redis_conn, capsys, caplog):
    CALLS.clear()
    FAILURES[:] = [OperationalError("UPDATE calendar_link", {}, Exception("database is locked")),
                   OperationalError("UPDATE calendar_link", {}, Exception("database is locked")),
                   RuntimeError("a bug")]
    scheduler = _scheduler(redis_conn, [])
    job = scheduler.get_jobs()[0]
    caplog.set_level(logging.DEBUG, logger="rq.cron")
    at = now()

    worked = [scheduler.run_in_process(job, at + timedelta(seconds=n)) for n in range(5)]

    assert worked == [False, False, False, True, True] and CALLS == ["", ""]
    said = capsys.readouterr().err.splitlines()
    assert said == ["scheduler: noted failed (OperationalError: (builtins.Exception) database is "
                    "locked); trying again every period",
                    "scheduler: noted works again (after 0 s); carrying on"]
    # Not an outage but a bug: its traceback is not said either, the failure being already said.
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
    durations = [r.getMessage() for r in caplog.records
                 if r.levelno == logging.DEBUG and "ran in this scheduler in" in r.getMessage()]
    assert len(durations) == 5
    assert len(get_cron_job_ids("noted", redis_conn)) == 5  # each run kept in the history


def test_a_bug_in_a_job_run_in_the_scheduler_logs_its_traceback_once(app, redis_conn, capsys, caplog):
    CALLS.clear()
    FAILURES[:] = [RuntimeError("a bug"), RuntimeError("a bug")]
    scheduler = _scheduler(redis_conn, [])
    job = scheduler.get_jobs()[0]

    assert [scheduler.run_in_process(job, now()) for _ in range(3)] == [False, False, True]

    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(errors) == 1 and errors[0].exc_info[0] is RuntimeError
    assert capsys.readouterr().err.count("noted failed (RuntimeError: a bug)") == 1


def test_redis_lost_mid_run_is_left_to_the_scheduler_s_own_redis_outage(app, redis_conn, capsys):
    import pytest
    import redis
    FAILURES[:] = [redis.ConnectionError("Connection refused")]
    scheduler = _scheduler(redis_conn, [])

    with pytest.raises(redis.ConnectionError):  # start() waits it out, saying it once
        scheduler.run_in_process(scheduler.get_jobs()[0], now())
    assert "noted failed" not in capsys.readouterr().err


def test_a_stop_asked_while_a_job_runs_stops_the_scheduler_even_when_the_driver_answers_it(
        app, redis_conn, capsys):
    import pytest
    from rq.exceptions import StopRequested
    scheduler = _scheduler(redis_conn, [])
    # SIGTERM lands inside a query: psycopg turns the raised StopRequested into its own error.
    scheduler.stop_requested = True
    FAILURES[:] = [OperationalError("SELECT 1", {}, Exception("another command is already in progress"))]

    with pytest.raises(StopRequested):
        scheduler.run_in_process(scheduler.get_jobs()[0], now())
    assert "noted failed" not in capsys.readouterr().err  # a stop, not a failure to report
