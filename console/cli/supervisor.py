
"""`serve-all`: web, worker and scheduler as child processes, stopped together on Ctrl-C.

The web is what people use: when it dies everything stops. A worker or scheduler that dies is
started again after a capped backoff, so the console never goes down with the queue.
"""
from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request

import redis
from flask import Flask

from jobs import embedded_redis
from jobs.outage import Outage

STOP_GRACE_SECONDS = 10
RESTART_FIRST_SECONDS = 1
RESTART_MAX_SECONDS = 60
_PR_SET_PDEATHSIG = 1
_WATCHED = {signal.SIGINT, signal.SIGTERM, signal.SIGCHLD}


def _die_with_parent() -> None:
    """In the child: get SIGTERM if the supervisor dies, so nothing is orphaned even on SIGKILL."""
    with contextlib.suppress(OSError):  # not Linux: the supervisor's own cleanup still applies
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)
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
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGTERM)
    deadline = time.monotonic() + STOP_GRACE_SECONDS
    for proc in procs.values():
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=max(0.1, deadline - time.monotonic()))
    for proc in procs.values():
        _kill_group(proc)
        proc.wait()


def _kill_group(proc: subprocess.Popen) -> None:
    """SIGKILL a child's whole process group (a worker's work horse too)."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)


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
    """Start everything, wait until Ctrl-C/SIGTERM or the web dies, stop everything; exit code."""
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
    if app.config.get("DEMO_FEEDS"):  # repeated here: the first lines scroll away under the logs
        from console.demo.data import DEMO_MANAGER, DEMO_PASSWORD, DEMO_USERS
        print(f"console: demo admin login: {DEMO_USERS[0][0]} / {DEMO_PASSWORD}", flush=True)
        print(f"console: demo manager login (viewer): {DEMO_MANAGER} / {DEMO_PASSWORD}", flush=True)
    try:
        return _watch(procs, env, DependencyWatch(app, sock))
    finally:
        _stop(procs)
        if sock:
            embedded_redis.shutdown(sock)
        print("console: stopped", flush=True)


class DependencyWatch:
    """Redis and the database as the supervisor sees them: one line when either stops answering and
    one when it answers again; the embedded Redis it owns is started again when it died."""

    def __init__(self, app: Flask, sock: str | None):
        self.app, self.sock = app, sock
        where = f"Redis at {app.config['REDIS_URL']}" if app.config.get("REDIS_URL") else \
            "the embedded Redis"
        self.redis, self.database = Outage("console", where), Outage("console", "the database")

    def check(self) -> None:
        """Probe both once (each within a couple of seconds)."""
        self._note(self.redis, self._redis_answers())
        self._note(self.database, self._database_answers())

    @staticmethod
    def _note(outage: Outage, failure: str | None) -> None:
        if failure is None:
            outage.back()
        else:
            outage.lost(failure)

    def _redis_answers(self) -> str | None:
        try:
            if self.sock:
                if not embedded_redis.answers(self.sock):
                    # Ours to run: started again (empty), and the lost syncs' sweep does the rest.
                    self.redis.lost("its server stopped; starting it again")
                    embedded_redis.ensure_running(self.app.config["INSTANCE_PATH"], owned=True)
                return None
            with redis.Redis.from_url(self.app.config["REDIS_URL"], socket_connect_timeout=2,
                                      socket_timeout=2) as conn:
                conn.ping()
            return None
        except (redis.RedisError, OSError, RuntimeError) as exc:
            return str(exc) or type(exc).__name__

    def _database_answers(self) -> str | None:
        from sqlalchemy import text
        from sqlalchemy.exc import SQLAlchemyError

        from console.extensions import db
        with self.app.app_context():
            try:
                db.session.execute(text("SELECT 1"))
                return None
            except SQLAlchemyError as exc:
                return str(exc.orig if getattr(exc, "orig", None) else exc).splitlines()[0]
            finally:
                db.session.remove()


def _watch(procs: dict[str, subprocess.Popen], env: dict, dependencies: DependencyWatch) -> int:
    """Until Ctrl-C/SIGTERM (0) or the web's death (1): restart a dead worker or scheduler; say when
    Redis or the database stops answering and when it is back."""
    commands = {"worker": _flask("worker"), "scheduler": _flask("scheduler")}
    delays = dict.fromkeys(commands, RESTART_FIRST_SECONDS)
    started = dict.fromkeys(commands, time.monotonic())
    restart_at: dict[str, float] = {}
    while True:
        if procs["web"].poll() is not None:
            print("console: web stopped unexpectedly; stopping the rest", file=sys.stderr,
                  flush=True)
            return 1
        dependencies.check()
        now = time.monotonic()
        for name, argv in commands.items():
            code = procs[name].poll()
            if code is not None and name not in restart_at:
                _kill_group(procs[name])  # a worker's work horse may outlive it
                if now - started[name] > RESTART_MAX_SECONDS:
                    delays[name] = RESTART_FIRST_SECONDS  # it ran well for a while
                restart_at[name] = now + delays[name]
                print(f"console: {name} stopped unexpectedly (exit {code}); restarting in "
                      f"{delays[name]} s", file=sys.stderr, flush=True)
                delays[name] = min(delays[name] * 2, RESTART_MAX_SECONDS)
            elif name in restart_at and now >= restart_at[name]:
                del restart_at[name]
                procs[name], started[name] = _spawn(argv, env), now
                print(f"console: {name} restarted (pid {procs[name].pid})", flush=True)
        wait = min([5.0] + [max(0.05, t - now) for t in restart_at.values()])
        got = signal.sigtimedwait(_WATCHED, wait)
        if got is not None and got.si_signo in (signal.SIGINT, signal.SIGTERM):
            return 0
