"""Overbookings through real syncs: one per stay whatever its EX- code, races dated by the previous read,
and Google events titled "Reserved" only after the nights were sold."""
from __future__ import annotations

from dataclasses import fields
from datetime import date, timedelta

import pytest
from sqlalchemy import select

from console.extensions import db
from console.models import CalendarLink, Overbooking, Reservation
from console.timeutil import utcnow
from jobs.stays import IgnoredEvent
from jobs.sync_runner import sync_links
from tests.jobs.feeds import airbnb_feed, all_day, calendar, google_event, google_header
from tests.jobs.test_overbooking_store import booked, healthy, overbookings
from tests.jobs.test_sync_feeds import FeedServer


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
                   reason="jobs/parse does not pass ignored events' UIDs yet (IgnoredEvent has no uid)")
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
