"""A streaming batch: a scheduled sync job that claims the links falling due while its fetch pool has room."""
from __future__ import annotations

import contextlib
import logging
import time
from collections import Counter
from datetime import timedelta

from flask import current_app

from console.extensions import db
from console.timeutil import utcnow

log = logging.getLogger(__name__)
# A stream stops claiming after SYNC_STREAM_SECONDS (its successor is queued then), or after
# SYNC_STREAM_YIELD_SECONDS when a person's sync or an alert waits in a queue its worker takes first:
# the worker ends the batch and takes them. Its reads in flight are finished, never cut short.
FIRST_QUEUES = ("forced", "alerts")  # taken before the sync queue (jobs.queue.QUEUE_NAMES)
# With nothing in flight, a stream waits for a link falling due this soon; else it ends (the scheduler's
# next look queues a batch for its worker).
IDLE_WAIT_SECONDS = 2


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
        from jobs.queue import note_last_job, waiting_jobs
        from jobs.tasks import claim_due_links
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
        from jobs.tasks import batch_size, claim_due_links, enqueue_batches
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
