"""Operations endpoints: /healthz for load balancers, /metrics for Prometheus."""
from __future__ import annotations

from flask import Blueprint, current_app, jsonify
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
    """Prometheus text exposition."""
    body = generate_latest(current_app.extensions["csc_metrics"])
    return body, 200, {"Content-Type": CONTENT_TYPE_LATEST}
