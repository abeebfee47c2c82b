"""API: linking calendars, with the URL checks of docs/api.md."""
from console.extensions import db
from console.models import CalendarLink


def test_link_an_ical_url_detects_the_source(api, make_property):
    prop = make_property()
    resp = api("staff").post(f"/properties/{prop.id}/links", json={
        "url": "https://www.airbnb.com/calendar/ical/1234567890123456789.ics?s=abc123"})
    assert resp.status_code == 201
    link = resp.get_json()
    assert link["source"] == "airbnb" and link["state"] == "linked"
    assert link["health"] == "never_synced" and link["blocks"] == 0
    for field in ("id", "property_id", "url", "last_sync_at", "last_success_at", "next_sync_at",
                  "consecutive_failures", "last_error", "warnings", "ignored_events"):
        assert field in link
    assert api("viewer").get(f"/links/{link['id']}").get_json()["url"] == link["url"]


def test_webcal_is_stored_as_https(api, make_property):
    prop = make_property()
    link = api("staff").post(f"/properties/{prop.id}/links", json={
        "url": "webcal://calendar.google.com/calendar/ical/abc%40group.calendar.google.com"
               "/public/basic.ics"}).get_json()
    assert link["url"].startswith("https://calendar.google.com/") and link["source"] == "google"


def test_refused_urls_get_their_error_codes_and_store_nothing(api, make_property):
    prop = make_property()
    staff = api("staff")
    cases = {
        "ftp://example.com/cal.ics": "invalid_url",
        "not a url": "invalid_url",
        "http://127.0.0.2/cal.ics": "blocked_address",
        "http://10.0.0.5/cal.ics": "blocked_address",
        "http://169.254.169.254/latest/meta-data": "blocked_address",
        "http://[::1]/cal.ics": "blocked_address",
        "https://calendar.google.com/calendar/embed?src=owner%40gmail.com": "not_ical_url",
    }
    for url, code in cases.items():
        resp = staff.post(f"/properties/{prop.id}/links", json={"url": url})
        assert resp.status_code == 422, url
        assert resp.get_json()["error"]["code"] == code, url
    assert db.session.query(CalendarLink).count() == 0


def test_google_embed_page_suggests_the_ical_address(api, make_property):
    prop = make_property()
    resp = api("staff").post(f"/properties/{prop.id}/links", json={
        "url": "https://calendar.google.com/calendar/embed?src=owner%40gmail.com&ctz=Europe/Madrid"})
    error = resp.get_json()["error"]
    assert error["suggested_url"] == (
        "https://calendar.google.com/calendar/ical/owner%40gmail.com/public/basic.ics")


def test_unresolvable_host_is_accepted(api, make_property):
    prop = make_property()
    resp = api("staff").post(f"/properties/{prop.id}/links",
                             json={"url": "https://no-such-host.invalid/cal.ics"})
    assert resp.status_code == 201 and resp.get_json()["source"] == "ical"


def test_duplicate_link_is_refused(api, make_property):
    prop = make_property()
    staff = api("staff")
    url = "https://www.vrbo.com/icalendar/0123abcd.ics"
    assert staff.post(f"/properties/{prop.id}/links", json={"url": url}).status_code == 201
    for same in ("webcal://WWW.Vrbo.com/icalendar/0123abcd.ics",
                 "https://www.vrbo.com:443/icalendar/0123abcd.ics "):
        resp = staff.post(f"/properties/{prop.id}/links", json={"url": same})
        assert resp.status_code == 422 and resp.get_json()["error"]["code"] == "duplicate_link"
    other = make_property("Other")
    assert staff.post(f"/properties/{other.id}/links", json={"url": url}).status_code == 201


def test_given_source_is_kept_and_bad_source_refused(api, make_property):
    prop = make_property()
    staff = api("staff")
    link = staff.post(f"/properties/{prop.id}/links", json={
        "url": "https://cal.example.com/x.ics", "source": "9flats"}).get_json()
    assert link["source"] == "9flats"
    resp = staff.post(f"/properties/{prop.id}/links", json={
        "url": "https://cal.example.com/y.ics", "source": "myspace"})
    assert resp.status_code == 422 and resp.get_json()["error"]["field"] == "source"


def test_pause_and_missing_links(api, make_property, make_link):
    link = make_link(make_property(), state="active")
    staff = api("staff")
    resp = staff.post(f"/links/{link.id}/pause")
    assert resp.status_code == 200 and resp.get_json()["state"] == "paused"
    assert staff.post("/links/999/pause").status_code == 404
    assert api("viewer").post(f"/links/{link.id}/pause").status_code == 403


def test_sync_of_a_link_not_active_is_409(api, make_property, make_link):
    link = make_link(make_property(), state="linked")
    resp = api("staff").post(f"/links/{link.id}/sync")
    assert resp.status_code == 409 and resp.get_json()["error"]["code"] == "link_not_active"


def test_resume_syncs_a_paused_link_again_and_refuses_an_active_one(api, make_property, make_link):
    link = make_link(make_property())
    staff = api("staff")
    assert staff.post(f"/links/{link.id}/resume").status_code == 409
    assert staff.post(f"/links/{link.id}/pause").get_json()["state"] == "paused"
    resp = staff.post(f"/links/{link.id}/resume")
    assert resp.status_code == 202 and resp.get_json()["job_id"]
    assert resp.get_json()["link"]["state"] == "active"
    assert api("viewer").post(f"/links/{link.id}/resume").status_code == 403
    err = staff.post(f"/links/{link.id}/resume").get_json()["error"]
    assert err["code"] == "link_not_paused"


def test_a_test_of_a_feed_that_never_ends_answers_at_the_wall_clock_limit(app, api, make_property,
                                                                          make_link):
    import time

    from tests.jobs.feeds import airbnb_feed
    from tests.jobs.sync.test_feeds import day
    from tests.jobs.sync.test_killed import HeldFeed
    feed = HeldFeed(airbnb_feed([(day(5), day(8), "Reserved")]))
    feed.holding = True  # half the body, then nothing
    try:
        link = make_link(make_property(), url=feed.url, source="airbnb")
        app.config["DRY_RUN_TIMEOUT_SECONDS"] = 1
        began = time.monotonic()
        resp = api("staff").post(f"/links/{link.id}/test")
        assert time.monotonic() - began < 5
        assert resp.status_code == 504 and resp.get_json()["error"]["code"] == "test_timeout"
        assert db.session.get(CalendarLink, link.id).last_sync_at is None  # nothing stored
    finally:
        feed.close()


def test_a_test_of_an_expansion_bomb_answers_too_complex_within_the_budget(api, httpserver,
                                                                            make_property, make_link):
    import time

    from tests.jobs.ical.test_parse_budget import _bomb_every_second
    from tests.jobs.sync.test_feeds import FeedServer
    feed = FeedServer(httpserver, "/bomb.ics", _bomb_every_second())
    link = make_link(make_property(), url=feed.url, source="ical")
    began = time.monotonic()
    body = api("staff").post(f"/links/{link.id}/test").get_json()
    assert time.monotonic() - began < 10
    assert body["ok"] is False and body["error"]["kind"] == "too_complex" and body["error"]["advice"]
