
"""Failed logins counted per account and per address in Redis (shared by every web process): past
LOGIN_MAX_FAILURES in LOGIN_WINDOW_SECONDS, every login there is refused until the window ends."""
from __future__ import annotations

import contextlib
import hashlib
import threading
import time

import redis
from flask import current_app

from jobs.broker import QueueUnavailable, redis_connection

ADDRESS_FACTOR = 4  # one address may fail for a few accounts (a shared office) before it is stopped
_local: dict[str, tuple[int, float]] = {}  # when Redis is down: this process's own count
_local_lock = threading.Lock()


def _keys(email: str, address: str) -> list[tuple[str, int]]:
    """The counters a login touches, each with its limit."""
    limit = current_app.config["LOGIN_MAX_FAILURES"]
    account = hashlib.sha256(email.encode()).hexdigest()[:32]  # no addresses in Redis key names
    return [(f"csc:login-fail:account:{account}", limit),
            (f"csc:login-fail:address:{address}", limit * ADDRESS_FACTOR)]


def refused_for(email: str, address: str) -> int:
    """Seconds until a login for this account from this address may be tried again; 0 when it may."""
    wait = 0
    for key, limit in _keys(email, address):
        count, ttl = _read(key)
        if count >= limit:
            wait = max(wait, ttl)
    return wait


def count_failure(email: str, address: str) -> None:
    """One more failed login for the account and the address; the window starts at the first."""
    window = current_app.config["LOGIN_WINDOW_SECONDS"]
    for key, _limit in _keys(email, address):
        try:
            conn = redis_connection()
            with conn.pipeline() as pipe:
                pipe.set(key, 0, ex=window, nx=True)  # the window starts with the first failure
                pipe.incr(key)  # (INCR keeps the key's expiry)
                pipe.execute()
        except (redis.RedisError, OSError, QueueUnavailable):
            with _local_lock:
                count, until = _local.get(key, (0, time.monotonic() + window))
                _local[key] = (count + 1, until)


def forget_account(email: str, address: str) -> None:
    """A successful login clears its account's failures (not the address's)."""
    key = _keys(email, address)[0][0]
    with contextlib.suppress(redis.RedisError, OSError, QueueUnavailable):
        redis_connection().delete(key)
    with _local_lock:
        _local.pop(key, None)


def _read(key: str) -> tuple[int, int]:
    """(failures, seconds left in the window) of one counter."""
    try:
        conn = redis_connection()
        with conn.pipeline() as pipe:
            pipe.get(key)
            pipe.ttl(key)
            raw, ttl = pipe.execute()
        return int(raw or 0), max(int(ttl), 1)
    except (redis.RedisError, OSError, QueueUnavailable):
        with _local_lock:
            count, until = _local.get(key, (0, 0.0))
            left = until - time.monotonic()
            if left <= 0:
                _local.pop(key, None)
                return 0, 0
            return count, int(left) + 1
