"""The link Test lists the stays that would overlap direct bookings already sold; Save asks first."""
from __future__ import annotations

import re
from datetime import timedelta

from console.extensions import db
from console.models import CalendarLink, Overbooking
from console.timeutil import utcnow
from tests.jobs.feeds import airbnb_feed


def day(n: int):
    return utcnow().date() + timedelta(days=n)


def feed_with_two_overlaps(httpserver) -> str:
    httpserver.expect_request("/owner.ics").respond_with_data(airbnb_feed([
        (day(10), day(13), "Reserved"), (day(30), day(32), "Reserved"), (day(50), day(52), "Reserved")]),
        content_type="text/calendar")
    return httpserver.url_for("/owner.ics")


def test_api_dry_run_lists_stays_overlapping_direct_bookings(api, httpserver, make_property, make_link,
                                                            make_reservation):
    prop = make_property()
    first = make_reservation(prop, "direct", in_days=11, nights=3)
    second = make_reservation(prop, "direct", in_days=29, nights=2)
    make_reservation(prop, "direct", in_days=40, nights=2)  # clear of every stay
    link = make_link(prop, url=feed_with_two_overlaps(httpserver), source="airbnb", state="linked")
    body = api("staff").post(f"/links/{link.id}/test").get_json()
    assert [(o["direct_code"], o["direct_check_in"], o["check_in"], o["check_out"])
            for o in body["direct_overlaps"]] == [
        (first.code, day(11).isoformat(), day(10).isoformat(), day(13).isoformat()),
        (second.code, day(29).isoformat(), day(30).isoformat(), day(32).isoformat())]
    assert db.session.query(Overbooking).count() == 0  # a test stores nothing


def test_dry_run_without_direct_bookings_warns_of_nothing(api, httpserver, make_property, make_link):
    prop = make_property()
    link = make_link(prop, url=feed_with_two_overlaps(httpserver), source="airbnb", state="linked")
    assert api("staff").post(f"/links/{link.id}/test").get_json()["direct_overlaps"] == []


def _csrf(page: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)


def test_save_asks_to_confirm_when_stays_overlap_direct_bookings(login, httpserver, make_property,
                                                                 make_reservation):
    client = login("staff")
    prop = make_property()
    direct = make_reservation(prop, "direct", in_days=11, nights=3)
    url = feed_with_two_overlaps(httpserver)
    page = client.get(f"/properties/{prop.id}").get_data(as_text=True)
    form = {"csrf_token": _csrf(page), "url": url, "source": "airbnb"}
    tested = client.post(f"/properties/{prop.id}/links/new", data={**form, "step": "test"})
    text = tested.get_data(as_text=True)
    assert 'data-test="direct-overlaps"' in text and direct.code in text and 'name="confirm_overlaps"' in text
    refused = client.post(f"/properties/{prop.id}/links/new", data={**form, "step": "save"})
    assert refused.status_code == 200 and "tick the box" in refused.get_data(as_text=True)
    assert db.session.query(CalendarLink).count() == 0
    saved = client.post(f"/properties/{prop.id}/links/new",
                        data={**form, "step": "save", "confirm_overlaps": "yes"})
    assert saved.status_code == 302 and db.session.query(CalendarLink).count() == 1


def test_save_without_overlaps_needs_no_confirmation(login, httpserver, make_property):
    client = login("staff")
    prop = make_property()
    page = client.get(f"/properties/{prop.id}").get_data(as_text=True)
    saved = client.post(f"/properties/{prop.id}/links/new", data={
        "csrf_token": _csrf(page), "url": feed_with_two_overlaps(httpserver), "source": "airbnb",
        "step": "save"})
    assert saved.status_code == 302 and db.session.query(CalendarLink).count() == 1
