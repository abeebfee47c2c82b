"""Console pages answer the console's 503 page, never a bare 500, when the database or Redis cannot
serve them (a logged-in person's user is loaded from the database too); the API and /healthz keep their
own answers; and the pages work again once the fault ends."""
from __future__ import annotations

import re

import pytest

from config import TestConfig
from console import create_app
from console.extensions import db
from console.models import ApiToken, User
from tests.db_faults import database_refusing

PASSWORD = "correct horse battery"
PAGES = ["/", "/properties/", "/jobs/", "/overbookings/"]


@pytest.fixture
def fragile(app, backends):
    """An app that gives up on the database after 1 s, its logged-in test client and a staff token."""
    quick = create_app(TestConfig(env={**backends, "DB_TIMEOUT_SECONDS": "1"}))
    with quick.app_context():
        user = User(email="staff@example.com", role="staff")
        user.set_password(PASSWORD)
        row, token = ApiToken.issue("faults", "staff")
        db.session.add_all([user, row])
        db.session.commit()
        email = user.email
    yield quick, logged_in(quick, email), {"Authorization": f"Bearer {token}"}
    with quick.app_context():
        db.engine.dispose()


def logged_in(app, email: str = "staff@example.com"):
    """A test client of `app` logged in through the form."""
    client = app.test_client()
    form = client.get("/login").get_data(as_text=True)
    csrf = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', form).group(1)
    assert client.post("/login", data={"email": email, "password": PASSWORD,
                                       "csrf_token": csrf}).status_code == 302
    return client


def _pages(client) -> dict[str, int]:
    return {path: client.get(path).status_code for path in PAGES}


def test_console_pages_answer_the_503_page_while_the_database_refuses_and_work_after(
        app, fragile, backends):
    quick, client, token = fragile
    assert _pages(client) == dict.fromkeys(PAGES, 200)
    for each in (app, quick):  # idle pooled connections would keep SQLite's exclusive lock away
        with each.app_context():
            db.session.remove()
            db.engine.dispose()
    with database_refusing(backends["DATABASE_URL"]):
        answers = {path: client.get(path) for path in PAGES}
        api = client.get("/api/v1/properties", headers=token)
        health = client.get("/healthz")
    for path, resp in answers.items():
        body = resp.get_data(as_text=True)
        assert resp.status_code == 503, (path, body[:500])
        assert 'data-fault="database_unavailable"' in body and "The database is not answering" in body
        assert resp.headers["Retry-After"] == "30"
    assert api.status_code == 503 and api.get_json()["error"]["code"] == "database_unavailable"
    assert health.status_code == 503 and health.get_json()["database"] == "down"
    with quick.app_context():
        db.engine.dispose()
    assert _pages(client) == dict.fromkeys(PAGES, 200)  # still logged in: nothing was lost


def test_console_pages_never_answer_500_when_redis_is_unreachable(fragile, backends):
    lost = create_app(TestConfig(env={**backends, "REDIS_URL": "redis://127.0.0.1:1/0",
                                      "DB_TIMEOUT_SECONDS": "1"}))
    away = logged_in(lost)
    statuses = {path: away.get(path) for path in PAGES}
    for path, resp in statuses.items():
        body = resp.get_data(as_text=True)
        assert resp.status_code in (200, 503), (path, resp.status_code, body[:500])
        if resp.status_code == 503:
            assert 'data-fault="queue_unavailable"' in body
    assert away.get("/healthz").get_json()["redis"] == "down"
