"""The API page in a real Chromium: a viewer opens "API" from the menu and Swagger UI, served by the
app (no other host, nothing the CSP blocks), draws every operation of the OpenAPI document."""
from __future__ import annotations

from playwright.sync_api import expect

from tests.console.admin.browsing import BROWSER_MARKS, PASSWORD, log_in, shot
from tests.console.api.document_check import load_document

pytestmark = BROWSER_MARKS


def test_a_viewer_opens_the_api_page_from_the_menu_and_reads_every_operation(
        live_server, page, make_user):
    make_user("viewer@example.com", "viewer", PASSWORD)
    log_in(page, live_server, "viewer@example.com")
    page.click('nav >> text="API"')  # exactly: not "API tokens"
    page.wait_for_url(f"{live_server}/api-docs/")
    page.wait_for_selector("#swagger-ui .opblock")
    expect(page.locator("#swagger-ui .info .title")).to_contain_text("Calendar Sync Console API")
    described = sorted(f"{method.upper()} {path}" for path, item in load_document()["paths"].items()
                       for method in item if method in ("get", "post", "delete"))
    drawn = page.locator("#swagger-ui .opblock-summary").evaluate_all(
        "blocks => blocks.map(b => b.querySelector('.opblock-summary-method').textContent + ' '"
        " + b.querySelector('.opblock-summary-path').getAttribute('data-path'))")
    assert sorted(drawn) == described
    # One operation opened: its parameters and its answers, errors included.
    page.locator("#operations-reservations-getAvailability .opblock-summary").click()
    opened = page.locator("#operations-reservations-getAvailability")
    expect(opened.locator(".parameters")).to_contain_text("check_in")
    expect(opened.locator(".responses-table")).to_contain_text("422")
    shot(page, "api-docs")


def test_the_api_page_needs_a_login(live_server, page):
    page.goto(f"{live_server}/api-docs/")
    assert "/login" in page.url
