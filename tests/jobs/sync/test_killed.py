
"""A worker killed mid-sync (SIGKILL, worker and work horse) changes nothing, and the link is synced again."""
from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import psutil
from rq.job import Job, JobStatus
from sqlalchemy import select

from console.extensions import db
from console.models import SyncRun
from console.timeutil import utcnow
from jobs.broker import redis_connection
from jobs.sync.runner import sync_links
from jobs.tasks import record_failed_sync_jobs
from jobs.worker import run_worker
from tests.jobs.feeds import airbnb_feed
from tests.jobs.sync.test_feeds import blocks, dates, day, fresh_link, runs

ROOT = Path(__file__).resolve().parents[3]
DEADLINE = 60  # seconds any one wait below may take before the test fails


class HeldFeed:
    """A loopback feed server (one thread per connection) answering every GET with `body`. While
    `holding` is set it sends the headers and half the body, sets `seen`, then blocks until `release`."""

    def __init__(self, body: bytes):
        self.body, self.holding, self.requests = body, False, 0
        self.seen, self.release = threading.Event(), threading.Event()
        self.listener = socket.socket()
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(16)
        self.url = f"http://127.0.0.1:{self.listener.getsockname()[1]}/feed.ics"
        self.threads = [threading.Thread(target=self._accept, daemon=True)]
        self.threads[0].start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.listener.accept()
            except OSError:
                return
            thread = threading.Thread(target=self._answer, args=(conn,), daemon=True)
            self.threads.append(thread)
            thread.start()

    def _answer(self, conn: socket.socket) -> None:
        with conn, contextlib.suppress(OSError):  # the client is gone (killed)
            data = b""
            while b"\r\n\r\n" not in data:
                chunk = conn.recv(4096)
                if not chunk:
                    return
                data += chunk
            self.requests += 1
            body, hold = self.body, self.holding
            head = (f"HTTP/1.1 200 OK\r\nContent-Type: text/calendar\r\nContent-Length: {len(body)}\r\n"
                    "Connection: close\r\n\r\n").encode()
            half = len(body) // 2
            conn.sendall(head + body[:half])
            if hold:
                self.seen.set()
                self.release.wait(DEADLINE)
            conn.sendall(body[half:])

    def close(self) -> None:
        self.release.set()
        self.listener.shutdown(socket.SHUT_RDWR)
        self.listener.close()
        for thread in self.threads:
            thread.join(5)


def start_worker(backends: dict, log: Path) -> subprocess.Popen:
    """A real `flask --app wsgi worker` on the session's database and Redis, in a process group of its own."""
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}
    env.update(backends, FETCH_ALLOW_HOSTS="127.0.0.1", PYTHONPATH=str(ROOT))
    with open(log, "wb") as out:
        return subprocess.Popen([sys.executable, "-m", "flask", "--app", "wsgi", "worker"], cwd=ROOT,
                                env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)


def wait_until(condition, proc: subprocess.Popen | None = None, timeout: float = DEADLINE,
               what: str = "condition") -> None:
    """Return once condition() holds; fail after `timeout` s, or at once if `proc` exited meanwhile."""
    end = time.monotonic() + timeout
    pause = threading.Event()
    while not condition():
        if proc is not None and proc.poll() is not None:
            raise AssertionError(f"the worker exited ({proc.returncode}) before {what}")
        if time.monotonic() > end:
            raise AssertionError(f"timed out waiting for {what}")
        pause.wait(0.05)


def wait_for_request(feed: HeldFeed, proc: subprocess.Popen, log: Path) -> None:
    """Wait until the worker's fetch reached the feed and got half the body."""
    try:
        wait_until(feed.seen.is_set, proc, what="the worker's request")
    except AssertionError as exc:
        raise AssertionError(f"{exc}\n{log.read_text(errors='replace')[-3000:]}") from None


def kill_worker(proc: subprocess.Popen) -> list[psutil.Process]:
    """SIGKILL the worker's process group and every work horse (rq puts each in a group of its own);
    wait until they are gone. Returns the processes killed."""
    try:
        family = [psutil.Process(proc.pid), *psutil.Process(proc.pid).children(recursive=True)]
    except psutil.NoSuchProcess:
        family = []
    ours = os.getpgid(0)
    for member in family:  # the worker first: it must not see its horse die and mark the job failed
        with contextlib.suppress(ProcessLookupError, PermissionError, psutil.NoSuchProcess):
            group = os.getpgid(member.pid)
            if group != ours:
                os.killpg(group, signal.SIGKILL)
            else:
                member.kill()
    proc.wait(timeout=30)
    _gone, alive = psutil.wait_procs(family, timeout=30)
    # An orphaned horse may linger as a zombie until its new parent reaps it: that is dead enough.
    for member in alive:
        with contextlib.suppress(psutil.NoSuchProcess):
            assert member.status() == psutil.STATUS_ZOMBIE, f"process {member.pid} survived SIGKILL"
    return family


def stop_worker(proc: subprocess.Popen) -> None:
    """End a worker started by start_worker (warm shutdown: it waits for its horse), by force if it
    does not stop in time; wait for it."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            kill_worker(proc)


def sync_run_count() -> int:
    db.session.expire_all()
    return db.session.execute(select(db.func.count()).select_from(SyncRun)).scalar()


def test_worker_killed_mid_sync_changes_no_block_is_recorded_and_the_link_is_synced_again(
        app, api, backends, make_property, make_link, tmp_path):
    old = airbnb_feed([(day(5), day(8), "Reserved"), (day(20), day(23), "Reserved"),
                       (day(40), day(43), "Airbnb (Not available)")])
    new = airbnb_feed([(day(6), day(9), "Reserved"), (day(30), day(33), "Reserved")])
    feed = HeldFeed(old)
    worker = None
    try:
        link = make_link(make_property(), url=feed.url, source="airbnb")
        sync_links([link.id])
        before, state_before, runs_before = blocks(link.id), fresh_link(link.id), sync_run_count()
        assert [(ci, co) for _c, ci, co in before] == [(day(5), day(8)), (day(20), day(23)),
                                                        (day(40), day(43))]
        last_sync_at, next_sync_at = state_before.last_sync_at, state_before.next_sync_at
        feed.body, feed.holding = new, True

        log = tmp_path / "worker.log"
        worker = start_worker(backends, log)
        staff = api("staff")
        first = staff.post(f"/links/{link.id}/sync")
        assert first.status_code == 202
        dead_job = first.get_json()["job_id"]
        wait_for_request(feed, worker, log)
        conn = redis_connection(app)
        job = Job.fetch(dead_job, connection=conn)
        assert job.get_status() == JobStatus.STARTED and job.worker_name
        killed = kill_worker(worker)
        assert len(killed) >= 2  # the worker and its work horse

        # Nothing of the half-read feed was stored, and nobody was left to record a run.
        assert blocks(link.id) == before
        assert sync_run_count() == runs_before
        after = fresh_link(link.id)
        assert (after.last_sync_at, after.next_sync_at, after.consecutive_failures) == \
            (last_sync_at, next_sync_at, 0)
        # The dead job still says STARTED (nobody was left to say otherwise)...
        assert Job.fetch(dead_job, connection=conn).get_status() == JobStatus.STARTED
        # ...until the sweep finds its worker dead: the attempt is recorded as our own failure,
        # so the link says "failing" (never "ok"), its blocks untouched; a second sweep adds nothing.
        assert record_failed_sync_jobs() == 1 and record_failed_sync_jobs() == 0
        lost = fresh_link(link.id)
        assert (lost.last_attempt_ok, lost.last_error_kind, lost.consecutive_failures) == \
            (False, "internal", 1)
        assert lost.health(utcnow(), 15) == "failing" and "killed or lost" in lost.last_error_message
        assert blocks(link.id) == before and sync_run_count() == runs_before + 1
        assert runs(link.id)[-1].error_kind == "internal"

        # ...yet a new sync is queued rather than the dead job returned.
        feed.holding = False
        again = staff.post(f"/links/{link.id}/sync")
        assert again.status_code == 202
        new_job = again.get_json()["job_id"]
        assert new_job != dead_job
        assert staff.post(f"/links/{link.id}/sync").get_json()["job_id"] == new_job  # queued: same job

        run_worker(app, burst=True)
        assert Job.fetch(new_job, connection=conn).get_status() == JobStatus.FINISHED
        assert dates(link.id) == [(day(6), day(9)), (day(30), day(33))]
        # The two moved stays keep their codes (matched by UID); the third was cancelled.
        assert [code for code, _ci, _co in blocks(link.id)] == [before[0][0], before[1][0]]
        last = runs(link.id)[-1]
        assert sync_run_count() == runs_before + 2
        assert (last.outcome, last.added, last.updated, last.removed) == ("changed", 0, 2, 1)
        assert fresh_link(link.id).last_attempt_ok is True
    finally:
        if worker is not None:
            stop_worker(worker)
        feed.close()
