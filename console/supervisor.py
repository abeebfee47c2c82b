"""`serve-all`: web, worker and scheduler as child processes, stopped together on Ctrl-C."""
from __future__ import annotations

import ctypes
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request

from flask import Flask

from jobs import embedded_redis

STOP_GRACE_SECONDS = 10
_PR_SET_PDEATHSIG = 1
_WATCHED = {signal.SIGINT, signal.SIGTERM, signal.SIGCHLD}


def _die_with_parent() -> None:
    """In the child: get SIGTERM if the supervisor dies, so nothing is orphaned even on SIGKILL."""
    try:
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)
    except OSError:
        pass  # not Linux: the supervisor's own cleanup still applies
    os.setpgrp()  # own group: the supervisor decides the order of shutdown
    signal.pthread_sigmask(signal.SIG_UNBLOCK, _WATCHED)


def _flask(*args: str) -> list[str]:
    return [sys.executable, "-m", "flask", "--app", "wsgi", *args]


def _spawn(argv: list[str], env: dict) -> subprocess.Popen:
    return subprocess.Popen(argv, env=env, preexec_fn=_die_with_parent)


def _stop(procs: dict[str, subprocess.Popen]) -> None:
    """SIGTERM every child group, wait, then SIGKILL what is left (RQ horses included)."""
    for proc in procs.values():
        if proc.poll() is None:
            try:
                os.killpg(proc.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
    deadline = time.monotonic() + STOP_GRACE_SECONDS
    for proc in procs.values():
        try:
            proc.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            pass
    for proc in procs.values():
        try:
            os.killpg(proc.pid, signal.SIGKILL)  # the group: a worker's work horse too
        except ProcessLookupError:
            pass
        proc.wait()


def _wait_until_serving(url: str, web: subprocess.Popen, timeout: float = 60) -> None:
    """Poll the web process's health URL until it answers (or it dies, or time runs out)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and web.poll() is None:
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except urllib.error.HTTPError:
            return  # it answered, even if unhealthy
        except OSError:
            time.sleep(0.2)  # not listening yet: nothing to wait on but the port


def supervise(app: Flask, host: str, port: int) -> int:
    """Start everything, wait until Ctrl-C/SIGTERM or a child dies, stop everything; exit code."""
    env = dict(os.environ)
    sock = None
    if not app.config.get("REDIS_URL"):
        sock = embedded_redis.ensure_running(app.config["INSTANCE_PATH"], owned=True)
        env[embedded_redis.OWNER_ENV] = "1"  # children leave the server to us
    # Signals are blocked and waited for, so the loop wakes at once on Ctrl-C or a child's exit.
    signal.pthread_sigmask(signal.SIG_BLOCK, _WATCHED)
    procs = {"web": _spawn(_flask("run", "--host", host, "--port", str(port), "--no-reload",
                                  "--no-debugger", "--with-threads"), env)}
    # Workers start once the web answers: the demo's feeds are served by the web process.
    _wait_until_serving(f"http://{host}:{port}/healthz", procs["web"])
    procs["worker"] = _spawn(_flask("worker"), env)
    procs["scheduler"] = _spawn(_flask("scheduler"), env)
    print(f"console: http://{host}:{port}  (web pid {procs['web'].pid}, worker pid "
          f"{procs['worker'].pid}, scheduler pid {procs['scheduler'].pid}); Ctrl-C stops all",
          flush=True)
    code = 0
    try:
        while True:
            dead = [name for name, p in procs.items() if p.poll() is not None]
            if dead:
                print(f"console: {', '.join(dead)} stopped unexpectedly; stopping the rest",
                      file=sys.stderr, flush=True)
                code = 1
                break
            got = signal.sigtimedwait(_WATCHED, 5.0)
            if got is not None and got.si_signo in (signal.SIGINT, signal.SIGTERM):
                break
    finally:
        _stop(procs)
        if sock:
            embedded_redis.shutdown(sock)
        print("console: stopped", flush=True)
    return code
