"""The login resists: failures limited per account and address (429 with Retry-After, the right
password refused too until the window ends), the same work for unknown e-mails, logout that kills
copied cookies, hardened cookies and headers, /metrics and API tokens under control."""
from __future__ import annotations

import re
import time
from datetime import timedelta

import pytest
from flask import g

from console.extensions import db
from console.models import ApiToken, User
from console.timeutil import utcnow

PASSWORD = "correct horse battery"


def as_a_new_visitor() -> None:
    """Forget the user Flask-Login cached on `g`: the test's app context outlives requests, so
    without this a second client would be served the first one's user."""
    g.pop("_login_user", None)
    g.pop("csrf_token", None)


def csrf(client) -> str:
    as_a_new_visitor()
    page = client.get("/login").get_data(as_text=True)
    return re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)


def try_login(client, email: str, password: str):
    return client.post("/login", data={"email": email, "password": password, "csrf_token": csrf(client)})


def test_fifty_wrong_passwords_are_refused_from_the_sixth_and_then_so_is_the_right_one(
        client, make_user):
    make_user("staff@example.com", "staff", PASSWORD)
    codes = [try_login(client, "staff@example.com", f"guess {n}").status_code for n in range(50)]
    assert codes[:5] == [401] * 5 and set(codes[5:]) == {429}
    right = try_login(client, "staff@example.com", PASSWORD)
    assert right.status_code == 429 and 0 < int(right.headers["Retry-After"]) <= 900
    assert "Too many failed logins" in right.get_data(as_text=True)
    assert client.get("/").status_code == 302  # not logged in


def test_the_window_ends_and_a_good_login_clears_the_accounts_count(app, client, make_user,
                                                                  redis_conn):
    make_user("staff@example.com", "staff", PASSWORD)
    for n in range(5):
        try_login(client, "staff@example.com", f"guess {n}")
    assert try_login(client, "staff@example.com", PASSWORD).status_code == 429
    for key in redis_conn.scan_iter("csc:login-fail:account:*"):
        redis_conn.delete(key)  # the window ended (its key expired)
    assert try_login(client, "staff@example.com", PASSWORD).status_code == 302


def test_one_address_failing_for_many_accounts_is_stopped(app, client, make_user):
    limit = app.config["LOGIN_MAX_FAILURES"] * 4
    codes = [try_login(client, f"nobody{n}@example.com", "x").status_code for n in range(limit + 2)]
    assert codes[:limit] == [401] * limit and codes[limit:] == [429, 429]


def test_an_unknown_email_takes_as_long_as_a_known_one(client, make_user):
    make_user("staff@example.com", "staff", PASSWORD)

    def timed(email: str) -> float:
        began = time.perf_counter()
        assert try_login(client, email, "wrong").status_code == 401
        return time.perf_counter() - began
    known = min(timed("staff@example.com") for _ in range(3))
    unknown = min(timed(f"ghost{n}@example.com") for n in range(3))
    assert 0.5 < unknown / known < 2.0, (known, unknown)


def test_logout_kills_a_copy_of_the_session_cookie(app, client, make_user):
    make_user("staff@example.com", "staff", PASSWORD)
    assert try_login(client, "staff@example.com", PASSWORD).status_code == 302
    stolen = client.get_cookie("session").value
    thief = app.test_client()
    thief.set_cookie("session", stolen)
    as_a_new_visitor()
    assert thief.get("/").status_code == 200  # the copy works while the session lives
    as_a_new_visitor()
    page = client.get("/").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    assert client.post("/logout", data={"csrf_token": token}).status_code == 302
    as_a_new_visitor()
    resp = thief.get("/")
    assert resp.status_code == 302 and "/login" in resp.headers["Location"]


def test_session_cookie_is_samesite_httponly_and_secure_over_https(app, client, make_user):
    make_user("staff@example.com", "staff", PASSWORD)
    plain = try_login(client, "staff@example.com", PASSWORD).headers.get_all("Set-Cookie")
    assert any("SameSite=Lax" in c and "HttpOnly" in c and "Secure" not in c for c in plain)
    tls = app.test_client()
    as_a_new_visitor()
    token = csrf(tls)
    behind_tls = tls.post("/login", data={"email": "staff@example.com", "password": PASSWORD,
                                          "csrf_token": token},
                          # over https Flask-WTF also checks that the form came from this site
                          headers={"X-Forwarded-Proto": "https", "Referer": "https://localhost/login"})
    cookies = behind_tls.headers.get_all("Set-Cookie")
    assert cookies and all("Secure" in c for c in cookies if c.startswith("session="))


@pytest.mark.parametrize("path", ["/login", "/api/v1/properties", "/healthz"])
def test_every_answer_carries_the_security_headers(client, path):
    resp = client.get(path)
    csp = resp.headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp.split("script-src")[1].split(";")[0]
    assert "frame-ancestors 'none'" in csp
    assert resp.headers["X-Frame-Options"] == "DENY"
    assert resp.headers["X-Content-Type-Options"] == "nosniff"
    assert resp.headers["Referrer-Policy"] == "same-origin"


def test_metrics_answer_only_allowed_addresses_or_the_token(app, client):
    assert client.get("/metrics").status_code == 200  # the test client is 127.0.0.1
    assert client.get("/metrics", environ_base={"REMOTE_ADDR": "203.0.113.9"}).status_code == 403
    # Through a proxy every caller looks local: a forwarded scrape needs the token.
    assert client.get("/metrics", headers={"X-Forwarded-For": "203.0.113.9"}).status_code == 403
    app.config["METRICS_TOKEN"] = "s3cret-scrape"
    assert client.get("/metrics", environ_base={"REMOTE_ADDR": "203.0.113.9"},
                      headers={"Authorization": "Bearer s3cret-scrape"}).status_code == 200
    assert client.get("/metrics", environ_base={"REMOTE_ADDR": "203.0.113.9"},
                      headers={"Authorization": "Bearer wrong"}).status_code == 403


def test_metrics_answer_the_networks_of_metrics_allow_hosts(backends):
    from config import TestConfig
    from console import create_app
    app = create_app(TestConfig(env={**backends, "METRICS_ALLOW_HOSTS": "203.0.113.0/24"}))
    client = app.test_client()
    try:
        assert client.get("/metrics", environ_base={"REMOTE_ADDR": "203.0.113.9"}).status_code == 200
        assert client.get("/metrics", environ_base={"REMOTE_ADDR": "198.51.100.1"}).status_code == 403
        assert client.get("/metrics").status_code == 403  # 127.0.0.1 is no longer on the list
    finally:
        with app.app_context():  # this app's pooled connection would keep a later test's SQLite lock away
            db.engine.dispose()


def test_an_expired_token_is_refused(client):
    row, clear = ApiToken.issue("old", "viewer")
    row.expires_at = utcnow() - timedelta(seconds=1)
    db.session.add(row)
    db.session.commit()
    resp = client.get("/api/v1/properties", headers={"Authorization": f"Bearer {clear}"})
    assert resp.status_code == 401 and "expired" in resp.get_json()["error"]["message"]


def test_create_and_revoke_token_from_the_cli(app, runner, client):
    made = runner.invoke(args=["create-token", "ranking", "--role", "viewer", "--expires-in-days", "30"])
    assert made.exit_code == 0, made.output
    clear = made.output.strip().splitlines()[-1]
    headers = {"Authorization": f"Bearer {clear}"}
    assert client.get("/api/v1/scores", headers=headers).status_code == 200
    row = db.session.execute(db.select(ApiToken).filter_by(name="ranking")).scalar_one()
    assert timedelta(days=29) < row.expires_at - utcnow() <= timedelta(days=30)
    revoked = runner.invoke(args=["revoke-token", "ranking"])
    assert revoked.exit_code == 0 and "revoked 1 token" in revoked.output
    assert client.get("/api/v1/scores", headers=headers).status_code == 401
    again = runner.invoke(args=["revoke-token", "ranking"])
    assert again.exit_code != 0 and "no live API token" in again.output


def test_admins_see_and_revoke_tokens_on_their_page_and_others_cannot(app, client, login):
    row, clear = ApiToken.issue("main-site", "staff")
    db.session.add(row)
    db.session.commit()
    login("viewer")
    assert client.get("/tokens/").status_code == 403
    admin = app.test_client()
    user = User(email="admin@example.com", role="admin")
    user.set_password(PASSWORD)
    db.session.add(user)
    db.session.commit()
    as_a_new_visitor()
    assert try_login(admin, "admin@example.com", PASSWORD).status_code == 302
    page = admin.get("/tokens/").get_data(as_text=True)
    assert "main-site" in page and "live" in page
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    assert admin.post(f"/tokens/{row.id}/revoke", data={"csrf_token": token}).status_code == 302
    assert client.get("/api/v1/properties", headers={"Authorization": f"Bearer {clear}"}).status_code == 200, \
        "not revoked without the confirm box"
    assert admin.post(f"/tokens/{row.id}/revoke", data={"csrf_token": token, "confirm": "yes"}).status_code == 302
    assert client.get("/api/v1/properties", headers={"Authorization": f"Bearer {clear}"}).status_code == 401
    assert "revoked" in admin.get("/tokens/").get_data(as_text=True)
