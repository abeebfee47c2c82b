"""The link card says how often its calendar is read and why, how old it is and when it is read next."""
from __future__ import annotations

from jobs.sync.runner import sync_links
from tests.console.admin.browsing import BROWSER_MARKS, PASSWORD, log_in
from tests.jobs.feeds import airbnb_feed
from tests.jobs.sync.test_feeds import FeedServer

pytestmark = BROWSER_MARKS


def test_the_link_card_shows_its_interval_the_reason_the_calendar_age_and_the_next_read(
        live_server, page, make_user, make_property, make_link, make_reservation, httpserver):
    make_user("viewer@example.com", "viewer", PASSWORD)
    prop = make_property("Cadaqués Loft")
    make_reservation(prop, "direct", in_days=1, nights=2)
    feed = FeedServer(httpserver, "/card.ics", airbnb_feed([]))
    link = make_link(prop, url=feed.url, source="airbnb")
    sync_links([link.id])
    log_in(page, live_server, "viewer@example.com")
    page.goto(f"{live_server}/properties/{prop.id}")
    line = page.locator(f"#link-{link.id} [data-test=sync-schedule]").inner_text()
    assert line.startswith("Schedule: every ")
    assert "a direct check-in within 2 days" in line
    assert "calendar age: read just now" in line and "next read in " in line
