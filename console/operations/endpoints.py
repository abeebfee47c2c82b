"""Operations endpoints: /healthz for load balancers, /metrics for Prometheus."""
from __future__ import annotations

import hmac
import ipaddress

from flask import Blueprint, current_app, jsonify, redirect, request, url_for
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy import text

from console.extensions import db
from jobs.broker import redis_status

ops_bp = Blueprint("ops", __name__)


@ops_bp.get("/healthz")
def healthz():
    """200 while the database takes a write; says whether Redis answers."""
    database = "up" if _database_writable() else "down"
    redis = redis_status()
    status = "ok" if database == "up" and redis == "up" else (
        "degraded" if database == "up" else "down")
    return jsonify(status=status, database=database, redis=redis), 200 if database == "up" else 503


@ops_bp.get("/favicon.ico")
def favicon():
    """Browsers ask for /favicon.ico whatever the page says: the console's icon."""
    return redirect(url_for("static", filename="favicon.svg"), 301)


def _may_scrape() -> bool:
    """A bearer METRICS_TOKEN, or a direct request from an allowed address (through a proxy every
    caller looks local, so a forwarded request needs the token)."""
    config = current_app.config
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    if config["METRICS_TOKEN"] and scheme.lower() == "bearer" and \
            hmac.compare_digest(token.strip().encode(), config["METRICS_TOKEN"].encode()):
        return True
    if request.headers.get("X-Forwarded-For") or request.headers.get("Forwarded"):
        return False
    try:
        caller = ipaddress.ip_address(request.remote_addr or "")
    except ValueError:
        return False
    return any(caller in network for network in config["METRICS_ALLOW_NETWORKS"])


def _database_writable() -> bool:
    """Whether the database can take a write now (a locked SQLite file reads but cannot write):
    a write that touches no row, rolled back, within DB_TIMEOUT_SECONDS."""
    try:
        db.session.execute(text("UPDATE alembic_version SET version_num = version_num WHERE 1 = 0"))
        return True
    except Exception:  # noqa: BLE001 - any database failure means "down" here
        return False
    finally:
        db.session.rollback()


@ops_bp.get("/metrics")
def metrics():
    """Prometheus text exposition, for the allowed addresses or a bearer METRICS_TOKEN."""
    if not _may_scrape():
        return jsonify(error={"code": "forbidden", "message": "/metrics needs METRICS_TOKEN as a "
                              "bearer token, or a scrape from METRICS_ALLOW_HOSTS"}), 403
    body = generate_latest(current_app.extensions["csc_metrics"])
    return body, 200, {"Content-Type": CONTENT_TYPE_LATEST}
