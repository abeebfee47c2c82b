"""Per-host limits shared by every worker through Redis: the count, expiry, and the fallback."""
from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from jobs.fetch.addresses import AllowList
from jobs.fetch.feed import FetchSession, FetchSettings, fetch_feed
from jobs.fetch.host_limits import FleetHostLimiter, HostLimiter

ICS = b"BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//Test//EN\r\nEND:VCALENDAR\r\n"


class CountingServer:
    """A loopback feed host that counts requests in flight and holds each until released."""

    def __init__(self):
        self.in_flight = self.most = self.total = 0
        self.lock, self.release = threading.Lock(), threading.Event()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802 - http.server's naming
                with outer.lock:
                    outer.in_flight += 1
                    outer.total += 1
                    outer.most = max(outer.most, outer.in_flight)
                outer.release.wait(10)
                with outer.lock:
                    outer.in_flight -= 1
                self.send_response(200)
                self.send_header("Content-Type", "text/calendar")
                self.send_header("Content-Length", str(len(ICS)))
                self.end_headers()
                self.wfile.write(ICS)

            def log_message(self, *args):
                pass
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_port}/cal.ics"

    def wait_for_in_flight(self, count: int, timeout: float = 10) -> None:
        deadline = time.monotonic() + timeout
        while self.in_flight < count:
            assert time.monotonic() < deadline, f"only {self.in_flight} requests arrived"
            time.sleep(0.01)  # polling another thread's counter: there is no event to wait on

    def close(self):
        self.release.set()
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def server():
    running = CountingServer()
    yield running
    running.close()


def _six_fetches(server: CountingServer, workers: list[HostLimiter], in_flight: int) -> int:
    """Six fetches through the limiters in turn; how many were in flight once `in_flight` arrived."""
    settings = FetchSettings(allow=AllowList.parse("127.0.0.1"), timeout_seconds=20)

    def fetch(limiter):
        with FetchSession() as session, limiter.slot("127.0.0.1"):
            return fetch_feed(server.url, settings, session=session).status

    with ThreadPoolExecutor(6) as pool:
        results = [pool.submit(fetch, workers[n % len(workers)]) for n in range(6)]
        server.wait_for_in_flight(in_flight)
        seen = server.in_flight  # the others wait for a slot
        server.release.set()
        assert [r.result(timeout=30) for r in results] == ["ok"] * 6
    return seen


def test_two_workers_together_stay_within_the_per_host_limit(server, redis_conn):
    # Two limiters on one Redis stand for two workers, each running three fetch threads.
    workers = [FleetHostLimiter(2, redis_conn, hold_seconds=30) for _ in range(2)]
    assert _six_fetches(server, workers, 2) == 2
    assert server.most == 2 and server.total == 6


def test_each_process_alone_would_have_let_twice_as_many_through(server):
    workers = [HostLimiter(2) for _ in range(2)]  # what every worker had before the shared limit
    _six_fetches(server, workers, 4)
    assert server.most == 4


def test_a_slot_held_by_a_killed_worker_expires(redis_conn):
    dead = FleetHostLimiter(1, redis_conn, hold_seconds=0.3)
    assert dead._take_shared_slot("example.com")  # taken, never given back (SIGKILL)
    alive = FleetHostLimiter(1, redis_conn, hold_seconds=30, max_wait_seconds=5)
    started = time.monotonic()
    with alive.slot("example.com"):
        waited = time.monotonic() - started
    assert 0.2 < waited < 5


def test_redis_failing_mid_sync_falls_back_to_this_process_count(app):
    import redis
    closed = redis.Redis(host="127.0.0.1", port=1, socket_connect_timeout=0.5)
    limiter = FleetHostLimiter(1, closed, hold_seconds=30)
    with limiter.slot("example.com"):  # no exception: the fetch goes ahead, counted locally
        pass
    assert limiter._broken


def test_syncs_share_limits_when_redis_answers_and_never_start_one_for_it(app, tmp_path):
    from jobs import embedded_redis
    from jobs.sync.runner import host_limiter
    assert type(host_limiter(app.config)) is FleetHostLimiter
    # `flask sync` on a machine where nothing runs: no Redis is started just to count fetches.
    alone = dict(app.config, REDIS_URL=None, INSTANCE_PATH=str(tmp_path))
    assert type(host_limiter(alone)) is HostLimiter
    assert not embedded_redis.answers(embedded_redis.socket_path(str(tmp_path)))
