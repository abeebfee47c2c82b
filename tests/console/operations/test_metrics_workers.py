"""/metrics under a real `gunicorn -w 2`: requests answered by either worker are all in any one scrape."""
from __future__ import annotations

import os
import re
import subprocess
import sys
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import psutil
import pytest

from jobs import embedded_redis
from tests.test_processes import ROOT, _free_port, _Output


def gunicorn_env(backends: dict, **extra) -> dict:
    """The session's database and Redis (the session owns an embedded Redis: the workers leave it be)."""
    env = {k: v for k, v in os.environ.items()
           if k not in ("DATABASE_URL", "REDIS_URL", "PROMETHEUS_MULTIPROC_DIR")}
    env.update(backends, PYTHONPATH=str(ROOT), **{embedded_redis.OWNER_ENV: "1"}, **extra)
    return env


def get(url: str) -> int:
    """GET on a new connection (so gunicorn's workers take turns); the status."""
    try:
        with urllib.request.urlopen(url, timeout=30) as resp:
            resp.read()
            return resp.status
    except urllib.error.HTTPError as err:
        return err.code


def wait_answering(base: str, proc: subprocess.Popen, out: _Output, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert proc.poll() is None, "gunicorn exited:\n" + "".join(out.seen)
        try:
            get(f"{base}/healthz")
            return
        except OSError:
            time.sleep(0.1)  # not listening yet: nothing to wait on but the port
    pytest.fail("gunicorn did not answer in time")


def login_count(scrape: str) -> float:
    """csc_http_requests_total of GET /login, over every status."""
    total = 0.0
    for labels, value in re.findall(r"^csc_http_requests_total\{([^}]*)\} (\S+)$", scrape, re.M):
        found = dict(re.findall(r'(\w+)="([^"]*)"', labels))
        if found["endpoint"] == "auth.login" and found["method"] == "GET":
            total += float(value)
    return total


def test_a_scrape_counts_the_requests_of_every_gunicorn_worker(app, backends, tmp_path):
    folder = tmp_path / "metrics"
    folder.mkdir()
    (folder / "counter_999999.db").write_bytes(b"\0" * 8)  # a previous run's file: wiped at start
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    proc = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "-w", "2", "-b", f"127.0.0.1:{port}", "wsgi:app"],
        cwd=ROOT, env=gunicorn_env(backends, PROMETHEUS_MULTIPROC_DIR=str(folder)),
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    out = _Output(proc)
    try:
        wait_answering(base, proc, out)
        workers = {p.pid for p in psutil.Process(proc.pid).children()}
        assert len(workers) == 2
        assert not (folder / "counter_999999.db").exists()
        sent = 0
        deadline = time.monotonic() + 60
        with ThreadPoolExecutor(8) as pool:
            # Until both workers have answered some: sync workers take one request at a time each.
            while not workers <= counted_pids(folder):
                assert time.monotonic() < deadline, f"one worker took every request: {counted_pids(folder)}"
                assert set(pool.map(get, [f"{base}/login"] * 16)) == {200}
                sent += 16
        for _ in range(6):  # whichever worker answers a scrape, it counts both workers' requests
            with urllib.request.urlopen(f"{base}/metrics", timeout=30) as resp:
                scrape = resp.read().decode()
            assert login_count(scrape) == sent
            assert "csc_database_up 1.0" in scrape  # the per-scrape gauges are still there, once
            assert scrape.count("# TYPE csc_links gauge") == 1
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    assert proc.returncode == 0
    assert [pid for pid in workers if psutil.pid_exists(pid)
            and psutil.Process(pid).status() != psutil.STATUS_ZOMBIE] == []


def counted_pids(folder: Path) -> set[int]:
    """The pids of the workers that wrote request counts to the multiprocess folder."""
    return {int(m.group(1)) for m in (re.match(r"counter_(\d+)\.db$", p.name) for p in folder.iterdir()) if m}


def test_gunicorn_makes_and_removes_its_own_metrics_folder_when_none_is_given(app, backends, tmp_path):
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    env = gunicorn_env(backends, TMPDIR=str(tmp_path))
    proc = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "-w", "2", "-b", f"127.0.0.1:{port}", "wsgi:app"],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    out = _Output(proc)
    try:
        wait_answering(base, proc, out)
        made = [p for p in tmp_path.iterdir() if p.name.startswith("csc-metrics-")]
        assert len(made) == 1 and made[0].is_dir()
        with urllib.request.urlopen(f"{base}/metrics", timeout=30) as resp:
            assert "csc_http_requests_total" in resp.read().decode()
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    assert not made[0].exists()
