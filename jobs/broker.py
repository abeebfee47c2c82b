"""The one way to reach Redis (the embedded server, or REDIS_URL) and tell whether it answers."""
from __future__ import annotations

import redis
from flask import Flask, current_app

from jobs import embedded_redis


class QueueUnavailable(Exception):
    """Redis cannot be reached: requests that need the queue answer 503."""


def redis_connection(app: Flask | None = None, *, for_worker: bool = False) -> redis.Redis:
    """This process's Redis connection for the app (started embedded when REDIS_URL is unset)."""
    app = app or current_app._get_current_object()
    key = "csc_redis_worker" if for_worker else "csc_redis"
    conn = app.extensions.get(key)
    if conn is not None:
        return conn
    # Web requests must fail fast when Redis is down; a worker blocks on BLPOP, so no read timeout.
    opts = {"socket_connect_timeout": 2}
    if not for_worker:
        opts["socket_timeout"] = 5
    url = app.config.get("REDIS_URL")
    if url:
        conn = redis.Redis.from_url(url, client_name=embedded_redis.client_name(), **opts)
    else:
        try:
            sock = embedded_redis.ensure_running(app.config["INSTANCE_PATH"])
        except (OSError, RuntimeError) as exc:
            raise QueueUnavailable(f"embedded Redis could not start: {exc}") from exc
        conn = embedded_redis.connect(sock, **opts)
    app.extensions[key] = conn
    return conn


def redis_status(app: Flask | None = None) -> str:
    """'up' or 'down', for /healthz."""
    try:
        return "up" if redis_connection(app).ping() else "down"
    except (redis.RedisError, OSError, QueueUnavailable):
        return "down"
