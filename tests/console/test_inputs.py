"""Bad input is a clear 4xx, never a 500, and stores nothing: ids, NUL and lone surrogates, zone-id
IPv6 literals, markup in chart labels."""
from __future__ import annotations

import json

import pytest
from sqlalchemy import func, select

from console.extensions import db
from console.models import CalendarLink, Property
from console.reports import charts


def count(model) -> int:
    return db.session.execute(select(func.count()).select_from(model)).scalar()


def test_non_ascii_digits_are_not_ids(api, make_property, make_link):
    link = make_link(make_property())
    assert link.id == 1
    staff = api("staff")
    assert staff.delete("/links/١").status_code == 404  # Arabic-Indic one
    assert staff.get("/links/１").status_code == 404  # fullwidth one
    assert db.session.get(CalendarLink, 1) is not None


@pytest.mark.parametrize("raw", ["2147483648", "18446744073709551616", "9" * 40])
def test_ids_past_the_columns_range_are_not_found(api, client, login, make_property, raw):
    make_property()
    assert api("viewer").get(f"/properties/{raw}").status_code == 404
    login("viewer")
    assert client.get(f"/properties/{raw}").status_code == 404


@pytest.mark.parametrize("raw", ["\\u0000", "a\\u0000b", "\\ud800", "x\\udfffy"])
def test_unstorable_text_in_a_body_is_a_422_naming_the_field(api, raw):
    body = '{"name": "' + raw + '", "owner_email": "o@example.com"}'
    resp = api("staff").post("/properties", data=body, content_type="application/json")
    assert resp.status_code == 422
    assert resp.get_json()["error"]["field"] == "name"
    assert count(Property) == 0


def test_unstorable_text_deep_in_a_body_names_its_top_level_field(api, make_property):
    prop = make_property()
    body = json.dumps({"url": "https://127.0.0.1:1/a.ics", "extra": {"nested": ["ok", "\x00"]}})
    resp = api("staff").post(f"/properties/{prop.id}/links", data=body, content_type="application/json")
    assert resp.status_code == 422 and resp.get_json()["error"]["field"] == "extra"
    assert count(CalendarLink) == 0


def test_a_nul_in_a_query_or_form_is_refused_not_a_500(api, client, login, make_property):
    make_property(name="Casa")
    resp = api("viewer").get("/properties?q=Ca%00sa")
    assert resp.status_code == 422 and resp.get_json()["error"]["field"] == "q"
    login("viewer")
    assert client.get("/properties/?q=Ca%00sa").status_code == 400
    assert api("staff").delete("/reservations/OA%00X").status_code == 404


@pytest.mark.parametrize("url", ["http://[::1%25lo]/cal.ics", "http://[fe80::1%25eth0]/cal.ics",
                                 "https://[2001:db8::1%251]/cal.ics"])
def test_a_zone_id_ipv6_literal_is_a_blocked_address(api, make_property, url):
    prop = make_property()
    resp = api("staff").post(f"/properties/{prop.id}/links", json={"url": url})
    assert resp.status_code == 422 and resp.get_json()["error"]["code"] == "blocked_address"
    assert count(CalendarLink) == 0


def test_chart_labels_are_plain_text():
    city = '<a href="https://evil.example/">Málaga</a> & <b>co</b>'
    fig = charts.overbookings_by("city", [charts.GroupCount(city, 2, 1)])
    [label] = set(fig["data"][0]["y"])
    assert "<a" not in label and "<b>" not in label
    assert label == "&lt;a href=\"https://evil.example/\"&gt;Málaga&lt;/a&gt; &amp; &lt;b&gt;co&lt;/b&gt;"
