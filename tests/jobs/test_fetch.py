"""The safe fetcher against real loopback servers, well-behaved and not."""
import gzip
import hashlib
import http.server
import queue
import socket
import ssl
import struct
import subprocess
import threading
import time
import zlib
from datetime import datetime, timedelta, timezone
from email.utils import format_datetime
from shutil import which

import pytest
from werkzeug import Response

from jobs.addresses import AllowList, parse_ip
from jobs.fetch import (DEFAULT_USER_AGENT, FetchSession, FetchSettings, HostLimiter, fetch_feed,
                        parse_retry_after)
from jobs.stays import SyncFailure

ICS = b"BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//Test//EN\r\nEND:VCALENDAR\r\n"
LOOPBACK_ALLOWED = AllowList.parse("127.0.0.1")
NAMES = {"localhost": "127.0.0.1", "calendar.test": "127.0.0.1", "other.test": "127.0.0.1",
         "internal.test": "10.0.0.1"}


def name_resolver(names, calls=None):
    """getaddrinfo over a fixed table (no real DNS in tests); IP literals answer themselves."""
    def resolve(host, port, family=0, type=0, proto=0, flags=0):
        if calls is not None:
            calls.append(host)
        answer = names.get(host)
        if isinstance(answer, list):
            answer = answer.pop(0)
        ip = answer or (str(parse_ip(host)) if parse_ip(host) else None)
        if ip is None:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        fam = socket.AF_INET6 if ":" in ip else socket.AF_INET
        return [(fam, socket.SOCK_STREAM, 6, "", (ip, port, 0, 0) if ":" in ip else (ip, port))]
    return resolve


@pytest.fixture
def session():
    with FetchSession(resolver=name_resolver(NAMES)) as pooled:
        yield pooled


@pytest.fixture
def settings():
    return FetchSettings(allow=LOOPBACK_ALLOWED, timeout_seconds=5)


def fail(url, settings, session, **kwargs) -> SyncFailure:
    with pytest.raises(SyncFailure) as info:
        fetch_feed(url, settings, session=session, **kwargs)
    return info.value


# --- well-behaved server (pytest-httpserver) ---------------------------------------------------------

def test_fetch_returns_body_hash_and_validators(httpserver, settings, session):
    httpserver.expect_request("/cal.ics").respond_with_data(
        ICS, content_type="text/calendar; charset=utf-8", headers={"ETag": '"v1"', "Last-Modified":
                                                                   "Mon, 01 Dec 2025 10:00:00 GMT"})
    result = fetch_feed(httpserver.url_for("/cal.ics"), settings, session=session)
    assert result.status == "ok"
    assert result.body == ICS
    assert result.http_status == 200
    assert result.etag == '"v1"'
    assert result.last_modified == "Mon, 01 Dec 2025 10:00:00 GMT"
    assert result.content_type == "text/calendar; charset=utf-8"
    assert result.bytes == len(ICS)
    assert result.content_hash == hashlib.sha256(ICS).hexdigest()
    assert result.final_url == httpserver.url_for("/cal.ics")


def test_request_carries_product_user_agent_and_host_name(httpserver, settings, session):
    host = f"calendar.test:{httpserver.port}"
    httpserver.expect_request("/ua", headers={"User-Agent": DEFAULT_USER_AGENT, "Host": host}) \
        .respond_with_data(ICS)
    assert fetch_feed(f"http://{host}/ua", settings, session=session).body == ICS


def test_conditional_get_answers_not_modified_on_304(httpserver, settings, session):
    httpserver.expect_request("/c", headers={"If-None-Match": '"v1"',
                                            "If-Modified-Since": "Mon, 01 Dec 2025 10:00:00 GMT"}) \
        .respond_with_data(b"", status=304, headers={"ETag": '"v1"'})
    result = fetch_feed(httpserver.url_for("/c"), settings, session=session, etag='"v1"',
                        last_modified="Mon, 01 Dec 2025 10:00:00 GMT")
    assert result.status == "not_modified"
    assert result.http_status == 304
    assert result.etag == '"v1"'
    assert result.body == b""


@pytest.mark.parametrize("status, kind", [(404, "not_found"), (410, "not_found"), (401, "forbidden"),
                                          (403, "forbidden"), (500, "server_error"), (502, "server_error"),
                                          (418, "http_error"), (400, "http_error")])
def test_error_statuses_are_classified(httpserver, settings, session, status, kind):
    httpserver.expect_request("/e").respond_with_data("<html><body>Not here</body></html>", status=status,
                                                      content_type="text/html")
    failure = fail(httpserver.url_for("/e"), settings, session)
    assert failure.kind == kind
    assert failure.http_status == status


def test_429_with_retry_after_seconds(httpserver, settings, session):
    httpserver.expect_request("/r").respond_with_data("slow down", status=429, headers={"Retry-After": "120"})
    failure = fail(httpserver.url_for("/r"), settings, session)
    assert (failure.kind, failure.http_status, failure.retry_after) == ("rate_limited", 429, 120.0)


def test_429_with_retry_after_http_date(httpserver, settings, session):
    later = format_datetime(datetime.now(timezone.utc) + timedelta(seconds=90), usegmt=True)
    httpserver.expect_request("/r").respond_with_data("slow down", status=429, headers={"Retry-After": later})
    failure = fail(httpserver.url_for("/r"), settings, session)
    assert failure.kind == "rate_limited"
    assert 80 <= failure.retry_after <= 90


def test_503_carries_retry_after(httpserver, settings, session):
    httpserver.expect_request("/s").respond_with_data("down", status=503, headers={"Retry-After": "30"})
    failure = fail(httpserver.url_for("/s"), settings, session)
    assert (failure.kind, failure.retry_after) == ("server_error", 30.0)


def test_retry_after_parsing_edge_cases():
    now = datetime(2025, 12, 1, 10, 0, tzinfo=timezone.utc)
    assert parse_retry_after("Mon, 01 Dec 2025 10:01:00 GMT", now) == 60.0
    assert parse_retry_after("Mon, 01 Dec 2025 09:00:00 GMT", now) == 0.0
    assert parse_retry_after("soon", now) is None
    assert parse_retry_after(None) is None


def test_redirects_are_followed_and_final_url_reported(httpserver, settings, session):
    httpserver.expect_request("/old").respond_with_data("", status=301, headers={"Location": "/mid"})
    httpserver.expect_request("/mid").respond_with_data("", status=302,
                                                        headers={"Location": httpserver.url_for("/new")})
    httpserver.expect_request("/new").respond_with_data(ICS)
    result = fetch_feed(httpserver.url_for("/old"), settings, session=session)
    assert result.body == ICS
    assert result.final_url == httpserver.url_for("/new")


def test_five_redirects_are_followed_but_six_are_too_many(httpserver, settings, session):
    for i in range(6):
        httpserver.expect_request(f"/{i}").respond_with_data("", status=307, headers={"Location": f"/{i + 1}"})
    httpserver.expect_request("/6").respond_with_data(ICS)
    assert fetch_feed(httpserver.url_for("/1"), settings, session=session).body == ICS
    assert fail(httpserver.url_for("/0"), settings, session).kind == "too_many_redirects"


def test_redirect_loop_is_too_many_redirects(httpserver, settings, session):
    httpserver.expect_request("/a").respond_with_data("", status=302, headers={"Location": "/b"})
    httpserver.expect_request("/b").respond_with_data("", status=302, headers={"Location": "/a"})
    assert fail(httpserver.url_for("/a"), settings, session).kind == "too_many_redirects"


def test_loopback_is_blocked_without_the_allowance(httpserver, session):
    httpserver.expect_request("/cal.ics").respond_with_data(ICS)
    failure = fail(httpserver.url_for("/cal.ics"), FetchSettings(), session)
    assert failure.kind == "blocked_address"
    assert len(httpserver.log) == 0


def test_redirect_to_loopback_is_blocked_when_only_the_first_host_is_allowed(httpserver, session):
    allow_name_only = FetchSettings(allow=AllowList.parse("calendar.test"))
    httpserver.expect_request("/go").respond_with_data(
        "", status=302, headers={"Location": f"http://127.0.0.1:{httpserver.port}/secret"})
    httpserver.expect_request("/secret").respond_with_data("internal data")
    failure = fail(f"http://calendar.test:{httpserver.port}/go", allow_name_only, session)
    assert failure.kind == "blocked_address"
    assert [entry[0].path for entry in httpserver.log] == ["/go"]


def test_redirect_to_a_host_resolving_to_a_private_address_is_blocked(httpserver, settings, session):
    httpserver.expect_request("/go").respond_with_data(
        "", status=302, headers={"Location": "http://internal.test/admin"})
    assert fail(httpserver.url_for("/go"), settings, session).kind == "blocked_address"


@pytest.mark.parametrize("location", ["file:///etc/passwd", "ftp://calendar.test/cal.ics",
                                      "http://user:pw@calendar.test/"])
def test_redirect_to_a_non_web_address_is_refused(httpserver, settings, session, location):
    httpserver.expect_request("/go").respond_with_data("", status=302, headers={"Location": location})
    assert fail(httpserver.url_for("/go"), settings, session).kind == "blocked_address"


def test_unresolvable_host_is_a_dns_failure(settings, session):
    assert fail("http://nowhere.test/cal.ics", settings, session).kind == "dns"


def test_refused_connection_is_a_connect_failure(settings, session):
    probe = socket.socket()
    probe.bind(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()
    assert fail(f"http://127.0.0.1:{port}/cal.ics", settings, session).kind == "connect"


@pytest.mark.parametrize("encode, name", [(gzip.compress, "gzip"), (zlib.compress, "deflate"),
                                          (lambda b: zlib.compress(b)[2:-4], "deflate")])
def test_compressed_bodies_are_decoded(httpserver, settings, session, encode, name):
    body = ICS * 50
    httpserver.expect_request("/z").respond_with_data(encode(body), headers={"Content-Encoding": name})
    result = fetch_feed(httpserver.url_for("/z"), settings, session=session)
    assert result.body == body
    assert result.content_hash == hashlib.sha256(body).hexdigest()


def test_gzip_bomb_is_too_large_by_decoded_size(httpserver, session):
    bomb = gzip.compress(b"\0" * 20_000_000, compresslevel=9)
    assert len(bomb) < 100_000
    httpserver.expect_request("/bomb").respond_with_data(bomb, headers={"Content-Encoding": "gzip"})
    small = FetchSettings(allow=LOOPBACK_ALLOWED, max_bytes=1_000_000)
    assert fail(httpserver.url_for("/bomb"), small, session).kind == "too_large"


def test_body_over_the_cap_is_too_large_even_without_content_length(httpserver, session):
    def stream():
        for _ in range(100):
            yield b"x" * 10_000
    httpserver.expect_request("/big").respond_with_response(Response(stream(), mimetype="text/calendar"))
    small = FetchSettings(allow=LOOPBACK_ALLOWED, max_bytes=200_000)
    assert fail(httpserver.url_for("/big"), small, session).kind == "too_large"


def test_body_exactly_at_the_cap_is_accepted(httpserver, session):
    httpserver.expect_request("/fit").respond_with_data(b"y" * 1000)
    exact = FetchSettings(allow=LOOPBACK_ALLOWED, max_bytes=1000)
    assert fetch_feed(httpserver.url_for("/fit"), exact, session=session).bytes == 1000
