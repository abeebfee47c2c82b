"""The Jobs page: rq-dashboard at /jobs on our Redis, for staff only; its POSTs need a staff login
from a page of the console, and a refused retry leaves the failed job where it was."""
from __future__ import annotations

import pytest
from rq import Queue
from rq.registry import FailedJobRegistry

from jobs.worker import run_worker

ORIGIN = {"Origin": "http://localhost"}  # the test client's own host


@pytest.fixture
def failed_job(app, redis_conn):
    """A real job that failed on a real (burst) worker: its function does not exist."""
    job = Queue("sync", connection=redis_conn).enqueue("jobs.tasks.no_such_task")
    run_worker(app, burst=True)
    assert job.id in FailedJobRegistry("sync", connection=redis_conn).get_job_ids()
    return job


def failed_ids(redis_conn) -> list[str]:
    return FailedJobRegistry("sync", connection=redis_conn).get_job_ids()


def test_anonymous_is_sent_to_the_login(client):
    resp = client.get("/jobs/")
    assert resp.status_code == 302 and "/login?next=/jobs/" in resp.headers["Location"]
    assert client.get("/jobs/0/data/queues.json").status_code == 302


def test_a_viewer_gets_the_console_403_and_no_menu_entry(login):
    client = login("viewer")
    resp = client.get("/jobs/")
    assert resp.status_code == 403 and "Not allowed" in resp.get_data(as_text=True)
    assert 'href="/jobs/"' not in client.get("/").get_data(as_text=True)


def test_staff_see_the_menu_entry_queues_and_the_failed_job(login, failed_job):
    client = login("staff")
    assert 'href="/jobs/"' in client.get("/").get_data(as_text=True)
    page = client.get("/jobs/")
    assert page.status_code == 200 and "RQ dashboard" in page.get_data(as_text=True)
    assert 'href="/" data-test="back-to-console"' in page.get_data(as_text=True)  # a way back
    assert "'unsafe-inline'" in page.headers["Content-Security-Policy"]
    [sync] = [q for q in client.get("/jobs/0/data/queues.json").get_json()["queues"]
              if q["name"] == "sync"]
    assert sync["failed_job_registry_count"] == 1
    failed = client.get("/jobs/0/data/jobs/sync/failed/8/asc/1.json").get_json()["jobs"]
    assert [j["id"] for j in failed] == [failed_job.id]
    assert "no_such_task" in failed[0]["exc_info"]


def test_the_relaxed_script_policy_is_only_on_the_jobs_pages(login):
    client = login("staff")
    assert "'unsafe-inline'" not in client.get("/").headers["Content-Security-Policy"].split(
        "style-src")[0]


def test_staff_retry_a_failed_job_from_the_console(login, failed_job, redis_conn):
    client = login("staff")
    resp = client.post(f"/jobs/job/{failed_job.id}/requeue", headers=ORIGIN)
    assert resp.status_code == 200 and resp.get_json()["status"] == "OK"
    assert failed_ids(redis_conn) == []
    assert Queue("sync", connection=redis_conn).job_ids == [failed_job.id]


def test_a_viewer_cannot_retry_and_the_failed_job_stays(login, failed_job, redis_conn):
    client = login("viewer")
    resp = client.post(f"/jobs/job/{failed_job.id}/requeue", headers=ORIGIN)
    assert resp.status_code == 403
    assert client.post("/jobs/queue/sync/failed/empty", headers=ORIGIN).status_code == 403
    assert failed_ids(redis_conn) == [failed_job.id]


def test_a_post_from_another_site_or_without_origin_is_refused(login, failed_job, redis_conn):
    client = login("staff")
    assert client.post(f"/jobs/job/{failed_job.id}/delete",
                       headers={"Origin": "https://evil.example"}).status_code == 403
    assert client.post(f"/jobs/job/{failed_job.id}/requeue").status_code == 403
    assert client.get("/jobs/requeue/sync").status_code == 405  # requeue-all on GET: never
    assert failed_ids(redis_conn) == [failed_job.id]


def test_anonymous_post_is_sent_to_the_login_and_the_failed_job_stays(client, failed_job,
                                                                       redis_conn):
    resp = client.post("/jobs/queue/sync/failed/empty", headers=ORIGIN)
    assert resp.status_code == 302 and "/login" in resp.headers["Location"]
    assert failed_ids(redis_conn) == [failed_job.id]
