"""Fresh-availability flows in a real Chromium: the link Test warns of direct bookings it would overlap
before Save (and Save asks), and the managers' page shows rates and prevented overbookings."""
from __future__ import annotations

from datetime import timedelta

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
