
"""The Procfile as a process manager runs it (honcho): web, worker and scheduler start; stopping leaves nothing."""
from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import psutil

from tests.console.operations.test_metrics_workers import gunicorn_env
from tests.test_processes import ROOT, _free_port, _Output


def test_procfile_declares_web_worker_and_scheduler():
    kinds = re.findall(r"^(\w+):", (ROOT / "Procfile").read_text(), re.M)
    assert kinds == ["web", "worker", "scheduler"]


def family(pid: int) -> list[psutil.Process]:
    try:
        return psutil.Process(pid).children(recursive=True)
    except psutil.NoSuchProcess:
        return []


def command_lines(procs: list[psutil.Process]) -> str:
    lines = []
    for proc in procs:
        with contextlib.suppress(psutil.Error):
            lines.append(" ".join(proc.cmdline()))
    return "\n".join(lines)


def scrape(base: str) -> str:
    try:
        with urllib.request.urlopen(f"{base}/metrics", timeout=10) as resp:
            return resp.read().decode()
    except (urllib.error.URLError, OSError):
        return ""


def test_honcho_runs_the_procfile_the_web_answers_and_stopping_leaves_nothing(app, backends, tmp_path):
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    env = gunicorn_env(backends, HOST="127.0.0.1", WEB_CONCURRENCY="2",
                       PROMETHEUS_MULTIPROC_DIR=str(tmp_path / "metrics"),
                       PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}")
    proc = subprocess.Popen([sys.executable, "-m", "honcho", "start", "-f", "Procfile", "-p", str(port)],
                            cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            start_new_session=True)
    out = _Output(proc)
    seen: list[psutil.Process] = []
    try:
        deadline = time.monotonic() + 120
        # The worker has registered with RQ (so its process is up and on our Redis) and the web answers.
        while "csc_workers 1.0" not in (text := scrape(base)):
            assert proc.poll() is None, "honcho stopped:\n" + "".join(out.seen)
            assert time.monotonic() < deadline, f"not up in time:\n{text}\n{command_lines(family(proc.pid))}"
            time.sleep(0.2)  # nothing to wait on but the processes starting
        with urllib.request.urlopen(f"{base}/healthz", timeout=10) as resp:
            assert resp.status == 200
        seen = family(proc.pid)
        running = command_lines(seen)
        assert "gunicorn -c gunicorn.conf.py -w 2 -b 127.0.0.1:" in running
        assert re.search(r"flask --app wsgi worker$", running, re.M)
        assert re.search(r"flask --app wsgi scheduler$", running, re.M)
        assert len([p for p in seen if "gunicorn" in " ".join(p.cmdline())]) >= 3  # master + 2 workers
        os.kill(proc.pid, signal.SIGTERM)  # what a process manager's stop sends
        proc.wait(timeout=60)
        _gone, alive = psutil.wait_procs(seen, timeout=15)
        assert [p for p in alive if p.status() != psutil.STATUS_ZOMBIE] == []
    finally:  # whatever failed above, nothing of this run may outlive the test
        for leftover in family(proc.pid) + seen:
            with contextlib.suppress(psutil.Error):
                leftover.kill()
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    printed = out.wait_for(lambda line: "scheduler.1" in line and "stopped" in line, timeout=10)
    assert printed  # honcho saw each process start and stop under its Procfile name
