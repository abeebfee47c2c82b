"""Every periodic job, in one list (the scheduler registers exactly these)."""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace

from jobs import tasks


@dataclass(frozen=True)
class Periodic:
    """A job the scheduler enqueues every `interval` seconds or on a cron expression."""

    name: str
    func: Callable
    queue: str = "maintenance"
    interval: int | None = None
    cron: str | None = None
    timeout: int = 600
    # RQ's defaults (keep a result 500 s, a failure a year, wait in the queue for ever), unless said.
    ttl: int | None = None
    result_ttl: int = 500
    failure_ttl: int | None = None
    # Left out of the worker's and scheduler's INFO lines (its warnings and errors still show).
    quiet: bool = False
    # Run by the scheduler that claims the period, in its own app context, instead of enqueued: for a
    # job that must run while every worker is dead or busy. Keep such a job short.
    in_scheduler: bool = False


PERIODIC_JOBS: list[Periodic] = [
    # Due links are looked for every 10 s, so a 2-minute interval (SYNC_MIN_INTERVAL_MINUTES) is kept;
    # each link's own time comes from next_sync_at. Run by the scheduler itself: streaming batches may keep
    # every worker busy for a minute (jobs/batches.py), and a look must not wait behind them.
    Periodic("schedule-due-syncs", tasks.schedule_due_syncs, interval=10, ttl=30, in_scheduler=True),
    # A sync job whose worker died leaves no trace but RQ's failed registry: record it on its links;
    # a sync Redis lost is queued again. Every LOST_SYNC_SWEEP_SECONDS (this is its default). Run by
    # the scheduler itself: with every worker dead, no worker would run it.
    Periodic("record-failed-sync-jobs", tasks.record_failed_sync_jobs, interval=30,
             in_scheduler=True),
    Periodic("recompute-scores-nightly", tasks.recompute_scores_job, cron="30 2 * * *",
             timeout=1800),
    Periodic("recompute-risk-hourly", tasks.recompute_risk_job, interval=3600),
    Periodic("prune-sync-runs", tasks.prune_runs_job, cron="15 3 * * *"),
    # The fleet's counts for pages and /metrics: small and frequent (50-120 ms at 20,000-40,000 links), so
    # run by the scheduler itself: a tally waiting in the alerts queue would stop the workers' streaming
    # batches every 10 s. A minute without one and readers count for themselves (console.reports.fleet_tally).
    Periodic("fleet-tally", tasks.fleet_tally_job, queue="alerts", interval=10, timeout=120, ttl=30,
             result_ttl=60, failure_ttl=86400, quiet=True, in_scheduler=True),
    # Alerts: reminders, stale links, export feeds not read, digests due, deliveries to retry.
    Periodic("alerts-tick", tasks.alerts_tick_job, queue="alerts", interval=60),
    Periodic("weekly-digest", tasks.weekly_digest_job, cron="0 7 * * 1"),
]


def periodic_jobs(config) -> list[Periodic]:
    """PERIODIC_JOBS with the intervals the configuration sets."""
    sweep = config["LOST_SYNC_SWEEP_SECONDS"]
    return [replace(spec, interval=sweep) if spec.name == "record-failed-sync-jobs" else spec
            for spec in PERIODIC_JOBS]
