"""Factories for test data, committed so that jobs (with their own sessions) see it."""
from __future__ import annotations

from datetime import date, timedelta

import pytest

from console.extensions import db
from console.models import ApiToken, CalendarLink, Owner, Property, Reservation, User, new_reservation_code

__all__ = ["make_property", "make_link", "make_reservation", "make_user", "api", "login"]


@pytest.fixture
def make_property(app):
    """make_property(name=..., owner_email=..., **fields) -> Property."""
    def make(name="Test Flat", owner_email="owner@example.com", **fields):
        owner = db.session.query(Owner).filter_by(email=owner_email).one_or_none()
        owner = owner or Owner(email=owner_email)
        prop = Property(name=name, owner=owner, **fields)
        db.session.add(prop)
        db.session.commit()
        return prop
    return make


@pytest.fixture
def make_link(app):
    """make_link(prop, url=..., source=..., state=..., **fields) -> CalendarLink."""
    def make(prop, url="http://127.0.0.1:1/feed.ics", source="ical", state="active", **fields):
        link = CalendarLink(property=prop, url=url, source=source, state=state, **fields)
        db.session.add(link)
        db.session.commit()
        return link
    return make


@pytest.fixture
def make_reservation(app):
    """make_reservation(prop, origin, in_days, nights, link=None) -> Reservation."""
    def make(prop, origin="direct", in_days=10, nights=3, link=None, uid=None, today=None):
        start = (today or date.today()) + timedelta(days=in_days)
        res = Reservation(code=new_reservation_code(origin), property_id=prop.id, origin=origin,
                          link_id=link.id if link else None, check_in=start,
                          check_out=start + timedelta(days=nights), external_uid=uid)
        db.session.add(res)
        db.session.commit()
        return res
    return make


@pytest.fixture
def make_user(app):
    """make_user(email, role, password) -> User."""
    def make(email="staff@example.com", role="staff", password="correct horse battery"):
        user = User(email=email, role=role)
        user.set_password(password)
        db.session.add(user)
        db.session.commit()
        return user
    return make


class ApiClient:
    """The test client with a bearer token of a given role."""

    def __init__(self, client, token: str):
        self.client, self.headers = client, {"Authorization": f"Bearer {token}"}

    def __getattr__(self, method):
        def call(path, **kwargs):
            headers = {**self.headers, **kwargs.pop("headers", {})}
            return getattr(self.client, method)(f"/api/v1{path}", headers=headers, **kwargs)
        return call


@pytest.fixture
def api(app, client):
    """api(role) -> a client that sends a fresh token of that role."""
    def make(role="admin"):
        row, clear = ApiToken.issue(f"test-{role}", role)
        db.session.add(row)
        db.session.commit()
        return ApiClient(client, clear)
    return make


@pytest.fixture
def login(client, make_user):
    """login(role) -> the logged-in test client (through the real form, with CSRF)."""
    import re

    def do(role="staff", email=None):
        email = email or f"{role}@example.com"
        make_user(email=email, role=role, password="correct horse battery")
        page = client.get("/login").get_data(as_text=True)
        token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)
        resp = client.post("/login", data={"email": email, "password": "correct horse battery",
                                           "csrf_token": token})
        assert resp.status_code == 302, resp.get_data(as_text=True)
        return client
    return do
