"""Prometheus metrics: request counts (of every gunicorn worker together, in multiprocess mode); fleet gauges
from the fleet tally (console.reports.fleet_tally: counted every 10 s by a job, read from Redis) and queue gauges, so
a scrape does not grow with the fleet."""
from __future__ import annotations

import logging
import os
import time

from flask import Flask, g, request
from prometheus_client import CollectorRegistry, Counter, Histogram, multiprocess
from prometheus_client.core import GaugeMetricFamily

log = logging.getLogger(__name__)


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
            queue.append(_prevented(self._redis))
        yield from families
        yield GaugeMetricFamily("csc_database_up",
                                "1 when the database answered this scrape, else 0", value=up)
        yield from queue

    def _redis(self):
        from jobs.broker import redis_connection
        return redis_connection(self.app)

    def _fleet(self, db) -> list[GaugeMetricFamily]:
        """The gauges read from the database (raises SQLAlchemyError when it is down)."""
        from sqlalchemy import text

        from console.reports import fleet_tally
        from console.timeutil import utcnow
        db.session.execute(text("SELECT 1"))  # csc_database_up says the truth even from the tally
        # Without Redis the scrape counts the fleet itself (fleet_tally.current).
        reading = fleet_tally.current(utcnow(), self.app.config["SYNC_INTERVAL_MINUTES"])
        links = GaugeMetricFamily("csc_links", "Calendar links by state and health",
                                  labels=["state", "health"])
        for state, health, n in sorted(reading["links"]):
            links.add_metric([state, health], n)
        risk = GaugeMetricFamily("csc_properties", "Properties by risk level", labels=["risk"])
        for level, n in sorted(reading["risks"]):
            risk.add_metric([level], n)
        from console.operations import freshness
        ages = freshness.age_histogram(reading)
        return [links, risk, *([ages] if ages else []),
                GaugeMetricFamily("csc_overbookings_open", "Open overbookings",
                                  value=reading["overbookings_open"]),
                GaugeMetricFamily("csc_fleet_tally_age_seconds", "Age of the fleet counts in this scrape "
                                  "(0: counted by the scrape itself; the tally job runs every 10 s)",
                                  value=reading["age_seconds"])]

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
            from console.operations import freshness
            late = freshness.lateness_histogram(conn)
        except Exception:  # noqa: BLE001 - Redis down: say so, the rest of the scrape still answers
            return [GaugeMetricFamily("csc_redis_up", "1 when Redis answered this scrape", value=0)]
        return [depth, started, failed, late,
                GaugeMetricFamily("csc_workers", "RQ workers registered and alive", value=workers),
                GaugeMetricFamily("csc_redis_up", "1 when Redis answered this scrape", value=1)]


def init_metrics(app: Flask) -> None:
    """Give the app its own registry (tests build many apps) and time every request."""
    # prometheus-client reads this variable too, at import. Set (gunicorn.conf.py does), each worker writes
    # its counts to files in that folder, and a scrape sums every worker's files, not only its own.
    multiprocess_dir = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if multiprocess_dir:  # written from the first count on; set by hand, it may not exist yet
        os.makedirs(multiprocess_dir, exist_ok=True)
    registry = CollectorRegistry()
    requests_total = Counter("csc_http_requests_total", "HTTP requests",
                             ["method", "endpoint", "status"], registry=registry)
    latency = Histogram("csc_http_request_seconds", "HTTP request latency", ["endpoint"],
                        registry=registry)
    scrape = registry
    if multiprocess_dir:
        scrape = CollectorRegistry()
        multiprocess.MultiProcessCollector(scrape)
    # The fleet and queue gauges stay computed per scrape, by whichever worker answers it.
    scrape.register(FleetCollector(app))
    app.extensions["csc_metrics"] = scrape

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



def _prevented(redis_of):
    """csc_overbookings_prevented_total{source}, from the counts kept in Redis as they are recorded
    (console.queries.availability), so a scrape reads no table."""
    from prometheus_client.core import CounterMetricFamily

    from console.queries.availability import PREVENTED_KEY
    family = CounterMetricFamily("csc_overbookings_prevented", "Overbookings prevented by fresh "
                                 "availability reads, by the source of the block found", labels=["source"])
    try:
        counts = redis_of().hgetall(PREVENTED_KEY)
    except Exception:  # noqa: BLE001 - Redis down: csc_redis_up says so, the family stays empty
        counts = {}
    for source, n in sorted(counts.items()):
        family.add_metric([source.decode() if isinstance(source, bytes) else source], int(n))
    return family
