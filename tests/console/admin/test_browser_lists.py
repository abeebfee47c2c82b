"""The property list in a real Chromium: filter by an error kind, select all matching, bulk-resync, confirm,
see the summary on the same filtered list; the list at 390 px wide without sideways scroll."""
from __future__ import annotations

from playwright.sync_api import expect
from rq import Queue

from console.extensions import db
from console.timeutil import utcnow
from jobs.sync.property_state import recompute_all
from tests.console.admin.browsing import BROWSER_MARKS, PASSWORD, log_in, shot

pytestmark = BROWSER_MARKS


def _failing(link, kind):
    link.last_sync_at = link.last_error_at = utcnow()
    link.last_attempt_ok, link.last_error_kind, link.consecutive_failures = False, kind, 3
    link.last_error_message = f"the calendar answered with {kind}"
    db.session.commit()
    return link


def _fleet(make_property, make_link):
    forbidden = [_failing(make_link(make_property(f"Piso {n}", city="Málaga", owner_email=f"o{n}@example.com"),
                                    source="google", url=f"https://calendar.google.com/{n}.ics"), "forbidden")
                 for n in (5, 43, 7)]
    _failing(make_link(make_property("Piso pausado", owner_email="p@example.com"), source="google",
                       state="paused"), "forbidden")
    _failing(make_link(make_property("Casa lenta", owner_email="t@example.com"), source="airbnb"), "timeout")
    recompute_all(scores=False)  # risk and nights at stake, as the hourly pass keeps them
    return forbidden


def test_staff_filters_by_error_kind_selects_all_and_bulk_resyncs(live_server, page, make_user,
                                                                  make_property, make_link, redis_conn):
    make_user("staff@example.com", "staff", PASSWORD)
    forbidden = _fleet(make_property, make_link)
    log_in(page, live_server, "staff@example.com")
    page.select_option("select[name=error]", "forbidden")
    page.click("#filters button[type=submit]")
    page.wait_for_url("**error=forbidden**")
    expect(page.locator("#properties tbody tr")).to_have_count(4)
    expect(page.locator("[data-test=total]")).to_have_text("4 properties")
    shot(page, "lists-1-filtered-by-error")
    page.check("[data-test=select-all-matching]")
    page.click("#bulk button[value=resync]")
    expect(page.locator("[data-test=bulk-plan]")).to_contain_text("Resync 3 links of 4 properties")
    expect(page.locator("[data-test=bulk-plan]")).to_contain_text("1 paused (resume them to sync them)")
    shot(page, "lists-2-confirm")
    page.click("[data-test=bulk-confirm]")
    page.wait_for_url("**/properties/?error=forbidden")
    expect(page.locator(".alert")).to_contain_text("3 links queued, 1 left as it is: 1 paused")
    expect(page.locator("#properties tbody tr")).to_have_count(4)  # the same filtered list
    expect(page.locator("select[name=error]")).to_have_value("forbidden")
    shot(page, "lists-3-summary")
    queued = sorted(job.args[0] for job in Queue("forced", connection=redis_conn).jobs)
    assert queued == sorted(link.id for link in forbidden)


def test_staff_checks_rows_of_the_page_and_pauses_them(live_server, page, make_user, make_property,
                                                       make_link):
    make_user("staff@example.com", "staff", PASSWORD)
    forbidden = _fleet(make_property, make_link)
    log_in(page, live_server, "staff@example.com")
    page.goto(f"{live_server}/properties/?sort=property&q=malaga")
    names = page.locator("#properties tbody tr td:nth-child(2) a").all_inner_texts()
    assert names == ["Piso 5", "Piso 7", "Piso 43"]  # natural order
    page.check("[data-test=select-page]")  # the script checks every row of the page
    expect(page.locator("#properties input[name=ids]:checked")).to_have_count(3)
    page.click("#bulk button[value=pause]")
    expect(page.locator("[data-test=bulk-plan]")).to_contain_text("Pause 3 links of 3 properties")
    page.click("[data-test=bulk-confirm]")
    page.wait_for_url("**/properties/?q=malaga&sort=property")
    expect(page.locator(".alert")).to_contain_text("3 links paused.")
    expect(page.locator("[data-test=link-state]")).to_have_text(["paused"] * 3)
    shot(page, "lists-4-paused")
    db.session.expire_all()
    assert {link.state for link in forbidden} == {"paused"}


def test_the_list_at_390_px_has_no_sideways_scroll(live_server, page, make_user, make_property, make_link):
    make_user("staff@example.com", "staff", PASSWORD)
    _fleet(make_property, make_link)
    make_property("A property with a rather long name to wrap", owner_email="someone.with.a.long.address@example.com")
    page.set_viewport_size({"width": 390, "height": 844})
    log_in(page, live_server, "staff@example.com")
    expect(page.locator("#properties tbody tr")).to_have_count(6)
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    shot(page, "lists-5-390px")
