"""The owner status flow in a real Chromium: staff share it from the property page (copy), the owner opens
it without a login, at 1366 and 390 px; a replaced link shows the owner a plain "not valid" page."""
from __future__ import annotations

from datetime import timedelta

from playwright.sync_api import expect

from console.timeutil import utcnow
from tests.console.admin.browsing import BROWSER_MARKS, PASSWORD, log_in, shot

pytestmark = BROWSER_MARKS
PHONE = {"width": 390, "height": 844}
DESK = {"width": 1366, "height": 900}


def _property(make_property, make_link, make_reservation):
    prop = make_property("Casa Azul with a rather long name, Málaga", owner_email="lucia@example.com")
    make_link(prop, url="https://www.airbnb.com/calendar/ical/123456789012345678.ics?s=8f2e4c0a9b",
              source="airbnb", last_attempt_ok=False, consecutive_failures=5, last_sync_at=utcnow(),
              last_success_at=utcnow() - timedelta(days=2), last_error_kind="forbidden",
              last_error_message="403 from 10.0.0.8", last_error_http_status=403, last_error_at=utcnow())
    good = make_link(prop, url="https://calendar.google.com/calendar/ical/x%40gmail.com/public/basic.ics",
                     source="google", last_attempt_ok=True, last_sync_at=utcnow(), last_success_at=utcnow(),
                     ignored_events=2)
    make_reservation(prop, "external", in_days=12, nights=4, link=good)
    make_reservation(prop, "manual", in_days=20, nights=2)
    return prop


def _fits(page) -> bool:
    return page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")


def test_staff_share_the_status_and_the_owner_reads_it_on_a_phone(live_server, page, browser, make_user,
                                                                  make_property, make_link, make_reservation):
    make_user("staff@example.com", "staff", PASSWORD)
    prop = _property(make_property, make_link, make_reservation)
    page.set_viewport_size(DESK)
    log_in(page, live_server, "staff@example.com")
    page.goto(f"{live_server}/properties/{prop.id}")
    page.click("[data-test=share-owner-status]")
    url = page.locator("#owner-link-url").input_value()
    assert "/owner-status/" in url
    expect(page.locator("[data-test=no-smtp]")).to_contain_text("SMTP_URL is unset")
    # As a person's browser: the page in front and allowed to write the clipboard (headless Chromium
    # otherwise refuses it whenever another window of the run holds the focus).
    page.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=live_server)
    page.bring_to_front()
    page.click("[data-test=copy-owner-link]")
    expect(page.locator("[data-test=copy-owner-link]")).to_have_text("Copied")
    assert page.evaluate("navigator.clipboard.readText()") == url
    page.locator("#owner-share").scroll_into_view_if_needed()
    shot(page, "owner-1-share-panel")
    page.set_viewport_size(PHONE)
    assert _fits(page)
    page.locator("#owner-share").screenshot(path=str(shot(page, "owner-1-share-390").with_name(
        "owner-1-share-panel-390.png")))
    page.set_viewport_size(DESK)

    owner = browser.new_context(viewport=PHONE).new_page()  # the owner: no cookie, a phone
    owner.goto(live_server + "/" + url.split("/", 3)[3])
    expect(owner.locator("#property-name")).to_have_text(prop.name)
    expect(owner.locator("[data-calendar=airbnb]")).to_have_attribute("data-state", "failing")
    expect(owner.locator("[data-calendar=airbnb] .steps li").nth(2)).to_contain_text("Export calendar")
    expect(owner.locator("[data-calendar=google]")).to_contain_text("1 upcoming booking or block")
    expect(owner.locator("[data-test=manual-block]")).to_have_count(1)
    assert "lucia@example.com" not in owner.content() and "10.0.0.8" not in owner.content()
    assert _fits(owner)
    shot(owner, "owner-2-status-390px")
    owner.set_viewport_size(DESK)
    shot(owner, "owner-3-status-1366px")

    page.click("[data-test=replace-owner-link] summary")
    page.check("[data-test=replace-owner-link] input[name=confirm]")
    page.click("[data-action=replace-owner-link]")
    assert page.locator("#owner-link-url").input_value() != url
    owner.reload()
    expect(owner.locator("[data-test=gone]")).to_be_visible()
    shot(owner, "owner-4-replaced")
    owner.context.close()
