"""The audit trail in a real Chromium: an admin pauses a link, sees it in the property's changes, filters
/audit/ and downloads the CSV (skipped without chromium)."""
from __future__ import annotations

import csv
import io
from pathlib import Path

from console.extensions import db
from console.models import AuditEntry
from tests.console.admin.browsing import BROWSER_MARKS, PASSWORD, log_in, shot

pytestmark = BROWSER_MARKS


def test_an_admin_sees_a_change_on_the_property_then_filters_the_trail_and_downloads_it(
        live_server, page, make_user, make_property, make_link):
    make_user("admin@example.com", "admin", PASSWORD)
    prop = make_property("Sitges Villa")
    make_link(prop, source="vrbo", url="https://www.vrbo.com/icalendar/ab.ics")
    db.session.add(AuditEntry(actor_kind="token", actor_name="main-site", action="reservation.reported",
                              target_kind="reservation", target_id=1, property_id=None, details={"code": "OA-1"}))
    db.session.commit()
    page.set_viewport_size({"width": 1366, "height": 900})
    log_in(page, live_server, "admin@example.com")
    page.goto(f"{live_server}/properties/{prop.id}")
    page.click("[data-action=pause]")
    page.wait_for_selector("text=paused: its blocks stay")
    change = page.locator("#changes tr[data-action='link.paused']")
    assert change.count() == 1
    assert "admin@example.com" in change.inner_text() and "active → paused" in change.inner_text()
    shot(page, "audit-property-changes-1366")

    page.click("nav >> text=Audit")
    page.wait_for_url(f"{live_server}/audit/")
    assert page.locator("tr[data-audit-id]").count() == 3  # the login, the pause, the token's report
    page.fill("#audit-action", "link")
    page.fill("#audit-actor", "admin@example.com")
    page.click("#audit-filters button[type=submit]")
    page.wait_for_url("**action=link**")
    rows = page.locator("tr[data-audit-id]")
    assert rows.count() == 1 and "link.paused" in rows.first.inner_text()
    shot(page, "audit-filtered-1366")
    with page.expect_download() as download:
        page.click("[data-csv=audit]")
    text = Path(download.value.path()).read_text(encoding="utf-8-sig")
    table = list(csv.reader(io.StringIO(text)))
    assert [r[4] for r in table[1:]] == ["link.paused"] and table[1][3] == "admin@example.com"
    page.set_viewport_size({"width": 390, "height": 844})
    shot(page, "audit-filtered-390")
