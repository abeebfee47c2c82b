"""First sync and re-syncs of real-looking feeds served on loopback, through sync_links and the database."""
from __future__ import annotations

import hashlib
from datetime import date, datetime, timedelta

import pytest
from sqlalchemy import select
from werkzeug import Request, Response

from console.extensions import db
from console.models import CalendarLink, Reservation, SyncRun
from console.timeutil import utcnow
from jobs.sync.runner import sync_links
from tests.jobs.feeds import (
    airbnb_feed,
    all_day,
    booking_feed,
    calendar,
    dt,
    event,
    google_event,
    google_header,
    vrbo_feed,
)


class FeedServer:
    """One feed path on a loopback server whose answer a test changes between syncs."""

    def __init__(self, httpserver, path: str, body: bytes = b"", *, etag: bool = False):
        self.body, self.status, self.headers = body, 200, {}
        self.content_type = "text/calendar; charset=utf-8"
        self.etag, self.requests = etag, 0
        httpserver.expect_request(path).respond_with_handler(self.answer)
        self.url = httpserver.url_for(path)

    def answer(self, request: Request) -> Response:
        """Serve the current body; 304 when the client already holds this body's ETag."""
        self.requests += 1
        headers = dict(self.headers)
        if self.etag and self.status == 200:
            tag = '"' + hashlib.sha1(self.body).hexdigest() + '"'
            headers["ETag"] = tag
            if request.headers.get("If-None-Match") == tag:
                return Response(b"", 304, headers=headers)
        return Response(self.body, self.status, headers=headers, content_type=self.content_type)


def without_event(body: bytes, index: int) -> bytes:
    """The feed with its index-th VEVENT left out (the others keep their UIDs)."""
    lines = body.split(b"\r\n")
    start = [i for i, line in enumerate(lines) if line == b"BEGIN:VEVENT"][index]
    end = [i for i, line in enumerate(lines) if line == b"END:VEVENT"][index]
    return b"\r\n".join(lines[:start] + lines[end + 1:])


def today() -> date:
    """The date sync_links uses by default."""
    return utcnow().date()


def blocks(link_id: int) -> list[tuple[str, date, date]]:
    """The link's EX- blocks as (code, check_in, check_out), by dates."""
    db.session.expire_all()
    rows = db.session.execute(select(Reservation).where(Reservation.link_id == link_id,
                                                        Reservation.origin == "external")
                              .order_by(Reservation.check_in, Reservation.id)).scalars()
    return [(r.code, r.check_in, r.check_out) for r in rows]


def dates(link_id: int) -> list[tuple[date, date]]:
    """The link's block dates only."""
    return [(ci, co) for _code, ci, co in blocks(link_id)]


def runs(link_id: int) -> list[SyncRun]:
    """The link's sync runs, oldest first."""
    db.session.expire_all()
    return list(db.session.execute(select(SyncRun).filter_by(link_id=link_id)
                                   .order_by(SyncRun.id)).scalars())


def fresh_link(link_id: int) -> CalendarLink:
    """The link as stored now."""
    db.session.expire_all()
    return db.session.get(CalendarLink, link_id)


def day(n: int) -> date:
    """The date n days from today."""
    return today() + timedelta(days=n)


@pytest.fixture
def prop(make_property):
    """A property in Madrid."""
    return make_property(timezone="Europe/Madrid")


def test_first_airbnb_sync_creates_one_ex_block_per_stay_with_feed_dates(httpserver, prop, make_link):
    feed = FeedServer(httpserver, "/airbnb.ics", airbnb_feed(
        [(day(5), day(9), "Reserved"), (day(20), day(21), "Airbnb (Not available)")]))
    link = make_link(prop, url=feed.url, source="airbnb")
    [summary] = sync_links([link.id])
    assert summary.outcome == "changed" and summary.added == 2
    stored = blocks(link.id)
    assert [(ci, co) for _c, ci, co in stored] == [(day(5), day(9)), (day(20), day(21))]
    assert all(code.startswith("EX-") for code, _ci, _co in stored)
    [run] = runs(link.id)
    assert (run.outcome, run.added, run.http_status, run.events) == ("changed", 2, 200, 2)
    assert sorted(run.details["added"]) == sorted(code for code, _ci, _co in stored)
    synced = fresh_link(link.id)
    assert synced.last_attempt_ok and synced.consecutive_failures == 0 and synced.next_sync_at > utcnow()


def test_vrbo_old_bare_dates_and_booking_bare_lf_feeds_keep_all_day_dates(httpserver, prop, make_link):
    vrbo = FeedServer(httpserver, "/vrbo.ics", vrbo_feed([(day(3), day(6), "Reserved - Ana"),
                                                          (day(40), day(47), "Blocked")], old_dates=True))
    booking = FeedServer(httpserver, "/booking.ics", booking_feed([(day(1), day(2))], backslashes=6))
    vrbo_link = make_link(prop, url=vrbo.url, source="vrbo")
    booking_link = make_link(prop, url=booking.url, source="booking")
    sync_links([vrbo_link.id, booking_link.id])
    assert dates(vrbo_link.id) == [(day(3), day(6)), (day(40), day(47))]
    assert dates(booking_link.id) == [(day(1), day(2))]


def test_google_blocks_reserved_only_and_timed_events_become_nights_in_property_zone(
        httpserver, make_property, make_link):
    prop = make_property(timezone="Europe/Madrid")
    def at(n: int, hour: int, minute: int = 0) -> datetime:
        return datetime.combine(day(n), datetime.min.time()).replace(hour=hour, minute=minute)
    late = at(30, 23, 30)
    lines = google_header()
    lines += google_event("a@google.com", all_day(day(4)), all_day(day(7)), " reserved ")
    lines += google_event("b@google.com", f";TZID=Europe/Madrid:{dt(at(10, 16))}",
                          f";TZID=Europe/Madrid:{dt(at(12, 11))}", "Reserved")
    # 23:30 UTC is already the next day in Madrid: the nights follow the property's clock.
    lines += google_event("c@google.com", f":{dt(late, utc=True)}",
                          f":{dt(late + timedelta(days=2), utc=True)}", "Reserved")
    lines += google_event("d@google.com", all_day(day(15)), all_day(day(16)), "Dentist")
    lines += event("e@google.com", all_day(day(20)), all_day(day(22)), "Reserved", "STATUS:CANCELLED")
    feed = FeedServer(httpserver, "/basic.ics", calendar(lines))
    link = make_link(prop, url=feed.url, source="google")
    sync_links([link.id])
    assert dates(link.id) == [(day(4), day(7)), (day(10), day(12)), (day(31), day(33))]
    synced = fresh_link(link.id)
    # Only the "Reserved" rule's misses count (they put the property at risk); the cancelled
    # event is listed with its reason but is no one's mistake.
    assert synced.ignored_events == 1
    assert {(i["summary"], i["reason"]) for i in synced.ignored_detail} == {
        ("Dentist", 'not titled "Reserved"'), ("Reserved", "cancelled (STATUS:CANCELLED)")}
    assert any(w["kind"] == "ignored_events" for w in synced.warnings)


def test_same_feed_twice_changes_nothing_and_keeps_codes(httpserver, prop, make_link):
    feed = FeedServer(httpserver, "/a.ics", airbnb_feed([(day(5), day(9), "Reserved")]))
    link = make_link(prop, url=feed.url, source="airbnb")
    sync_links([link.id])
    before = blocks(link.id)
    feed.body = feed.body.replace(b"DTSTAMP:20250301T101010Z", b"DTSTAMP:20250302T111111Z")
    [summary] = sync_links([link.id])
    assert summary.outcome == "unchanged"
    assert blocks(link.id) == before
    assert [r.outcome for r in runs(link.id)] == ["changed", "unchanged"]


def test_a_quiet_resync_still_refreshes_the_property_risk(httpserver, prop, make_link,
                                                         make_reservation):
    feed = FeedServer(httpserver, "/a.ics", airbnb_feed([(day(5), day(9), "Reserved")]), etag=True)
    link = make_link(prop, url=feed.url, source="airbnb")
    sync_links([link.id])
    db.session.refresh(prop)
    assert prop.risk_factors == [] and prop.risk_computed_at is not None
    first_computed = prop.risk_computed_at
    # A manual block written behind the API's back (another tool, a migration): the next sync,
    # even one that changes nothing, must show the risk it brings.
    make_reservation(prop, "manual", in_days=20)
    [summary] = sync_links([link.id])
    assert summary.outcome == "not_modified"
    db.session.refresh(prop)
    assert [f["kind"] for f in prop.risk_factors] == ["manual_blocks"]
    assert prop.risk_level == "medium" and prop.risk_computed_at > first_computed


def test_identical_body_is_recognised_by_its_content_hash(httpserver, prop, make_link):
    feed = FeedServer(httpserver, "/a.ics", airbnb_feed([(day(5), day(9), "Reserved")]))
    link = make_link(prop, url=feed.url, source="airbnb")
    sync_links([link.id])
    before = blocks(link.id)
    sync_links([link.id])
    last = runs(link.id)[-1]
    assert last.outcome == "unchanged" and last.events is None  # not parsed again
    assert blocks(link.id) == before and feed.requests == 2


def test_etag_304_is_recorded_as_not_modified_and_keeps_blocks(httpserver, prop, make_link):
    feed = FeedServer(httpserver, "/a.ics", airbnb_feed([(day(5), day(9), "Reserved")]), etag=True)
    link = make_link(prop, url=feed.url, source="airbnb")
    sync_links([link.id])
    before = blocks(link.id)
    [summary] = sync_links([link.id])
    assert summary.outcome == "not_modified"
    last = runs(link.id)[-1]
    assert (last.outcome, last.http_status) == ("not_modified", 304)
    assert blocks(link.id) == before and fresh_link(link.id).last_attempt_ok


def test_moved_stay_updates_its_block_and_keeps_its_code(httpserver, prop, make_link):
    feed = FeedServer(httpserver, "/a.ics", airbnb_feed([(day(5), day(9), "Reserved"),
                                                          (day(30), day(32), "Reserved")]))
    link = make_link(prop, url=feed.url, source="airbnb")
    sync_links([link.id])
    codes = [code for code, _ci, _co in blocks(link.id)]
    feed.body = airbnb_feed([(day(6), day(10), "Reserved"), (day(30), day(32), "Reserved")])
    [summary] = sync_links([link.id])
    assert (summary.outcome, summary.updated, summary.added, summary.removed) == ("changed", 1, 0, 0)
    assert blocks(link.id) == [(codes[0], day(6), day(10)), (codes[1], day(30), day(32))]
    assert runs(link.id)[-1].details["updated"] == [codes[0]]
    # The history says what moved, from where to where.
    assert runs(link.id)[-1].details["changes"] == [{
        "code": codes[0], "change": "updated", "check_in": day(6).isoformat(),
        "check_out": day(10).isoformat(), "was": [day(5).isoformat(), day(9).isoformat()]}]


def test_vanished_stay_removes_its_block_and_the_run_names_it(httpserver, prop, make_link):
    stays = [(day(5), day(9), "Reserved"), (day(30), day(32), "Reserved"), (day(50), day(52), "Reserved")]
    feed = FeedServer(httpserver, "/a.ics", airbnb_feed(stays))
    link = make_link(prop, url=feed.url, source="airbnb")
    sync_links([link.id])
    before = blocks(link.id)
    feed.body = without_event(feed.body, 1)
    [summary] = sync_links([link.id])
    assert (summary.outcome, summary.removed) == ("changed", 1)
    assert blocks(link.id) == [before[0], before[2]]
    assert runs(link.id)[-1].details["removed"] == [before[1][0]]
    # The removed block is gone from the calendar, yet the run still tells which nights it held.
    assert runs(link.id)[-1].details["changes"] == [{
        "code": before[1][0], "change": "removed", "check_in": day(30).isoformat(),
        "check_out": day(32).isoformat()}]


def test_past_blocks_are_kept_when_the_feed_drops_its_history(httpserver, prop, make_link, make_reservation):
    feed = FeedServer(httpserver, "/a.ics", airbnb_feed([(day(5), day(9), "Reserved")]))
    link = make_link(prop, url=feed.url, source="airbnb")
    past = make_reservation(prop, origin="external", in_days=-10, nights=3, link=link, uid="old@airbnb.com",
                            today=today())
    sync_links([link.id])
    assert (past.code, day(-10), day(-7)) in blocks(link.id)
    assert len(blocks(link.id)) == 2


def test_direct_and_manual_stays_are_never_touched_by_a_sync(httpserver, prop, make_link, make_reservation):
    feed = FeedServer(httpserver, "/a.ics", airbnb_feed([(day(5), day(9), "Reserved")]))
    link = make_link(prop, url=feed.url, source="airbnb")
    direct = make_reservation(prop, origin="direct", in_days=40, nights=2)
    manual = make_reservation(prop, origin="manual", in_days=60, nights=2)
    sync_links([link.id])
    feed.body = airbnb_feed([])
    sync_links([link.id])
    db.session.expire_all()
    codes = set(db.session.execute(select(Reservation.code)).scalars())
    assert {direct.code, manual.code} <= codes


def test_today_is_the_property_day_so_tonight_is_never_taken_for_the_past(httpserver,
                                                                           make_property,
                                                                           make_link):
    from console.timeutil import local_today
    # A zone whose date differs from UTC's right now: one of the two always does.
    zone = next(z for z in ("Pacific/Pago_Pago", "Pacific/Kiritimati")
                if local_today(z) != utcnow().date())
    local = local_today(zone)
    stays = [(local - timedelta(days=1), local), (local, local + timedelta(days=1)),
             (local + timedelta(days=1), local + timedelta(days=3))]
    feed = FeedServer(httpserver, "/edge.ics", airbnb_feed([(a, b, "Reserved") for a, b in stays]))
    link = make_link(make_property(timezone=zone), url=feed.url, source="airbnb")
    sync_links([link.id])
    # Tonight (local) is ahead; the stay that ended this morning (local) is history.
    assert dates(link.id) == stays[1:]


def test_an_unchanged_feed_is_parsed_again_on_a_new_day_so_repeats_reach_the_horizon(
        httpserver, prop, make_link):
    start = utcnow().date()
    body = calendar(["PRODID:-//Example//Owner calendar//EN", "VERSION:2.0",
                     *event("weekly@example.com", all_day(start), all_day(start + timedelta(days=2)),
                            "Booked", "RRULE:FREQ=WEEKLY")])
    feed = FeedServer(httpserver, "/weekly.ics", body, etag=True)
    link = make_link(prop, url=feed.url, source="ical")
    sync_links([link.id], today=start)
    first = len(blocks(link.id))
    [same_day] = sync_links([link.id], today=start)
    assert same_day.outcome == "not_modified"  # the same day: the validators are trusted
    [later] = sync_links([link.id], today=start + timedelta(days=14))
    # The same bytes, yet two weeks on the horizon holds two more weeks of the series.
    assert (later.outcome, later.added) == ("changed", 2)
    assert len(blocks(link.id)) == first + 2
    assert fresh_link(link.id).parsed_on == start + timedelta(days=14)


def test_a_block_whose_event_became_unreadable_is_kept_while_a_vanished_one_goes(
        httpserver, prop, make_link):
    def feed(*events):
        return calendar(["PRODID:-//Example//Channel Manager//EN", "VERSION:2.0",
                         *[line for ev in events for line in ev]])
    keep = event("keep@example.com", all_day(day(5)), all_day(day(8)), "Booked")
    gone = event("gone@example.com", all_day(day(20)), all_day(day(22)), "Booked")
    stay = event("stay@example.com", all_day(day(40)), all_day(day(44)), "Booked")
    served = FeedServer(httpserver, "/cm.ics", feed(keep, gone, stay))
    link = make_link(prop, url=served.url, source="ical")
    sync_links([link.id])
    before = {uid: code for code, uid in
              db.session.execute(db.select(Reservation.code, Reservation.external_uid)
                                 .where(Reservation.link_id == link.id)).all()}
    # The generator broke one event (no DTSTART) and the guest of another cancelled.
    broken = [line for line in keep if not line.startswith("DTSTART")]
    served.body = feed(broken, stay)
    [summary] = sync_links([link.id])
    assert (summary.outcome, summary.removed) == ("changed", 1)
    after = dict(db.session.execute(db.select(Reservation.external_uid, Reservation.code)
                                    .where(Reservation.link_id == link.id)).all())
    assert after == {"keep@example.com": before["keep@example.com"],
                     "stay@example.com": before["stay@example.com"]}
    assert dates(link.id) == [(day(5), day(8)), (day(40), day(44))]


def test_a_feed_with_nul_bytes_after_the_first_kilobyte_syncs_on_every_backend(httpserver, prop,
                                                                               make_link):
    stays = [(day(5 + 3 * n), day(6 + 3 * n), "Reserved") for n in range(8)]
    body = airbnb_feed([*stays, (day(40), day(41), "Airbnb (Not available)")])
    cut = body.index(b"SUMMARY:Airbnb") + len(b"SUMMARY:Air")
    assert cut > 1024  # past the first kilobyte, where a sniff of the head would not look
    body = body[:cut] + b"\x00" + body[cut:]  # inside a title the database stores
    feed = FeedServer(httpserver, "/nul.ics", body)
    link = make_link(prop, url=feed.url, source="airbnb")
    [summary] = sync_links([link.id])
    assert (summary.outcome, summary.added) == ("changed", 9), summary.line()
    titles = db.session.execute(select(Reservation.summary).where(Reservation.link_id == link.id)
                                .order_by(Reservation.check_in)).scalars().all()
    assert titles == ["Reserved"] * 8 + ["Airbnb (Not available)"]
    assert fresh_link(link.id).last_attempt_ok is True
