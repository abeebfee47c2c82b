"""Prometheus metrics: request counts per process, fleet state read from the database at scrape."""
from __future__ import annotations

import time

from flask import Flask, g, request
from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import GaugeMetricFamily


class FleetCollector:
    """Gauges computed from the database when scraped, so every web process reports the same."""

    def __init__(self, app: Flask):
        self.app = app

    def collect(self):
        """Yield link, risk and overbooking gauges, and whether the database answered."""
        from sqlalchemy.exc import SQLAlchemyError

        from console.extensions import db
        with self.app.app_context():
            try:
                families = self._fleet(db)
                up = 1
            except SQLAlchemyError:
                # The request and queue metrics must still be scraped when the database is down.
                families, up = [], 0
            finally:
                db.session.remove()
        yield from families
        yield GaugeMetricFamily("csc_database_up",
                                "1 when the database answered this scrape, else 0", value=up)

    def _fleet(self, db) -> list[GaugeMetricFamily]:
        """The gauges read from the database (raises SQLAlchemyError when it is down)."""
        from sqlalchemy import func

        from console.models import CalendarLink, Overbooking, Property
        from console.timeutil import utcnow
        links = GaugeMetricFamily("csc_links", "Calendar links by state and health",
                                  labels=["state", "health"])
        counts: dict[tuple[str, str], int] = {}
        now, interval = utcnow(), self.app.config["SYNC_INTERVAL_MINUTES"]
        for link in db.session.execute(db.select(CalendarLink)).scalars():
            key = (link.state, link.health(now, interval))
            counts[key] = counts.get(key, 0) + 1
        for (state, health), n in sorted(counts.items()):
            links.add_metric([state, health], n)
        risk = GaugeMetricFamily("csc_properties", "Properties by risk level", labels=["risk"])
        for level, n in db.session.execute(
                db.select(Property.risk_level, func.count()).group_by(Property.risk_level)):
            risk.add_metric([level], n)
        open_ob = db.session.execute(db.select(func.count()).select_from(Overbooking)
                                     .filter_by(state="open")).scalar()
        return [links, risk,
                GaugeMetricFamily("csc_overbookings_open", "Open overbookings", value=open_ob)]


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
