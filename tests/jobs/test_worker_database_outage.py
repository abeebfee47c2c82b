"""A job stopped by a database outage is said in one line by the worker, not a traceback (every periodic
job fails alike while it lasts); any other crash keeps its traceback."""
from __future__ import annotations

import subprocess
import sys

from rq import Queue
from rq.job import Job, JobStatus
from sqlalchemy.exc import OperationalError

from jobs.broker import redis_connection
from tests.jobs.outage_processes import ROOT, process_env


def refused_by_the_database():
    raise OperationalError("SELECT 1", {}, Exception('connection to server at "127.0.0.1", port 5432 '
                                                      'failed: FATAL:  database "x" is not currently '
                                                      'accepting connections'))


def crashed():
    raise RuntimeError("a bug of ours")


def run_one(app, backends, func) -> tuple[str, str]:
    """Queue `func`, drain it with a standalone burst worker: (the job's id, what the worker said)."""
    job = Queue("maintenance", connection=redis_connection(app)).enqueue(func)
    worker = subprocess.run([sys.executable, "-m", "flask", "--app", "wsgi", "worker", "--burst"], cwd=ROOT,
                            env=process_env(backends), capture_output=True, text=True, timeout=120)
    assert Job.fetch(job.id, connection=redis_connection(app)).get_status() == JobStatus.FAILED
    return job.id, worker.stdout + worker.stderr


def test_a_job_stopped_by_the_database_is_one_line_without_traceback(app, backends):
    job_id, said = run_one(app, backends, refused_by_the_database)
    line = [text for text in said.splitlines() if job_id in text and "stopped" in text]
    assert len(line) == 1 and "the database is not answering (OperationalError" in line[0]
    assert "Traceback" not in said


def test_any_other_crash_keeps_its_traceback(app, backends):
    _job_id, said = run_one(app, backends, crashed)
    assert "Traceback" in said and "RuntimeError: a bug of ours" in said
