"""Overbookings through real syncs: one per stay whatever its EX- code, races dated by the previous read,
Google events titled "Reserved" only after the nights were sold, echoes of our own export feed (not
overbookings), and blocks dated by their nights, not by UID rewrites."""
from __future__ import annotations

import uuid
from dataclasses import fields
from datetime import date, timedelta

import pytest
from sqlalchemy import select
from werkzeug import Request, Response

from console.extensions import db
from console.models import CalendarLink, Overbooking, Reservation
from console.timeutil import utcnow
from jobs.rules.stays import IgnoredEvent
from jobs.sync.runner import sync_links
from tests.jobs.feeds import (
    airbnb_feed,
    all_day,
    booking_feed,
    calendar,
    event,
    google_event,
    google_header,
    vrbo_feed,
)
from tests.jobs.sync.test_feeds import FeedServer
from tests.jobs.sync.test_overbookings import booked, healthy, overbookings


def today() -> date:
    return utcnow().date()


def day(n: int) -> date:
    return today() + timedelta(days=n)


def airbnb(stays: list[tuple[int, int]]) -> bytes:
    """An Airbnb feed of (days from today, nights); a stay's UID follows its position."""
    return airbnb_feed([(day(start), day(start + nights), "Reserved") for start, nights in stays])


def google(summary: str) -> bytes:
    """A Google calendar with one event (UID g1@google.com, days 10-13) titled `summary`."""
    return calendar(google_header() + google_event("g1@google.com", all_day(day(10)), all_day(day(13)),
                                                   summary))


def block_codes(prop) -> list[str]:
    db.session.expire_all()
    return list(db.session.execute(select(Reservation.code).filter_by(
        property_id=prop.id, origin="external")).scalars())


def test_relinked_calendar_brings_the_same_stay_under_a_new_code_and_it_counts_once(
        httpserver, api, make_property, make_link, make_reservation):
    prop = make_property()
    booked(make_reservation(prop, "direct", in_days=10, nights=3, today=today()), 2 * 24 * 60)
    feed = FeedServer(httpserver, "/a.ics", airbnb([(11, 4)]))
    first = make_link(prop, url=feed.url, source="airbnb", **healthy())
    sync_links([first.id])
    [before] = overbookings()

    assert api("staff").delete(f"/links/{first.id}").status_code == 204
    again = make_link(prop, url=feed.url, source="airbnb")  # linked anew, same calendar
    [summary] = sync_links([again.id])

    assert summary.added == 1 and block_codes(prop) != [before.external_code]
    [ob] = overbookings()
    assert ob.id == before.id and ob.external_uid is not None


def test_stay_that_leaves_the_feed_and_returns_counts_once(
        httpserver, make_property, make_link, make_reservation):
    prop = make_property()
    booked(make_reservation(prop, "direct", in_days=10, nights=3, today=today()), 2 * 24 * 60)
    feed = FeedServer(httpserver, "/a.ics", airbnb([(50, 3), (11, 4)]))
    link = make_link(prop, url=feed.url, source="airbnb", **healthy())
    sync_links([link.id])
    [before] = overbookings()

    feed.body = airbnb([(50, 3)])
    db.session.get(CalendarLink, link.id).accept_next_change = True  # apply the removal at once
    db.session.commit()
    assert sync_links([link.id])[0].removed == 1
    feed.body = airbnb([(50, 3), (11, 4)])  # back, same UID
    [summary] = sync_links([link.id])

    assert summary.added == 1 and before.external_code not in block_codes(prop)
    assert [ob.id for ob in overbookings()] == [before.id]


def test_stay_read_late_is_a_race_when_the_previous_read_came_soon_after_our_booking(
        httpserver, make_property, make_link, make_reservation):
    prop = make_property()
    direct = booked(make_reservation(prop, "direct", in_days=10, nights=3, today=today()), 20)
    feed = FeedServer(httpserver, "/a.ics", airbnb([(11, 2)]))
    link = make_link(prop, url=feed.url, source="airbnb", **healthy(minutes_ago=14))

    sync_links([link.id])  # 20 minutes after the booking, but 6 minutes after it the stay was not there

    [ob] = overbookings()
    assert ob.direct_code == direct.code and ob.link_health_at_detection == "ok"
    assert ob.counts_against_owner is False
    assert "previous read" in ob.attribution and "within one sync interval" in ob.attribution


def test_stay_read_long_after_our_booking_counts_on_a_healthy_link(
        httpserver, make_property, make_link, make_reservation):
    prop = make_property()
    booked(make_reservation(prop, "direct", in_days=10, nights=3, today=today()), 130)
    feed = FeedServer(httpserver, "/a.ics", airbnb([(11, 2)]))
    link = make_link(prop, url=feed.url, source="airbnb", **healthy(minutes_ago=10))

    sync_links([link.id])  # the previous read came 2 hours after the booking

    [ob] = overbookings()
    assert ob.link_health_at_detection == "ok" and ob.counts_against_owner is True
    assert "not blocking the dates" in ob.attribution


def test_event_the_previous_read_ignored_counts_once_titled_reserved(
        httpserver, make_property, make_link, make_reservation):
    prop = make_property()
    feed = FeedServer(httpserver, "/g.ics", google("Reserved"))
    # What the previous sync stored: the event with this UID was not titled "Reserved" then.
    link = make_link(prop, url=feed.url, source="google", **healthy(minutes_ago=3), ignored_events=1,
                     ignored_detail=[{"summary": "Smith family", "reason": 'not titled "Reserved"',
                                      "uid": "g1@google.com", "check_in": day(10).isoformat(),
                                      "check_out": day(13).isoformat()}])
    booked(make_reservation(prop, "direct", in_days=11, nights=3, today=today()), 5)

    sync_links([link.id])  # inside the race window, yet the owner's calendar held the stay

    [ob] = overbookings()
    assert ob.counts_against_owner is True
    assert (f'the event was in the Google calendar but not titled "Reserved" until {today().isoformat()}'
            in ob.attribution)


@pytest.mark.xfail("uid" not in {f.name for f in fields(IgnoredEvent)}, strict=True,
                   reason="jobs/ical/parse.py does not pass ignored events' UIDs yet "
                          "(IgnoredEvent has no uid)")
def test_google_event_renamed_reserved_after_our_booking_counts_against_the_owner(
        httpserver, make_property, make_link, make_reservation):
    prop = make_property()
    feed = FeedServer(httpserver, "/g.ics", google("Smith family"))
    link = make_link(prop, url=feed.url, source="google", **healthy(minutes_ago=3))
    sync_links([link.id])
    db.session.expire_all()
    assert [i.get("uid") for i in db.session.get(CalendarLink, link.id).ignored_detail] == ["g1@google.com"]
    booked(make_reservation(prop, "direct", in_days=11, nights=3, today=today()), 5)

    feed.body = google("Reserved")
    sync_links([link.id])

    [ob] = overbookings()
    assert ob.counts_against_owner is True
    assert 'not titled "Reserved" until' in ob.attribution


def test_overbookings_recorded_before_keep_their_pair_and_gain_no_twin(
        httpserver, make_property, make_link, make_reservation):
    prop = make_property()
    direct = booked(make_reservation(prop, "direct", in_days=10, nights=3, today=today()), 2 * 24 * 60)
    feed = FeedServer(httpserver, "/a.ics", airbnb([(11, 4)]))
    link = make_link(prop, url=feed.url, source="airbnb", **healthy())
    sync_links([link.id])
    [ob] = overbookings()
    assert (ob.direct_code, ob.link_source, ob.external_uid) == (
        direct.code, "airbnb", db.session.execute(select(Reservation.external_uid).filter_by(
            code=ob.external_code)).scalar_one())
    assert db.session.execute(select(Overbooking).filter_by(external_uid=None)).first() is None


# Echoes: the platform imports our export feed and returns our nights as "unavailable" blocks
def report(api, prop, origin: str, start: int, nights: int) -> str:
    """Report a direct booking or manual block through the API (as the booking engine does); its code."""
    resp = api("staff").post(f"/properties/{prop.id}/reservations", json={
        "origin": origin, "check_in": day(start).isoformat(), "check_out": day(start + nights).isoformat()})
    assert resp.status_code == 201, resp.get_json()
    return resp.get_json()["code"]


def test_airbnb_echo_of_our_direct_booking_is_no_overbooking_but_a_block_with_an_extra_night_is(
        httpserver, api, make_property, make_link):
    prop = make_property()
    echoed = report(api, prop, "direct", 10, 3)
    longer = report(api, prop, "direct", 20, 3)
    assert overbookings() == []
    feed = FeedServer(httpserver, "/a.ics", airbnb_feed([
        (day(10), day(13), "Airbnb (Not available)"),  # exactly our booking's nights: Airbnb imported them
        (day(20), day(24), "Airbnb (Not available)")]))  # our nights plus one we never published
    link = make_link(prop, url=feed.url, source="airbnb", **healthy())

    [summary] = sync_links([link.id])

    assert summary.added == 2 and len(block_codes(prop)) == 2
    [ob] = overbookings()
    assert ob.direct_code == longer and ob.direct_code != echoed
    assert (ob.first_night, ob.last_night, ob.nights) == (day(20), day(22), 3)
    # A later detection (a direct booking elsewhere) still leaves the echo out.
    report(api, prop, "direct", 40, 2)
    assert [o.id for o in overbookings()] == [ob.id]


def test_vrbo_blocked_echo_of_a_direct_booking_and_the_adjacent_manual_block_is_no_overbooking(
        httpserver, api, make_property, make_link):
    prop = make_property()
    report(api, prop, "direct", 10, 3)
    report(api, prop, "manual", 13, 2)
    feed = FeedServer(httpserver, "/v.ics", vrbo_feed([(day(10), day(15), "Blocked")]))  # merged into one
    link = make_link(prop, url=feed.url, source="vrbo", **healthy())

    assert sync_links([link.id])[0].added == 1
    assert overbookings() == []


def test_booking_com_closed_block_on_exactly_our_nights_is_still_an_overbooking(
        httpserver, api, make_property, make_link):
    prop = make_property()
    direct = report(api, prop, "direct", 10, 3)
    feed = FeedServer(httpserver, "/b.ics", booking_feed([(day(10), day(13))]))  # a booking reads the same
    link = make_link(prop, url=feed.url, source="booking", **healthy())

    assert sync_links([link.id])[0].added == 1
    [ob] = overbookings()
    assert (ob.direct_code, ob.nights) == (direct, 3)


# Blocks are dated by their nights: a UID rewrite does not make an old block new
class RegeneratingFeed(FeedServer):
    """A generic iCal feed that gives its events new UIDs on every fetch (some generators do)."""

    def __init__(self, httpserver, path: str, stays: list[tuple[int, int]]):
        self.stays = stays
        super().__init__(httpserver, path)

    def answer(self, request: Request) -> Response:
        lines = ["VERSION:2.0", "PRODID:-//Some PMS//Calendar//EN"]
        for start, nights in self.stays:
            lines += event(f"{uuid.uuid4()}@pms.example", all_day(day(start)), all_day(day(start + nights)),
                           "Booked", "DTSTAMP:20250301T101010Z")
        self.body = calendar(lines)
        return super().answer(request)


def stored_block(prop) -> Reservation:
    db.session.expire_all()
    return db.session.execute(select(Reservation).filter_by(property_id=prop.id, origin="external")).scalar_one()


def test_block_whose_uid_is_regenerated_stays_already_in_our_calendar_and_is_recorded_once(
        httpserver, api, make_property, make_link):
    prop = make_property()
    feed = RegeneratingFeed(httpserver, "/pms.ics", [(10, 3)])
    link = make_link(prop, url=feed.url, source="ical", **healthy())
    assert sync_links([link.id])[0].added == 1
    first = stored_block(prop)
    code, uid, dated = first.code, first.external_uid, first.dates_changed_at
    direct = report(api, prop, "direct", 11, 3)  # over the block's nights: our availability check missed it
    [ob] = overbookings()
    assert (ob.direct_code, ob.external_code, ob.counts_against_owner) == (direct, code, False)
    assert "already in our calendar" in ob.attribution
    found = (ob.id, ob.attribution, ob.counts_against_owner, ob.detected_at, ob.sync_run_id, ob.external_uid)

    [summary] = sync_links([link.id])  # same nights, new UID: matched by dates, UID rewritten

    assert (summary.added, summary.updated, summary.removed) == (0, 1, 0)
    again = stored_block(prop)
    assert (again.code, again.dates_changed_at) == (code, dated) and again.external_uid != uid
    assert again.updated_at > dated
    [ob] = overbookings()
    assert (ob.id, ob.attribution, ob.counts_against_owner, ob.detected_at, ob.sync_run_id,
            ob.external_uid) == found


def test_overbooking_first_found_after_a_uid_rewrite_is_dated_by_the_blocks_nights(
        httpserver, make_property, make_link, make_reservation):
    prop = make_property()
    feed = RegeneratingFeed(httpserver, "/pms.ics", [(10, 3)])
    link = make_link(prop, url=feed.url, source="ical", **healthy())
    sync_links([link.id])
    block = stored_block(prop)
    block.created_at = block.updated_at = block.dates_changed_at = utcnow() - timedelta(days=3)
    db.session.commit()
    # A booking written behind the API (no detection at its report), two days after the block arrived.
    direct = booked(make_reservation(prop, "direct", in_days=11, nights=3, today=today()), 2 * 24 * 60)

    [summary] = sync_links([link.id])  # new UID for the same nights: the sync's detection finds the pair

    assert summary.updated == 1
    [ob] = overbookings()
    assert (ob.direct_code, ob.external_code, ob.sync_run_id is not None) == (direct.code, block.code, True)
    assert ob.counts_against_owner is False and "already in our calendar" in ob.attribution


def test_summary_change_keeps_the_blocks_date_and_a_move_after_our_booking_makes_it_new(
        httpserver, make_property, make_link, make_reservation):
    prop = make_property()
    feed = FeedServer(httpserver, "/a.ics", airbnb_feed([(day(30), day(33), "Reserved")]))
    link = make_link(prop, url=feed.url, source="airbnb", **healthy())
    sync_links([link.id])
    block = stored_block(prop)
    long_ago = utcnow() - timedelta(days=3)
    block.created_at = block.updated_at = block.dates_changed_at = long_ago
    db.session.commit()
    direct = booked(make_reservation(prop, "direct", in_days=10, nights=3, today=today()), 2 * 24 * 60)

    feed.body = airbnb_feed([(day(30), day(33), "Not available")])  # same UID, new summary
    assert sync_links([link.id])[0].updated == 1
    assert (stored_block(prop).summary, stored_block(prop).dates_changed_at) == ("Not available", long_ago)
    assert overbookings() == []

    feed.body = airbnb_feed([(day(11), day(14), "Reserved")])  # same UID, moved onto our booking
    assert sync_links([link.id])[0].updated == 1
    assert stored_block(prop).dates_changed_at > direct.created_at
    [ob] = overbookings()
    assert ob.direct_code == direct.code and ob.counts_against_owner is True
    assert "not blocking the dates" in ob.attribution
