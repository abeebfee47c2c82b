"""The documented CLI commands, through the real Flask CLI runner."""
from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

import pytest
from rq import Queue
from rq.cron import CronScheduler, get_cron_job_ids
from rq.utils import import_attribute
from sqlalchemy import select

from console.extensions import db
from console.models import ApiToken, CalendarLink, Property, Reservation, ScoreSnapshot, SyncRun, User
from console.timeutil import utcnow
from jobs.schedule import PERIODIC_JOBS
from jobs.tasks import due_link_ids
from jobs.worker import run_worker
from tests.jobs.feeds import airbnb_feed
from tests.jobs.sync.test_feeds import FeedServer, day

ROOT = Path(__file__).resolve().parents[3]


def test_create_user_then_update_role(runner):
    result = runner.invoke(args=["create-user", "Ana@Example.com", "--role", "staff",
                                 "--password", "long enough pw"])
    assert result.exit_code == 0, result.output
    user = db.session.query(User).one()
    assert user.email == "ana@example.com" and user.role == "staff"
    assert user.check_password("long enough pw")
    result = runner.invoke(args=["create-user", "ana@example.com", "--role", "admin",
                                 "--password", "another long pw"])
    assert result.exit_code == 0 and db.session.query(User).count() == 1
    db.session.expire_all()
    assert db.session.query(User).one().role == "admin"


def test_create_user_refuses_short_password_and_bad_role(runner):
    assert runner.invoke(args=["create-user", "a@example.com", "--role", "staff",
                               "--password", "short"]).exit_code != 0
    assert runner.invoke(args=["create-user", "a@example.com", "--role", "god",
                               "--password", "long enough pw"]).exit_code != 0
    assert db.session.query(User).count() == 0


def test_create_token_prints_the_token_alone_last(runner, client):
    result = runner.invoke(args=["create-token", "ranking", "--role", "viewer"])
    assert result.exit_code == 0
    token = result.output.strip().splitlines()[-1]
    assert " " not in token and len(token) > 30
    assert ApiToken.find(token).role == "viewer"
    resp = client.get("/api/v1/scores", headers={"Authorization": f"Bearer {token}"})
    assert resp.status_code != 401


def test_demo_is_idempotent_and_prints_the_login(runner):
    first = runner.invoke(args=["demo"])
    assert first.exit_code == 0 and "admin@only-apartments.com" in first.output
    count = db.session.query(Property).count()
    assert count >= 12
    second = runner.invoke(args=["demo"])
    assert second.exit_code == 0 and db.session.query(Property).count() == count
    skipped = runner.invoke(args=["demo", "--if-empty"])
    assert "not loaded" in skipped.output and db.session.query(Property).count() == count
    sources = {link.source for link in db.session.query(CalendarLink)}
    assert {"airbnb", "vrbo", "booking", "google"} <= sources


def test_demo_has_a_manager_login_with_the_viewer_role(runner):
    from console.demo.data import DEMO_PASSWORD
    from console.models import User
    out = runner.invoke(args=["demo"]).output
    assert f"demo manager login (viewer): manager@only-apartments.com / {DEMO_PASSWORD}" in out
    manager = db.session.query(User).filter_by(email="manager@only-apartments.com").one()
    assert manager.role == "viewer" and manager.check_password(DEMO_PASSWORD)


def test_sync_of_unknown_link_fails_and_of_nothing_says_so(runner):
    result = runner.invoke(args=["sync", "4242"])
    assert result.exit_code != 0 and "no such link" in result.output
    result = runner.invoke(args=["sync"])
    assert result.exit_code != 0
    assert runner.invoke(args=["sync", "--all"]).output.strip() == "nothing to sync"


def test_sync_prints_one_line_per_link_and_exits_0_on_link_failure(runner, make_property,
                                                                   make_link, httpserver):
    httpserver.expect_request("/gone.ics").respond_with_data("nope", status=404)
    prop = make_property()
    link = make_link(prop, url=httpserver.url_for("/gone.ics"))
    result = runner.invoke(args=["sync", str(link.id)])
    assert result.exit_code == 0, result.output
    assert f"link {link.id}: error not_found" in result.output


def test_recompute_scores_command(runner, make_property):
    make_property()
    result = runner.invoke(args=["recompute-scores"])
    assert result.exit_code == 0 and "recomputed 1 properties" in result.output


def test_init_db_is_idempotent(runner):
    assert runner.invoke(args=["init-db"]).exit_code == 0
    assert runner.invoke(args=["init-db"]).exit_code == 0


def blocks_of(link_id: int) -> list[tuple]:
    """The link's stored EX- blocks as (check_in, check_out)."""
    db.session.expire_all()
    rows = list(db.session.execute(select(Reservation).where(Reservation.link_id == link_id)
                                   .order_by(Reservation.check_in)).scalars())
    assert all(r.code.startswith("EX-") and r.origin == "external" for r in rows)
    return [(r.check_in, r.check_out) for r in rows]


def link_lines(output: str) -> dict[int, str]:
    """The per-link summary lines of `sync`, by link id (each id at most once)."""
    lines = [line for line in output.splitlines() if re.match(r"link \d+: ", line)]
    ids = [int(re.match(r"link (\d+): ", line).group(1)) for line in lines]
    assert len(ids) == len(set(ids)), output
    return dict(zip(ids, lines, strict=True))


@pytest.fixture
def feeds(httpserver):
    """Two real-looking Airbnb feeds on a loopback server: /a.ics one stay, /b.ics two."""
    return (FeedServer(httpserver, "/a.ics", airbnb_feed([(day(3), day(6), "Reserved")])),
            FeedServer(httpserver, "/b.ics", airbnb_feed([(day(10), day(12), "Reserved"),
                                                          (day(20), day(21), "Airbnb (Not available)")])))


def test_sync_of_named_links_prints_one_summary_line_each_and_stores_their_blocks(
        runner, make_property, make_link, feeds):
    a, b = feeds
    prop = make_property()
    first = make_link(prop, url=a.url, source="airbnb")
    second = make_link(prop, url=b.url, source="airbnb")
    untouched = make_link(prop, url=a.url + "?other", source="airbnb")

    result = runner.invoke(args=["sync", str(first.id), str(second.id)])

    assert result.exit_code == 0, result.output
    lines = link_lines(result.output)
    assert sorted(lines) == [first.id, second.id]
    assert lines[first.id] == f"link {first.id}: changed (+1 ~0 -0)"
    assert lines[second.id] == f"link {second.id}: changed (+2 ~0 -0)"
    assert result.output.strip().splitlines()[-1].startswith("synced 2 links in ")
    assert blocks_of(first.id) == [(day(3), day(6))]
    assert blocks_of(second.id) == [(day(10), day(12)), (day(20), day(21))]
    assert blocks_of(untouched.id) == [] and a.requests == 1 and b.requests == 1

    again = runner.invoke(args=["sync", str(first.id)])
    assert link_lines(again.output)[first.id] == f"link {first.id}: unchanged (+0 ~0 -0)"
    assert blocks_of(first.id) == [(day(3), day(6))]


def test_sync_all_syncs_every_active_link_and_no_other(runner, make_property, make_link, feeds):
    a, _ = feeds
    prop = make_property()
    active = [make_link(prop, url=f"{a.url}?{n}", source="airbnb",
                        next_sync_at=utcnow() + timedelta(hours=n)) for n in range(2)]
    paused = make_link(prop, url=a.url + "?p", source="airbnb", state="paused")
    linked = make_link(prop, url=a.url + "?l", source="airbnb", state="linked")

    result = runner.invoke(args=["sync", "--all"])

    assert result.exit_code == 0, result.output
    assert sorted(link_lines(result.output)) == [link.id for link in active]
    assert all(blocks_of(link.id) == [(day(3), day(6))] for link in active)
    for link in (paused, linked):
        assert blocks_of(link.id) == [] and db.session.get(CalendarLink, link.id).last_sync_at is None
    assert a.requests == 2


def test_sync_due_syncs_only_active_links_whose_time_has_come(runner, make_property, make_link,
                                                               feeds):
    a, _ = feeds
    prop, now = make_property(), utcnow()
    never = make_link(prop, url=a.url + "?never", source="airbnb")
    overdue = make_link(prop, url=a.url + "?overdue", source="airbnb",
                        next_sync_at=now - timedelta(minutes=1))
    later = make_link(prop, url=a.url + "?later", source="airbnb",
                      next_sync_at=now + timedelta(minutes=10))
    paused = make_link(prop, url=a.url + "?paused", source="airbnb", state="paused",
                       next_sync_at=now - timedelta(minutes=1))

    result = runner.invoke(args=["sync", "--due"])

    assert result.exit_code == 0, result.output
    assert sorted(link_lines(result.output)) == sorted([never.id, overdue.id])
    assert blocks_of(never.id) == blocks_of(overdue.id) == [(day(3), day(6))]
    assert blocks_of(later.id) == blocks_of(paused.id) == []
    # Synced links get their next time: a second --due right after finds nothing.
    assert runner.invoke(args=["sync", "--due"]).output.strip() == "nothing to sync"


def test_named_links_are_synced_whatever_their_backoff_and_a_paused_one_stays_paused(
        runner, make_property, make_link, feeds):
    a, _ = feeds
    prop, now = make_property(), utcnow()
    backing_off = dict(consecutive_failures=6, last_attempt_ok=False, last_error_kind="server_error",
                       last_sync_at=now - timedelta(minutes=5), next_sync_at=now + timedelta(hours=6))
    paused = make_link(prop, url=a.url + "?paused", source="airbnb", state="paused", **backing_off)
    waiting = make_link(prop, url=a.url + "?active", source="airbnb", **backing_off)
    assert due_link_ids() == []  # neither would be picked by the schedule

    result = runner.invoke(args=["sync", str(paused.id), str(waiting.id)])

    assert result.exit_code == 0, result.output
    assert sorted(link_lines(result.output)) == sorted([paused.id, waiting.id])
    for link_id in (paused.id, waiting.id):
        link = db.session.get(CalendarLink, link_id)
        assert blocks_of(link_id) == [(day(3), day(6))]
        assert link.consecutive_failures == 0 and link.last_attempt_ok
    assert db.session.get(CalendarLink, paused.id).state == "paused"
    assert db.session.get(CalendarLink, paused.id).next_sync_at is None  # not put back on schedule
    assert db.session.get(CalendarLink, waiting.id).next_sync_at > now


def test_sync_exits_0_when_a_link_fails_and_records_the_failure(runner, make_property, make_link,
                                                                feeds, httpserver):
    a, _ = feeds
    httpserver.expect_request("/broken.ics").respond_with_data("oops", status=503)
    prop = make_property()
    good = make_link(prop, url=a.url, source="airbnb")
    broken = make_link(prop, url=httpserver.url_for("/broken.ics"))

    result = runner.invoke(args=["sync", str(good.id), str(broken.id)])

    assert result.exit_code == 0, result.output
    lines = link_lines(result.output)
    assert lines[broken.id].startswith(f"link {broken.id}: error server_error")
    assert lines[good.id].startswith(f"link {good.id}: changed")
    link = db.session.get(CalendarLink, broken.id)
    assert link.consecutive_failures == 1 and link.last_error_kind == "server_error"
    assert link.last_error_http_status == 503
    [run] = db.session.execute(select(SyncRun).filter_by(link_id=broken.id)).scalars()
    assert run.outcome == "error" and run.error_kind == "server_error"
    assert blocks_of(good.id) == [(day(3), day(6))]


@pytest.mark.parametrize("command", ["sync", "enqueue-sync"])
def test_sync_commands_refuse_to_run_without_a_selection_or_with_an_unknown_id(
        command, runner, redis_conn, make_property, make_link, feeds):
    a, _ = feeds
    link = make_link(make_property(), url=a.url, source="airbnb")

    nothing = runner.invoke(args=[command])
    assert nothing.exit_code == 2 and "--all or --due" in nothing.output  # a usage error
    unknown = runner.invoke(args=[command, str(link.id), str(link.id + 1000)])
    assert unknown.exit_code == 1 and f"no such link: {link.id + 1000}" in unknown.output
    not_a_number = runner.invoke(args=[command, "first"])
    assert not_a_number.exit_code == 2

    # Refused means nothing happened, not even to the link that exists.
    assert a.requests == 0 and blocks_of(link.id) == []
    assert db.session.get(CalendarLink, link.id).last_sync_at is None
    assert [Queue(name, connection=redis_conn).count for name in ("forced", "sync")] == [0, 0]


def test_enqueue_sync_exits_non_zero_with_a_clear_message_when_redis_is_unreachable(
        app, runner, make_property, make_link):
    link = make_link(make_property())
    previous = app.extensions.pop("csc_redis", None)
    with socket.socket() as bound:  # bound, never listening: connections are refused
        bound.bind(("127.0.0.1", 0))
        app.config["REDIS_URL"] = f"redis://127.0.0.1:{bound.getsockname()[1]}/0"
        try:
            result = runner.invoke(args=["enqueue-sync", str(link.id)])
        finally:
            if previous is not None:
                previous.close()
    assert result.exit_code == 1
    assert "the job queue (Redis) is unreachable" in result.output


def test_enqueue_sync_of_a_named_link_puts_one_forced_job_that_a_worker_runs(
        app, runner, redis_conn, make_property, make_link, feeds):
    a, _ = feeds
    link = make_link(make_property(), url=a.url, source="airbnb", state="paused")

    first = runner.invoke(args=["enqueue-sync", str(link.id)])
    second = runner.invoke(args=["enqueue-sync", str(link.id)])

    assert first.exit_code == 0 and second.exit_code == 0, first.output + second.output
    job_id = re.fullmatch(rf"link {link.id}: job (\S+)", first.output.strip()).group(1)
    assert second.output == first.output  # still queued: the same job, not a second one
    [job] = Queue("forced", connection=redis_conn).get_jobs()
    assert job.id == job_id and job.func_name == "jobs.tasks.sync_link_job"
    assert job.args == (link.id,)
    assert Queue("sync", connection=redis_conn).count == 0
    assert a.requests == 0 and blocks_of(link.id) == []  # queued, not run inline

    run_worker(app, burst=True)

    assert a.requests == 1 and blocks_of(link.id) == [(day(3), day(6))]
    assert Queue("forced", connection=redis_conn).count == 0
    db.session.expire_all()
    assert db.session.get(CalendarLink, link.id).state == "paused"


def test_enqueue_sync_due_puts_one_batch_of_due_links_that_a_worker_syncs(
        app, runner, redis_conn, make_property, make_link, feeds):
    a, _ = feeds
    prop, now = make_property(), utcnow()
    due = [make_link(prop, url=f"{a.url}?{n}", source="airbnb") for n in range(3)]
    later = make_link(prop, url=a.url + "?later", source="airbnb",
                      next_sync_at=now + timedelta(minutes=10))
    paused = make_link(prop, url=a.url + "?paused", source="airbnb", state="paused")

    result = runner.invoke(args=["enqueue-sync", "--due"])

    assert result.exit_code == 0, result.output
    [job] = Queue("sync", connection=redis_conn).get_jobs()
    assert result.output.strip() == f"3 links: job {job.id}"
    assert job.func_name == "jobs.tasks.sync_batch_job"
    assert job.args == ([link.id for link in due],)
    assert Queue("forced", connection=redis_conn).count == 0 and a.requests == 0

    run_worker(app, burst=True)

    assert all(blocks_of(link.id) == [(day(3), day(6))] for link in due)
    assert blocks_of(later.id) == blocks_of(paused.id) == [] and a.requests == 3
    assert Queue("sync", connection=redis_conn).count == 0


def test_every_periodic_job_is_importable_by_name_and_runs_in_the_app_context(
        app, redis_conn, make_property, make_link):
    names = [spec.name for spec in PERIODIC_JOBS]
    assert names == ["schedule-due-syncs", "record-failed-sync-jobs", "recompute-scores-nightly",
                     "recompute-risk-hourly", "prune-sync-runs", "fleet-tally", "alerts-tick",
                     "weekly-digest"]
    timing = {spec.name: (spec.interval, spec.cron, spec.queue) for spec in PERIODIC_JOBS}
    assert timing == {"schedule-due-syncs": (10, None, "maintenance"),
                      "record-failed-sync-jobs": (30, None, "maintenance"),
                      "recompute-scores-nightly": (None, "30 2 * * *", "maintenance"),
                      "recompute-risk-hourly": (3600, None, "maintenance"),
                      "prune-sync-runs": (None, "15 3 * * *", "maintenance"),
                      "fleet-tally": (10, None, "alerts"),
                      "alerts-tick": (60, None, "alerts"),
                      "weekly-digest": (None, "0 7 * * 1", "maintenance")}
    prop = make_property()
    link = make_link(prop)  # active, never synced: due
    db.session.add(SyncRun(link_id=link.id, started_at=utcnow() - timedelta(days=400)))
    db.session.commit()

    # What a worker does with a job the scheduler queued: import the function by its name.
    results = {spec.name: import_attribute(f"{spec.func.__module__}.{spec.func.__name__}")()
               for spec in PERIODIC_JOBS}

    # The weekly digest has no manager address by default: stored, delivered to nobody (0 deliveries).
    assert results == {"schedule-due-syncs": 1, "record-failed-sync-jobs": 0,
                       "recompute-scores-nightly": 1, "recompute-risk-hourly": 1,
                       "prune-sync-runs": 1, "fleet-tally": 1, "alerts-tick": 0, "weekly-digest": 0}
    [batch] = Queue("sync", connection=redis_conn).get_jobs()
    assert batch.args == ([link.id],)
    db.session.expire_all()
    assert db.session.query(SyncRun).count() == 0
    assert db.session.query(ScoreSnapshot).filter_by(property_id=prop.id).count() == 1
    assert db.session.get(Property, prop.id).risk_computed_at is not None


def _scheduler_env(backends) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}
    env.update(backends, PYTHONPATH=str(ROOT))
    return env


def test_scheduler_process_registers_exactly_the_periodic_jobs_and_queues_the_due_syncs(
        app, backends, redis_conn, make_property, make_link, feeds):
    a, _ = feeds
    link = make_link(make_property(), url=a.url, source="airbnb")
    proc = subprocess.Popen([sys.executable, "-m", "flask", "--app", "wsgi", "scheduler"],
                            cwd=ROOT, env=_scheduler_env(backends), stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    try:
        maintenance = Queue("maintenance", connection=redis_conn)
        deadline = time.monotonic() + 60
        # Polling Redis: another process writes there, and there is no event to wait on.
        at_start = sorted(f"{spec.func.__module__}.{spec.func.__name__}" for spec in PERIODIC_JOBS
                          if spec.interval and spec.queue == "maintenance" and not spec.in_scheduler)
        while not (CronScheduler.all(redis_conn) and maintenance.count >= len(at_start)):
            assert proc.poll() is None, proc.stdout.read()
            assert time.monotonic() < deadline, "the scheduler registered nothing in 60 s"
            time.sleep(0.05)
        [scheduler] = CronScheduler.all(redis_conn)
        assert scheduler.pid == proc.pid
        registered = {(job.name, job.func_name, job.queue_name, job.interval, job.cron,
                       *(job.job_options.get(k) for k in ("job_timeout", "ttl", "result_ttl", "failure_ttl")))
                      for job in scheduler.get_jobs()}
        assert registered == {(spec.name, f"{spec.func.__module__}.{spec.func.__name__}",
                               spec.queue, spec.interval, spec.cron, spec.timeout, spec.ttl,
                               spec.result_ttl, spec.failure_ttl)
                              for spec in PERIODIC_JOBS}
        [tally] = [job for job in scheduler.get_jobs() if job.name == "fleet-tally"]
        assert (tally.interval, tally.job_options["ttl"], tally.job_options["failure_ttl"]) == (10, 30, 86400)
        assert len(scheduler.get_jobs()) == len(PERIODIC_JOBS)
        # Interval jobs are queued at start; the nightly cron jobs wait for their hour.
        assert sorted(job.func_name for job in maintenance.get_jobs()) == at_start
        # The lost-sync sweep and the due-link look are not queued: the scheduler ran them itself at
        # start (before the jobs it queues), and the look queued the due link's batch.
        assert not {"jobs.tasks.record_failed_sync_jobs", "jobs.tasks.schedule_due_syncs"} & set(at_start)
        for name in ("record-failed-sync-jobs", "schedule-due-syncs"):
            [ran] = get_cron_job_ids(name, redis_conn)
            assert ran.startswith(scheduler.name + ":")
        [batch] = Queue("sync", connection=redis_conn).get_jobs()
        assert batch.args == ([link.id],) and batch.kwargs == {"stream": True}
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            output = proc.communicate(timeout=30)[0]
        except subprocess.TimeoutExpired:
            proc.kill()  # never leave it behind, even when the test fails
            output = proc.communicate()[0]
    assert proc.returncode == 0, output
    assert "'record-failed-sync-jobs' runs in this scheduler, not on a worker" in output
    assert CronScheduler.all(redis_conn) == []  # it said goodbye

    run_worker(app, burst=True)  # the queued due-sync job queues a batch, which it then works

    assert blocks_of(link.id) == [(day(3), day(6))] and a.requests == 1
    assert [Queue(n, connection=redis_conn).count for n in ("sync", "maintenance")] == [0, 0]
