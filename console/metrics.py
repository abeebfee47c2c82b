"""Prometheus metrics: request counts per process; fleet and queue gauges whose cost does not grow
with the fleet (a few grouped reads of indexed columns, shared through Redis for a few seconds)."""
from __future__ import annotations

import json
import logging
import time
from datetime import timedelta

from flask import Flask, g, request
from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import GaugeMetricFamily

log = logging.getLogger(__name__)
# Every web process answers scrapes from one reading of the fleet this old at most: Prometheus
# scrapes each process every 15 s, and a reading costs grouped scans of the links and properties.
FLEET_CACHE_SECONDS = 10
FLEET_CACHE_KEY = "csc:metrics:fleet"


def fleet_reading(db, now, interval: int) -> dict:
    """Links by (state, health), properties by risk, open overbookings: three grouped queries."""
    from sqlalchemy import case, func, literal, select

    from console.models import CalendarLink, Overbooking, Property
    from jobs.rules.risk import STALE_AFTER_INTERVALS
    link = CalendarLink
    # jobs.rules.risk.link_health, as SQL: the database counts, no row reaches Python.
    health = case(
        (link.last_sync_at.is_(None) | link.last_attempt_ok.is_(None), literal("never_synced")),
        (link.last_attempt_ok.is_(False), literal("failing")),
        (link.last_success_at.is_(None) | (link.last_success_at < now - timedelta(
            minutes=STALE_AFTER_INTERVALS * interval)), literal("stale")),
        else_=literal("ok"))
    links = db.session.execute(select(link.state, health, func.count())
                               .group_by(link.state, health)).all()
    risks = db.session.execute(select(Property.risk_level, func.count())
                               .group_by(Property.risk_level)).all()
    open_ob = db.session.execute(select(func.count()).select_from(Overbooking)
                                 .where(Overbooking.state == "open")).scalar()
    return {"links": [list(row) for row in links], "risks": [list(row) for row in risks],
            "overbookings_open": open_ob}


class FleetCollector:
    """Gauges of the fleet (from the database) and of the queue (from Redis)."""

    def __init__(self, app: Flask):
        self.app = app

    def collect(self):
        """Yield link, risk, overbooking and queue gauges, and whether the database answered."""
        from sqlalchemy.exc import SQLAlchemyError

        from console.extensions import db
        with self.app.app_context():
            try:
                families, up = self._fleet(db), 1
            except SQLAlchemyError:
                # The request and queue metrics must still be scraped when the database is down.
                families, up = [], 0
            finally:
                db.session.remove()
            queue = self._queue()
        yield from families
        yield GaugeMetricFamily("csc_database_up",
                                "1 when the database answered this scrape, else 0", value=up)
        yield from queue

    def _redis(self):
        from jobs.broker import redis_connection
        return redis_connection(self.app)

    def _cached_reading(self, db) -> dict:
        """The fleet reading, from Redis when a process took one within FLEET_CACHE_SECONDS."""
        from console.timeutil import utcnow
        ttl = self.app.config.get("METRICS_CACHE_SECONDS", FLEET_CACHE_SECONDS)
        conn = None
        if ttl:
            try:
                conn = self._redis()
                cached = conn.get(FLEET_CACHE_KEY)
                if cached:
                    return json.loads(cached)
            except Exception:  # noqa: BLE001 - without Redis every scrape reads the database
                conn = None
        reading = fleet_reading(db, utcnow(), self.app.config["SYNC_INTERVAL_MINUTES"])
        if conn is not None:
            try:
                conn.set(FLEET_CACHE_KEY, json.dumps(reading), ex=ttl)
            except Exception:  # noqa: BLE001 - the reading is served all the same
                log.debug("could not cache the fleet reading", exc_info=True)
        return reading

    def _fleet(self, db) -> list[GaugeMetricFamily]:
        """The gauges read from the database (raises SQLAlchemyError when it is down)."""
        from sqlalchemy import text
        db.session.execute(text("SELECT 1"))  # csc_database_up says the truth even from the cache
        reading = self._cached_reading(db)
        links = GaugeMetricFamily("csc_links", "Calendar links by state and health",
                                  labels=["state", "health"])
        for state, health, n in sorted(reading["links"]):
            links.add_metric([state, health], n)
        risk = GaugeMetricFamily("csc_properties", "Properties by risk level", labels=["risk"])
        for level, n in sorted(reading["risks"]):
            risk.add_metric([level], n)
        return [links, risk, GaugeMetricFamily("csc_overbookings_open", "Open overbookings",
                                               value=reading["overbookings_open"])]

    def _queue(self) -> list[GaugeMetricFamily]:
        """Queue depth, failed jobs per queue and workers alive: a few O(1) Redis calls."""
        from rq import Queue, Worker
        from rq.registry import FailedJobRegistry, StartedJobRegistry

        from jobs.queue import QUEUE_NAMES
        depth = GaugeMetricFamily("csc_queue_jobs", "Jobs waiting in each RQ queue", labels=["queue"])
        started = GaugeMetricFamily("csc_queue_started_jobs", "Jobs running from each RQ queue",
                                    labels=["queue"])
        failed = GaugeMetricFamily("csc_queue_failed_jobs", "Jobs in each queue's failed registry",
                                   labels=["queue"])
        try:
            conn = self._redis()
            for name in QUEUE_NAMES:
                depth.add_metric([name], Queue(name, connection=conn).count)
                started.add_metric([name], conn.zcard(StartedJobRegistry(name, connection=conn).key))
                failed.add_metric([name], conn.zcard(FailedJobRegistry(name, connection=conn).key))
            workers = Worker.count(connection=conn)
        except Exception:  # noqa: BLE001 - Redis down: say so, the rest of the scrape still answers
            return [GaugeMetricFamily("csc_redis_up", "1 when Redis answered this scrape", value=0)]
        return [depth, started, failed,
                GaugeMetricFamily("csc_workers", "RQ workers registered and alive", value=workers),
                GaugeMetricFamily("csc_redis_up", "1 when Redis answered this scrape", value=1)]


def init_metrics(app: Flask) -> None:
    """Give the app its own registry (tests build many apps) and time every request."""
    registry = CollectorRegistry()
    requests_total = Counter("csc_http_requests_total", "HTTP requests",
                             ["method", "endpoint", "status"], registry=registry)
    latency = Histogram("csc_http_request_seconds", "HTTP request latency", ["endpoint"],
                        registry=registry)
    registry.register(FleetCollector(app))
    app.extensions["csc_metrics"] = registry

    @app.before_request
    def _start_timer():
        g.csc_started = time.perf_counter()

    @app.after_request
    def _count(response):
        endpoint = request.endpoint or "unknown"
        requests_total.labels(request.method, endpoint, str(response.status_code)).inc()
        if "csc_started" in g:
            latency.labels(endpoint).observe(time.perf_counter() - g.csc_started)
        return response
