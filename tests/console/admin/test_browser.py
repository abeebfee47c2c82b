"""The pages people click, in a real Chromium driven by Playwright (skipped without chromium)."""
from __future__ import annotations

from console.extensions import db
from console.models import CalendarLink
from console.timeutil import utcnow
from tests.console.admin.browsing import BROWSER_MARKS, PASSWORD, log_in

pytestmark = BROWSER_MARKS


def _failing_link(prop, make_link):
    link = make_link(prop, source="google", url="https://calendar.google.com/c/basic.ics")
    link.last_sync_at = link.last_error_at = utcnow()
    link.last_attempt_ok = False
    link.last_error_kind, link.last_error_http_status = "not_found", 404
    link.last_error_message = "the calendar address answered 404 (not found)"
    db.session.commit()
    return link


def test_wrong_password_stays_on_login_with_a_message(live_server, page, make_user):
    make_user("viewer@example.com", "viewer", PASSWORD)
    page.goto(f"{live_server}/login")
    page.fill("input[name=email]", "viewer@example.com")
    page.fill("input[name=password]", "not the password")
    page.click("button[type=submit]")
    assert page.locator(".alert").inner_text().strip() == "Wrong email or password."
    assert "/login" in page.url


def test_filter_the_list_then_open_a_failing_property(live_server, page, make_user,
                                                       make_property, make_link):
    make_user("viewer@example.com", "viewer", PASSWORD)
    _failing_link(make_property("Málaga Penthouse"), make_link)
    make_property("Quiet Flat")
    log_in(page, live_server, "viewer@example.com")
    assert page.locator("#properties tbody tr").count() == 2
    page.select_option("select[name=health]", "failing")
    page.click("#filters button[type=submit]")
    page.wait_for_url("**health=failing**")
    rows = page.locator("#properties tbody tr")
    assert rows.count() == 1 and "Málaga Penthouse" in rows.first.inner_text()
    page.click("text=Málaga Penthouse")
    assert page.locator("#property-name").inner_text() == "Málaga Penthouse"
    error = page.locator("[data-error-kind=not_found]").first
    assert "What to do" in error.inner_text()
    assert page.locator("[data-action]").count() == 0  # a viewer has no actions


def test_staff_pauses_a_link_from_the_property_page(live_server, page, make_user,
                                                     make_property, make_link):
    make_user("staff@example.com", "staff", PASSWORD)
    prop = make_property("Sitges Villa")
    link = make_link(prop, source="vrbo", url="https://www.vrbo.com/icalendar/ab.ics")
    log_in(page, live_server, "staff@example.com")
    page.goto(f"{live_server}/properties/{prop.id}")
    page.click("[data-action=pause]")
    page.wait_for_selector("text=paused: its blocks stay")
    db.session.expire_all()
    assert db.session.get(CalendarLink, link.id).state == "paused"


def test_log_out_returns_to_login(live_server, page, make_user):
    make_user("viewer@example.com", "viewer", PASSWORD)
    log_in(page, live_server, "viewer@example.com")
    page.click("text=Log out")
    page.wait_for_url(f"{live_server}/login")
    page.goto(f"{live_server}/")
    assert "/login" in page.url


def test_manager_opens_overbookings_from_the_menu_sees_charts_and_resolves_one(
        live_server, page, make_user, make_property):
    from console.models import Overbooking
    make_user("staff@example.com", "staff", PASSWORD)
    prop = make_property("Cádiz Loft")
    today = utcnow().date()
    db.session.add(Overbooking(property_id=prop.id, direct_code="OA-1", external_code="EX-1",
                               first_night=today, last_night=today, nights=1, link_source="airbnb",
                               counts_against_owner=True, attribution="the link was failing"))
    db.session.commit()
    log_in(page, live_server, "staff@example.com")
    page.click("nav >> text=Overbookings")
    page.wait_for_url(f"{live_server}/overbookings/")
    # plotly.js, served by the app, drew every chart into SVG.
    page.wait_for_selector("#charts .main-svg")
    for chart in ("weekly", "source", "city", "owner", "scores"):
        assert page.locator(f"#chart-{chart} .main-svg").count() >= 1
    row = page.locator("#overbooking-list tbody tr").first
    assert "counts against the owner" in row.inner_text()
    row.locator("input[name=note]").fill("moved the guest to a sister flat")
    row.locator("button[type=submit]").click()
    page.wait_for_selector("text=resolved by staff@example.com")
    db.session.expire_all()
    ob = db.session.execute(db.select(Overbooking)).scalar_one()
    assert (ob.state, ob.resolution_note) == ("resolved", "moved the guest to a sister flat")


def test_property_page_explains_why_the_score_changed(live_server, page, make_user,
                                                      make_property):
    from datetime import timedelta

    from console.models import ScoreSnapshot
    from jobs.rules.score import OverbookingRecord, OwnerRecord, compute_score
    make_user("viewer@example.com", "viewer", PASSWORD)
    prop = make_property("Ronda Cottage")
    for hours_ago, counted in ((30, ()), (2, (True,))):
        at = utcnow() - timedelta(hours=hours_ago)
        score = compute_score(OwnerRecord(
            overbookings=[OverbookingRecord(at, 1, c) for c in counted], sync_attempts_30d=4,
            sync_successes_30d=4, last_success_at=at), at)
        db.session.add(ScoreSnapshot(property_id=prop.id, score=score.value,
                                     components=score.components, computed_at=at))
    db.session.commit()
    log_in(page, live_server, "viewer@example.com")
    page.goto(f"{live_server}/properties/{prop.id}")
    assert page.locator("[data-test=score-value]").inner_text() == "80"
    rows = page.locator("[data-test=score-history] tbody tr")
    assert rows.count() == 2
    newest = rows.first
    assert newest.locator("[data-test=score-reason]").first.is_visible()
    assert "2 hours ago" in newest.inner_text() and "(-20)" in newest.inner_text()
    assert "Overbookings: 1 counted against the owner (was 0): 50 to 30 points." in \
        newest.inner_text()
    assert "First score for this property." in rows.nth(1).inner_text()


def test_admin_revokes_a_token_on_the_tokens_page(live_server, page, make_user):
    from console.models import ApiToken
    make_user("admin@example.com", "admin", PASSWORD)
    row, _clear = ApiToken.issue("ranking-service", "viewer")
    db.session.add(row)
    db.session.commit()
    log_in(page, live_server, "admin@example.com")
    page.click("nav >> text=API tokens")
    page.wait_for_url(f"{live_server}/tokens/")
    line = page.locator(f"[data-token='{row.id}']")
    assert "ranking-service" in line.inner_text() and "live" in line.inner_text()
    line.locator("[data-test=revoke-token] summary").click()
    line.locator("input[name=confirm]").check()
    line.locator("[data-action=revoke]").click()
    page.wait_for_selector("text=no longer opens the API")
    assert "revoked" in page.locator(f"[data-token='{row.id}']").inner_text()
    db.session.expire_all()
    assert db.session.get(ApiToken, row.id).revoked


def test_a_city_written_as_markup_is_shown_as_text_in_the_chart(live_server, page, make_user,
                                                                 make_property):
    from console.models import Overbooking
    make_user("viewer@example.com", "viewer", PASSWORD)
    prop = make_property("Trap Flat", city='<a href="https://evil.example/">Evil</a>')
    today = utcnow().date()
    db.session.add(Overbooking(property_id=prop.id, direct_code="OA-1", external_code="EX-1",
                               first_night=today, last_night=today, nights=1, link_source="airbnb",
                               counts_against_owner=True, attribution="test"))
    db.session.commit()
    log_in(page, live_server, "viewer@example.com")
    page.goto(f"{live_server}/overbookings/")
    page.wait_for_selector("#chart-city .main-svg")
    assert page.locator("#chart-city a").count() == 0  # no live link drawn from the data
    assert '<a href="https://evil.example/">Evil</a>' in page.locator("#chart-city").inner_text()


def test_staff_links_a_calendar_tests_it_saves_it_and_sees_its_blocks(live_server, page, app,
                                                                       make_user, make_property,
                                                                       httpserver):
    from datetime import timedelta

    from jobs.worker import run_worker
    from tests.jobs.feeds import all_day, google, google_event

    def day(n: int):
        return utcnow().date() + timedelta(days=n)
    make_user("staff@example.com", "staff", PASSWORD)
    prop = make_property("Ronda Cottage")
    httpserver.expect_request("/private.ics").respond_with_data(
        "<html><body>Not Found</body></html>", status=404, content_type="text/html")
    httpserver.expect_request("/public.ics").respond_with_data(google(
        google_event("r@google.com", all_day(day(10)), all_day(day(13)), "Reserved"),
        google_event("d@google.com", all_day(day(20)), all_day(day(21)), "Dentist")),
        content_type="text/calendar")
    log_in(page, live_server, "staff@example.com")
    page.goto(f"{live_server}/properties/{prop.id}")

    # A Google embed page is refused with the iCal address to use instead.
    page.fill("#link-url", "https://calendar.google.com/calendar/embed?src=owner%40example.com")
    page.click("[data-action=test-new]")
    page.wait_for_selector("[data-test=suggestion]")
    assert "public/basic.ics" in page.locator("[data-test=suggestion]").inner_text()

    # A calendar that is not public: the test says why and what to do, and nothing is stored.
    page.fill("#link-url", httpserver.url_for("/private.ics"))
    page.select_option("#link-source", "google")
    page.click("[data-action=test-new]")
    result = page.locator("[data-test=test-result]")
    result.wait_for()
    assert "not_found" in result.inner_text() and "public" in result.inner_text()

    # The public address: the test shows what would be blocked and every ignored event.
    page.fill("#link-url", httpserver.url_for("/public.ics"))
    page.click("[data-action=test-new]")
    page.wait_for_selector("[data-test=ignored-list]")
    assert page.locator("[data-test=would-block]").inner_text() == "1"
    ignored = page.locator("[data-test=ignored-list]").inner_text()
    assert "Dentist" in ignored and day(20).isoformat() in ignored and "Reserved" in ignored
    db.session.expire_all()
    assert db.session.query(CalendarLink).count() == 0  # a test stores nothing

    page.click("[data-action=save-new]")
    page.wait_for_selector("text=Synchronize now")
    [link] = db.session.query(CalendarLink).all()
    assert (link.source, link.state) == ("google", "linked")
    page.click(f"#link-{link.id} [data-action=activate]")
    page.wait_for_selector("text=queued")
    run_worker(app, burst=True)  # the worker runs the queued sync
    page.reload()
    card = page.locator(f"#link-{link.id}")
    assert "1 EX- blocks" in card.inner_text() and "active" in card.inner_text()
    card.locator("[data-test=ignored-events] summary").click()
    assert "Dentist" in card.locator("[data-test=ignored-events]").inner_text()

    # Delete it: the confirm says what happens to its blocks, and they go with it.
    card.locator("[data-test=delete-link] summary").click()
    assert "1 EX- block" in card.locator("[data-test=delete-link]").inner_text()
    card.locator("input[name=confirm]").check()
    card.locator("[data-action=delete]").click()
    page.wait_for_selector("text=was deleted with its 1 EX- block")
    db.session.expire_all()
    assert db.session.query(CalendarLink).count() == 0


def test_admin_changes_an_alert_threshold_on_the_settings_page(live_server, page, make_user, app):
    from console.models import AlertSetting
    from jobs.notify.thresholds import thresholds
    make_user("admin@example.com", "admin", PASSWORD)
    log_in(page, live_server, "admin@example.com")
    page.goto(f"{live_server}/notifications/settings")
    page.fill("input[name=ALERT_AFTER_FAILURES]", "2")
    page.fill("input[name=ALERT_QUIET_START_HOUR]", "22")
    page.fill("input[name=ALERT_QUIET_END_HOUR]", "7")
    page.click("[data-action=save-thresholds]")
    page.wait_for_selector("text=Thresholds saved")
    row = page.locator("[data-threshold=ALERT_AFTER_FAILURES]")
    assert row.get_attribute("data-value") == "2" and "admin@example.com, just now" in row.inner_text()
    db.session.expire_all()
    assert {s.name: s.value for s in db.session.execute(db.select(AlertSetting)).scalars()} == \
        {"ALERT_AFTER_FAILURES": "2", "ALERT_QUIET_START_HOUR": "22", "ALERT_QUIET_END_HOUR": "7"}
    assert thresholds(app.config)["ALERT_AFTER_FAILURES"] == 2


def test_the_dashboard_counts_say_how_old_they_are_and_lead_to_the_list(live_server, page, make_user,
                                                                         make_property, make_link):
    from jobs.tasks import fleet_tally_job
    make_user("viewer@example.com", "viewer", PASSWORD)
    _failing_link(make_property("Málaga Penthouse"), make_link)
    make_property("Quiet Flat")
    fleet_tally_job()  # what the scheduler runs every 10 s
    log_in(page, live_server, "viewer@example.com")
    page.goto(f"{live_server}/")
    age = page.locator("[data-test=tally-age]")
    assert age.is_visible() and "s ago" in age.inner_text()
    failing = page.locator("[data-health-count=failing]")
    assert failing.locator(".h4").inner_text() == "1"
    failing.click()
    page.wait_for_url("**health=failing**")
    rows = page.locator("#properties tbody tr")
    assert rows.count() == 1 and "Málaga Penthouse" in rows.first.inner_text()
