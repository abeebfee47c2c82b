"""The embedded Redis is one server per instance folder: a server slow to answer is waited for, a hung one
replaced, and never a second one started beside it (it would run on, reached by nobody)."""
from __future__ import annotations

import os
import signal
import threading
from pathlib import Path

import pytest

from jobs import embedded_redis


def servers_of(instance) -> list[int]:
    """Pids of the redis-servers serving this instance folder's socket."""
    sock = embedded_redis.socket_path(str(instance)).encode()
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                cmdline = Path(f"/proc/{entry}/cmdline").read_bytes()
            except OSError:
                continue
            if b"redis-server" in cmdline and sock in cmdline:
                found.append(int(entry))
    return found


@pytest.fixture
def instance(tmp_path):
    sock = embedded_redis.ensure_running(str(tmp_path), owned=True)
    yield tmp_path
    for pid in servers_of(tmp_path):
        os.kill(pid, signal.SIGKILL)
    embedded_redis.shutdown(sock)


def test_a_server_slow_to_answer_is_waited_for_not_doubled(instance):
    first = embedded_redis.server_pid(str(instance))
    os.kill(first, signal.SIGSTOP)  # it answers nothing until resumed, after both 1-s probes gave up
    threading.Timer(2.5, os.kill, (first, signal.SIGCONT)).start()
    embedded_redis.ensure_running(str(instance), owned=True, start_timeout=10)
    assert servers_of(instance) == [first]


def test_a_hung_server_is_replaced_by_one_server(instance):
    first = embedded_redis.server_pid(str(instance))
    os.kill(first, signal.SIGSTOP)
    sock = embedded_redis.ensure_running(str(instance), owned=True, start_timeout=1)
    assert embedded_redis.answers(sock)
    assert servers_of(instance) == [embedded_redis.server_pid(str(instance))] != [first]


def test_shutdown_stops_the_server(instance):
    assert embedded_redis.shutdown(embedded_redis.socket_path(str(instance)))
    assert servers_of(instance) == []
