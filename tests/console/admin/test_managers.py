"""The managers' page: CSV of every chart and list, the date range, the score explained, resolving from the
property page, plotly.js compressed and cached and only where charts are drawn."""
from __future__ import annotations

import csv
import gzip
import io
import json
import re
from datetime import timedelta

import pytest

from console.extensions import db
from console.models import Overbooking, ScoreSnapshot
from console.timeutil import utcnow
from jobs.rules.score import OverbookingRecord, OwnerRecord, compute_score

PAGE = "/overbookings/"


def _overbooking(prop, n, *, days_ago, counts=True, source="airbnb", attribution="the link was failing"):
    now = utcnow()
    ob = Overbooking(property_id=prop.id, direct_code=f"OA-{n}", external_code=f"EX-{n}",
                     first_night=now.date(), last_night=now.date() + timedelta(days=1), nights=2,
                     link_source=source, counts_against_owner=counts, attribution=attribution,
                     detected_at=now - timedelta(days=days_ago))
    db.session.add(ob)
    db.session.commit()
    return ob


@pytest.fixture
def fleet(make_property):
    """Overbookings over cities, owners and sources, one of them 60 days old and one with formula text."""
    flat = make_property("Flat", city="Madrid")
    villa = make_property("Villa", city="Sevilla", owner_email="villa@example.com")
    trap = make_property("=HYPERLINK(\"http://evil.example\",\"x\")", city="@Cádiz",
                         owner_email="trap@example.com")
    obs = [_overbooking(flat, 1, days_ago=1), _overbooking(flat, 2, days_ago=2, counts=False),
           _overbooking(villa, 3, days_ago=9, source="vrbo"), _overbooking(villa, 4, days_ago=60),
           _overbooking(trap, 5, days_ago=3, source="booking", attribution="+cmd|' /C calc'!A0")]
    return {"flat": flat, "villa": villa, "trap": trap, "obs": obs}


def _figures(html: str) -> dict[str, dict]:
    return {name: json.loads(data) for name, data in re.findall(
        r'<script type="application/json" data-chart-for="chart-([a-z]+)">(.*?)</script>', html)}


def _csv(client, url: str) -> list[list[str]]:
    resp = client.get(url)
    assert resp.status_code == 200 and resp.mimetype == "text/csv"
    assert "attachment" in resp.headers["Content-Disposition"]
    return list(csv.reader(io.StringIO(resp.get_data(as_text=True).lstrip("\ufeff"))))


def _csv_links(html: str) -> dict[str, str]:
    return {name: href.replace("&amp;", "&") for href, name in
            re.findall(r'<a href="([^"]+)" class="csv-link" data-csv="([a-z-]+)"', html)}


def test_every_chart_and_list_has_a_csv_link_keeping_the_range(fleet, login):
    client = login("viewer")
    html = client.get(f"{PAGE}?from=2026-01-05&to=2026-12-31&state=open").get_data(as_text=True)
    links = _csv_links(html)
    assert set(links) == {"weekly", "source", "city", "owner", "scores", "fell", "list", "prevented",
                          "rates-week", "rates-source", "rates-city", "rates-owner"}
    for href in links.values():
        assert "from=2026-01-05" in href and "to=2026-12-31" in href
    assert "state=open" in links["list"]


def test_weekly_and_group_csvs_hold_exactly_what_the_charts_draw(fleet, login):
    client = login("viewer")
    html = client.get(PAGE).get_data(as_text=True)
    figures, links = _figures(html), _csv_links(html)
    weekly = _csv(client, links["weekly"])
    counted, not_counted = figures["weekly"]["data"]
    assert weekly[0] == ["week starting", "counts against the owner", "does not count", "total"]
    assert [r[0] for r in weekly[1:]] == counted["x"] and len(weekly) == 27  # 26 weeks
    assert [int(r[1]) for r in weekly[1:]] == counted["y"]
    assert [int(r[2]) for r in weekly[1:]] == not_counted["y"]
    assert sum(int(r[3]) for r in weekly[1:]) == 5
    for name in ("source", "city", "owner"):
        rows = _csv(client, links[name])[1:]
        counted, not_counted = figures[name]["data"]
        # The chart draws the largest group on top, that is last; the CSV lists it first.
        assert [int(r[1]) for r in rows] == counted["x"][::-1]
        assert [int(r[2]) for r in rows] == not_counted["x"][::-1]
    assert [r[0] for r in _csv(client, links["city"])[1:]] == ["Sevilla", "Madrid", "'@Cádiz"]
    scores = _csv(client, links["scores"])
    assert scores[0] == ["score", "properties"] and len(scores) == 11


def test_list_csv_is_the_list_with_formulas_neutralised(fleet, login):
    client = login("viewer")
    html = client.get(f"{PAGE}?counts=true").get_data(as_text=True)
    rows = _csv(client, _csv_links(html)["list"])
    shown = [int(i) for i in re.findall(r'<tr data-overbooking-id="(\d+)"', html)]
    assert [int(r[0]) for r in rows[1:]] == shown and len(shown) == 4  # the counted ones in 26 weeks
    trap = next(r for r in rows if r[3] == "OA-5")
    assert trap[2] == "'=HYPERLINK(\"http://evil.example\",\"x\")"
    assert trap[12] == "'+cmd|' /C calc'!A0" and trap[11] == "yes"


def test_a_csv_follows_its_range(fleet, login):
    client = login("viewer")
    today = utcnow().date()
    week = (today - timedelta(days=5)).isoformat()
    rows = _csv(client, f"{PAGE}list.csv?from={week}&to={today}")
    assert sorted(r[3] for r in rows[1:]) == ["OA-1", "OA-2", "OA-5"]
    assert client.get(f"{PAGE}nothing.csv").status_code == 404


def test_presets_and_the_range_pick_the_overbookings_shown(fleet, login):
    client = login("viewer")
    default = client.get(PAGE).get_data(as_text=True)
    assert default.count("<tr data-overbooking-id=") == 5  # 60 days old is within 26 weeks
    four = client.get(f"{PAGE}?preset=4w").get_data(as_text=True)
    assert four.count("<tr data-overbooking-id=") == 4
    assert 'data-preset="4 weeks"' in four and "btn-primary mr-1" in four
    assert sum(_figures(four)["weekly"]["data"][0]["y"]) == 3 and len(_figures(four)["weekly"]["data"][0]["y"]) == 4
    # The list's filter links keep the range of the page.
    assert re.search(r'href="/overbookings/\?[^"]*state=open[^"]*from=', four.replace("&amp;", "&"))


def test_bad_range_shows_a_message_and_the_default(fleet, login):
    client = login("viewer")
    for query, words in (("from=2026-05-01&to=2026-04-01", "before the start"),
                         ("from=soon&to=later", "YYYY-MM-DD"),
                         ("from=2001-01-01&to=2026-01-01", "at most five years")):
        resp = client.get(f"{PAGE}?{query}")
        html = resp.get_data(as_text=True)
        assert resp.status_code == 200 and words in html and 'data-test="range-problem"' in html
        assert len(_figures(html)["weekly"]["data"][0]["x"]) == 26


def test_old_weeks_bookmark_still_works(fleet, login):
    client = login("viewer")
    html = client.get(f"{PAGE}?weeks=2").get_data(as_text=True)
    assert len(_figures(html)["weekly"]["data"][0]["x"]) == 2 and 'data-test="range-problem"' not in html


def _snapshot(prop, *, days_ago: float, counted: int):
    at = utcnow() - timedelta(days=days_ago)
    score = compute_score(OwnerRecord(overbookings=[OverbookingRecord(at, 1, True)] * counted,
                                      sync_attempts_30d=4, sync_successes_30d=4, last_success_at=at), at)
    snap = ScoreSnapshot(property_id=prop.id, score=score.value, components=score.components, computed_at=at)
    db.session.add(snap)
    db.session.commit()
    return snap


def test_fell_most_this_week_names_the_component_that_fell(make_property, login):
    fell = make_property("Falling Flat")
    rose = make_property("Rising Flat", owner_email="rise@example.com")
    _snapshot(fell, days_ago=8, counted=0)
    _snapshot(fell, days_ago=0.1, counted=1)
    _snapshot(rose, days_ago=8, counted=1)
    _snapshot(rose, days_ago=0.1, counted=0)
    client = login("viewer")
    html = client.get(PAGE).get_data(as_text=True)
    section = html[html.index('id="fell-most"'):html.index('id="newest"')]
    assert f'data-property-id="{fell.id}"' in section and f'data-property-id="{rose.id}"' not in section
    assert "100 → <strong>80</strong>" in section and "(-20)" in section
    assert '<td data-test="fell-most-in">overbookings</td>' in section
    assert "Overbookings: 1 counted against the owner (was 0): 50 to 30 points." in section
    rows = _csv(client, _csv_links(html)["fell"])
    assert rows[1][:6] == [str(fell.id), "Falling Flat", "100", "80", "-20", "overbookings"]


def test_the_score_formula_is_explained_from_the_rules(login):
    html = login("viewer").get(PAGE).get_data(as_text=True)
    formula = html[html.index('data-test="score-formula"'):]
    assert "Overbookings, up to 50 points" in formula and "20 points off" in formula
    assert "8 off per high risk factor" in formula


def _token(html: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)


def test_staff_resolve_from_the_property_page_and_return_to_it(fleet, login):
    client = login("staff")
    flat, ob = fleet["flat"], fleet["obs"][0]
    html = client.get(f"/properties/{flat.id}").get_data(as_text=True)
    form = html[html.index(f'data-overbooking-id="{ob.id}"'):]
    assert 'data-test="resolve-form"' in form[:2000] and 'name="note"' in form[:2000]
    resp = client.post(f"/overbookings/{ob.id}/resolve", data={
        "note": "guest moved", "csrf_token": _token(html), "next": f"/properties/{flat.id}#overbookings"})
    assert resp.status_code == 302 and resp.headers["Location"] == f"/properties/{flat.id}#overbookings"
    db.session.expire_all()
    assert (ob.state, ob.resolved_by, ob.resolution_note) == ("resolved", "staff@example.com", "guest moved")
    after = client.get(f"/properties/{flat.id}").get_data(as_text=True)
    assert "resolved by staff@example.com" in after and "guest moved" in after


def test_empty_note_from_the_property_page_is_refused_and_nothing_changes(fleet, login):
    client = login("staff")
    flat, ob = fleet["flat"], fleet["obs"][0]
    html = client.get(f"/properties/{flat.id}").get_data(as_text=True)
    resp = client.post(f"/overbookings/{ob.id}/resolve", data={
        "note": "   ", "csrf_token": _token(html), "next": f"/properties/{flat.id}#overbookings"},
        follow_redirects=True)
    assert resp.request.path == f"/properties/{flat.id}"
    assert "Write a note saying how the overbooking was handled." in resp.get_data(as_text=True)
    db.session.expire_all()
    assert (ob.state, ob.resolved_by, ob.resolution_note) == ("open", None, None)


def test_viewer_sees_no_resolve_form_and_is_refused(fleet, login):
    client = login("viewer")
    flat, ob = fleet["flat"], fleet["obs"][0]
    html = client.get(f"/properties/{flat.id}").get_data(as_text=True)
    assert 'data-test="resolve-form"' not in html
    resp = client.post(f"/overbookings/{ob.id}/resolve", data={
        "note": "x", "csrf_token": _token(html), "next": f"/properties/{flat.id}"})
    assert resp.status_code == 403 and "<nav" in resp.get_data(as_text=True)  # the console's styled page
    db.session.expire_all()
    assert ob.state == "open" and ob.resolution_note is None


def test_resolving_on_the_page_keeps_its_filters_and_range(fleet, login):
    client = login("staff")
    query = "/overbookings/?from=2026-01-05&to=2026-12-31&state=open&counts=true"
    html = client.get(query).get_data(as_text=True)
    assert f'name="next" value="{query.replace("&", "&amp;")}"' in html
    ob = fleet["obs"][0]
    resp = client.post(f"/overbookings/{ob.id}/resolve", data={"note": "refunded", "csrf_token": _token(html),
                                                               "next": query})
    assert resp.headers["Location"] == query


def test_resolve_never_redirects_off_the_site(fleet, login):
    client = login("staff")
    html = client.get(PAGE).get_data(as_text=True)
    for target in ("https://evil.example/", "//evil.example/x", "/\\evil.example"):
        ob = Overbooking(property_id=fleet["flat"].id, direct_code="OA-R" + str(len(target)),
                         external_code="EX-R" + str(len(target)), first_night=utcnow().date(),
                         last_night=utcnow().date(), nights=1, attribution="")
        db.session.add(ob)
        db.session.commit()
        resp = client.post(f"/overbookings/{ob.id}/resolve", data={
            "note": "ok", "csrf_token": _token(html), "next": target})
        assert resp.headers["Location"] == "/overbookings/"


def _plotly_url(html: str) -> str:
    [url] = re.findall(r'<script src="([^"]*plotly[^"]*)"', html)
    return url


def test_plotly_is_gzipped_cached_for_a_year_under_a_versioned_url(login):
    import plotly
    client = login("viewer")
    url = _plotly_url(client.get(PAGE).get_data(as_text=True))
    assert url == f"/overbookings/plotly-{plotly.__version__}.min.js"
    zipped = client.get(url, headers={"Accept-Encoding": "gzip, deflate, br"})
    assert zipped.status_code == 200 and zipped.headers["Content-Encoding"] == "gzip"
    assert zipped.headers["Cache-Control"] == "public, max-age=31536000, immutable"
    assert "Accept-Encoding" in zipped.headers["Vary"]
    plain = client.get(url, headers={"Accept-Encoding": "identity"})
    assert "Content-Encoding" not in plain.headers and plain.data[:3000].lower().count(b"plotly")
    assert gzip.decompress(zipped.data) == plain.data and len(zipped.data) < len(plain.data) / 2
    again = client.get(url, headers={"Accept-Encoding": "gzip", "If-None-Match": zipped.headers["ETag"]})
    assert again.status_code == 304
    old = client.get("/overbookings/plotly-1.0.0.min.js")
    assert old.status_code == 302 and old.headers["Location"].endswith(url)


def test_pages_without_charts_do_not_load_plotly(fleet, login):
    client = login("staff")
    for path in ("/", f"/properties/{fleet['flat'].id}", "/properties/", "/kigo/", "/notifications/"):
        html = client.get(path).get_data(as_text=True)
        assert "plotly" not in html.lower(), path
