"""The property list: search without case or accents, natural order, any column's order with the
filters kept, needs attention first by nights at stake, a window of pages, the CSV download."""
from __future__ import annotations

import csv
import html
import io
import re
from datetime import timedelta

import pytest

from console.admin import properties as property_pages
from console.admin.property_list import page_window
from console.extensions import db
from console.timeutil import utcnow
from jobs.sync.property_state import recompute_all


def _names(html: str) -> list[str]:
    return re.findall(r'<a href="/properties/\d+">([^<]+)</a>', html)


def _failing(link, kind="forbidden"):
    link.last_sync_at = link.last_error_at = utcnow()
    link.last_attempt_ok, link.last_error_kind, link.consecutive_failures = False, kind, 3
    db.session.commit()


def _ok(link):
    link.last_sync_at = link.last_success_at = utcnow()
    link.last_attempt_ok = True
    db.session.commit()


@pytest.mark.parametrize("term, found", [
    ("malaga", "Casa Málaga"), ("MÁLAGA", "casa malaga"), ("cafe", "Café Sol"), ("SEVILLA", "Café Sol"),
    ("ref-77", "Ático 7"), ("Lucía@Example", "Ático 7"), ("100%", "100% Flat"),
])
def test_search_ignores_case_and_accents_on_every_field(login, make_property, term, found):
    client = login("viewer")
    make_property("Casa Málaga", owner_email="a@example.com")
    make_property("casa malaga", owner_email="b@example.com")
    make_property("Café Sol", city="Sevilla", owner_email="c@example.com")
    make_property("Ático 7", external_ref="REF-77", owner_email="lucía@example.com")
    make_property("100% Flat", owner_email="d@example.com")
    names = _names(client.get("/properties/", query_string={"q": term}).get_data(as_text=True))
    assert found in names
    if term.lower().startswith("mal"):
        assert sorted(names) == ["Casa Málaga", "casa malaga"]
    if term == "100%":  # % is a character, not a wildcard
        assert names == ["100% Flat"]


def test_a_renamed_property_is_found_by_its_new_name(login, make_property):
    client = login("viewer")
    prop = make_property("Old Name")
    prop.name, prop.city = "Nuevo Ñandú", "Cádiz"
    db.session.commit()
    assert _names(client.get("/properties/?q=nandu").get_data(as_text=True)) == ["Nuevo Ñandú"]
    assert _names(client.get("/properties/?q=cadiz").get_data(as_text=True)) == ["Nuevo Ñandú"]
    assert _names(client.get("/properties/?q=old").get_data(as_text=True)) == []


def test_names_sort_naturally_both_ways(login, make_property):
    client = login("viewer")
    for name in ("Flat 43", "Flat 5", "Flat 44", "flat 100", "Ático 1"):
        make_property(name)
    assert _names(client.get("/properties/?sort=property").get_data(as_text=True)) == \
        ["Ático 1", "Flat 5", "Flat 43", "Flat 44", "flat 100"]
    assert _names(client.get("/properties/?sort=property&dir=desc").get_data(as_text=True)) == \
        ["flat 100", "Flat 44", "Flat 43", "Flat 5", "Ático 1"]


@pytest.fixture
def fleet(make_property, make_link, make_reservation):
    """Four Google properties of one owner city and one Airbnb decoy, in distinct states."""
    props = {}
    props["busy"] = make_property("Flat 2", city="Cádiz", owner_email="zed@example.com", score_value=90,
                                  score_computed_at=utcnow())
    _failing(make_link(props["busy"], source="google"))
    make_reservation(props["busy"], "direct", in_days=0, nights=20)  # 10 nights at stake
    props["free"] = make_property("Flat 10", city="Cádiz", owner_email="amy@example.com", score_value=40,
                                  score_computed_at=utcnow())
    _failing(make_link(props["free"], source="google"))  # 30 nights at stake
    props["well"] = make_property("Flat 1", city="Cádiz", owner_email="bob@example.com", score_value=70,
                                  score_computed_at=utcnow())
    _ok(make_link(props["well"], source="google"))
    props["never"] = make_property("Flat 3", city="Cádiz", owner_email="cat@example.com")
    make_link(props["never"], source="google", state="linked")  # never synced: 30 at stake
    props["never"].links[0].created_at = utcnow() - timedelta(days=1)
    props["decoy"] = make_property("Flat 0", city="Cádiz", owner_email="ann@example.com")
    _failing(make_link(props["decoy"], source="airbnb"))
    db.session.commit()
    recompute_all(scores=False)
    return props


def test_needs_attention_first_ranks_by_nights_at_stake(login, fleet):
    client = login("viewer")
    html = client.get("/properties/?source=google").get_data(as_text=True)
    names = _names(html)
    assert names[:2] == ["Flat 3", "Flat 10"] or names[:2] == ["Flat 10", "Flat 3"]
    assert names[2:] == ["Flat 2", "Flat 1"]
    assert "30 nights</strong> at stake" in html and "10 nights</strong> at stake" in html
    assert db.session.get(type(fleet["well"]), fleet["well"].id).exposure_nights == 0


@pytest.mark.parametrize("sort, direction, expected", [
    ("property", "asc", ["Flat 1", "Flat 2", "Flat 3", "Flat 10"]),
    ("owner", "asc", ["Flat 10", "Flat 1", "Flat 3", "Flat 2"]),
    ("owner", "desc", ["Flat 2", "Flat 3", "Flat 1", "Flat 10"]),
    ("health", "desc", ["Flat 2", "Flat 10", "Flat 3", "Flat 1"]),
    ("health", "asc", ["Flat 1", "Flat 3", "Flat 2", "Flat 10"]),
    ("score", "asc", ["Flat 3", "Flat 10", "Flat 1", "Flat 2"]),
    ("score", "desc", ["Flat 2", "Flat 1", "Flat 10", "Flat 3"]),
    ("exposure", "desc", ["Flat 3", "Flat 10", "Flat 2", "Flat 1"]),
    ("exposure", "asc", ["Flat 1", "Flat 2", "Flat 3", "Flat 10"]),
    ("risk", "desc", ["Flat 2", "Flat 10", "Flat 3", "Flat 1"]),
    ("last_sync", "asc", ["Flat 3", "Flat 2", "Flat 10", "Flat 1"]),
])
def test_every_order_keeps_the_filters(login, fleet, sort, direction, expected):
    client = login("viewer")
    html = client.get("/properties/", query_string={"source": "google", "q": "cadiz", "sort": sort,
                                                    "dir": direction}).get_data(as_text=True)
    assert _names(html) == expected  # the Airbnb decoy stays out
    headers = re.findall(r'<th class="text-nowrap" data-sort="(\w+)".*?<a href="([^"]+)"', html, re.S)
    assert {column for column, _ in headers} == {"property", "owner", "health", "risk", "exposure",
                                                  "last_sync", "score"}
    for column, href in headers:
        assert "source=google" in href and "q=cadiz" in href and f"sort={column}" in href
    mine = dict(headers)[sort].replace("&amp;", "&")
    flipped = "asc" if direction == "desc" else "desc"
    assert (f"dir={flipped}" in mine) or ("dir=" not in mine)  # the default direction is left out


def test_pages_show_a_window_and_keep_filters_and_order(login, make_property, monkeypatch):
    client = login("viewer")
    monkeypatch.setattr(property_pages, "PAGE_SIZE", 2)
    for n in range(1, 42):
        make_property(f"Flat {n}", city="Cádiz" if n != 41 else "Elsewhere", owner_email=f"o{n}@example.com")
    html = client.get("/properties/?q=cadiz&sort=property&page=10").get_data(as_text=True)
    nav = html[html.index('data-test="pages"'):]
    numbers = re.findall(r'class="page-link" href="[^"]*">(\d+)</a>', nav)
    assert numbers == ["1", "8", "9", "10", "11", "12", "20"]  # not 20 links
    assert nav.count("…") == 2
    for href in re.findall(r'class="page-link"[^>]*href="([^"]+)"', nav):
        assert "q=cadiz" in href and "sort=property" in href
    assert _names(html) == ["Flat 19", "Flat 20"]


def test_a_page_past_the_end_shows_the_last_page_and_says_so(login, make_property, monkeypatch):
    client = login("viewer")
    monkeypatch.setattr(property_pages, "PAGE_SIZE", 2)
    for n in range(1, 6):
        make_property(f"Flat {n}", owner_email=f"o{n}@example.com")
    html = client.get("/properties/?sort=property&page=400").get_data(as_text=True)
    assert "There is no page 400: this list has 3 pages. Showing the last one." in html
    assert _names(html) == ["Flat 5"]
    html = client.get("/properties/?q=nothing-like-this&page=7").get_data(as_text=True)
    assert "No property matches these filters." in html


def test_the_window_of_400_pages():
    assert page_window(1, 400) == [1, 2, 3, None, 400]
    assert page_window(200, 400) == [1, None, 198, 199, 200, 201, 202, None, 400]
    assert page_window(400, 400) == [1, None, 398, 399, 400]
    assert page_window(1, 1) == [1]
    assert page_window(3, 5) == [1, 2, 3, 4, 5]


def test_csv_has_the_rows_of_the_list_in_its_order_on_every_page(login, fleet, make_property, monkeypatch):
    client = login("viewer")
    monkeypatch.setattr(property_pages, "PAGE_SIZE", 2)
    make_property("=HYPERLINK(\"http://evil\")", city="Cádiz", owner_email="-x@example.com")
    args = {"q": "cadiz", "sort": "owner"}
    shown = []
    for page in (1, 2, 3):
        shown += _names(client.get("/properties/", query_string={**args, "page": page}).get_data(as_text=True))
    listing = client.get("/properties/").get_data(as_text=True)
    assert 'href="/properties/?format=csv"' in listing and "Download CSV" in listing
    resp = client.get("/properties/", query_string={**args, "format": "csv"})
    assert resp.status_code == 200 and resp.mimetype == "text/csv"
    assert "attachment" in resp.headers["Content-Disposition"] and resp.cache_control.no_store
    rows = list(csv.DictReader(io.StringIO(resp.get_data(as_text=True).lstrip("\ufeff"))))
    assert len(shown) == 6 and len(set(shown)) == 6
    assert [r["name"] for r in rows] == [("'" if n.startswith("=") else "") + html.unescape(n) for n in shown]
    evil = [r for r in rows if "HYPERLINK" in r["name"]][0]
    assert evil["name"].startswith("'=") and evil["owner_email"] == "'-x@example.com"
    busy = [r for r in rows if r["name"] == "Flat 2"][0]
    assert (busy["health"], busy["nights_at_stake"], busy["score"]) == ("failing", "10", "90")
    assert busy["links"] == "google active failing forbidden"


@pytest.mark.parametrize("template", [
    f"/properties/?sort={sort}&q=a&health=failing"
    for sort in ("property", "owner", "health", "risk", "exposure", "last_sync", "score")] + [
    "/properties/", "/properties/?format=csv", "/properties/?page=400"])
def test_every_order_and_the_csv_send_the_same_statements_at_two_fleet_sizes(login, template):
    from tests.console.queries.test_list_statements import _growth
    client = login("staff")
    small, large = _growth(client.get, template)
    assert large == small, f"{template}: {small} statements for 3 rows, {large} for 12"
