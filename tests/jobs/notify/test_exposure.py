"""What is at stake (upcoming direct bookings, sellable nights of the next 30 days) on every notice, not only
a link's: held changes, overbookings and provider incidents (summed over their properties); in the e-mail, the
webhook and the Notifications page."""
from __future__ import annotations

from sqlalchemy import select

from console.extensions import db
from console.models import Notification
from jobs.notify.checks import periodic_checks
from jobs.sync.runner import sync_links
from tests.jobs.feeds import airbnb_feed
from tests.jobs.notify.test_delivery import failing_feed, hook, smtp  # noqa: F401 - fixtures
from tests.jobs.sync.test_feeds import FeedServer, day


def only(kind: str) -> Notification:
    db.session.expire_all()
    [note] = db.session.execute(select(Notification).filter_by(kind=kind)).scalars().all()
    return note


def test_a_held_change_carries_the_property_exposure(app, smtp, hook, httpserver, make_property, make_link,
                                                     make_reservation):
    prop = make_property("Held Flat")
    make_reservation(prop, "direct", in_days=1, nights=2)
    # Four 2-night blocks (8 nights) that the held change keeps.
    feed = FeedServer(httpserver, "/f.ics", airbnb_feed([(day(5 + 7 * n), day(7 + 7 * n), "Reserved")
                                                         for n in range(4)]))
    link = make_link(prop, url=feed.url, source="airbnb")
    sync_links([link.id])
    feed.body = airbnb_feed([])
    assert sync_links([link.id])[0].outcome == "held"
    held = only("held_change")
    assert held.exposure == {"direct_bookings": 1, "sellable_nights": 20}
    assert held.error_kind == "suspicious_empty" and "accept the change" in held.advice
    [mail] = [m for m in smtp.inbox.messages if m["Subject"].startswith("Held change")]
    assert "1 upcoming direct booking and 20 sellable nights" in mail.get_content()
    [sent] = [a["body"] for a in hook.accepted if a["body"]["kind"] == "held_change"]
    assert sent["exposure"] == {"direct_bookings": 1, "sellable_nights": 20}


def test_an_overbooking_carries_the_property_exposure(app, smtp, hook, httpserver, make_property, make_link,
                                                      make_reservation):
    prop = make_property("Double Flat")
    make_reservation(prop, "direct", in_days=6, nights=2)
    feed = FeedServer(httpserver, "/o.ics", airbnb_feed([(day(5), day(9), "Reserved")]))
    link = make_link(prop, url=feed.url, source="airbnb")
    sync_links([link.id])
    periodic_checks()
    note = only("overbooking")
    # Nights 5..8 are booked (the direct stay lies inside the external block): 26 still sellable.
    assert note.exposure == {"direct_bookings": 1, "sellable_nights": 26}
    assert note.advice.startswith("call the guest")
    assert "1 upcoming direct booking and 26 sellable nights" in note.body
    assert [a["body"]["exposure"] for a in hook.accepted if a["body"]["kind"] == "overbooking"] == \
        [{"direct_bookings": 1, "sellable_nights": 26}]


def test_a_provider_incident_sums_the_exposure_of_its_properties(app, smtp, hook, httpserver, make_property,
                                                                 make_link, make_reservation, login):
    app.config.update(ALERT_INCIDENT_MIN_LINKS=3, ALERT_INCIDENT_MIN_PERCENT=50)
    feed = failing_feed(httpserver)
    one, two, three = (make_property(f"Flat {n}", owner_email=f"o{n}@example.com") for n in range(3))
    make_reservation(one, "direct", in_days=10, nights=3)           # 1 booking, 27 nights
    make_reservation(two, "direct", in_days=2, nights=2)            # 2 bookings, 26 nights
    make_reservation(two, "direct", in_days=20, nights=2)
    make_reservation(three, "direct", in_days=40, nights=2)         # beyond 30 days: 0, 30
    links = [make_link(one, url=f"{feed.url}?a", source="airbnb"),
             make_link(one, url=f"{feed.url}?b", source="airbnb"),  # a second link of the same property
             make_link(two, url=f"{feed.url}?c", source="airbnb"),
             make_link(three, url=f"{feed.url}?d", source="airbnb")]
    sync_links([link.id for link in links])
    incident = only("provider_incident")
    assert incident.exposure == {"direct_bookings": 3, "sellable_nights": 83}
    assert incident.details == {"links": 4, "properties": 3} and incident.advice
    [mail] = smtp.inbox.messages
    assert "3 upcoming direct bookings and 83 sellable nights" in mail.get_content()
    assert hook.accepted[0]["body"]["exposure"] == {"direct_bookings": 3, "sellable_nights": 83}
    html = login("viewer").get("/notifications/?kind=provider_incident").get_data(as_text=True)
    assert "3 direct bookings, 83 sellable nights" in html
