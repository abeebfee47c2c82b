"""Politeness per remote host: at most FETCH_PER_HOST_LIMIT fetches to one host at once.

`HostLimiter` counts the fetches of one process. `FleetHostLimiter` also shares the count through
Redis, so that every worker on every machine together stays within the limit.
A 429 is answered per link (its backoff and Retry-After, jobs/sync/blocks.py), not per host: a host-wide
pause would record every other link on that host as failing, at its owner's expense.
"""
from __future__ import annotations

import logging
import random
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import redis

log = logging.getLogger(__name__)


class HostLimiter:
    """At most `per_host` concurrent fetches to one remote host (FETCH_PER_HOST_LIMIT)."""

    def __init__(self, per_host: int):
        self.per_host = max(1, per_host)
        self._lock = threading.Lock()
        self._slots: dict[str, list] = {}  # host -> [semaphore, users]; dropped when unused

    @contextmanager
    def slot(self, host: str) -> Iterator[None]:
        """Hold one of the host's slots for the duration of the block."""
        key = host.lower()
        with self._lock:
            entry = self._slots.setdefault(key, [threading.Semaphore(self.per_host), 0])
            entry[1] += 1
        entry[0].acquire()
        token = None
        try:
            token = self._take_shared_slot(key)
            yield
        finally:
            if token:
                self._give_shared_slot(key, token)
            entry[0].release()
            with self._lock:
                entry[1] -= 1
                if entry[1] == 0:
                    del self._slots[key]

    # Hooks for a limiter shared between processes; this one counts only its own fetches.
    def _take_shared_slot(self, key: str) -> str | None:
        """A shared slot's token (None: none needed)."""
        return None

    def _give_shared_slot(self, key: str, token: str) -> None:
        pass


# Take a slot when fewer than `limit` unexpired holders remain: 1 when taken, 0 when full.
# Holders expire, so a killed worker cannot keep its slots for ever.
_TAKE = """
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[1])
if redis.call('ZCARD', KEYS[1]) < tonumber(ARGV[3]) then
  redis.call('ZADD', KEYS[1], ARGV[2], ARGV[4])
  redis.call('PEXPIRE', KEYS[1], ARGV[5])
  return 1
end
return 0
"""


class FleetHostLimiter(HostLimiter):
    """HostLimiter whose count is shared by every process on the same Redis.

    A slot held in Redis expires `hold_seconds` after it was taken (a fetch never lasts longer than
    its time limit). If Redis fails mid-sync, the limiter falls back to this process's own count.
    """

    def __init__(self, per_host: int, conn: redis.Redis, hold_seconds: float,
                 max_wait_seconds: float = 300.0):
        super().__init__(per_host)
        self.conn, self.hold_seconds, self.max_wait = conn, hold_seconds, max_wait_seconds
        self._take = conn.register_script(_TAKE)
        self._broken = False

    def _failed(self, exc: Exception) -> None:
        if not self._broken:
            log.warning("per-host limits fall back to this process: Redis failed (%s)", exc)
        self._broken = True

    def _take_shared_slot(self, key: str) -> str | None:
        token, deadline = uuid.uuid4().hex, time.monotonic() + self.max_wait
        hold_ms = int(self.hold_seconds * 1000)
        while not self._broken:
            now_ms = int(time.time() * 1000)
            try:
                if self._take(keys=[f"csc:host-slots:{key}"],
                              args=[now_ms, now_ms + hold_ms, self.per_host, token, hold_ms * 2]):
                    return token
            except redis.RedisError as exc:
                self._failed(exc)
                return None
            if time.monotonic() > deadline:
                # Other workers kept every slot this long: fetch anyway rather than stall the job.
                log.warning("no shared fetch slot for %s after %.0f s; fetching anyway", key,
                            self.max_wait)
                return None
            time.sleep(random.uniform(0.02, 0.08))  # polling another process's release: no event
        return None

    def _give_shared_slot(self, key: str, token: str) -> None:
        try:
            self.conn.zrem(f"csc:host-slots:{key}", token)
        except redis.RedisError as exc:
            self._failed(exc)
