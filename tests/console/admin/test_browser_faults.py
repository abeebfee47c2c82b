"""The console's 503 page in a real Chromium: a logged-in person whose database stops answering sees
the console's own page saying so (styled, served without the database), and the console again after."""
from __future__ import annotations

from playwright.sync_api import expect

from console.extensions import db
from tests.console.admin.browsing import BROWSER_MARKS, PASSWORD, log_in, shot
from tests.db_faults import database_refusing

pytestmark = BROWSER_MARKS


def test_a_database_that_stops_answering_shows_the_503_page_then_the_console_again(
        app, backends, live_server, page, make_user, make_property):
    make_user("staff@example.com", "staff", PASSWORD)
    make_property("Casa del Faro")
    log_in(page, live_server, "staff@example.com")
    expect(page.get_by_text("Casa del Faro")).to_be_visible()
    db.session.remove()
    db.engine.dispose()  # idle pooled connections would keep SQLite's exclusive lock away
    with database_refusing(backends["DATABASE_URL"]):
        answer = page.goto(f"{live_server}/properties/")
        assert answer.status == 503
        fault = page.locator("main[data-fault=database_unavailable]")
        expect(fault.locator("h1")).to_have_text("The database is not answering")
        expect(fault).to_contain_text("Nothing was changed")
        # Styled by the console's own stylesheet, served while the database is away.
        assert page.evaluate("getComputedStyle(document.body).backgroundColor") != "rgba(0, 0, 0, 0)"
        shot(page, "fault-503-database")
    db.engine.dispose()
    page.get_by_role("link", name="Back to the dashboard").click()
    expect(page.locator("[data-test=whoami]")).to_contain_text("staff@example.com")  # still logged in
