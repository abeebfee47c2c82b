"""The export feed: public secret URL and API route, conditional GET, token rotation, read log."""
from __future__ import annotations

from datetime import date, datetime, timedelta
from urllib.parse import urlsplit

import icalendar
import pytest
from sqlalchemy import event, insert, select

from console.extensions import db
from console.models import ExportFetch, Reservation, new_reservation_code
from console.public.ical_feed import export_reads, platform_from_user_agent, record_export_fetch
from jobs.ical.parse import parse_feed

AIRBNB_UA = "Airbnb/1.0 (+https://www.airbnb.com) Calendar Import"  # plausible form: not published
GOOGLE_UA = "Mozilla/5.0 (compatible; Google-Calendar-Importer)"


def feed_path(prop) -> str:
    """The path of the property's public export URL."""
    return f"/export/{prop.export_token}/calendar.ics"


def stays_in(body: bytes, timezone: str = "Europe/Madrid") -> list[tuple[str, date, date]]:
    """(uid, check_in, check_out) of a feed, read by our own parser."""
    parsed = parse_feed(body, "ical", timezone, date.today(), horizon_days=4000)
    return sorted((s.uid, s.check_in, s.check_out) for s in parsed.stays)


@pytest.fixture
def flat(make_property, make_link, make_reservation):
    """A property with a direct booking, a manual block, an EX- block and an old direct stay."""
    prop = make_property(name="Sea View Flat")
    link = make_link(prop, source="airbnb")
    direct = make_reservation(prop, "direct", in_days=5, nights=3)
    direct.guest_name = "Jane Guestname"
    db.session.commit()
    manual = make_reservation(prop, "manual", in_days=20, nights=7)
    external = make_reservation(prop, "external", in_days=40, nights=2, link=link, uid="abc@airbnb.com")
    ended_long_ago = make_reservation(prop, "direct", in_days=-60, nights=3)
    return {"prop": prop, "direct": direct, "manual": manual, "external": external,
            "old": ended_long_ago}


# --- the feed ---------------------------------------------------------------------------------------------------

def test_public_feed_holds_direct_and_manual_stays_with_exact_dates_and_no_ex_blocks(client, flat):
    resp = client.get(feed_path(flat["prop"]), headers={"User-Agent": AIRBNB_UA})
    assert resp.status_code == 200
    assert resp.mimetype == "text/calendar"
    body = resp.get_data()
    expected = sorted((f"{r.code}@only-apartments.com", r.check_in, r.check_out)
                      for r in (flat["direct"], flat["manual"]))
    assert stays_in(body) == expected
    assert flat["external"].code.encode() not in body and b"EX-" not in body
    assert flat["old"].code.encode() not in body  # ended more than 30 days ago


def test_feed_says_reserved_and_never_names_the_guest(client, flat):
    body = client.get(feed_path(flat["prop"])).get_data()
    cal = icalendar.Calendar.from_ical(body)
    assert {str(e["SUMMARY"]) for e in cal.walk("VEVENT")} == {"Reserved"}
    assert b"Guestname" not in body
    assert cal["X-WR-CALNAME"].to_ical() == b"Sea View Flat"


def test_stay_that_ended_recently_is_kept_and_one_ended_beyond_the_history_is_not(client, make_property,
                                                                                   make_reservation):
    prop = make_property()
    recent = make_reservation(prop, "direct", in_days=-12, nights=2)  # ended 10 days ago
    old = make_reservation(prop, "manual", in_days=-40, nights=5)  # ended 35 days ago
    body = client.get(feed_path(prop)).get_data()
    assert recent.code.encode() in body and old.code.encode() not in body


def test_uids_and_body_are_stable_between_two_fetches(client, flat):
    first = client.get(feed_path(flat["prop"]))
    second = client.get(feed_path(flat["prop"]))
    uids = [str(e["UID"]) for e in icalendar.Calendar.from_ical(first.get_data()).walk("VEVENT")]
    assert uids == [str(e["UID"]) for e in icalendar.Calendar.from_ical(second.get_data()).walk("VEVENT")]
    assert len(set(uids)) == 2
    assert first.get_data() == second.get_data() and first.headers["ETag"] == second.headers["ETag"]


def test_feed_has_validators_and_private_five_minute_cache(client, flat):
    resp = client.get(feed_path(flat["prop"]))
    assert resp.headers["ETag"].startswith('"') and resp.headers["Last-Modified"]
    assert set(resp.headers["Cache-Control"].replace(" ", "").split(",")) == {"private", "max-age=300"}


def test_if_none_match_with_the_current_etag_gets_304_without_a_body(client, flat):
    etag = client.get(feed_path(flat["prop"])).headers["ETag"]
    resp = client.get(feed_path(flat["prop"]), headers={"If-None-Match": etag})
    assert resp.status_code == 304 and resp.get_data() == b""
    assert resp.headers["ETag"] == etag
    weak = client.get(feed_path(flat["prop"]), headers={"If-None-Match": f"W/{etag}"})
    assert weak.status_code == 304


def test_a_new_booking_changes_the_etag_and_the_old_one_gets_the_full_feed(client, flat, make_reservation):
    etag = client.get(feed_path(flat["prop"])).headers["ETag"]
    added = make_reservation(flat["prop"], "direct", in_days=60, nights=2)
    resp = client.get(feed_path(flat["prop"]), headers={"If-None-Match": etag})
    assert resp.status_code == 200 and resp.headers["ETag"] != etag
    assert added.code.encode() in resp.get_data()


def test_if_modified_since_alone_never_hides_a_cancelled_booking(client, flat):
    first = client.get(feed_path(flat["prop"]))
    db.session.delete(flat["manual"])
    db.session.commit()
    resp = client.get(feed_path(flat["prop"]),
                      headers={"If-Modified-Since": first.headers["Last-Modified"]})
    assert resp.status_code == 200
    assert flat["manual"].code.encode() not in resp.get_data()


# --- tokens -----------------------------------------------------------------------------------------------------

def test_unknown_token_gets_the_same_404_as_a_path_that_does_not_exist(client, flat):
    bad = client.get("/export/" + "x" * 43 + "/calendar.ics")
    odd = client.get("/export/not a token!/calendar.ics")
    nowhere = client.get("/no/such/page")
    assert bad.status_code == odd.status_code == nowhere.status_code == 404
    assert bad.get_data() == odd.get_data() == nowhere.get_data()
    assert db.session.execute(select(ExportFetch)).first() is None


def test_staff_rotation_returns_a_new_export_url_and_the_old_one_stops_working(client, api, flat):
    prop = flat["prop"]
    old_path = feed_path(prop)
    assert client.get(old_path).status_code == 200
    resp = api("staff").post(f"/properties/{prop.id}/export-token")
    assert resp.status_code == 200
    new_url = resp.get_json()["export_url"]
    new_path = urlsplit(new_url).path
    assert new_path != old_path and new_url.endswith("/calendar.ics")
    assert len(new_path.split("/")[2]) >= 32
    assert client.get(old_path).status_code == 404
    assert stays_in(client.get(new_path).get_data()) == stays_in(
        api("viewer").get(f"/properties/{prop.id}/calendar.ics").get_data())
    assert api("staff").get(f"/properties/{prop.id}").get_json()["export_url"] == new_url


def test_viewer_cannot_rotate_the_export_token(client, api, flat):
    old_path = feed_path(flat["prop"])
    resp = api("viewer").post(f"/properties/{flat['prop'].id}/export-token")
    assert resp.status_code == 403
    assert client.get(old_path).status_code == 200


def test_rotating_an_unknown_property_is_a_404(api):
    assert api("staff").post("/properties/999999/export-token").status_code == 404


# --- the API route ----------------------------------------------------------------------------------------------

def test_api_feed_needs_a_bearer_token(client, flat):
    resp = client.get(f"/api/v1/properties/{flat['prop'].id}/calendar.ics")
    assert resp.status_code == 401
    assert resp.get_json()["error"]["code"] == "unauthorized"


def test_api_feed_is_the_same_calendar_and_is_not_logged_as_a_platform_read(client, api, flat):
    resp = api("viewer").get(f"/properties/{flat['prop'].id}/calendar.ics")
    assert resp.status_code == 200 and resp.mimetype == "text/calendar"
    public = client.get(feed_path(flat["prop"]), headers={"User-Agent": GOOGLE_UA})
    assert resp.get_data() == public.get_data()
    assert db.session.execute(select(ExportFetch.platform)).scalars().all() == ["google"]
    again = api("viewer").get(f"/properties/{flat['prop'].id}/calendar.ics",
                              headers={"If-None-Match": resp.headers["ETag"]})
    assert again.status_code == 304


def test_api_feed_of_an_unknown_property_is_a_404(api):
    resp = api("viewer").get("/properties/999999/calendar.ics")
    assert resp.status_code == 404 and resp.get_json()["error"]["code"] == "not_found"


# --- who reads it -----------------------------------------------------------------------------------------------

@pytest.mark.parametrize("user_agent, platform", [
    # Seen in public code that serves calendars to Google's importer:
    ("Google-Calendar-Importer", "google"),
    ("Mozilla/5.0 (compatible; Google-Calendar-Importer)", "google"),
    ("Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)", "google"),
    # Plausible forms (the platforms do not publish their importers' User-Agents):
    ("Airbnb/1.0 (+https://www.airbnb.com) Calendar Import", "airbnb"),
    ("Mozilla/5.0 (compatible; AirbnbCalendarSync/2.3)", "airbnb"),
    ("Booking.com iCal Importer/1.0", "booking"),
    ("Mozilla/5.0 (compatible; Booking.com calendar sync; +https://www.booking.com)", "booking"),
    ("HomeAway iCal Importer/3.1", "vrbo"),
    ("Vrbo-Calendar-Sync/1.0 (+https://www.vrbo.com)", "vrbo"),
    ("Mozilla/5.0 (compatible; FeWo-direkt Kalender-Import)", "vrbo"),
    ("TripAdvisor Rentals Calendar Sync/1.0", "holidaylettings"),
    ("HolidayLettings-iCal/2.0", "holidaylettings"),
    ("Kigo Calendar Sync/1.0 (+https://kigo.net)", "kigo"),
    # Not a platform we know: a browser, scripts, Apple's calendar daemon, a look-alike name.
    ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
     "Chrome/124.0.0.0 Safari/537.36", "other"),
    ("python-requests/2.32.3", "other"),
    ("iOS/17.5 (21F79) dataaccessd/1.0", "other"),
    ("BookingSync Calendar/1.0", "other"),
    ("Kigoma-Fetcher/1.0", "other"),
    ("", "unknown"),
    ("   ", "unknown"),
    (None, "unknown"),
])
def test_platform_is_told_from_the_user_agent(user_agent, platform):
    assert platform_from_user_agent(user_agent) == platform


def test_each_public_read_is_logged_with_platform_user_agent_and_address(client, flat):
    client.get(feed_path(flat["prop"]), headers={"User-Agent": AIRBNB_UA},
               environ_base={"REMOTE_ADDR": "54.239.1.10"})
    row = db.session.execute(select(ExportFetch)).scalar_one()
    assert (row.property_id, row.platform, row.user_agent, row.remote_addr) == \
        (flat["prop"].id, "airbnb", AIRBNB_UA, "54.239.1.10")


def test_not_modified_reads_are_logged_too(client, flat):
    etag = client.get(feed_path(flat["prop"]), headers={"User-Agent": GOOGLE_UA}).headers["ETag"]
    db.session.execute(ExportFetch.__table__.delete())
    db.session.commit()
    resp = client.get(feed_path(flat["prop"]), headers={"User-Agent": GOOGLE_UA, "If-None-Match": etag})
    assert resp.status_code == 304
    assert db.session.execute(select(ExportFetch.platform)).scalars().all() == ["google"]


def test_a_platform_polling_every_minute_keeps_one_row_per_hour(client, flat):
    for _ in range(5):
        client.get(feed_path(flat["prop"]), headers={"User-Agent": AIRBNB_UA})
    client.get(feed_path(flat["prop"]), headers={"User-Agent": GOOGLE_UA})
    rows = db.session.execute(select(ExportFetch.platform).order_by(ExportFetch.platform)).scalars().all()
    assert rows == ["airbnb", "google"]


def test_throttle_updates_the_hours_row_and_starts_a_new_one_the_next_hour(app, flat):
    pid = flat["prop"].id
    base = datetime(2026, 3, 1, 10, 0, 5)
    for minute in range(0, 60, 7):
        record_export_fetch(pid, AIRBNB_UA, "54.239.1.10", now=base + timedelta(minutes=minute))
    record_export_fetch(pid, AIRBNB_UA, "54.239.1.11", now=base + timedelta(hours=1))
    rows = db.session.execute(select(ExportFetch.fetched_at, ExportFetch.remote_addr)
                              .order_by(ExportFetch.fetched_at)).all()
    assert rows == [(base + timedelta(minutes=56), "54.239.1.10"),
                    (base + timedelta(hours=1), "54.239.1.11")]


def test_overlong_user_agent_is_cut_to_fit_and_still_logged(client, flat):
    ua = "Mozilla/5.0 (compatible; Google-Calendar-Importer) " + "x" * 2000
    assert client.get(feed_path(flat["prop"]), headers={"User-Agent": ua}).status_code == 200
    row = db.session.execute(select(ExportFetch)).scalar_one()
    assert row.platform == "google" and row.user_agent == ua[:500]


def test_export_reads_give_each_platforms_last_read_newest_first(app, flat, make_property):
    pid = flat["prop"].id
    record_export_fetch(pid, AIRBNB_UA, None, now=datetime(2026, 3, 1, 8, 15))
    record_export_fetch(pid, AIRBNB_UA, None, now=datetime(2026, 3, 1, 11, 40))
    record_export_fetch(pid, GOOGLE_UA, None, now=datetime(2026, 3, 1, 9, 0))
    record_export_fetch(make_property(name="Other").id, GOOGLE_UA, None, now=datetime(2026, 3, 2, 9, 0))
    assert export_reads(pid) == [
        {"platform": "airbnb", "label": "Airbnb", "last_read_at": "2026-03-01T11:40:00Z"},
        {"platform": "google", "label": "Google", "last_read_at": "2026-03-01T09:00:00Z"},
    ]
    assert export_reads(make_property(name="Unread").id) == []


# --- who sees the secret ----------------------------------------------------------------------------------------

def test_viewer_tokens_never_read_the_export_secret(api, flat):
    prop = flat["prop"]
    viewer = api("viewer")
    one, listed = viewer.get(f"/properties/{prop.id}"), viewer.get("/properties")
    assert one.status_code == listed.status_code == 200
    assert one.get_json()["export_url"] is None
    assert [p["export_url"] for p in listed.get_json()["items"]] == [None]
    assert prop.export_token not in one.get_data(as_text=True) + listed.get_data(as_text=True)


@pytest.mark.parametrize("role", ["staff", "admin"])
def test_staff_and_admin_tokens_read_the_export_url(api, client, flat, role):
    prop = flat["prop"]
    token = api(role)
    url = token.get(f"/properties/{prop.id}").get_json()["export_url"]
    assert urlsplit(url).path == feed_path(prop)
    assert [p["export_url"] for p in token.get("/properties").get_json()["items"]] == [url]
    assert client.get(urlsplit(url).path).status_code == 200  # the address given works


def test_the_property_page_hides_the_export_address_from_viewers(login, flat):
    html = login("viewer").get(f"/properties/{flat['prop'].id}").get_data(as_text=True)
    assert flat["prop"].export_token not in html
    assert 'data-test="export-address-hidden"' in html and 'data-test="export-address"' not in html


def test_the_property_page_shows_the_export_address_to_staff(login, flat):
    html = login("staff").get(f"/properties/{flat['prop'].id}").get_data(as_text=True)
    assert 'data-test="export-address"' in html and feed_path(flat["prop"]) in html


# --- size -------------------------------------------------------------------------------------------------------

def test_feed_of_two_thousand_stays_comes_from_one_indexed_query(app, client, make_property):
    prop = make_property()
    start = date.today() - timedelta(days=25)
    rows = [{"code": new_reservation_code("direct" if i % 3 else "manual"), "property_id": prop.id,
             "origin": "direct" if i % 3 else "manual", "check_in": start + timedelta(days=i),
             "check_out": start + timedelta(days=i + 1)} for i in range(2000)]
    db.session.execute(insert(Reservation), rows)
    db.session.commit()
    statements: list[tuple[str, object]] = []

    def remember(conn, cursor, statement, params, context, executemany):
        statements.append((statement, params))
    event.listen(db.engine, "before_cursor_execute", remember)
    try:
        resp = client.get(feed_path(prop))
    finally:
        event.remove(db.engine, "before_cursor_execute", remember)
    reads = [(sql, params) for sql, params in statements if "FROM reservations" in sql]
    assert len(reads) == 1
    assert len(icalendar.Calendar.from_ical(resp.get_data()).walk("VEVENT")) == 2000
    if db.engine.dialect.name == "sqlite":  # PostgreSQL may rightly prefer a scan of so small a table
        raw = db.engine.raw_connection()
        try:
            plan = raw.cursor().execute("EXPLAIN QUERY PLAN " + reads[0][0], reads[0][1]).fetchall()
        finally:
            raw.close()
        assert "ix_reservations_property_dates" in " ".join(str(step) for step in plan)
