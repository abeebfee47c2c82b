"""Database faults answer clearly and fast: a 503 that says so within DB_TIMEOUT_SECONDS, reads that
survive a locked database, /healthz that tells a locked database from a working one; and a sync
whose result the locked database refused is recorded once it answers again."""
from __future__ import annotations

import socket
import sqlite3
import time
from contextlib import contextmanager

import pytest
from rq.job import Job, JobStatus

from config import TestConfig
from console import create_app
from console.extensions import db
from console.models import ApiToken
from jobs.broker import redis_connection
from jobs.queue import enqueue_batch
from jobs.tasks import record_failed_sync_jobs, sync_batch_job
from jobs.worker import run_worker
from tests.jobs.feeds import airbnb_feed
from tests.jobs.sync.test_feeds import FeedServer, blocks, day, fresh_link, runs


def closed_port() -> int:
    probe = socket.socket()
    probe.bind(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()
    return port


def bearer(role: str = "staff") -> dict:
    row, clear = ApiToken.issue(f"test-{role}", role)
    db.session.add(row)
    db.session.commit()
    return {"Authorization": f"Bearer {clear}"}


def test_an_unreachable_database_is_a_503_that_says_so(backends):
    app = create_app(TestConfig(env={**backends, "DB_TIMEOUT_SECONDS": "2",
                                     "DATABASE_URL": f"postgresql://u@127.0.0.1:{closed_port()}/x"}))
    client = app.test_client()
    began = time.monotonic()
    api = client.get("/api/v1/properties", headers={"Authorization": "Bearer csc_x"})
    page = client.get("/login")  # a page that reads nothing still works...
    health = client.get("/healthz")
    assert time.monotonic() - began < 10
    assert api.status_code == 503 and api.get_json()["error"]["code"] == "database_unavailable"
    assert api.headers["Retry-After"]
    assert page.status_code == 200
    assert health.status_code == 503 and health.get_json()["database"] == "down"


@pytest.fixture
def sqlite_path(backends):
    url = backends["DATABASE_URL"]
    if not url.startswith("sqlite:///"):
        pytest.skip("the write lock is SQLite's: PostgreSQL locks rows, not the database")
    return url[len("sqlite:///"):]


@contextmanager
def write_locked(path: str):
    """Hold SQLite's write lock from another connection, as a long sync's transaction does."""
    conn = sqlite3.connect(path, isolation_level=None, timeout=1)
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield
    finally:
        conn.execute("ROLLBACK")
        conn.close()


def test_a_locked_database_answers_within_the_timeout_and_reads_still_work(
        app, backends, sqlite_path, make_property):
    make_property(name="Casa Azul")
    headers = bearer()
    quick = create_app(TestConfig(env={**backends, "DB_TIMEOUT_SECONDS": "1"}))
    client = quick.test_client()
    with write_locked(sqlite_path):
        began = time.monotonic()
        read = client.get("/api/v1/properties", headers=headers)  # its last_used_at write waits, then gives up
        write = client.post("/api/v1/properties", headers=headers,
                            json={"name": "Casa Roja", "owner_email": "o@example.com"})
        health = client.get("/healthz")
        elapsed = time.monotonic() - began
    assert read.status_code == 200 and [p["name"] for p in read.get_json()["items"]] == ["Casa Azul"]
    assert write.status_code == 503 and write.get_json()["error"]["code"] == "database_unavailable"
    assert health.status_code == 503 and health.get_json()["database"] == "down"
    assert elapsed < 8  # three waits of about DB_TIMEOUT_SECONDS, not 30 s each
    assert client.get("/healthz").status_code == 200  # the lock is gone: writable again
    db.session.expire_all()
    assert [p["name"] for p in client.get("/api/v1/properties", headers=headers)
            .get_json()["items"]] == ["Casa Azul"]  # the refused write stored nothing


def test_a_sync_whose_result_the_locked_database_refused_is_recorded_once_it_answers(
        app, backends, sqlite_path, httpserver, make_property, make_link):
    feed = FeedServer(httpserver, "/a.ics", airbnb_feed([(day(5), day(8), "Reserved")]))
    link = make_link(make_property(), url=feed.url, source="airbnb")
    from jobs.sync.runner import sync_links
    sync_links([link.id])
    before, run_count = blocks(link.id), len(runs(link.id))
    feed.body = airbnb_feed([(day(5), day(8), "Reserved"), (day(30), day(31), "Reserved")])
    quick = create_app(TestConfig(env={**backends, "DB_TIMEOUT_SECONDS": "1"}))
    with quick.app_context():
        job_id = enqueue_batch(sync_batch_job, [link.id])
    with write_locked(sqlite_path):
        run_worker(quick, burst=True)
    assert Job.fetch(job_id, connection=redis_connection(app)).get_status() == JobStatus.FAILED
    assert blocks(link.id) == before and len(runs(link.id)) == run_count  # nothing could be written
    assert record_failed_sync_jobs() == 1
    failed = fresh_link(link.id)
    assert (failed.last_attempt_ok, failed.last_error_kind) == (False, "database")
    assert blocks(link.id) == before and len(runs(link.id)) == run_count + 1
