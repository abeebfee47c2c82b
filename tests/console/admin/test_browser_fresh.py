"""Fresh-availability flows in a real Chromium: the link Test warns of direct bookings it would overlap
before Save (and Save asks), and the managers' page shows rates and prevented overbookings."""
from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from console.extensions import db
from console.models import CalendarLink
from console.timeutil import utcnow
from tests.console.admin.browsing import BROWSER_MARKS, PASSWORD, log_in, shot
from tests.jobs.feeds import airbnb_feed

pytestmark = BROWSER_MARKS


def day(n: int):
    return utcnow().date() + timedelta(days=n)


def test_test_warns_of_overlapping_direct_bookings_and_save_asks_to_confirm(
        live_server, page, make_user, make_property, make_reservation, httpserver):
    make_user("staff@example.com", "staff", PASSWORD)
    prop = make_property("Casa Ronda")
    direct = make_reservation(prop, "direct", in_days=11, nights=3)
    httpserver.expect_request("/owner.ics").respond_with_data(airbnb_feed([
        (day(10), day(13), "Reserved"), (day(50), day(52), "Reserved")]), content_type="text/calendar")
    log_in(page, live_server, "staff@example.com")
    page.goto(f"{live_server}/properties/{prop.id}")
    page.fill("#link-url", httpserver.url_for("/owner.ics"))
    page.select_option("#link-source", "airbnb")
    page.click("[data-action=test-new]")
    warning = page.locator("[data-test=direct-overlaps]")
    warning.wait_for()
    text = warning.inner_text()
    assert direct.code in text and day(11).isoformat() in text and day(10).isoformat() in text
    assert "1 stay of this calendar overlaps" in text
    shot(page, "test-warns-before-save")
    page.click("[data-action=save-new]")  # without the box: asked again, nothing stored
    page.wait_for_selector("text=tick the box")
    db.session.expire_all()
    assert db.session.query(CalendarLink).count() == 0
    page.check("#confirm-overlaps")
    page.click("[data-action=save-new]")
    page.wait_for_selector("text=Synchronize now")
    db.session.expire_all()
    assert db.session.query(CalendarLink).count() == 1


def test_managers_page_shows_rates_and_prevented_overbookings(live_server, page, make_user, make_property,
                                                               make_link, make_reservation):
    from console.models import Overbooking, PreventedOverbooking
    make_user("viewer@example.com", "viewer", PASSWORD)
    prop = make_property("Casa Triana", city="Sevilla")
    link = make_link(prop, source="airbnb")
    for n in range(4):
        make_reservation(prop, "direct", in_days=10 + 5 * n, nights=2)
    now = utcnow()
    db.session.add(Overbooking(property_id=prop.id, direct_code="OA-1", external_code="EX-1", first_night=now.date(),
                               last_night=now.date(), nights=1, link_source="airbnb", detected_at=now))
    db.session.add(PreventedOverbooking(property_id=prop.id, link_id=link.id, source="airbnb", check_in=day(20),
                                        check_out=day(23), external_code="EX-PREVENTED"))
    db.session.commit()
    log_in(page, live_server, "viewer@example.com")
    page.click("text=Overbookings")
    page.wait_for_selector("#overbooking-rates")
    row = page.locator("#rates-city [data-rate-key=Sevilla]")
    assert row.locator("[data-test=per-1000-bookings]").inner_text() == "250.0"
    assert "airbnb" in page.locator("#rates-source").inner_text()
    prevented = page.locator("#prevented-list").inner_text()
    assert "EX-PREVENTED" in prevented and day(20).isoformat() in prevented
    shot(page, "managers-rates-and-prevented")
    with page.expect_download() as download:
        page.click("a[href*='rates-city.csv']")
    assert "Sevilla" in Path(download.value.path()).read_text(encoding="utf-8-sig")
