"""Politeness per remote host: at most FETCH_PER_HOST_LIMIT fetches at once, none while it cools.

`HostLimiter` counts the fetches of one process. `FleetHostLimiter` also shares the count and the
cool-downs through Redis, so that every worker on every machine together stays within the limit, and
a 429 seen by one worker stops the others asking that host until its Retry-After has passed.
"""
from __future__ import annotations

import logging
import random
import threading
import time
import uuid
from contextlib import contextmanager
from typing import Iterator

import redis

from jobs.stays import SyncFailure

log = logging.getLogger(__name__)
MAX_COOL_DOWN = 6 * 3600.0  # never longer than the backoff ceiling


class HostLimiter:
    """At most `per_host` concurrent fetches to one remote host (FETCH_PER_HOST_LIMIT), and none while
    the host has asked us to wait: after a 429, the other links on that host are not fetched until
    its Retry-After (or a minute) has passed, so one rate limit is not answered by a hundred requests."""

    DEFAULT_COOL_DOWN = 60.0

    def __init__(self, per_host: int):
        self.per_host = max(1, per_host)
        self._lock = threading.Lock()
        self._slots: dict[str, list] = {}  # host -> [semaphore, users]; dropped when unused
        self._cool_until: dict[str, float] = {}  # host -> monotonic time it may be asked again

    def cool_down(self, host: str, seconds: float | None) -> None:
        """Ask nothing of `host` for `seconds` (its Retry-After), a minute when it named none."""
        wait = min(seconds or self.DEFAULT_COOL_DOWN, MAX_COOL_DOWN)
        key = host.lower()
        with self._lock:
            self._cool_until[key] = max(time.monotonic() + wait, self._cool_until.get(key, 0))
        self._share_cool_down(key, wait)

    def _check_cool(self, key: str, left: float = 0.0) -> None:
        left = max(self._cool_until.get(key, 0) - time.monotonic(), left)
        if left > 0:
            raise SyncFailure("rate_limited", f"{key} asked us to slow down (429) a moment ago; "
                              "not asked again before its wait is over", retry_after=left)

    @contextmanager
    def slot(self, host: str) -> Iterator[None]:
        """Hold one of the host's slots for the duration of the block (SyncFailure while cooling)."""
        key = host.lower()
        self._check_cool(key)
        with self._lock:
            entry = self._slots.setdefault(key, [threading.Semaphore(self.per_host), 0])
            entry[1] += 1
        entry[0].acquire()
        token = None
        try:
            token = self._take_shared_slot(key)
            self._check_cool(key)  # a 429 may have come while this fetch waited its turn
            yield
        except SyncFailure as failure:
            if failure.kind == "rate_limited" and failure.http_status == 429:
                self.cool_down(key, failure.retry_after)
            raise
        finally:
            if token:
                self._give_shared_slot(key, token)
            entry[0].release()
            with self._lock:
                entry[1] -= 1
                if entry[1] == 0:
                    del self._slots[key]

    # Hooks for a limiter shared between processes; this one counts only its own fetches.
    def _share_cool_down(self, key: str, seconds: float) -> None:
        pass

    def _take_shared_slot(self, key: str) -> str | None:
        """A shared slot's token (None: none needed); SyncFailure when the host is cooling."""
        return None

    def _give_shared_slot(self, key: str, token: str) -> None:
        pass


# One round trip per try: -1 when taken, 0 when full, else the milliseconds the host still cools.
# Holders expire, so a killed worker cannot keep its slots for ever.
_TAKE = """
local cool = redis.call('PTTL', KEYS[2])
if cool > 0 then return cool end
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[1])
if redis.call('ZCARD', KEYS[1]) < tonumber(ARGV[3]) then
  redis.call('ZADD', KEYS[1], ARGV[2], ARGV[4])
  redis.call('PEXPIRE', KEYS[1], ARGV[5])
  return -1
end
return 0
"""


class FleetHostLimiter(HostLimiter):
    """HostLimiter whose count and cool-downs are shared by every process on the same Redis.

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

    def _share_cool_down(self, key: str, seconds: float) -> None:
        if self._broken:
            return
        try:
            self.conn.set(f"csc:host-cool:{key}", "1", px=max(1, int(seconds * 1000)))
        except redis.RedisError as exc:
            self._failed(exc)

    def _take_shared_slot(self, key: str) -> str | None:
        token, deadline = uuid.uuid4().hex, time.monotonic() + self.max_wait
        hold_ms = int(self.hold_seconds * 1000)
        while not self._broken:
            now_ms = int(time.time() * 1000)
            try:
                answer = self._take(keys=[f"csc:host-slots:{key}", f"csc:host-cool:{key}"],
                                    args=[now_ms, now_ms + hold_ms, self.per_host, token,
                                          hold_ms * 2])
            except redis.RedisError as exc:
                self._failed(exc)
                return None
            if answer == -1:
                return token
            if answer > 0:  # another worker saw a 429 from this host
                self._check_cool(key, answer / 1000)
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
