"""Scheduled sync batches: their size and time limit, queueing them, and the streaming claim by which a
running batch takes the links falling due while its fetch pool has room."""
from __future__ import annotations

import contextlib
import logging
import math
import time
from collections import Counter
from datetime import timedelta

from flask import current_app

from console.extensions import db
from console.timeutil import utcnow
from jobs.queue import enqueue_batch, note_last_job, waiting_jobs
from jobs.sync.due import claim_due_links

log = logging.getLogger(__name__)
SYNC_BATCH_JOB = "jobs.tasks.sync_batch_job"  # named, not imported: the tasks sit above the batches
# A stream stops claiming after SYNC_STREAM_SECONDS (its successor is queued then), or after
# SYNC_STREAM_YIELD_SECONDS when a person's sync or an alert waits in a queue its worker takes first:
# the worker ends the batch and takes them. Its reads in flight are finished, never cut short.
FIRST_QUEUES = ("forced", "alerts")  # taken before the sync queue (jobs.queue.QUEUE_NAMES)
# With nothing in flight, a stream waits for a link falling due this soon; else it ends (the scheduler's
# next look queues a batch for its worker).
IDLE_WAIT_SECONDS = 2


# A batch keeps one job's fetch pool busy for several rounds of network latency: small batches
# each end waiting on their slowest feed, and each job costs a fork and a start-up.
BATCH_ROUNDS = 8
MIN_BATCH_SIZE = 50


def batch_size(config) -> int:
    """Links per queued batch job, from the fetch pool's size."""
    return max(MIN_BATCH_SIZE, BATCH_ROUNDS * config["FETCH_CONCURRENCY"])


def batch_timeout(config, links: int) -> int:
    """Seconds a batch job may run: every fetch timing out on one host (the worst case), plus margin."""
    in_flight = max(1, min(config["FETCH_CONCURRENCY"], config["FETCH_PER_HOST_LIMIT"]))
    return 120 + math.ceil(links / in_flight) * config["FETCH_TIMEOUT_SECONDS"]


def enqueue_batches(ids: list[int]) -> list[tuple[int, str]]:
    """Queue the links as streaming batch jobs of `batch_size` links; (links, job id) for each job."""
    config = current_app.config
    size = batch_size(config)
    batches = [ids[start:start + size] for start in range(0, len(ids), size)]
    return [(len(batch), enqueue_batch(SYNC_BATCH_JOB, batch, stream=True,
                                       timeout=batch_timeout(config, len(batch))
                                       + config["SYNC_STREAM_SECONDS"]))
            for batch in batches]


def _due_within(seconds: float) -> bool:
    """Whether an active link falls due within `seconds` (one walk down ix_calendar_links_due)."""
    from sqlalchemy import func, select

    from console.models import CalendarLink
    soonest = db.session.execute(select(func.min(CalendarLink.next_sync_at))
                                 .where(CalendarLink.state == "active")).scalar()
    db.session.commit()
    return soonest is not None and soonest <= utcnow() + timedelta(seconds=seconds)


class Stream:
    """`more` for jobs.sync.runner.sync_links: claims due links for one running batch job."""

    def __init__(self, link_ids: list[int], job_id: str):
        self.link_ids, self.job_id = link_ids, job_id  # link_ids grows: the job records them all
        self.began = time.monotonic()
        self.stopped: str | None = None  # why it stopped claiming: "time", "waiting", "idle", "failed"
        self.claimed = 0

    def __call__(self, room: int, in_flight: int = 1) -> list[int] | None:
        """Claim up to `room` due links for this job, longest waiting first; [] when none is due now,
        None once it stopped. With nothing in flight it yields to waiting jobs at once."""
        if self.stopped:
            return None
        config = current_app.config
        ran = time.monotonic() - self.began
        if ran >= config["SYNC_STREAM_SECONDS"]:
            self.stopped = "time"
            return None
        try:
            if (ran >= config["SYNC_STREAM_YIELD_SECONDS"] or not in_flight) and waiting_jobs(FIRST_QUEUES):
                self.stopped = "waiting"
                return None
            now = utcnow()
            ids = claim_due_links(now, now + timedelta(minutes=config["SYNC_INTERVAL_MINUTES"]),
                                  limit=room, job_id=self.job_id)
        except Exception:  # noqa: BLE001 - Redis or the database failing: finish what was claimed
            with contextlib.suppress(Exception):
                db.session.rollback()  # the batch's results are still stored in this session
            log.warning("streaming batch %s stops claiming: the database or Redis failed", self.job_id,
                        exc_info=True)
            self.stopped = "failed"
            return None
        if not ids and not in_flight and not _due_within(IDLE_WAIT_SECONDS):
            self.stopped = "idle"  # nothing to read for a while: the worker is free for other work
            return None
        with contextlib.suppress(Exception):  # only the links' pages would miss this job's state
            note_last_job(ids, self.job_id)
        known = set(self.link_ids)
        ids = [i for i in ids if i not in known]  # a batch's own link, due again: read once per job
        self.link_ids.extend(ids)
        self.claimed += len(ids)
        return ids

    def queue_successor(self) -> int:
        """Queue the next batch when this one stopped claiming with links still due (links queued)."""
        if self.stopped not in ("time", "waiting"):
            return 0
        now = utcnow()
        config = current_app.config
        ids = claim_due_links(now, now + timedelta(minutes=config["SYNC_INTERVAL_MINUTES"]),
                              limit=batch_size(config))
        enqueue_batches(ids)
        return len(ids)

    def report(self, summaries) -> list[str]:
        """The job's result: how many links it synced, by outcome, and a line per link that failed."""
        counts = Counter(s.outcome for s in summaries)
        head = (f"{len(summaries)} links synced ({self.claimed} claimed while running): "
                + ", ".join(f"{n} {outcome}" for outcome, n in sorted(counts.items())))
        return [head, *(s.line() for s in summaries if s.outcome == "error")]
