
"""Every failed sync leaves the blocks exactly as they were, records the run and backs the link off."""
from __future__ import annotations

import contextlib
import gzip
import json
import socket
import threading
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest

from console.extensions import db
from console.timeutil import utcnow
from jobs.sync.blocks import MAX_BACKOFF
from jobs.sync.runner import sync_links
from tests.jobs.feeds import airbnb_feed, all_day, calendar, google_event, google_header
from tests.jobs.fetch.test_feed import certs, https_server  # noqa: F401 - certs is a fixture
from tests.jobs.sync.test_feeds import FeedServer, blocks, day, fresh_link, runs

GOOGLE_404_PAGE = (b"<!DOCTYPE html><html lang=en><meta charset=utf-8><title>Error 404 (Not Found)!!1</title>"
                   b"<p><b>404.</b> <ins>That\xe2\x80\x99s an error.</ins><p>The requested URL was not found "
                   b"on this server. <ins>That\xe2\x80\x99s all we know.</ins></html>")


@pytest.fixture
def synced(httpserver, make_property, make_link):
    """A link synced once from a good feed with three future stays; returns (link id, feed, blocks)."""
    def make(source="airbnb"):
        prop = make_property(timezone="Europe/Madrid")
        if source == "google":
            lines = google_header()
            for n, start in enumerate((5, 20, 40)):
                lines += google_event(f"g{n}@google.com", all_day(day(start)), all_day(day(start + 3)),
                                      "Reserved")
            body = calendar(lines)
        else:
            body = airbnb_feed([(day(5), day(8), "Reserved"), (day(20), day(23), "Reserved"),
                                (day(40), day(43), "Airbnb (Not available)")])
        feed = FeedServer(httpserver, f"/{source}.ics", body)
        link = make_link(prop, url=feed.url, source=source)
        [summary] = sync_links([link.id])
        assert summary.added == 3
        return link.id, feed, blocks(link.id)
    return make


def assert_failed_safely(link_id: int, before: list, kind: str, http_status: int | None = None):
    """The failure was recorded on the run and the link, and no block changed."""
    assert blocks(link_id) == before
    last = runs(link_id)[-1]
    assert (last.outcome, last.error_kind, last.http_status) == ("error", kind, http_status)
    assert last.added == last.updated == last.removed == 0
    link = fresh_link(link_id)
    assert link.last_error_kind == kind and link.last_error_http_status == http_status
    assert link.last_attempt_ok is False and link.consecutive_failures == 1
    assert link.next_sync_at > utcnow()
    assert link.last_success_at is not None  # the earlier success is still known


def test_google_404_html_page_is_not_found_and_keeps_blocks(synced):
    link_id, feed, before = synced("google")
    feed.status, feed.body, feed.content_type = 404, GOOGLE_404_PAGE, "text/html; charset=UTF-8"
    [summary] = sync_links([link_id])
    assert summary.outcome == "error"
    assert_failed_safely(link_id, before, "not_found", 404)


@pytest.mark.parametrize("status,kind", [(403, "forbidden"), (401, "forbidden"), (500, "server_error"),
                                         (503, "server_error"), (410, "not_found"), (418, "http_error")])
def test_error_statuses_keep_blocks(synced, status, kind):
    link_id, feed, before = synced()
    feed.status, feed.body, feed.content_type = status, b"<html>nope</html>", "text/html"
    sync_links([link_id])
    assert_failed_safely(link_id, before, kind, status)


def test_429_with_retry_after_is_honoured_by_next_sync_at(synced):
    link_id, feed, before = synced()
    feed.status, feed.body, feed.headers = 429, b"Too Many Requests", {"Retry-After": "3600"}
    started = utcnow()
    sync_links([link_id])
    assert_failed_safely(link_id, before, "rate_limited", 429)
    assert fresh_link(link_id).next_sync_at >= started + timedelta(seconds=3600)


def test_a_429_on_one_link_backs_off_that_link_only_not_its_neighbours_on_the_host(
        app, httpserver, make_property, make_link):
    app.config.update(FETCH_CONCURRENCY=1, FETCH_PER_HOST_LIMIT=1)
    good = airbnb_feed([(day(5), day(8), "Reserved")])
    feeds = [FeedServer(httpserver, f"/host-{n}.ics", good) for n in range(4)]
    links = [make_link(make_property(), url=feed.url, source="airbnb") for feed in feeds]
    sync_links([link.id for link in links])
    before = {link.id: blocks(link.id) for link in links}
    feeds[0].status, feeds[0].body = 429, b"Too Many Requests"
    feeds[0].headers = {"Retry-After": "600"}
    started = utcnow()
    summaries = {s.link_id: s for s in sync_links([link.id for link in links])}
    # The owner whose feed said 429 waits its Retry-After; the other owners on that host are not
    # recorded as failing for it (their sync success is part of their score).
    assert summaries[links[0].id].error_kind == "rate_limited"
    assert fresh_link(links[0].id).next_sync_at >= started + timedelta(seconds=590)
    for link in links[1:]:
        assert summaries[link.id].outcome in ("unchanged", "not_modified")
        assert fresh_link(link.id).last_attempt_ok
    for link in links:
        assert blocks(link.id) == before[link.id]


@pytest.mark.parametrize("body,content_type,kind", [
    (b"<!DOCTYPE html><html><body>Your listing calendar</body></html>", "text/html", "not_ical"),
    (b"<?xml version='1.0'?><feed xmlns='http://www.w3.org/2005/Atom'><entry/></feed>",
     "application/atom+xml", "not_ical"),
    (json.dumps({"events": [{"start": "2030-01-01"}]}).encode(), "application/json", "not_ical"),
    (b"\x00\x01garbage\xff\xfe not a calendar at all", "text/calendar", "not_ical"),
    (b"BEGIN:VCALENDAR\r\nVERSION:2.0\r\nBEGIN:VEVENT\r\nDTSTART;VALUE=DATE:2030", "text/calendar",
     "invalid_ical"),
    (b"", "text/calendar", "invalid_ical"),  # an empty body is not an empty Airbnb calendar
])
def test_non_ical_bodies_with_200_keep_blocks(synced, body, content_type, kind):
    link_id, feed, before = synced()
    feed.body, feed.content_type = body, content_type
    sync_links([link_id])
    assert_failed_safely(link_id, before, kind, 200)


def test_calendar_whose_events_are_all_unreadable_is_held_not_applied(synced):
    # Issue 13: an unreadable event no longer fails the feed as invalid_ical; when most of a feed's events
    # cannot be read, the guard holds the sync and every block is kept.
    link_id, feed, before = synced()
    feed.body = (b"BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nDTSTART;VALUE=DATE:garbage\r\nUID:x\r\nEND:VEVENT\r\n"
                 b"END:VCALENDAR\r\n")
    sync_links([link_id])
    assert blocks(link_id) == before
    last = runs(link_id)[-1]
    assert last.outcome == "held" and last.removed == 0
    [unreadable] = last.details["unreadable"]
    assert (unreadable["uid"], unreadable["line"]) == ("x", 2) and unreadable["reason"].startswith("It has")
    assert any(w["kind"] == "suspicious_empty" and "cannot be read" in w["message"]
               for w in fresh_link(link_id).warnings)


class RawServer:
    """A loopback socket server that answers every request with `script(conn, stop)`."""

    def __init__(self, script):
        self.listener = socket.socket()
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(8)
        self.stop, self.script = threading.Event(), script
        self.thread = threading.Thread(target=self.serve, daemon=True)
        self.thread.start()
        self.url = f"http://127.0.0.1:{self.listener.getsockname()[1]}/feed.ics"

    def serve(self):
        while True:
            try:
                conn, _ = self.listener.accept()
            except OSError:
                return
            with conn:
                data = b""
                while b"\r\n\r\n" not in data:
                    chunk = conn.recv(4096)
                    if not chunk:
                        break
                    data += chunk
                with contextlib.suppress(OSError):
                    self.script(conn, self.stop)

    def close(self):
        self.stop.set()
        self.listener.shutdown(socket.SHUT_RDWR)
        self.listener.close()
        self.thread.join(5)


@pytest.fixture
def raw_server():
    """raw_server(script) -> RawServer, closed after the test."""
    servers = []
    yield lambda script: servers.append(RawServer(script)) or servers[-1]
    for server in servers:
        server.close()


def point_link_at(link_id: int, url: str) -> None:
    """Change the stored URL of a link (a feed that moved to a misbehaving server)."""
    link = fresh_link(link_id)
    link.url = url
    db.session.commit()


def test_body_cut_mid_transfer_is_connect_not_a_short_calendar(synced, raw_server):
    link_id, _feed, before = synced()
    short = airbnb_feed([(day(5), day(8), "Reserved")])  # a valid calendar, but cut: fewer stays
    head = (f"HTTP/1.1 200 OK\r\nContent-Type: text/calendar\r\nContent-Length: {len(short) + 500}\r\n"
            "Connection: close\r\n\r\n").encode()
    server = raw_server(lambda conn, stop: conn.sendall(head + short))
    point_link_at(link_id, server.url)
    sync_links([link_id])
    assert_failed_safely(link_id, before, "connect", None)


def test_silent_server_is_a_timeout_within_fetch_timeout_seconds(app, synced, raw_server):
    link_id, _feed, before = synced()
    server = raw_server(lambda conn, stop: stop.wait(10))
    point_link_at(link_id, server.url)
    app.config["FETCH_TIMEOUT_SECONDS"] = 0.5
    sync_links([link_id])
    assert_failed_safely(link_id, before, "timeout", None)
    assert runs(link_id)[-1].duration_ms < 3000


def test_feed_over_fetch_max_bytes_is_too_large(app, synced):
    link_id, feed, before = synced()
    app.config["FETCH_MAX_BYTES"] = 2048
    feed.body = airbnb_feed([(day(n), day(n + 1), "Reserved") for n in range(5, 60)])
    assert len(feed.body) > 2048
    sync_links([link_id])
    assert_failed_safely(link_id, before, "too_large", None)


@pytest.mark.parametrize("location", ["http://169.254.169.254/latest/meta-data/",
                                      "http://10.0.0.7/feed.ics", "http://[::1]/feed.ics"])
def test_redirect_to_a_non_allowed_address_is_blocked(synced, location):
    link_id, feed, before = synced()
    feed.status, feed.body, feed.headers = 302, b"", {"Location": location}
    sync_links([link_id])
    assert_failed_safely(link_id, before, "blocked_address", None)


def test_unresolvable_host_is_a_dns_failure(synced):
    link_id, _feed, before = synced()
    point_link_at(link_id, "https://calendar.example.invalid/feed.ics")
    sync_links([link_id])
    assert_failed_safely(link_id, before, "dns", None)


def test_backoff_doubles_with_each_failure_and_is_capped_at_six_hours(app, synced):
    link_id, feed, before = synced()
    feed.status, feed.body = 500, b"oops"
    interval = timedelta(minutes=app.config["SYNC_INTERVAL_MINUTES"])
    delays = []
    for _ in range(8):
        sync_links([link_id])
        link = fresh_link(link_id)
        delays.append(link.next_sync_at - link.last_sync_at)
    assert fresh_link(link_id).consecutive_failures == 8
    for n, delay in enumerate(delays[:4]):  # 15, 30, 60, 120 minutes, +-10% jitter
        expected = interval * 2 ** n
        assert expected * 0.89 <= delay <= expected * 1.11, (n, delay)
    assert all(delay <= MAX_BACKOFF for delay in delays)
    assert delays[-1] >= MAX_BACKOFF * 0.89
    assert blocks(link_id) == before


def test_success_after_failures_clears_the_error_and_the_backoff(synced):
    link_id, feed, before = synced()
    good = feed.body
    feed.status, feed.body = 503, b"down"
    sync_links([link_id])
    feed.status, feed.body = 200, good
    [summary] = sync_links([link_id])
    assert summary.outcome in ("unchanged", "not_modified")
    link = fresh_link(link_id)
    assert (link.consecutive_failures, link.last_error_kind, link.last_attempt_ok) == (0, None, True)
    assert blocks(link_id) == before


# --- transfer failures only the fetcher tests covered, now through sync_links and the database -------

SHORT_FEED = airbnb_feed([(day(5), day(8), "Reserved")])  # valid, but fewer stays: must never be applied
CHUNKED_HEAD = b"HTTP/1.1 200 OK\r\nContent-Type: text/calendar\r\nTransfer-Encoding: chunked\r\n\r\n"


def _answer(body: bytes, *headers: str) -> bytes:
    """A whole raw HTTP response with a Content-Length for `body` and the extra header lines."""
    head = ["HTTP/1.1 200 OK", "Content-Type: text/calendar", f"Content-Length: {len(body)}",
            "Connection: close", *headers]
    return ("\r\n".join(head) + "\r\n\r\n").encode() + body


def _chunk(data: bytes) -> bytes:
    return b"%x\r\n%s\r\n" % (len(data), data)


@pytest.mark.parametrize("answer,kind", [
    pytest.param(CHUNKED_HEAD + _chunk(SHORT_FEED) + b"ZZ\r\n", "connect", id="chunk-size-not-hex"),
    pytest.param(CHUNKED_HEAD + _chunk(SHORT_FEED), "connect", id="chunked-without-last-chunk"),
    pytest.param(CHUNKED_HEAD + b"%x\r\n" % (len(SHORT_FEED) + 100) + SHORT_FEED, "connect",
                 id="chunk-cut-short"),
    pytest.param(_answer(gzip.compress(SHORT_FEED)[:-20], "Content-Encoding: gzip"), "connect",
                 id="truncated-gzip"),
    pytest.param(_answer(gzip.compress(SHORT_FEED)[:10] + b"\xff" * 64, "Content-Encoding: gzip"),
                 "http_error", id="corrupt-gzip"),
    pytest.param(_answer(b"\x1b\x2f\x00\xa4" + SHORT_FEED, "Content-Encoding: br"), "http_error",
                 id="unrequested-encoding-br"),
    pytest.param(_answer(SHORT_FEED, "Content-Encoding: zstd"), "http_error",
                 id="unrequested-encoding-zstd"),
])
def test_broken_transfers_keep_blocks(synced, raw_server, answer, kind):
    link_id, _feed, before = synced()
    server = raw_server(lambda conn, stop: conn.sendall(answer))
    point_link_at(link_id, server.url)
    [summary] = sync_links([link_id])
    assert (summary.outcome, summary.error_kind) == ("error", kind)
    assert_failed_safely(link_id, before, kind, None)


def test_slow_drip_body_hits_the_whole_request_timeout_and_keeps_blocks(app, synced, raw_server):
    link_id, _feed, before = synced()

    def drip(conn, stop):
        conn.sendall(_answer(SHORT_FEED)[:-len(SHORT_FEED)])  # the headers, then a byte every 50 ms
        for byte in SHORT_FEED:
            if stop.wait(0.05):
                return
            conn.sendall(bytes([byte]))
    server = raw_server(drip)
    point_link_at(link_id, server.url)
    app.config["FETCH_TIMEOUT_SECONDS"] = 0.6  # each read is quick; the whole is not
    sync_links([link_id])
    assert_failed_safely(link_id, before, "timeout", None)
    assert runs(link_id)[-1].duration_ms < 3000


def _redirect_loop(feed, httpserver, app):
    feed.status, feed.body, feed.headers = 302, b"", {"Location": feed.url}


def _six_redirects(feed, httpserver, app):
    for hop in range(6):  # feed -> /hop0 -> ... -> /hop5 -> a good feed: one hop too many
        httpserver.expect_request(f"/hop{hop}").respond_with_data(
            "", status=307, headers={"Location": httpserver.url_for(f"/hop{hop + 1}")})
    httpserver.expect_request("/hop6").respond_with_data(SHORT_FEED, content_type="text/calendar")
    feed.status, feed.body, feed.headers = 301, b"", {"Location": httpserver.url_for("/hop0")}


def _gzip_bomb(feed, httpserver, app):
    app.config["FETCH_MAX_BYTES"] = 1_000_000
    feed.body = gzip.compress(SHORT_FEED + b"\0" * 20_000_000, compresslevel=9)
    assert len(feed.body) < 100_000  # small on the wire, 20 MB decoded
    feed.headers = {"Content-Encoding": "gzip"}


@pytest.mark.parametrize("misbehave,kind", [(_redirect_loop, "too_many_redirects"),
                                            (_six_redirects, "too_many_redirects"),
                                            (_gzip_bomb, "too_large")],
                         ids=["redirect-loop", "six-redirects", "gzip-bomb"])
def test_feed_misbehaviour_keeps_blocks(app, httpserver, synced, misbehave, kind):
    link_id, feed, before = synced()
    misbehave(feed, httpserver, app)
    sync_links([link_id])
    assert_failed_safely(link_id, before, kind, None)


def test_self_signed_certificate_is_tls_and_keeps_blocks(synced, certs):  # noqa: F811 - the fixture
    link_id, _feed, before = synced()
    server = https_server(certs / "self.pem", certs / "self.key")
    try:
        point_link_at(link_id, f"https://127.0.0.1:{server.server_port}/feed.ics")
        sync_links([link_id])
    finally:
        server.shutdown()
        server.server_close()
    assert_failed_safely(link_id, before, "tls", None)


# --- Retry-After: honoured in seconds or as a date, on 429 and 503, never beyond the 6-hour cap ------

def _http_date(seconds: int) -> str:
    return format_datetime(datetime.now(UTC) + timedelta(seconds=seconds), usegmt=True)


@pytest.mark.parametrize("status,retry_after,kind,delay", [
    (429, lambda: _http_date(7200), "rate_limited", 7200),
    (503, lambda: "1800", "server_error", 1800),
    (503, lambda: _http_date(3600), "server_error", 3600),
    (429, lambda: "999999999", "rate_limited", MAX_BACKOFF.total_seconds()),
    (503, lambda: "Fri, 31 Dec 2099 23:59:59 GMT", "server_error", MAX_BACKOFF.total_seconds()),
], ids=["429-http-date", "503-seconds", "503-http-date", "429-huge-clamped", "503-far-date-clamped"])
def test_retry_after_sets_next_sync_at_within_the_six_hour_cap(synced, status, retry_after, kind, delay):
    link_id, feed, before = synced()
    # Retry-After is longer than the first backoff (about SYNC_INTERVAL_MINUTES), so it decides.
    feed.status, feed.body, feed.headers = status, b"come back later", {"Retry-After": retry_after()}
    sync_links([link_id])
    assert_failed_safely(link_id, before, kind, status)
    link = fresh_link(link_id)
    waited = (link.next_sync_at - link.last_sync_at).total_seconds()
    if "GMT" in feed.headers["Retry-After"] and delay < MAX_BACKOFF.total_seconds():
        # A date is counted from when it was read, to the second: the link waits until that moment.
        assert delay - 2 <= waited <= delay, waited
    else:
        assert waited == delay, waited
    assert waited <= MAX_BACKOFF.total_seconds()
