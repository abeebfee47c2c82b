"""/healthz and /metrics, and how the app behaves when Redis is down."""
import socket

import pytest

from config import TestConfig
from console import create_app
from console.extensions import db


def _closed_port() -> int:
    """A loopback port nobody listens on (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def redis_down_app(backends, app):
    """An app on the test database whose Redis address answers nothing."""
    env = dict(backends, REDIS_URL=f"redis://127.0.0.1:{_closed_port()}/0")
    down = create_app(TestConfig(env=env))
    with down.app_context():
        yield down
        db.session.remove()


def test_healthz_says_redis_down_but_stays_200(redis_down_app):
    resp = redis_down_app.test_client().get("/healthz")
    assert resp.status_code == 200
    assert resp.get_json() == {"status": "degraded", "database": "up", "redis": "down"}


def test_sync_requests_answer_503_when_redis_is_down(redis_down_app, make_property, make_link):
    from console.models import ApiToken, CalendarLink
    link = make_link(make_property(), state="linked")
    row, clear = ApiToken.issue("t", "staff")
    db.session.add(row)
    db.session.commit()
    client = redis_down_app.test_client()
    headers = {"Authorization": f"Bearer {clear}"}
    resp = client.post(f"/api/v1/links/{link.id}/activate", headers=headers)
    assert resp.status_code == 503
    assert resp.get_json()["error"]["code"] == "queue_unavailable"
    db.session.expire_all()
    assert db.session.get(CalendarLink, link.id).state == "linked"  # nothing changed
    # Reads keep working.
    assert client.get(f"/api/v1/links/{link.id}", headers=headers).status_code == 200


def test_healthz_needs_no_auth_and_reports_both(client):
    body = client.get("/healthz").get_json()
    assert body["database"] == "up" and body["redis"] == "up"


def test_metrics_exposes_prometheus_text(client, make_property, make_link):
    make_link(make_property())
    client.get("/healthz")
    resp = client.get("/metrics")
    assert resp.status_code == 200
    assert resp.headers["Content-Type"].startswith("text/plain")
    text = resp.get_data(as_text=True)
    assert 'csc_links{health="never_synced",state="active"} 1.0' in text
    assert "csc_http_requests_total" in text and "csc_overbookings_open" in text


@pytest.fixture
def database_down_app(backends, tmp_path):
    """An app whose database cannot be opened (SQLite file in a folder that does not exist)."""
    env = dict(backends, DATABASE_URL=f"sqlite:///{tmp_path}/missing/dir/console.db")
    down = create_app(TestConfig(env=env))
    yield down
    with down.app_context():
        db.engine.dispose()


def test_healthz_is_503_down_when_the_database_is_down(database_down_app):
    resp = database_down_app.test_client().get("/healthz")
    assert resp.status_code == 503
    body = resp.get_json()
    assert body["status"] == "down" and body["database"] == "down"


def test_metrics_keep_serving_with_database_up_0_when_the_database_is_down(database_down_app):
    client = database_down_app.test_client()
    client.get("/healthz")
    resp = client.get("/metrics")
    assert resp.status_code == 200
    assert resp.headers["Content-Type"].startswith("text/plain")
    text = resp.get_data(as_text=True)
    assert "csc_database_up 0.0" in text
    assert 'csc_http_requests_total{endpoint="ops.healthz",method="GET",status="503"} 1.0' in text
    assert "csc_links{" not in text


def test_metrics_say_database_up_1_when_it_answers(client):
    text = client.get("/metrics").get_data(as_text=True)
    assert "csc_database_up 1.0" in text
