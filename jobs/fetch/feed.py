"""The safe fetcher: GET a calendar feed under the public-address rule, size and time limits."""
from __future__ import annotations

import hashlib
import http.client
import socket
import ssl
import time
import zlib
from dataclasses import dataclass, field
from urllib.parse import urljoin, urlsplit

import urllib3
from urllib3 import exceptions as u3

from jobs.fetch.addresses import AllowList
from jobs.fetch.cache_hint import cache_max_age
from jobs.fetch.host_limits import HostLimiter
from jobs.fetch.session import FetchSession, deadline_of_this_thread, default_session, resolve_within
from jobs.rules.stays import SyncFailure, parse_retry_after

__all__ = ["DEFAULT_USER_AGENT", "FetchResult", "FetchSession", "FetchSettings", "HostLimiter",
           "fetch_feed"]

DEFAULT_USER_AGENT = "OnlyApartmentsCalendarSync/1.0 (+https://www.only-apartments.com/calendar-sync)"
_ACCEPT = "text/calendar, text/plain;q=0.9, */*;q=0.5"
_REDIRECTS = {301, 302, 303, 307, 308}
_DEFAULT_PORTS = {"http": 80, "https": 443}
_CHUNK = 65536
_DRAIN_LIMIT = 65536  # error pages bigger than this are not worth reading to keep the connection


@dataclass(frozen=True)
class FetchSettings:
    """Limits and identity for fetching feeds (FETCH_* in docs/configuration.md)."""

    timeout_seconds: float = 15
    max_bytes: int = 10_485_760
    allow: AllowList = field(default_factory=AllowList)
    user_agent: str = DEFAULT_USER_AGENT
    max_redirects: int = 5


@dataclass
class FetchResult:
    """A fetched feed body ("ok") or the remote's word that it has not changed ("not_modified")."""

    status: str
    body: bytes
    http_status: int
    etag: str | None
    last_modified: str | None
    content_type: str | None
    final_url: str
    bytes: int
    content_hash: str
    max_age: float | None = None  # the answer's own freshness (Cache-Control / Expires): a schedule hint


def fetch_feed(url: str, settings: FetchSettings, *, etag: str | None = None,
               last_modified: str | None = None, session: FetchSession | None = None) -> FetchResult:
    """GET `url` following checked redirects; return the body or not_modified, or raise SyncFailure."""
    session = session or default_session()
    deadline = time.monotonic() + settings.timeout_seconds
    headers = {"User-Agent": settings.user_agent, "Accept": _ACCEPT, "Accept-Encoding": "gzip, deflate"}
    if etag:
        headers["If-None-Match"] = etag
    if last_modified:
        headers["If-Modified-Since"] = last_modified
    deadline_of_this_thread.value = deadline
    try:
        for _hop in range(settings.max_redirects + 1):
            response = _open(url, headers, settings, session, deadline)
            location = response.headers.get("Location")
            if response.status in _REDIRECTS and location:
                _discard(response, deadline)
                url = urljoin(url, location.strip())
                continue
            try:
                return _result(url, response, settings, deadline, etag, last_modified)
            except BaseException:
                _abandon(response)  # never hand a half-read connection back to the pool
                raise
            finally:
                response.release_conn()
    finally:
        deadline_of_this_thread.value = None
    raise SyncFailure("too_many_redirects", f"more than {settings.max_redirects} redirects")


def _open(url: str, headers: dict[str, str], settings: FetchSettings, session: FetchSession,
          deadline: float) -> urllib3.BaseHTTPResponse:
    """Check the address of one hop and send the request to the IP that was checked."""
    parts = urlsplit(url)
    scheme = "https" if parts.scheme.lower() == "webcal" else parts.scheme.lower()
    if scheme not in _DEFAULT_PORTS or not parts.hostname:
        raise SyncFailure("blocked_address", f"only http and https addresses are fetched, not {url[:80]!r}")
    if parts.username or parts.password:
        raise SyncFailure("blocked_address", "addresses with a user name or password are not fetched")
    try:
        port = parts.port or _DEFAULT_PORTS[scheme]
        host = parts.hostname.rstrip(".").encode("idna").decode("ascii") if "[" not in parts.netloc \
            else parts.hostname
    except (ValueError, UnicodeError) as exc:
        raise SyncFailure("dns", f"the address {url[:80]!r} is not valid ({exc})") from exc
    ips = resolve_within(host, port, settings.allow, session.resolver, deadline)
    hop_headers = dict(headers, Host=_host_header(host, port, scheme))
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    for index, ip in enumerate(ips):
        remaining = _remaining(deadline)
        pool = session.pool(scheme, host, ip, port)
        try:
            return pool.urlopen("GET", target, headers=hop_headers, redirect=False, retries=False,
                                preload_content=False, decode_content=False, assert_same_host=False,
                                timeout=urllib3.Timeout(connect=remaining, read=remaining))
        except u3.NewConnectionError as exc:
            if index + 1 < len(ips) and time.monotonic() < deadline:
                continue  # another checked address of the same host may answer
            raise _classify_error(exc, deadline, host) from exc
        except (u3.HTTPError, OSError, http.client.HTTPException) as exc:
            raise _classify_error(exc, deadline, host) from exc
    raise SyncFailure("connect", f"could not connect to {host}")  # unreachable: ips is never empty


def _host_header(host: str, port: int, scheme: str) -> str:
    """The Host header for the name in the URL (the connection itself goes to an IP)."""
    name = f"[{host}]" if ":" in host else host
    return name if port == _DEFAULT_PORTS[scheme] else f"{name}:{port}"


def _remaining(deadline: float) -> float:
    """Seconds left before the deadline; a timeout failure when none are."""
    left = deadline - time.monotonic()
    if left <= 0:
        raise SyncFailure("timeout", "the remote did not answer in time")
    return left


def _classify_error(exc: BaseException, deadline: float, host: str) -> SyncFailure:
    """Turn a network exception into a SyncFailure with an error kind (docs/outcomes.md)."""
    if isinstance(exc, SyncFailure):
        return exc
    if time.monotonic() >= deadline or isinstance(exc, (u3.ReadTimeoutError, socket.timeout)) or (
            isinstance(exc, u3.ConnectTimeoutError) and not isinstance(exc, u3.NewConnectionError)):
        return SyncFailure("timeout", f"{host} did not answer in time")
    if isinstance(exc, (u3.SSLError, ssl.SSLError, ssl.CertificateError)):
        return SyncFailure("tls", f"secure connection to {host} failed: {exc}")
    if isinstance(exc, u3.NewConnectionError):
        return SyncFailure("connect", f"could not connect to {host}")
    return SyncFailure("connect", f"the connection to {host} broke: {exc}")


def _result(url: str, response: urllib3.BaseHTTPResponse, settings: FetchSettings, deadline: float,
            etag: str | None, last_modified: str | None) -> FetchResult:
    """Turn the final response into a FetchResult, or raise the failure its status means."""
    status = response.status
    new_etag = response.headers.get("ETag")
    new_modified = response.headers.get("Last-Modified")
    content_type = response.headers.get("Content-Type")
    max_age = cache_max_age(response.headers.get("Cache-Control"), response.headers.get("Expires"),
                            response.headers.get("Date"))
    if status == 304:
        _discard(response, deadline)
        return FetchResult("not_modified", b"", 304, new_etag or etag, new_modified or last_modified,
                           content_type, url, 0, "", max_age)
    if not 200 <= status < 300:
        _discard(response, deadline)
        raise _status_failure(status, response.headers.get("Retry-After"))
    body = _read_body(response, settings, deadline, urlsplit(url).hostname or "")
    return FetchResult("ok", body, status, new_etag, new_modified, content_type, url, len(body),
                       hashlib.sha256(body).hexdigest(), max_age)


def _status_failure(status: int, retry_after: str | None) -> SyncFailure:
    """The SyncFailure for a non-2xx, non-redirect status."""
    if status in (404, 410):
        return SyncFailure("not_found", f"the calendar address answered {status} (not found)", status)
    if status in (401, 403):
        return SyncFailure("forbidden", f"the calendar address answered {status} (access refused)", status)
    if status == 429:
        return SyncFailure("rate_limited", "the remote asked us to slow down (429)", status,
                           parse_retry_after(retry_after))
    if status >= 500:
        return SyncFailure("server_error", f"the remote server failed ({status})", status,
                           parse_retry_after(retry_after))
    return SyncFailure("http_error", f"the calendar address answered {status}", status)


def _read_body(response: urllib3.BaseHTTPResponse, settings: FetchSettings, deadline: float,
               host: str) -> bytes:
    """Stream the body under the size cap (decoded size) and the deadline; a cut-off body is `connect`."""
    declared = response.headers.get("Content-Length", "")
    if declared.strip().isdigit() and int(declared) > settings.max_bytes:
        raise _too_large(settings)
    body = bytearray()
    wire = 0
    try:
        decoder = _BodyDecoder(response.headers.get("Content-Encoding", ""))
        while True:
            chunk = response.read1(_CHUNK, decode_content=False)
            if not chunk:
                break
            wire += len(chunk)
            body += decoder.feed(chunk, settings.max_bytes - len(body))
            if wire > settings.max_bytes or len(body) > settings.max_bytes:
                raise _too_large(settings)
        body += decoder.finish()
    except (u3.HTTPError, OSError, http.client.HTTPException) as exc:
        raise _classify_error(exc, deadline, host) from exc
    return bytes(body)


def _too_large(settings: FetchSettings) -> SyncFailure:
    return SyncFailure("too_large", f"the calendar is larger than {settings.max_bytes} bytes")


def _discard(response: urllib3.BaseHTTPResponse, deadline: float) -> None:
    """Finish with a response we do not need; keep the connection only if the rest is small."""
    length = response.headers.get("Content-Length", "")
    try:
        if length.isdigit() and int(length) <= _DRAIN_LIMIT and time.monotonic() < deadline:
            response.drain_conn()
            response.release_conn()
            return
    except (SyncFailure, u3.HTTPError, OSError, http.client.HTTPException):
        pass
    _abandon(response)


def _abandon(response: urllib3.BaseHTTPResponse) -> None:
    """Close a half-read response so its connection is never reused mid-body."""
    response.close()
    response.release_conn()


class _BodyDecoder:
    """Content-Encoding decoding that never produces more than the room it is given (bomb-safe)."""

    def __init__(self, encoding: str):
        self.encoding = encoding.strip().lower()
        if self.encoding not in ("", "identity", "gzip", "x-gzip", "deflate"):
            raise SyncFailure("http_error", f"the remote used an encoding we did not ask for: {encoding}")
        self._zlib: zlib._Decompress | None = None
        self._fed = False
        if self.encoding in ("gzip", "x-gzip"):
            self._zlib = zlib.decompressobj(16 + zlib.MAX_WBITS)

    def feed(self, data: bytes, room: int) -> bytes:
        """Decode `data`; at most room + 1 bytes come out, so the caller can see the cap was passed."""
        if self.encoding in ("", "identity"):
            return data
        self._fed = True
        if self._zlib is None:  # deflate: zlib-wrapped per the RFC, raw deflate from some servers
            zlib_header = len(data) >= 2 and data[0] & 0x0F == 8 and int.from_bytes(data[:2], "big") % 31 == 0
            self._zlib = zlib.decompressobj(zlib.MAX_WBITS if zlib_header else -zlib.MAX_WBITS)
        try:
            out = self._zlib.decompress(data, room + 1)
            # A gzip body may hold several members back to back.
            while self._zlib.eof and self._zlib.unused_data[:2] == b"\x1f\x8b" and len(out) <= room:
                rest = self._zlib.unused_data
                self._zlib = zlib.decompressobj(16 + zlib.MAX_WBITS)
                out += self._zlib.decompress(rest, room + 1 - len(out))
        except zlib.error as exc:
            raise SyncFailure("http_error", f"the compressed body could not be decoded ({exc})") from exc
        return out

    def finish(self) -> bytes:
        """Check that a compressed body was complete: a cut-off stream is a broken connection."""
        if self._fed and self._zlib is not None and not self._zlib.eof:
            raise SyncFailure("connect", "the compressed body ended before it was complete")
        return b""
