"""The managers' overbookings page: charts with plotly.js served by the app itself, list, resolve."""
from __future__ import annotations

import re
from datetime import timedelta

import pytest

from console.extensions import db
from console.models import Overbooking, ScoreSnapshot
from console.timeutil import utcnow


@pytest.fixture
def page(app):
    """The overbookings page's address (registered by the factory, linked from the menu)."""
    assert "overbookings" in app.blueprints
    return "/overbookings/"


@pytest.fixture
def history(make_property):
    """A few overbookings over two cities and sources, and two scores."""
    flat = make_property(name="Flat", city="Madrid")
    villa = make_property(name="Villa", city="Sevilla", owner_email="villa@example.com")
    now = utcnow()
    for n, (prop, source, counts, days_ago) in enumerate([
            (flat, "airbnb", True, 1), (flat, "airbnb", False, 2), (villa, "vrbo", True, 9)]):
        db.session.add(Overbooking(property_id=prop.id, direct_code=f"OA-{n}", external_code=f"EX-{n}",
                                   first_night=now.date(), last_night=now.date(), nights=1,
                                   link_source=source, counts_against_owner=counts,
                                   attribution=f"reason {n}", detected_at=now - timedelta(days=days_ago)))
    db.session.add_all([ScoreSnapshot(property_id=flat.id, score=62, components={}),
                        ScoreSnapshot(property_id=villa.id, score=95, components={})])
    db.session.commit()
    return flat, villa


def script_and_style_urls(html: str) -> list[str]:
    return re.findall(r'<script[^>]+src="([^"]+)"', html) + re.findall(r'<link[^>]+href="([^"]+)"', html)


def test_page_shows_every_chart_with_our_own_plotly_script(page, history, login):
    client = login("viewer")
    resp = client.get(page)
    assert resp.status_code == 200
    html = resp.get_data(as_text=True)
    for div_id in ("chart-weekly", "chart-source", "chart-city", "chart-owner", "chart-scores"):
        assert f'id="{div_id}"' in html
    assert "Madrid" in html and "Sevilla" in html and "villa@example.com" in html
    urls = script_and_style_urls(html)
    plotly_urls = [u for u in urls if "plotly" in u and u.endswith(".min.js")]
    assert plotly_urls and plotly_urls[0].startswith("/overbookings/plotly-")
    assert not [u for u in urls if re.match(r"(https?:)?//", u)], urls  # nothing from a CDN

    js = client.get(plotly_urls[0])
    assert js.status_code == 200
    assert js.mimetype in ("text/javascript", "application/javascript")
    assert b"plotly" in js.data[:2000].lower() and len(js.data) > 1_000_000


def test_page_lists_overbookings_with_blame_and_filters(page, history, login):
    client = login("viewer")
    html = client.get(page).get_data(as_text=True)
    assert html.count("data-overbooking-id=") == 3
    assert "reason 0" in html and "does not count" in html
    only_counted = client.get(f"{page}?counts=false").get_data(as_text=True)
    assert only_counted.count("data-overbooking-id=") == 1 and "reason 1" in only_counted
    assert 'name="note"' not in html  # viewers see no resolve form


def test_page_needs_a_login(page, client):
    resp = client.get(page)
    assert resp.status_code == 302 and "/login" in resp.headers["Location"]


def test_staff_resolve_from_the_page(page, history, login):
    client = login("staff")
    html = client.get(page).get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)
    ob = db.session.query(Overbooking).filter_by(direct_code="OA-2").one()
    resp = client.post(f"/overbookings/{ob.id}/resolve", data={"note": "refunded", "csrf_token": token})
    assert resp.status_code == 302
    db.session.expire_all()
    assert (ob.state, ob.resolved_by, ob.resolution_note) == ("resolved", "staff@example.com", "refunded")


def test_viewer_cannot_resolve_from_the_page(page, history, login):
    client = login("viewer")
    html = client.get(page).get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)
    ob = db.session.query(Overbooking).filter_by(direct_code="OA-2").one()
    resp = client.post(f"/overbookings/{ob.id}/resolve", data={"note": "x", "csrf_token": token})
    assert resp.status_code == 403
    db.session.expire_all()
    assert ob.state == "open"


def test_score_chart_takes_each_property_newest_score_by_time_not_by_id(app, history):
    from console.reports.overbooking_stats import score_bands
    flat, villa = history
    # Committed last, computed first (a slow nightly batch): the older score must not win.
    db.session.add(ScoreSnapshot(property_id=flat.id, score=10, components={},
                                 computed_at=utcnow() - timedelta(days=1)))
    db.session.commit()
    assert {band: n for band, n in score_bands(utcnow(), 15) if n} == {"60-69": 1, "90-100": 1}
