"""Console login and logout: hashed passwords, CSRF, every page behind the login."""
import re

from console.extensions import db
from console.models import User


def _csrf(client) -> str:
    page = client.get("/login").get_data(as_text=True)
    return re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)


def test_pages_redirect_to_login_when_logged_out(client):
    for path in ("/", "/properties/", "/properties/1"):
        resp = client.get(path)
        assert resp.status_code == 302, path
        assert "/login" in resp.headers["Location"]


def test_login_with_the_right_password_then_logout(client, make_user):
    make_user("viewer@example.com", "viewer", "correct horse battery")
    resp = client.post("/login", data={"email": "Viewer@Example.com",
                                       "password": "correct horse battery",
                                       "csrf_token": _csrf(client)})
    assert resp.status_code == 302
    assert client.get("/").status_code == 200
    resp = client.post("/logout", data={"csrf_token": _csrf_from(client.get("/"))})
    assert resp.status_code == 302
    assert client.get("/").status_code == 302


def _csrf_from(resp) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', resp.get_data(as_text=True)).group(1)


def _logged_in(client, make_user):
    make_user("viewer@example.com", "viewer", "correct horse battery")
    resp = client.post("/login", data={"email": "viewer@example.com",
                                       "password": "correct horse battery",
                                       "csrf_token": _csrf(client)})
    assert resp.status_code == 302
    return client


def test_logout_by_get_is_refused_and_keeps_the_session(client, make_user):
    _logged_in(client, make_user)
    assert client.get("/logout").status_code == 405
    assert client.get("/").status_code == 200


def test_logout_without_csrf_token_is_refused(client, make_user):
    _logged_in(client, make_user)
    resp = client.post("/logout")
    assert resp.status_code == 400
    assert client.get("/").status_code == 200
    resp = client.post("/logout", data={"csrf_token": "forged"})
    assert resp.status_code == 400
    assert client.get("/").status_code == 200


def test_logout_button_posts_the_csrf_token_and_logs_out(client, make_user):
    _logged_in(client, make_user)
    page = client.get("/").get_data(as_text=True)
    form = re.search(r'<form method="post" action="/logout".*?</form>', page, re.S).group(0)
    assert "Log out" in form and 'name="csrf_token"' in form
    resp = client.post("/logout", data={"csrf_token": _csrf_from(client.get("/"))})
    assert resp.status_code == 302 and "/login" in resp.headers["Location"]
    assert client.get("/").status_code == 302


def test_wrong_password_is_refused(client, make_user):
    make_user("viewer@example.com", "viewer", "correct horse battery")
    resp = client.post("/login", data={"email": "viewer@example.com", "password": "wrong",
                                       "csrf_token": _csrf(client)})
    assert resp.status_code == 401
    assert "Wrong email or password" in resp.get_data(as_text=True)
    assert client.get("/").status_code == 302


def test_login_without_csrf_token_is_refused(client, make_user):
    make_user("viewer@example.com", "viewer", "correct horse battery")
    resp = client.post("/login", data={"email": "viewer@example.com",
                                       "password": "correct horse battery"})
    assert resp.status_code == 400
    assert client.get("/").status_code == 302


def test_inactive_user_cannot_log_in(client, make_user):
    user = make_user("gone@example.com", "staff", "correct horse battery")
    user.active = False
    db.session.commit()
    resp = client.post("/login", data={"email": "gone@example.com",
                                       "password": "correct horse battery",
                                       "csrf_token": _csrf(client)})
    assert resp.status_code == 401


def test_passwords_are_stored_hashed(make_user):
    user = make_user("h@example.com", "viewer", "correct horse battery")
    stored = db.session.get(User, user.id).password_hash
    assert "correct horse battery" not in stored and stored.startswith(("scrypt:", "pbkdf2:"))


def test_next_parameter_cannot_redirect_off_site(client, make_user):
    make_user("v@example.com", "viewer", "correct horse battery")
    resp = client.post("/login?next=//evil.example/x", data={
        "email": "v@example.com", "password": "correct horse battery",
        "csrf_token": _csrf(client)})
    assert resp.headers["Location"] in ("/", "http://localhost/")
