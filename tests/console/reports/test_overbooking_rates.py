"""Overbooking rates per 1,000 direct bookings and nights sold: the API, the managers' page and its CSV,
the property page's 12-month figures beside the score."""
from __future__ import annotations

import csv
import io
import json
import re
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from console.admin.overbookings import RATES_SHOWN
from console.extensions import db
from console.models import Overbooking, PreventedOverbooking, Reservation
from console.timeutil import utcnow
from jobs.sync import rate_tally
from jobs.tasks import fleet_tally_job


@pytest.fixture
def sold(make_property, make_link, make_reservation):
    """Madrid (airbnb): 4 direct bookings of 2 nights, 1 overbooking; Sevilla (vrbo, another owner):
    2 bookings of 3 nights, 1 overbooking; an old booking and overbooking outside the range."""
    now = utcnow()
    flat = make_property(name="Flat", city="Madrid")
    villa = make_property(name="Villa", city="Sevilla", owner_email="villa@example.com")
    make_link(flat, source="airbnb")
    make_link(villa, source="vrbo")
    for prop, count, nights in ((flat, 4, 2), (villa, 2, 3)):
        for n in range(count):
            make_reservation(prop, "direct", in_days=10 + 5 * n, nights=nights)
    old = make_reservation(flat, "direct", in_days=60, nights=1)
    old.created_at = now - timedelta(days=400)
    for n, (prop, source, days_ago) in enumerate(((flat, "airbnb", 1), (villa, "vrbo", 2), (flat, "airbnb", 400))):
        db.session.add(Overbooking(property_id=prop.id, direct_code=f"OA-{n}", external_code=f"EX-{n}",
                                   first_night=now.date(), last_night=now.date(), nights=1, link_source=source,
                                   detected_at=now - timedelta(days=days_ago)))
    db.session.commit()
    return flat, villa


def by_key(items: list[dict]) -> dict[str, tuple]:
    return {i["key"]: (i["overbookings"], i["direct_bookings"], i["nights_sold"], i["per_1000_bookings"],
                       i["per_1000_nights"]) for i in items}


def test_api_rates_by_source_city_and_owner(api, sold):
    viewer = api("viewer")
    today = utcnow().date()
    span = f"&from={today - timedelta(days=30)}&to={today}"
    source = viewer.get(f"/overbookings/rates?by=source{span}").get_json()
    assert source["by"] == "source" and by_key(source["items"]) == {
        "airbnb": (1, 4, 8, 250.0, 125.0), "vrbo": (1, 2, 6, 500.0, 166.7)}
    assert by_key(viewer.get(f"/overbookings/rates?by=city{span}").get_json()["items"]) == {
        "Madrid": (1, 4, 8, 250.0, 125.0), "Sevilla": (1, 2, 6, 500.0, 166.7)}
    owners = by_key(viewer.get(f"/overbookings/rates?by=owner{span}").get_json()["items"])
    assert owners["villa@example.com"] == (1, 2, 6, 500.0, 166.7)


def test_api_rates_by_week_cover_every_week_and_sum_to_the_range(api, sold):
    items = api("viewer").get("/overbookings/rates").get_json()["items"]  # default: the last 26 weeks
    assert len(items) == 26 and all(i["key"] < j["key"] for i, j in zip(items, items[1:], strict=False))
    assert sum(i["overbookings"] for i in items) == 2 and sum(i["direct_bookings"] for i in items) == 6
    assert any(i["per_1000_bookings"] is None for i in items)  # a quiet week has no rate, not 0


def test_api_rates_refuse_bad_input(api, sold):
    viewer = api("viewer")
    assert viewer.get("/overbookings/rates?by=planet").status_code == 422
    assert viewer.get("/overbookings/rates?from=2026-05-01&to=2026-04-01").status_code == 422
    assert viewer.get("/overbookings/rates?from=yesterday").status_code == 422


def test_managers_page_shows_rates_and_prevented_overbookings_with_their_csv(login, sold):
    flat, _villa = sold
    db.session.add(PreventedOverbooking(property_id=flat.id, source="airbnb", check_in=utcnow().date(),
                                        check_out=utcnow().date() + timedelta(days=2), external_code="EX-PREVENT1"))
    db.session.commit()
    client = login("viewer")
    html = client.get("/overbookings/").get_data(as_text=True)
    for by in ("week", "source", "city", "owner"):
        assert f'id="rates-{by}"' in html
    assert 'data-rate-key="Sevilla"' in html and "500.0" in html
    assert 'id="prevented-list"' in html and "EX-PREVENT1" in html
    text = client.get("/overbookings/rates-source.csv").get_data(as_text=True).lstrip("\ufeff")
    rows = list(csv.reader(io.StringIO(text)))
    assert rows[0] == ["source", "overbookings", "direct bookings", "nights sold", "per 1,000 direct bookings",
                       "per 1,000 nights sold"]
    assert ["vrbo", "1", "2", "6", "500.0", "166.7"] in rows
    prevented = list(csv.reader(io.StringIO(client.get("/overbookings/prevented.csv").get_data(as_text=True))))
    assert prevented[1][3:7] == ["airbnb", utcnow().date().isoformat(),
                                 (utcnow().date() + timedelta(days=2)).isoformat(), "EX-PREVENT1"]


def test_property_page_shows_12_month_count_and_rate_of_property_and_owner(login, sold, make_property,
                                                                         make_reservation):
    flat, _villa = sold
    sibling = make_property(name="Flat 2", city="Madrid")  # same owner e-mail: same owner
    make_reservation(sibling, "direct", in_days=70, nights=2)
    html = login("viewer").get(f"/properties/{flat.id}").get_data(as_text=True)
    section = html.split('id="overbooking-rate"')[1].split("</table>")[0]
    prop_row, owner_row = section.split('data-rate="property"')[1], section.split('data-rate="owner"')[1]
    # The property: 1 overbooking in 12 months (the 400-day-old one is out), 4 bookings -> 250.0.
    assert "<td class=\"text-right\">1</td><td class=\"text-right\">4</td>" in prop_row.replace("\n", "")
    assert "250.0" in prop_row.split("</tr>")[0]
    assert "200.0" in owner_row.split("</tr>")[0]  # 1 overbooking over 5 bookings of the owner
    assert db.session.query(Reservation).count() == 8


def test_a_count_is_kept_a_minute_and_the_page_says_how_old_it_is(login, sold, redis_conn, make_reservation):
    flat, _villa = sold
    first, last = rate_tally.last_weeks(rate_tally.DEFAULT_WEEKS, utcnow().date())
    counted_at = utcnow()
    before = rate_tally.current(redis_conn, first, last, counted_at)
    assert before["age_seconds"] == 0.0 and dict((row[0], row[1:]) for row in before["rates"]["city"]) == {
        "Madrid": [1, 4, 8], "Sevilla": [1, 2, 6]}
    make_reservation(flat, "direct", in_days=90, nights=5)  # sold after the count
    kept = rate_tally.current(redis_conn, first, last, counted_at + timedelta(seconds=20))
    assert kept == {**before, "age_seconds": 20.0}  # the stored count, said to be 20 s old
    html = login("viewer").get("/overbookings/").get_data(as_text=True)
    assert re.search(r'id="rates-age">Counted \d+ s ago', html) or 'id="rates-age">Counted for this page' in html
    later = rate_tally.current(redis_conn, first, last, counted_at + timedelta(seconds=61))
    assert later["age_seconds"] == 0.0 and ["Madrid", 1, 5, 13] in later["rates"]["city"]  # counted again


def test_the_api_says_how_old_its_count_is(api, sold, make_reservation):
    flat, _villa = sold
    viewer = api("viewer")
    first = viewer.get("/overbookings/rates?by=city").get_json()
    assert first["age_seconds"] == 0.0  # counted for this request
    make_reservation(flat, "direct", in_days=90, nights=5)
    again = viewer.get("/overbookings/rates?by=city").get_json()
    assert again["items"] == first["items"] and 0 <= again["age_seconds"] <= rate_tally.STORE_SECONDS


def test_without_redis_rates_are_counted_for_the_request(sold):
    first, last = rate_tally.last_weeks(4, utcnow().date())
    counted = rate_tally.current(None, first, last, utcnow())
    assert counted["age_seconds"] == 0.0 and ["vrbo", 1, 2, 6] in counted["rates"]["source"]


def test_the_tally_job_counts_the_default_range_ahead_of_the_page(app, sold, redis_conn):
    first, last = rate_tally.last_weeks(rate_tally.DEFAULT_WEEKS, utcnow().date())
    assert redis_conn.get(f"{rate_tally.STORE_KEY}:{first}:{last}") is None
    fleet_tally_job()
    stored = json.loads(redis_conn.get(f"{rate_tally.STORE_KEY}:{first}:{last}"))
    assert ["Sevilla", 1, 2, 6] in stored["rates"]["city"]
    assert 0 < redis_conn.ttl(f"{rate_tally.STORE_KEY}:{first}:{last}") <= rate_tally.STORE_SECONDS
    assert rate_tally.warm(redis_conn, utcnow()) is False  # fresh enough: not counted again


def test_the_page_shows_the_top_groups_and_the_csv_every_one(login, make_property, make_reservation):
    for n in range(RATES_SHOWN + 3):
        make_reservation(make_property(name=f"Flat {n}", city=f"City {n:02d}"), "direct", in_days=10, nights=1)
    client = login("viewer")
    html = client.get("/overbookings/").get_data(as_text=True)
    table = html.split('id="rates-city"')[1].split("</table>")[0]
    assert table.count("data-rate-key=") == RATES_SHOWN and "and 3 more cities" in table
    rows = list(csv.reader(io.StringIO(client.get("/overbookings/rates-city.csv").get_data(as_text=True))))
    assert len(rows) == 1 + RATES_SHOWN + 3


def test_direct_bookings_of_a_range_are_read_from_their_index(app, sold):
    if db.engine.dialect.name != "sqlite":
        pytest.skip("the plan is read with SQLite's EXPLAIN QUERY PLAN")
    first, last = rate_tally.last_weeks(4, utcnow().date())
    query = select(func.count()).where(*rate_tally._made_in(first, last))
    compiled = query.compile(db.engine)
    params = tuple(compiled.params[name].isoformat(" ") for name in compiled.positiontup)
    plan = db.session.connection().exec_driver_sql(f"EXPLAIN QUERY PLAN {compiled}", params).all()
    assert "ix_reservations_direct_made" in " ".join(str(row) for row in plan)
