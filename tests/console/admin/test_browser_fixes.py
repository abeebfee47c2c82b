"""The rough edges a new user met (issue 23), tried again in a real Chromium at 1366 and 390 px wide: each
test drives the page as that user did and keeps screenshots to look at."""
from __future__ import annotations

from playwright.sync_api import expect

from console.extensions import db
from console.models import ApiToken, CalendarLink
from console.timeutil import utcnow
from tests.console.admin.browsing import BROWSER_MARKS, PASSWORD, log_in, shot

pytestmark = BROWSER_MARKS
PHONE = {"width": 390, "height": 844}
DESK = {"width": 1366, "height": 900}


def _fits(page) -> bool:
    return page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")


def _failing(make_property, make_link, n=3):
    for i in range(n):
        prop = make_property(f"Piso {i} con un nombre largo", city="Málaga", owner_email=f"o{i}@example.com")
        make_link(prop, source="airbnb", url=f"https://www.airbnb.com/calendar/ical/{i}.ics",
                  last_attempt_ok=False, consecutive_failures=3, last_sync_at=utcnow(),
                  last_error_kind="not_found", last_error_message="the calendar answered 404",
                  last_error_at=utcnow())


def test_tokens_revoke_asks_first_long_names_keep_revoke_in_view_and_30_days_reads_30(
        live_server, page, make_user):
    make_user("admin@example.com", "admin", PASSWORD)
    long_name = "ranking-service-for-the-search-team-production-" * 2
    row, _clear = ApiToken.issue(long_name.strip("-"), "viewer")
    db.session.add(row)
    db.session.commit()
    for size, name in ((DESK, "1366"), (PHONE, "390")):
        page.set_viewport_size(size)
        if name == "1366":
            log_in(page, live_server, "admin@example.com")
        page.goto(f"{live_server}/tokens/")
        expect(page.locator("h4", has_text="API tokens")).to_have_count(1)
        revoke = page.locator(f"[data-token='{row.id}'] [data-test=revoke-token] summary")
        box = revoke.bounding_box()
        cell = page.locator(f"[data-token='{row.id}'] .token-name").bounding_box()
        # a long name wraps instead of widening its column
        assert cell["width"] <= (260 if name == "1366" else size["width"])
        assert box["x"] + box["width"] <= size["width"], "Revoke is in view (beside the name, or below it)"
        shot(page, f"fixes-tokens-{name}")
    page.set_viewport_size(DESK)
    page.fill("#token-name", "main-site")
    page.fill("#token-days", "30")
    page.click("form >> text=Issue token")
    expect(page.locator("[data-test=issued-token]")).to_be_visible()
    newest = page.locator("#token-list tbody tr").first
    expect(newest).to_contain_text("in 30 days")
    page.fill("#token-name", "main-site")
    page.click("form >> text=Issue token")
    expect(page.locator(".alert")).to_contain_text("already named 'main-site'")
    page.locator(f"[data-token='{row.id}'] [data-test=revoke-token] summary").click()
    shot(page, "fixes-tokens-revoke-confirm")
    page.locator(f"[data-token='{row.id}'] [data-action=revoke]").click()  # the box is not ticked
    db.session.expire_all()
    assert not db.session.get(ApiToken, row.id).revoked


def test_alert_threshold_inputs_show_their_values_at_390_px(live_server, page, make_user):
    make_user("admin@example.com", "admin", PASSWORD)
    page.set_viewport_size(PHONE)
    log_in(page, live_server, "admin@example.com")
    page.goto(f"{live_server}/notifications/settings")
    widths = page.eval_on_selector_all("#threshold-form input.threshold-input",
                                       "els => els.map(e => e.getBoundingClientRect().width)")
    assert widths and min(widths) >= 80, widths
    assert _fits(page)
    shot(page, "fixes-thresholds-390")


def test_a_5000_character_address_is_refused_whole_and_not_a_url_is_told_so(live_server, page, make_user,
                                                                             make_property):
    make_user("staff@example.com", "staff", PASSWORD)
    prop = make_property()
    page.set_viewport_size(DESK)
    log_in(page, live_server, "staff@example.com")
    page.goto(f"{live_server}/properties/{prop.id}")
    page.fill("#link-url", "https://www.airbnb.com/calendar/ical/1.ics?s=" + "a" * 5000)
    page.click("[data-action=save-new]")
    expect(page.locator("#add-link .invalid-feedback")).to_contain_text("5,045 characters long")
    assert len(page.locator("#link-url").input_value()) == 5045, "kept whole in the form"
    shot(page, "fixes-long-address")
    page.fill("#link-url", "not a url at all")
    page.click("[data-action=save-new]")
    expect(page.locator("#add-link .invalid-feedback")).to_contain_text("not a web address")
    shot(page, "fixes-not-a-url")
    assert db.session.query(CalendarLink).count() == 0


def test_lists_at_390_px_say_they_scroll_and_the_search_shows_its_placeholder_at_1366(
        live_server, page, make_user, make_property, make_link):
    make_user("staff@example.com", "staff", PASSWORD)
    _failing(make_property, make_link)
    page.set_viewport_size(DESK)
    log_in(page, live_server, "staff@example.com")
    fits = page.eval_on_selector("#filters input[name=q]", "e => e.scrollWidth <= e.clientWidth && "
                                 "(() => { const c = document.createElement('canvas').getContext('2d'); "
                                 "c.font = getComputedStyle(e).font; "
                                 "return c.measureText(e.placeholder).width <= e.clientWidth - 16; })()")
    assert fits, "the placeholder is cut"
    expect(page.locator("[data-test=scroll-hint]")).to_be_hidden()
    options = page.eval_on_selector_all("select[name=error] option", "els => els.map(e => e.textContent)")
    assert "not_found" in options and "not found" not in options
    shot(page, "fixes-list-1366")
    page.set_viewport_size(PHONE)
    page.reload()
    expect(page.locator("[data-test=scroll-hint]")).to_be_visible()
    assert page.eval_on_selector(".scroll-sign", "e => e.scrollWidth > e.clientWidth")
    assert _fits(page)
    shot(page, "fixes-list-390")
    page.goto(f"{live_server}/")
    expect(page.locator("[data-test=scroll-hint]")).to_be_visible()
    assert _fits(page)
    shot(page, "fixes-dashboard-390")


def test_bulk_confirm_says_one_link_is_left_as_it_is(live_server, page, make_user, make_property, make_link):
    make_user("staff@example.com", "staff", PASSWORD)
    _failing(make_property, make_link, 2)
    paused = make_link(make_property("Piso pausado"), source="airbnb", state="paused")
    page.set_viewport_size(DESK)
    log_in(page, live_server, "staff@example.com")
    page.check("[data-test=select-all-matching]")
    page.click("#bulk button[value=resync]")
    expect(page.locator("[data-test=bulk-plan]")).to_contain_text("1 link will be left as it is: 1 paused")
    shot(page, "fixes-bulk-confirm")
    page.click("[data-test=bulk-confirm]")
    expect(page.locator(".alert")).to_contain_text("1 left as it is: 1 paused")
    db.session.expire_all()
    assert db.session.get(CalendarLink, paused.id).state == "paused"


def test_jobs_page_intro_clears_the_table_and_its_icon_loads(live_server, page, make_user):
    make_user("staff@example.com", "staff", PASSWORD)
    missing = []
    page.on("response", lambda r: missing.append(r.url) if r.status == 404 else None)
    for size, name in ((DESK, "1366"), (PHONE, "390")):
        page.set_viewport_size(size)
        if name == "1366":
            log_in(page, live_server, "staff@example.com")
        page.goto(f"{live_server}/jobs/")
        page.wait_for_selector("#queues")
        intro = page.locator("p.intro").first.bounding_box()
        table = page.locator("#queues").bounding_box()
        assert intro["y"] + intro["height"] <= table["y"], (intro, table)
        shot(page, f"fixes-jobs-{name}")
    assert missing == []


def test_the_404_page_highlights_nothing_in_the_menu(live_server, page, make_user):
    make_user("staff@example.com", "staff", PASSWORD)
    page.set_viewport_size(DESK)
    log_in(page, live_server, "staff@example.com")
    resp = page.goto(f"{live_server}/properties/987654")
    assert resp.status == 404
    expect(page.locator("nav li.active")).to_have_count(0)
    shot(page, "fixes-404")


def test_a_viewer_on_the_kigo_page_is_not_told_to_link(live_server, page, make_user):
    make_user("viewer@example.com", "viewer", PASSWORD)
    page.set_viewport_size(PHONE)
    log_in(page, live_server, "viewer@example.com")
    page.goto(f"{live_server}/kigo/")
    expect(page.locator("[data-test=kigo-intro]")).not_to_contain_text("then link one")
    expect(page.locator("[data-test=kigo-intro]")).to_contain_text("Linking one is for staff")
    assert _fits(page)
    shot(page, "fixes-kigo-viewer-390")
