"""Listing an owner's Kigo properties and linking one, over the API and in the console."""
from __future__ import annotations

import re
import socket

import pytest
from sqlalchemy import select

from console.extensions import db
from console.models import CalendarLink


@pytest.fixture
def kigo(app, kigo_standin):
    """The app pointed at the stand-in with good credentials; ACC1 shares 101 (on) and 102 (off), ACC2 201."""
    app.config.update(KIGO_API_URL=kigo_standin.url, KIGO_API_USERNAME="kigo-user",
                      KIGO_API_PASSWORD="kigo-pass")
    kigo_standin.add_property("ACC1", 101, "Casa Azul", instant_booking=True)
    kigo_standin.add_property("ACC1", 102, "Casa Roja", instant_booking=False)
    kigo_standin.add_property("ACC2", 201, "Elsewhere")
    return kigo_standin


@pytest.fixture
def kigo_console(app):
    """The Kigo console page at /kigo, registered as console/admin/__init__.py will register it."""
    from console.admin.kigo import KigoView
    admin = app.extensions["csc_admin"]
    if "kigo" not in {view.endpoint for view in admin._views}:
        admin.add_view(KigoView(name="Kigo", endpoint="kigo", url="/kigo"))
    return admin


def closed_port() -> int:
    """A loopback port nothing listens on."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# -- GET /kigo/properties ------------------------------------------------------------------------

def test_lists_the_accounts_properties_with_instant_booking_and_our_links(kigo, api, make_property, make_link):
    ours = make_property(name="Our Casa Azul")
    link = make_link(ours, url=None, source="kigo", state="linked", kigo_code="ACC1", kigo_property_id=101)
    resp = api("viewer").get("/kigo/properties?kigo_code=ACC1")
    assert resp.status_code == 200, resp.get_json()
    body = resp.get_json()
    assert body["total"] == 2
    first, second = body["items"]
    assert (first["kigo_property_id"], first["name"], first["instant_booking"]) == (101, "Casa Azul", True)
    assert first["linked"] == [{"link_id": link.id, "property_id": ours.id, "property_name": "Our Casa Azul",
                                "state": "linked", "kigo_code": "ACC1"}]
    assert (second["kigo_property_id"], second["instant_booking"], second["instant_booking_raw"]) == (102, False, False)
    assert second["linked"] == []


def test_account_code_matches_ignoring_case_and_spaces(kigo, api):
    body = api("viewer").get("/kigo/properties?kigo_code=%20acc2%20").get_json()
    assert [item["kigo_property_id"] for item in body["items"]] == [201]


def test_unknown_account_lists_nothing(kigo, api):
    body = api("viewer").get("/kigo/properties?kigo_code=NOPE").get_json()
    assert body["items"] == [] and body["total"] == 0


def test_missing_kigo_code_is_422_naming_the_field(kigo, api):
    resp = api("viewer").get("/kigo/properties")
    assert resp.status_code == 422
    assert resp.get_json()["error"]["field"] == "kigo_code"
    assert kigo.calls == []


def test_listing_needs_a_token(kigo, client):
    assert client.get("/api/v1/kigo/properties?kigo_code=ACC1").status_code == 401


def test_refused_credentials_are_502_kigo_auth_with_advice(app, kigo, api):
    app.config["KIGO_API_PASSWORD"] = "wrong"
    resp = api("viewer").get("/kigo/properties?kigo_code=ACC1")
    assert resp.status_code == 502
    error = resp.get_json()["error"]
    assert error["code"] == "kigo_auth" and error["http_status"] == 401
    assert "credentials" in error["advice"]


def test_kigo_unreachable_is_502_connect(app, kigo, api):
    app.config["KIGO_API_URL"] = f"http://127.0.0.1:{closed_port()}/api/ra/v1"
    resp = api("viewer").get("/kigo/properties?kigo_code=ACC1")
    assert resp.status_code == 502
    error = resp.get_json()["error"]
    assert error["code"] == "connect" and "Kigo" in error["message"] and error["advice"]


def test_kigo_too_slow_is_504_timeout(app, kigo, api):
    app.config["FETCH_TIMEOUT_SECONDS"] = 1
    kigo.delay_next("listProperties2", 2)
    resp = api("viewer").get("/kigo/properties?kigo_code=ACC1")
    assert resp.status_code == 504
    assert resp.get_json()["error"]["code"] == "timeout"


def test_malformed_kigo_answer_is_502_kigo_error(kigo, api):
    kigo.fail_next("listProperties2", "malformed_json")
    resp = api("viewer").get("/kigo/properties?kigo_code=ACC1")
    assert resp.status_code == 502 and resp.get_json()["error"]["code"] == "kigo_error"


def test_rate_limit_within_the_retries_still_lists(kigo, api):
    kigo.fail_next("listProperties2", 429, times=1, retry_after=0)
    resp = api("viewer").get("/kigo/properties?kigo_code=ACC1")
    assert resp.status_code == 200 and resp.get_json()["total"] == 2


def test_unreadable_instant_booking_is_unknown_not_an_error(kigo, api):
    kigo.fail_next("readProperty2", "E_NOSUCH")
    body = api("viewer").get("/kigo/properties?kigo_code=ACC1").get_json()
    assert [(i["kigo_property_id"], i["instant_booking"]) for i in body["items"]] == [(101, None), (102, False)]


def test_without_kigo_credentials_the_listing_is_503(app, kigo, api):
    app.config["KIGO_API_USERNAME"] = None
    resp = api("viewer").get("/kigo/properties?kigo_code=ACC1")
    assert resp.status_code == 503 and resp.get_json()["error"]["code"] == "kigo_not_configured"
    assert kigo.calls == []


# -- POST /properties/<id>/links (source kigo) -----------------------------------------------------

def test_linking_a_kigo_property_answers_201_with_its_ids(api, make_property):
    prop = make_property()
    resp = api("staff").post(f"/properties/{prop.id}/links",
                             json={"source": "kigo", "kigo_code": "ACC1", "kigo_property_id": 101})
    assert resp.status_code == 201, resp.get_json()
    body = resp.get_json()
    assert (body["source"], body["state"], body["kigo_code"], body["kigo_property_id"]) == \
        ("kigo", "linked", "ACC1", 101)
    assert body["url"] is None and body["health"] == "never_synced"


def test_linking_the_same_kigo_property_twice_is_duplicate_link(api, make_property):
    prop = make_property()
    staff = api("staff")
    data = {"source": "kigo", "kigo_code": "ACC1", "kigo_property_id": 101}
    assert staff.post(f"/properties/{prop.id}/links", json=data).status_code == 201
    resp = staff.post(f"/properties/{prop.id}/links", json=data)
    assert resp.status_code == 422 and resp.get_json()["error"]["code"] == "duplicate_link"
    assert len(db.session.execute(select(CalendarLink)).scalars().all()) == 1


@pytest.mark.parametrize("data, field", [
    ({"kigo_code": "ACC1", "kigo_property_id": "101"}, "kigo_property_id"),
    ({"kigo_code": "ACC1", "kigo_property_id": 1.5}, "kigo_property_id"),
    ({"kigo_code": "ACC1", "kigo_property_id": True}, "kigo_property_id"),
    ({"kigo_code": "ACC1", "kigo_property_id": -3}, "kigo_property_id"),
    ({"kigo_code": "ACC1"}, "kigo_property_id"),
    ({"kigo_code": 7, "kigo_property_id": 101}, "kigo_code"),
    ({"kigo_code": "  ", "kigo_property_id": 101}, "kigo_code"),
    ({"kigo_property_id": 101}, "kigo_code"),
])
def test_bad_kigo_link_fields_are_422_naming_the_field(api, make_property, data, field):
    prop = make_property()
    resp = api("staff").post(f"/properties/{prop.id}/links", json={"source": "kigo", **data})
    assert resp.status_code == 422
    assert resp.get_json()["error"]["field"] == field
    assert db.session.execute(select(CalendarLink)).scalars().all() == []


# -- the console page -------------------------------------------------------------------------------

def csrf_token(page: str) -> str:
    """The CSRF token a console form carries."""
    return re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)


def test_console_lists_kigo_properties_and_staff_link_one(kigo, kigo_console, login, make_property):
    ours = make_property(name="Our Casa Roja")
    client = login("staff")
    page = client.get("/kigo/?kigo_code=ACC1").get_data(as_text=True)
    assert 'data-kigo-property-id="101"' in page and 'data-kigo-property-id="102"' in page
    assert 'data-kigo-property-id="201"' not in page
    assert "Our Casa Roja" in page
    resp = client.post("/kigo/link", data={"csrf_token": csrf_token(page), "kigo_code": "ACC1",
                                           "kigo_property_id": "102", "property_id": str(ours.id)})
    assert resp.status_code == 302 and resp.headers["Location"].endswith(f"/properties/{ours.id}")
    link = db.session.execute(select(CalendarLink)).scalar_one()
    assert (link.property_id, link.source, link.kigo_code, link.kigo_property_id, link.state) == \
        (ours.id, "kigo", "ACC1", 102, "linked")
    page = client.get("/kigo/?kigo_code=ACC1").get_data(as_text=True)
    assert f'data-linked-property="{ours.id}"' in page


def test_console_refuses_a_duplicate_kigo_link(kigo, kigo_console, login, make_property, make_link):
    ours = make_property()
    make_link(ours, url=None, source="kigo", kigo_code="ACC1", kigo_property_id=101)
    client = login("staff")
    page = client.get("/kigo/?kigo_code=ACC1").get_data(as_text=True)
    resp = client.post("/kigo/link", data={"csrf_token": csrf_token(page), "kigo_code": "ACC1",
                                           "kigo_property_id": "101", "property_id": str(ours.id)},
                       follow_redirects=True)
    assert "already linked" in resp.get_data(as_text=True)
    assert len(db.session.execute(select(CalendarLink)).scalars().all()) == 1


def test_console_link_without_csrf_is_refused(kigo, kigo_console, login, make_property):
    ours = make_property()
    client = login("staff")
    resp = client.post("/kigo/link", data={"kigo_code": "ACC1", "kigo_property_id": "101",
                                           "property_id": str(ours.id)})
    assert resp.status_code == 400
    assert db.session.execute(select(CalendarLink)).scalars().all() == []


def test_viewers_see_the_list_but_cannot_link(kigo, kigo_console, login, make_property):
    ours = make_property()
    client = login("viewer")
    page = client.get("/kigo/?kigo_code=ACC1").get_data(as_text=True)
    assert 'data-kigo-property-id="101"' in page and 'data-action="link"' not in page
    resp = client.post("/kigo/link", data={"csrf_token": csrf_token(page), "kigo_code": "ACC1",
                                           "kigo_property_id": "101", "property_id": str(ours.id)})
    assert resp.status_code == 403
    assert db.session.execute(select(CalendarLink)).scalars().all() == []


def test_console_explains_a_kigo_failure(app, kigo, kigo_console, login):
    app.config["KIGO_API_PASSWORD"] = "wrong"
    page = login("staff").get("/kigo/?kigo_code=ACC1").get_data(as_text=True)
    assert 'data-error-kind="kigo_auth"' in page and "What to do" in page


def test_console_page_needs_a_login(kigo_console, client):
    resp = client.get("/kigo/?kigo_code=ACC1")
    assert resp.status_code == 302 and "/login" in resp.headers["Location"]


def test_listing_gives_up_at_once_when_kigo_asks_for_a_long_wait(kigo, api):
    kigo.fail_next("listProperties2", 429, times=20, retry_after=5)
    resp = api("viewer").get("/kigo/properties?kigo_code=ACC1")
    assert resp.status_code == 502 and resp.get_json()["error"]["code"] == "rate_limited"
    assert len(kigo.calls_to("listProperties2")) == 1  # nobody's page waited 5 s per retry


def test_rate_limited_instant_booking_reads_stop_after_the_first_property(kigo, api):
    from jobs.kigo.account import MAX_RETRIES
    kigo.fail_next("readProperty2", 429, times=20, retry_after=0)
    body = api("viewer").get("/kigo/properties?kigo_code=ACC1").get_json()
    assert [i["instant_booking"] for i in body["items"]] == [None, None]
    assert len(kigo.calls_to("readProperty2")) == MAX_RETRIES + 1


def test_channels_api_form_lists_with_the_subscription_key(app, kigo, api):
    app.config.update(KIGO_API_URL=kigo.channels_url, KIGO_API_USERNAME=None, KIGO_API_PASSWORD=None,
                      KIGO_API_SUBSCRIPTION_KEY="kigo-key")
    body = api("viewer").get("/kigo/properties?kigo_code=ACC1").get_json()
    assert body["total"] == 2
    assert {call.api for call in kigo.calls} == {"channels"}
