"""The safe fetcher against real loopback servers, well-behaved and not."""
import contextlib
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
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from shutil import which

import pytest
from werkzeug import Response

from jobs.fetch.addresses import AllowList, parse_ip
from jobs.fetch.feed import (
    DEFAULT_USER_AGENT,
    FetchSession,
    FetchSettings,
    HostLimiter,
    fetch_feed,
)
from jobs.rules.stays import SyncFailure, parse_retry_after

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
    later = format_datetime(datetime.now(UTC) + timedelta(seconds=90), usegmt=True)
    httpserver.expect_request("/r").respond_with_data("slow down", status=429, headers={"Retry-After": later})
    failure = fail(httpserver.url_for("/r"), settings, session)
    assert failure.kind == "rate_limited"
    assert 80 <= failure.retry_after <= 90


def test_503_carries_retry_after(httpserver, settings, session):
    httpserver.expect_request("/s").respond_with_data("down", status=503, headers={"Retry-After": "30"})
    failure = fail(httpserver.url_for("/s"), settings, session)
    assert (failure.kind, failure.retry_after) == ("server_error", 30.0)


def test_retry_after_parsing_edge_cases():
    now = datetime(2025, 12, 1, 10, 0, tzinfo=UTC)
    assert parse_retry_after("Mon, 01 Dec 2025 10:01:00 GMT", now) == 60.0
    assert parse_retry_after("Mon, 01 Dec 2025 09:00:00 GMT", now) == 0.0
    assert parse_retry_after("soon", now) is None
    assert parse_retry_after(None) is None
    # one parser for feeds and Kigo: a fraction or a negative number of seconds is read as Kigo sent it
    assert parse_retry_after(" 120 ", now) == 120.0 and parse_retry_after("1.5", now) == 1.5
    assert parse_retry_after("-5", now) == 0.0
    assert parse_retry_after("inf", now) is None and parse_retry_after("nan", now) is None
    assert parse_retry_after("Mon, 01 Dec 2025 10:00:30 -0000", now) == 30.0


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


# --- misbehaving servers (raw sockets) --------------------------------------------------------------

def read_request(conn: socket.socket) -> bytes:
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = conn.recv(4096)
        if not chunk:
            break
        data += chunk
    return data


@pytest.fixture
def raw_server():
    """Start a loopback server that answers every connection with `script(conn, stop)`; returns its port."""
    started = []

    def start(script):
        listener = socket.socket()
        listener.bind(("127.0.0.1", 0))
        listener.listen(16)
        stop = threading.Event()

        def serve():
            while True:
                try:
                    conn, _ = listener.accept()
                except OSError:
                    return
                with conn:
                    read_request(conn)
                    with contextlib.suppress(OSError):
                        script(conn, stop)

        thread = threading.Thread(target=serve, daemon=True)
        thread.start()
        started.append((listener, stop, thread))
        return listener.getsockname()[1]

    yield start
    for listener, stop, thread in started:
        stop.set()
        listener.shutdown(socket.SHUT_RDWR)  # wakes the blocked accept()
        listener.close()
        thread.join(5)


HEAD_1000 = b"HTTP/1.1 200 OK\r\nContent-Type: text/calendar\r\nContent-Length: 1000\r\n\r\n"


def test_slow_drip_body_hits_the_whole_request_time_cap(raw_server, session):
    def drip(conn, stop):
        conn.sendall(HEAD_1000)
        while not stop.wait(0.05):  # one byte every 50 ms: each read is quick, the whole is not
            conn.sendall(b"x")
    port = raw_server(drip)
    quick = FetchSettings(allow=LOOPBACK_ALLOWED, timeout_seconds=0.6)
    started = time.monotonic()
    assert fail(f"http://127.0.0.1:{port}/", quick, session).kind == "timeout"
    assert time.monotonic() - started < 2.0


def test_slow_drip_headers_hit_the_whole_request_time_cap(raw_server, session):
    def drip(conn, stop):
        conn.sendall(b"HTTP/1.1 200 OK\r\nX-Padding: ")
        while not stop.wait(0.05):
            conn.sendall(b"a")
    port = raw_server(drip)
    quick = FetchSettings(allow=LOOPBACK_ALLOWED, timeout_seconds=0.6)
    started = time.monotonic()
    assert fail(f"http://127.0.0.1:{port}/", quick, session).kind == "timeout"
    assert time.monotonic() - started < 2.0


def test_silent_server_is_a_timeout(raw_server, session):
    port = raw_server(lambda conn, stop: stop.wait(10))
    quick = FetchSettings(allow=LOOPBACK_ALLOWED, timeout_seconds=0.3)
    started = time.monotonic()
    assert fail(f"http://127.0.0.1:{port}/", quick, session).kind == "timeout"
    assert time.monotonic() - started < 2.0


def test_body_shorter_than_content_length_is_connect_not_a_short_calendar(raw_server, settings, session):
    port = raw_server(lambda conn, stop: conn.sendall(HEAD_1000 + ICS))
    assert fail(f"http://127.0.0.1:{port}/", settings, session).kind == "connect"


def test_connection_reset_mid_body_is_connect(raw_server, settings, session):
    def reset(conn, stop):
        conn.sendall(HEAD_1000 + b"BEGIN:VCALENDAR\r\n")
        conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))  # close sends RST
    port = raw_server(reset)
    assert fail(f"http://127.0.0.1:{port}/", settings, session).kind == "connect"


@pytest.mark.parametrize("chunks", [b"11\r\nBEGIN:VCALENDAR\r\n\r\nZZ\r\n",  # bad chunk size
                                    b"11\r\nBEGIN:VCALENDAR\r\n\r\n",  # no last chunk
                                    b"40\r\nBEGIN:VCALENDAR\r\n"])  # chunk cut short
def test_broken_chunked_stream_is_connect(raw_server, settings, session, chunks):
    head = b"HTTP/1.1 200 OK\r\nContent-Type: text/calendar\r\nTransfer-Encoding: chunked\r\n\r\n"
    port = raw_server(lambda conn, stop: conn.sendall(head + chunks))
    assert fail(f"http://127.0.0.1:{port}/", settings, session).kind == "connect"


def test_truncated_gzip_body_is_connect(raw_server, settings, session):
    cut = gzip.compress(ICS * 100)[:-20]
    head = (b"HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: %d\r\n\r\n" % len(cut))
    port = raw_server(lambda conn, stop: conn.sendall(head + cut))
    assert fail(f"http://127.0.0.1:{port}/", settings, session).kind == "connect"


def test_announced_content_length_over_the_cap_fails_before_reading(raw_server, session):
    head = b"HTTP/1.1 200 OK\r\nContent-Length: 999999999\r\n\r\n"
    port = raw_server(lambda conn, stop: (conn.sendall(head), stop.wait(10)))
    small = FetchSettings(allow=LOOPBACK_ALLOWED, max_bytes=1_000_000, timeout_seconds=5)
    started = time.monotonic()
    assert fail(f"http://127.0.0.1:{port}/", small, session).kind == "too_large"
    assert time.monotonic() - started < 2.0


def test_connection_closed_before_any_answer_is_connect(raw_server, settings, session):
    port = raw_server(lambda conn, stop: None)
    assert fail(f"http://127.0.0.1:{port}/", settings, session).kind == "connect"


# --- DNS rebinding: the connection goes to the address that was checked ------------------------------

def test_connection_goes_to_the_checked_ip_not_a_second_lookup(httpserver, settings):
    httpserver.expect_request("/cal.ics").respond_with_data(ICS)
    calls = []
    # First answer: the loopback server (allowed). A second lookup would get 127.0.0.2, where nothing
    # listens, so the fetch only succeeds if the connection is pinned to the first, checked answer.
    names = {"rebind.test": ["127.0.0.1", "127.0.0.2"]}
    with FetchSession(resolver=name_resolver(names, calls)) as pinned:
        result = fetch_feed(f"http://rebind.test:{httpserver.port}/cal.ics",
                            FetchSettings(allow=AllowList.parse("127.0.0.0/8")), session=pinned)
    assert result.body == ICS
    assert calls == ["rebind.test"]


def test_a_checked_answer_is_reused_for_a_minute_and_a_failed_lookup_is_not(httpserver, settings):
    httpserver.expect_request("/cal.ics").respond_with_data(ICS)
    calls, names = [], {"calendar.test": "127.0.0.1"}
    with FetchSession(resolver=name_resolver(names, calls)) as counted:
        for _ in range(3):  # a fleet sync asks the same host again and again
            assert fetch_feed(f"http://calendar.test:{httpserver.port}/cal.ics", settings,
                              session=counted).body == ICS
        assert calls == ["calendar.test"]
        for _ in range(2):
            assert fail(f"http://unknown.test:{httpserver.port}/cal.ics", settings, counted).kind == "dns"
        assert calls == ["calendar.test", "unknown.test", "unknown.test"]  # asked again: never kept
        # the answer was checked under that allow list only: without loopback allowed it is refused
        strict = FetchSettings(allow=AllowList(), timeout_seconds=5)
        assert fail(f"http://calendar.test:{httpserver.port}/cal.ics", strict, counted).kind == \
            "blocked_address"


def test_every_hop_is_resolved_and_checked(httpserver, settings):
    httpserver.expect_request("/a").respond_with_data(
        "", status=302, headers={"Location": f"http://other.test:{httpserver.port}/b"})
    httpserver.expect_request("/b").respond_with_data(ICS)
    calls = []
    with FetchSession(resolver=name_resolver(NAMES, calls)) as counted:
        fetch_feed(f"http://calendar.test:{httpserver.port}/a", settings, session=counted)
    assert calls == ["calendar.test", "other.test"]


# --- connection reuse and per-host limits -------------------------------------------------------------

class KeepAliveHandler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    client_ports: list = []

    def do_GET(self):
        self.client_ports.append(self.client_address[1])
        self.send_response(200)
        if self.path == "/br":
            self.send_header("Content-Encoding", "br")
        self.send_header("Content-Length", str(len(ICS)))
        self.end_headers()
        self.wfile.write(ICS)

    def log_message(self, *args):
        pass


@pytest.fixture
def keepalive_server():
    KeepAliveHandler.client_ports = []
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), KeepAliveHandler)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def test_sequential_fetches_to_one_host_reuse_the_connection(keepalive_server, settings, session):
    url = f"http://calendar.test:{keepalive_server.server_port}/cal.ics"
    for _ in range(3):
        assert fetch_feed(url, settings, session=session).body == ICS
    assert len(KeepAliveHandler.client_ports) == 3
    assert len(set(KeepAliveHandler.client_ports)) == 1


def test_connection_is_not_reused_after_an_abandoned_body(keepalive_server, session):
    small = FetchSettings(allow=LOOPBACK_ALLOWED, max_bytes=10)
    url = f"http://calendar.test:{keepalive_server.server_port}/cal.ics"
    assert fail(url, small, session).kind == "too_large"
    assert fetch_feed(url, FetchSettings(allow=LOOPBACK_ALLOWED), session=session).body == ICS
    assert len(set(KeepAliveHandler.client_ports)) == 2


def test_concurrent_fetches_from_many_threads_all_succeed(keepalive_server, settings, session):
    url = f"http://calendar.test:{keepalive_server.server_port}/cal.ics"
    results = queue.Queue()
    threads = [threading.Thread(target=lambda: results.put(fetch_feed(url, settings, session=session).body))
               for _ in range(32)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert [results.get_nowait() for _ in range(32)] == [ICS] * 32


def test_host_limiter_holds_at_most_per_host_slots_per_host():
    limiter = HostLimiter(2)
    entered, release = queue.Queue(), threading.Event()

    def work():
        with limiter.slot("Feeds.Example"):
            entered.put(1)
            release.wait(10)
    threads = [threading.Thread(target=work) for _ in range(4)]
    for thread in threads:
        thread.start()
    entered.get(timeout=5)
    entered.get(timeout=5)
    with pytest.raises(queue.Empty):
        entered.get(timeout=0.2)  # the third and fourth wait for a slot
    with limiter.slot("other.example"):  # another host is not held up
        pass
    release.set()
    for thread in threads:
        thread.join(5)
    assert entered.qsize() == 2
    assert limiter._slots == {}


# --- TLS ---------------------------------------------------------------------------------------------

def openssl(*args, cwd):
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True)


@pytest.fixture(scope="module")
def certs(tmp_path_factory):
    """A test CA with a certificate for calendar.test, and a self-signed certificate (openssl CLI)."""
    if which("openssl") is None:
        pytest.skip("openssl CLI not found: cannot make test certificates")
    d = tmp_path_factory.mktemp("certs")
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
    openssl("req", "-x509", *ec, "-keyout", "ca.key", "-out", "ca.pem", "-days", "2", "-subj", "/CN=Test CA",
            "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign",
            cwd=d)
    openssl("req", *ec, "-keyout", "leaf.key", "-out", "leaf.csr", "-subj", "/CN=calendar.test", cwd=d)
    (d / "ext.cnf").write_text("subjectAltName=DNS:calendar.test\nbasicConstraints=CA:FALSE\n")
    openssl("x509", "-req", "-in", "leaf.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial",
            "-out", "leaf.pem", "-days", "2", "-extfile", "ext.cnf", cwd=d)
    openssl("req", "-x509", *ec, "-keyout", "self.key", "-out", "self.pem", "-days", "2",
            "-subj", "/CN=calendar.test", "-addext", "subjectAltName=DNS:calendar.test", cwd=d)
    return d


def https_server(cert, key):
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), KeepAliveHandler)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()
    return server


@pytest.fixture
def trusted_https(certs):
    server = https_server(certs / "leaf.pem", certs / "leaf.key")
    yield server
    server.shutdown()
    server.server_close()


def test_self_signed_certificate_is_a_tls_failure(certs, settings, session):
    server = https_server(certs / "self.pem", certs / "self.key")
    try:
        assert fail(f"https://calendar.test:{server.server_port}/", settings, session).kind == "tls"
    finally:
        server.shutdown()
        server.server_close()


def test_tls_verifies_the_host_name_while_connecting_to_the_pinned_ip(certs, trusted_https, settings):
    with FetchSession(resolver=name_resolver(NAMES), ca_certs=str(certs / "ca.pem")) as trusting:
        ok = fetch_feed(f"https://calendar.test:{trusted_https.server_port}/cal.ics", settings, session=trusting)
        mismatch = fail(f"https://other.test:{trusted_https.server_port}/cal.ics", settings, trusting)
    assert ok.body == ICS
    assert mismatch.kind == "tls"


def test_unknown_certificate_authority_is_a_tls_failure(trusted_https, settings, session):
    assert fail(f"https://calendar.test:{trusted_https.server_port}/", settings, session).kind == "tls"


def test_unrequested_content_encoding_fails_and_the_connection_is_not_reused(keepalive_server, settings,
                                                                            session):
    base = f"http://calendar.test:{keepalive_server.server_port}"
    assert fail(f"{base}/br", settings, session).kind == "http_error"
    assert fetch_feed(f"{base}/cal.ics", settings, session=session).body == ICS
    assert len(set(KeepAliveHandler.client_ports)) == 2


@pytest.mark.parametrize("url", ["http://[::1]:8080/", "http://[::ffff:127.0.0.1]:8080/", "http://2130706433:8080/",
                                 "http://0x7f.1:8080/", "http://017700000001:8080/", "http://[::ffff:a9fe:a9fe]/",
                                 "http://169.254.169.254/latest/meta-data/", "http://[fd00:ec2::254]/"])
def test_internal_address_literals_are_blocked_without_allowance(url):
    with FetchSession() as real_dns:  # literals never reach a DNS server
        assert fail(url, FetchSettings(), real_dns).kind == "blocked_address"


def test_fetch_without_a_session_uses_the_shared_default(httpserver, settings):
    httpserver.expect_request("/cal.ics").respond_with_data(ICS)
    assert fetch_feed(f"http://127.0.0.1:{httpserver.port}/cal.ics", settings).body == ICS


def test_a_name_server_that_never_answers_is_bounded_by_the_whole_request_time():
    import threading
    import time
    answer = threading.Event()

    def silent_resolver(host, port, *args):  # stands for a resolver that hangs
        answer.wait(30)
        raise socket.gaierror(socket.EAI_AGAIN, "Temporary failure in name resolution")

    started = time.monotonic()
    try:
        with FetchSession(resolver=silent_resolver) as slow_dns:
            failure = fail("https://calendar.test/cal.ics",
                           FetchSettings(allow=LOOPBACK_ALLOWED, timeout_seconds=0.5), slow_dns)
    finally:
        answer.set()
    assert failure.kind == "dns" and "in time" in failure.message
    assert time.monotonic() - started < 3


def test_a_forked_child_still_looks_names_up_and_connects(httpserver, settings):
    import os
    httpserver.expect_request("/cal.ics").respond_with_data(ICS, content_type="text/calendar")
    url = httpserver.url_for("/cal.ics")
    # The parent's lookup pool and pooled connection, as a worker that synced in-process has.
    assert fetch_feed(url, settings).status == "ok"
    pid = os.fork()  # as an RQ worker forks its work horse
    if pid == 0:
        try:
            ok = fetch_feed(url, settings).status == "ok"
        except BaseException:  # noqa: BLE001 - the child reports through its exit code only
            ok = False
        os._exit(0 if ok else 1)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
