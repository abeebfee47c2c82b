"""The suspicious-empty guard end to end: held runs, warnings, confirmation over time, staff acceptance."""
from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from console.extensions import db
from jobs.rules.reconcile import HOLD_CONFIRMATIONS, HOLD_MIN_DURATION
from jobs.sync.runner import sync_links
from tests.jobs.feeds import airbnb_feed, all_day, booking_feed, calendar, event
from tests.jobs.sync.test_feeds import FeedServer, blocks, day, fresh_link, runs, without_event

EMPTY_VCALENDAR = calendar(["PRODID:-//Airbnb Inc//Hosting Calendar 1.0//EN", "VERSION:2.0"])
STAYS = [(day(5), day(8), "Reserved"), (day(20), day(23), "Reserved"), (day(40), day(43), "Reserved")]


@pytest.fixture
def synced(httpserver, make_property, make_link):
    """synced(source) -> (link id, feed, blocks) after a first sync of three future stays."""
    def make(source="airbnb"):
        prop = make_property()
        body = booking_feed([(a, b) for a, b, _s in STAYS]) if source == "booking" else airbnb_feed(STAYS)
        feed = FeedServer(httpserver, f"/{source}.ics", body)
        link = make_link(prop, url=feed.url, source=source)
        sync_links([link.id])
        assert len(blocks(link.id)) == 3
        return link.id, feed, blocks(link.id)
    return make


def assert_held(link_id: int, before: list) -> None:
    """The last run was held, the link warns suspicious_empty, and every block is still there."""
    last = runs(link_id)[-1]
    assert (last.outcome, last.removed) == ("held", 0)
    assert "held" in last.details
    link = fresh_link(link_id)
    assert [w["kind"] for w in link.warnings].count("suspicious_empty") == 1
    assert link.last_attempt_ok and link.hold_state
    assert blocks(link_id) == before


def age_hold(link_id: int, by: timedelta) -> None:
    """Pretend the held change was first seen `by` earlier (no sleeping)."""
    link = fresh_link(link_id)
    seen = datetime.fromisoformat(link.hold_state["first_seen_at"])
    link.hold_state = {**link.hold_state, "first_seen_at": (seen - by).isoformat()}
    db.session.commit()


def test_feed_that_suddenly_empties_is_held_and_keeps_blocks(synced):
    link_id, feed, before = synced()
    feed.body = EMPTY_VCALENDAR
    [summary] = sync_links([link_id])
    assert summary.outcome == "held"
    assert_held(link_id, before)


def test_empty_booking_body_is_held_not_applied(synced):
    link_id, feed, before = synced("booking")
    feed.body = b""
    sync_links([link_id])
    assert_held(link_id, before)


def test_repeated_emptiness_is_released_only_after_confirmations_and_duration(synced):
    link_id, feed, before = synced()
    feed.body = EMPTY_VCALENDAR
    for _ in range(HOLD_CONFIRMATIONS + 1):  # enough syncs, but all within minutes
        sync_links([link_id])
        assert_held(link_id, before)
    age_hold(link_id, HOLD_MIN_DURATION + timedelta(minutes=1))
    [summary] = sync_links([link_id])
    assert (summary.outcome, summary.removed) == ("changed", 3)
    assert blocks(link_id) == []
    last = runs(link_id)[-1]
    assert "released" in last.details and sorted(last.details["removed"]) == sorted(c for c, *_ in before)
    link = fresh_link(link_id)
    assert link.hold_state is None and not any(w["kind"] == "suspicious_empty" for w in link.warnings)


def test_old_hold_without_enough_confirmations_stays_held(synced):
    link_id, feed, before = synced()
    feed.body = EMPTY_VCALENDAR
    sync_links([link_id])
    age_hold(link_id, timedelta(days=1))  # long ago, but seen only once so far
    sync_links([link_id])
    assert_held(link_id, before)


def test_feed_recovering_during_a_hold_clears_it(synced):
    link_id, feed, before = synced()
    good = feed.body
    feed.body = EMPTY_VCALENDAR
    sync_links([link_id])
    feed.body = good
    [summary] = sync_links([link_id])
    assert summary.outcome == "unchanged"
    link = fresh_link(link_id)
    assert link.hold_state is None and link.warnings == []
    assert blocks(link_id) == before


def test_staff_acceptance_releases_the_hold_on_the_next_sync(synced):
    link_id, feed, before = synced()
    feed.body = EMPTY_VCALENDAR
    sync_links([link_id])
    link = fresh_link(link_id)
    link.accept_next_change = True
    db.session.commit()
    [summary] = sync_links([link_id])
    assert (summary.outcome, summary.removed) == ("changed", 3)
    assert blocks(link_id) == []
    assert "Accepted by staff" in runs(link_id)[-1].details["released"]
    assert fresh_link(link_id).accept_next_change is False


def test_staff_accept_a_held_change_over_the_api_and_the_worker_applies_it(app, api, synced):
    from jobs.worker import run_worker
    link_id, feed, before = synced()
    assert api("staff").post(f"/links/{link_id}/accept-change").status_code == 409  # nothing held
    feed.body = EMPTY_VCALENDAR
    sync_links([link_id])
    assert_held(link_id, before)
    assert api("viewer").post(f"/links/{link_id}/accept-change").status_code == 403
    resp = api("staff").post(f"/links/{link_id}/accept-change")
    assert resp.status_code == 202 and resp.get_json()["job_id"]
    assert fresh_link(link_id).accept_next_change is True
    run_worker(app, burst=True)
    assert blocks(link_id) == [] and runs(link_id)[-1].outcome == "changed"
    assert fresh_link(link_id).hold_state is None


def test_staff_acceptance_does_not_linger_for_a_later_emptying(synced):
    link_id, feed, before = synced()
    link = fresh_link(link_id)
    link.accept_next_change = True
    db.session.commit()
    sync_links([link_id])  # nothing suspicious: the acceptance is used up anyway
    assert fresh_link(link_id).accept_next_change is False
    feed.body = EMPTY_VCALENDAR
    sync_links([link_id])
    assert_held(link_id, before)


def test_single_cancellation_in_a_multi_block_calendar_goes_through_at_once(synced):
    link_id, feed, before = synced()
    feed.body = without_event(feed.body, 1)
    [summary] = sync_links([link_id])
    assert (summary.outcome, summary.removed) == ("changed", 1)
    assert blocks(link_id) == [before[0], before[2]]
    assert fresh_link(link_id).hold_state is None


def test_held_run_keeps_removals_but_applies_additions(httpserver, make_property, make_link):
    def feed_of(uids_and_starts):
        lines = ["PRODID:-//HomeAway.com, Inc.//EN", "VERSION:2.0"]
        for uid, start in uids_and_starts:
            lines += event(uid, all_day(day(start)), all_day(day(start + 2)), "Blocked")
        return calendar(lines)
    feed = FeedServer(httpserver, "/vrbo.ics", feed_of([(f"u{n}", 10 * n + 5) for n in range(6)]))
    link = make_link(make_property(), url=feed.url, source="vrbo")
    sync_links([link.id])
    before = blocks(link.id)
    feed.body = feed_of([("u0", 5), ("new", 200)])  # five of six gone at once, one new
    [summary] = sync_links([link.id])
    assert (summary.outcome, summary.added, summary.removed) == ("held", 1, 0)
    stored = blocks(link.id)
    assert set(before) < set(stored) and (day(200), day(202)) in [(ci, co) for _c, ci, co in stored]
