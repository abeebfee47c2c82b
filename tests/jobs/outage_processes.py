"""Real processes for the fault tests: a Redis server of the test's own (killed and started again, empty,
on the same port), and standalone `flask scheduler` / `flask worker` processes with their output kept."""
from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import redis

from jobs import embedded_redis
from tests.jobs.sync.test_killed import wait_until

ROOT = Path(__file__).resolve().parents[2]
SWEEP_SECONDS = 2  # the lost-sync sweep's period in these tests (30 s in production)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class RedisServer:
    """redis-server (the pip-installed binary) on a loopback port, without persistence: killed and
    started again, it comes back empty, as a production Redis without AOF/RDB does."""

    def __init__(self, workdir: Path):
        self.port, self.workdir, self.proc = free_port(), workdir, None
        self.url = f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.proc = subprocess.Popen(
            [embedded_redis._binary(), "--port", str(self.port), "--bind", "127.0.0.1",
             "--save", "", "--appendonly", "no", "--dir", str(self.workdir)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_until(self.answers, what="redis-server to answer")

    def answers(self) -> bool:
        try:
            with redis.Redis(port=self.port, socket_connect_timeout=1) as conn:
                return bool(conn.ping())
        except redis.RedisError:
            return False

    def kill(self) -> None:
        self.proc.kill()
        self.proc.wait(timeout=10)

    def connection(self) -> redis.Redis:
        return redis.Redis(port=self.port)


def process_env(backends: dict, **extra) -> dict:
    """The environment of a standalone process on the test's database (and Redis unless given)."""
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}
    env.update(backends, FETCH_ALLOW_HOSTS="127.0.0.1", PYTHONPATH=str(ROOT),
               LOST_SYNC_SWEEP_SECONDS=str(SWEEP_SECONDS), DB_TIMEOUT_SECONDS="2")
    env.update(extra)
    return env


class Process:
    """`flask --app wsgi <command>` in a process group of its own, its output in a file."""

    def __init__(self, command: str, env: dict, log: Path):
        self.log = log
        with open(log, "wb") as out:
            self.proc = subprocess.Popen([sys.executable, "-m", "flask", "--app", "wsgi", command],
                                         cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT,
                                         start_new_session=True)

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def lines(self, text: str) -> list[str]:
        return [line for line in self.output().splitlines() if text in line]

    def wait_for(self, text: str, count: int = 1) -> None:
        """Wait until `text` appeared `count` times in the output (fails if the process exits)."""
        try:
            wait_until(lambda: len(self.lines(text)) >= count, self.proc, what=repr(text))
        except AssertionError as exc:
            raise AssertionError(f"{exc}\n{self.output()[-4000:]}") from None

    def alive(self) -> bool:
        return self.proc.poll() is None

    def stop(self) -> int:
        """SIGTERM, then SIGKILL after 30 s; the exit code."""
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, 9)
                self.proc.wait()
        return self.proc.returncode
