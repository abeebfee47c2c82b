"""Live job state and the Jobs page in a real Chromium: a sync pressed on the property page ends in
its blocks, an accepted held change ends without its badge, both without a reload; staff retry a
failed job from the Jobs page, which a viewer does not see."""
from __future__ import annotations

from playwright.sync_api import expect
from rq import Queue
from rq.registry import FailedJobRegistry

from console.extensions import db
from jobs.broker import redis_connection
from jobs.sync.runner import sync_links
from jobs.worker import run_worker
from tests.console.admin.browsing import BROWSER_MARKS, PASSWORD, log_in, shot
from tests.jobs.feeds import airbnb_feed
from tests.jobs.sync.test_feeds import FeedServer, blocks, day, fresh_link
from tests.jobs.sync.test_guard import EMPTY_VCALENDAR

pytestmark = BROWSER_MARKS
STAYS = [(day(5), day(8), "Reserved"), (day(20), day(23), "Reserved")]
LIVE_WAIT_MS = 15_000  # the page polls every 2 s: a few polls at most


def mark_page(page) -> None:
    """Tag the loaded document: the tag survives an in-place update and is gone after a reload."""
    page.evaluate("document.documentElement.dataset.sameDocument = 'yes'")


def assert_not_reloaded(page) -> None:
    assert page.evaluate("document.documentElement.dataset.sameDocument") == "yes"


def test_synchronize_now_shows_queued_then_finished_with_its_blocks_without_reload(
        app, live_server, page, httpserver, make_user, make_property, make_link):
    make_user("staff@example.com", "staff", PASSWORD)
    prop = make_property("Tarifa Beach House")
    feed = FeedServer(httpserver, "/airbnb.ics", airbnb_feed(STAYS))
    link = make_link(prop, url=feed.url, source="airbnb", state="linked")
    log_in(page, live_server, "staff@example.com")
    page.goto(f"{live_server}/properties/{prop.id}")
    expect(page.locator("#stays")).to_contain_text("No upcoming stay")
    page.click(f"#link-{link.id} [data-action=activate]")
    card = page.locator(f"#link-{link.id}")
    expect(card.locator("[data-test=job-state]")).to_have_attribute("data-state", "queued")
    expect(card).to_contain_text("queued")
    shot(page, "jobs-sync-now-queued")
    mark_page(page)

    run_worker(app, burst=True)  # the worker runs the queued sync, from the test
    expect(card.locator("[data-test=job-state]")).to_have_attribute("data-state", "finished",
                                                                    timeout=LIVE_WAIT_MS)
    expect(card.locator("[data-test=job-outcome]")).to_contain_text("blocks: 2 added")
    ex_rows = page.locator("#stays tr[data-code^='EX-']")
    expect(ex_rows).to_have_count(2)
    expect(page.locator("#history tbody")).to_contain_text("changed")
    assert_not_reloaded(page)
    assert sorted(page.locator("#stays tr[data-code^='EX-']").evaluate_all(
        "rows => rows.map(r => r.dataset.code)")) == sorted(code for code, *_ in blocks(link.id))
    shot(page, "jobs-sync-now-finished")


def test_accepting_a_held_change_removes_the_blocks_and_the_held_badge_without_reload(
        app, live_server, page, httpserver, make_user, make_property, make_link):
    make_user("staff@example.com", "staff", PASSWORD)
    prop = make_property("Zahara Flat")
    feed = FeedServer(httpserver, "/airbnb.ics", airbnb_feed(STAYS))
    link = make_link(prop, url=feed.url, source="airbnb")
    sync_links([link.id])
    feed.body = EMPTY_VCALENDAR  # the feed suddenly empties: the guard holds the change
    sync_links([link.id])
    assert fresh_link(link.id).hold_state and len(blocks(link.id)) == 2
    log_in(page, live_server, "staff@example.com")
    page.goto(f"{live_server}/properties/{prop.id}")
    card = page.locator(f"#link-{link.id}")
    expect(card.locator("[data-warning-kind=suspicious_empty]")).to_be_visible()
    expect(page.locator("#stays tr[data-code^='EX-']")).to_have_count(2)
    shot(page, "jobs-held-change")

    card.locator("[data-action=accept]").click()
    expect(card.locator("[data-test=job-state]")).to_have_attribute("data-state", "queued")
    expect(card.locator("[data-warning-kind=suspicious_empty]")).to_be_visible()  # until it has run
    shot(page, "jobs-held-change-accepted-queued")
    mark_page(page)

    run_worker(app, burst=True)
    expect(card.locator("[data-test=job-state]")).to_have_attribute("data-state", "finished",
                                                                    timeout=LIVE_WAIT_MS)
    expect(card.locator("[data-warning-kind=suspicious_empty]")).to_have_count(0)
    expect(card.locator("[data-action=accept]")).to_have_count(0)
    expect(page.locator("#stays tr[data-code^='EX-']")).to_have_count(0)
    expect(card.locator("[data-test=job-outcome]")).to_contain_text("0 added, 0 updated, 2 removed")
    assert_not_reloaded(page)
    db.session.expire_all()
    assert blocks(link.id) == [] and fresh_link(link.id).hold_state is None
    shot(page, "jobs-held-change-applied")


def test_staff_open_jobs_from_the_menu_and_retry_a_failed_job(app, live_server, page, make_user):
    make_user("staff@example.com", "staff", PASSWORD)
    conn = redis_connection(app)
    job = Queue("sync", connection=conn).enqueue("jobs.tasks.no_such_task")
    run_worker(app, burst=True)  # a real worker fails it
    failed = FailedJobRegistry("sync", connection=conn)
    assert failed.get_job_ids() == [job.id]
    log_in(page, live_server, "staff@example.com")
    page.click("nav >> text=Jobs")
    page.wait_for_url(f"{live_server}/jobs/")
    sync_row = page.locator("#queues tr[data-role=queue]", has_text="sync")
    expect(sync_row.locator("td.failed").first).to_have_text("1")
    shot(page, "jobs-page-queues")

    sync_row.locator("td.failed a").first.click()
    row = page.locator(f"tr[data-job-id='{job.id}']")
    expect(row).to_contain_text("no_such_task")
    shot(page, "jobs-page-failed-job")
    row.locator("[data-role=requeue-job-btn]").click()  # Requeue: RQ retries it
    expect(row).to_have_count(0)
    assert failed.get_job_ids() == [] and Queue("sync", connection=conn).job_ids == [job.id]
    shot(page, "jobs-page-retried")


def test_a_viewer_has_no_jobs_entry_and_gets_the_console_403(live_server, page, make_user):
    make_user("viewer@example.com", "viewer", PASSWORD)
    log_in(page, live_server, "viewer@example.com")
    expect(page.locator("nav")).not_to_contain_text("Jobs")
    resp = page.goto(f"{live_server}/jobs/")
    assert resp.status == 403
    expect(page.locator("body")).to_contain_text("Not allowed")
    expect(page.locator("[data-test=whoami]")).to_contain_text("viewer")  # inside the console
    shot(page, "jobs-page-viewer-refused")
