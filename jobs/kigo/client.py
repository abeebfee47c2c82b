"""Kigo connector: a client for Kigo's JSON API.

Both Kigo APIs take a POST with a JSON body at `<base>/<method>` and answer an envelope
(API_RESULT_CODE, API_RESULT_TEXT, API_REPLY, ...): the legacy Rental Agency API
(`https://app.kigo.net/api/ra/v1`, HTTP Basic) and the channels API
(`https://www.kigoapis.com/channels/v1`, `?subscription-key=`). Every failure leaves as a
SyncFailure with an error kind (docs/outcomes.md) and a message a person can act on.
"""
from __future__ import annotations

import itertools
import json
import re
import socket
import time
from collections.abc import Callable, Iterator
from datetime import date

import requests
import urllib3

from jobs.kigo.replies import (
    KigoDiff,
    KigoProperty,
    KigoPropertyInfo,
    kigo_id,
    parse_diff,
    parse_properties,
    parse_property_info,
    parse_reservations,
)
from jobs.rules.stays import Stay, SyncFailure, parse_retry_after

USER_AGENT = "CalendarSyncConsole/1.0 (Kigo connector)"
MAX_BODY_BYTES = 10 * 1024 * 1024
_NO_EMPTY = object()  # `call(on_empty=...)` default: E_EMPTY is an error
_TRY_AGAIN = re.compile(r"try again in (\d+(?:\.\d+)?) second", re.IGNORECASE)


class _Busy(Exception):
    """Kigo asked us to come back later (429, 409, E_CONFLICT); the call is retried with backoff."""

    def __init__(self, failure: SyncFailure):
        super().__init__(failure.message)
        self.failure = failure


class KigoClient:
    """One Kigo API account: POSTs a method's JSON parameters and returns its API_REPLY."""

    def __init__(self, base_url: str, username: str | None = None, password: str | None = None,
                 subscription_key: str | None = None, timeout: float = 15,
                 session: requests.Session | None = None, max_retries: int = 3,
                 sleep: Callable[[float], None] = time.sleep, backoff: float = 1.0,
                 max_retry_wait: float = 60.0, max_bytes: int = MAX_BODY_BYTES):
        self.base_url = base_url.rstrip("/")
        self.subscription_key = subscription_key
        # The channels API authenticates by the key alone; Basic is only for the legacy API.
        self.auth = None if subscription_key or username is None else (username, password or "")
        self.timeout = timeout
        self.session = session or requests.Session()
        self.max_retries = max_retries
        self.sleep = sleep
        self.backoff = backoff
        self.max_retry_wait = max_retry_wait  # longer waits are the scheduler's job, not a blocked worker's
        self.max_bytes = max_bytes

    def ping(self) -> None:
        """Check that Kigo answers and accepts our credentials; raises SyncFailure otherwise."""
        self.call("ping", reply_needed=False)

    def list_properties(self) -> list[KigoProperty]:
        """Every property shared with our credentials (listProperties2; listProperties where that is unknown)."""
        try:
            return parse_properties(self.call("listProperties2", on_empty=None), "listProperties2")
        except SyncFailure as failure:
            if failure.http_status != 404:  # only "no such method here" sends us to the legacy name
                raise
        return parse_properties(self.call("listProperties", on_empty=None), "listProperties")

    def read_property(self, prop_id: int) -> KigoPropertyInfo:
        """One property's name and Instant Booking setting (readProperty2)."""
        prop_id = kigo_id(prop_id, "The Kigo property id")
        reply = self.call("readProperty2", {"PROP_ID": prop_id}, prop_id=prop_id)
        return parse_property_info(reply, prop_id)

    def list_reservations(self, prop_id: int, start: date, end: date) -> list[Stay]:
        """The blocking stays of one property's reservations overlapping [start, end]; E_EMPTY is none."""
        prop_id = kigo_id(prop_id, "The Kigo property id")
        params = {"PROP_ID": prop_id, "LIST_START_DATE": start.isoformat(), "LIST_END_DATE": end.isoformat()}
        reply = self.call("listPropertyCalendarReservations", params, on_empty=[], prop_id=prop_id)
        return parse_reservations(reply, "listPropertyCalendarReservations")

    def diff_reservations(self, prop_id: int, diff_id: str | None) -> KigoDiff:
        """Reservation changes for one property since `diff_id` (None: from the start)."""
        prop_id = kigo_id(prop_id, "The Kigo property id")
        # Kigo's diff is account-wide and takes only DIFF_ID; the reply is narrowed to prop_id here.
        reply = self.call("diffPropertyCalendarReservations", {"DIFF_ID": diff_id}, on_empty=None)
        return parse_diff(reply, prop_id, diff_id)

    def call(self, method: str, params: dict | None = None, *, on_empty: object = _NO_EMPTY,
             prop_id: int | None = None, reply_needed: bool = True) -> object:
        """One API method's API_REPLY; `on_empty` is returned for E_EMPTY, E_NOSUCH on `prop_id` is kigo_not_found."""
        envelope = self._exchange(method, params)
        code, text = envelope["API_RESULT_CODE"], str(envelope.get("API_RESULT_TEXT") or "").strip()
        if code == "E_OK":
            reply = envelope.get("API_REPLY")
            if reply is None and reply_needed:
                raise SyncFailure("kigo_error", f"Kigo {method} answered E_OK without any API_REPLY"
                                                f"{_said(text)}")
            return reply
        if code == "E_EMPTY" and on_empty is not _NO_EMPTY:
            return on_empty
        if code == "E_NOSUCH" and prop_id is not None:
            raise SyncFailure("kigo_not_found", f"Kigo {method}: property {prop_id} does not exist or was "
                                                f"deactivated (E_NOSUCH{_said(text)})")
        raise SyncFailure("kigo_error", f"Kigo {method} failed with {code}{_said(text)}")

    def _exchange(self, method: str, params: dict | None) -> dict:
        """POST until Kigo stops asking us to wait, or the retries or patience run out."""
        for attempt in itertools.count():
            try:
                return self._exchange_once(method, params)
            except _Busy as busy:
                failure = busy.failure
                wait = failure.retry_after if failure.retry_after is not None else self.backoff * 2 ** attempt
                if attempt >= self.max_retries or wait > self.max_retry_wait:
                    raise SyncFailure(failure.kind, f"{failure.message}; gave up after {attempt + 1} attempt(s)",
                                      failure.http_status, failure.retry_after) from None
                self.sleep(wait)
        raise AssertionError("unreachable")

    def _exchange_once(self, method: str, params: dict | None) -> dict:
        """One POST, its HTTP status and its envelope checked."""
        status, headers, body = self._post(method, params)
        if status in (401, 403):
            raise SyncFailure("kigo_auth", f"Kigo refused our credentials for {method} (HTTP {status})", status)
        if status == 429:
            raise _Busy(SyncFailure("rate_limited", f"Kigo rate-limited {method} (HTTP 429)", status,
                                    retry_after_seconds(headers.get("Retry-After"), body)))
        if status == 409:
            raise _Busy(SyncFailure("kigo_error", f"Kigo answered {method} with a conflict (HTTP 409)"
                                                  f"{_said(_envelope_text(body))}", status,
                                    retry_after_seconds(headers.get("Retry-After"), body)))
        if status >= 500:
            raise SyncFailure("server_error", f"Kigo failed on {method} with HTTP {status}"
                                              f"{_said(_envelope_text(body))}", status)
        if 300 <= status < 400:
            raise SyncFailure("kigo_error", f"Kigo redirected {method} (HTTP {status}) to "
                                            f"{headers.get('Location', 'nowhere')}: check KIGO_API_URL", status)
        if not 200 <= status < 300:
            raise SyncFailure("kigo_error", f"Kigo answered {method} with HTTP {status}"
                                            f"{_said(_envelope_text(body))}", status)
        envelope = decode_envelope(body, method, status)
        if envelope["API_RESULT_CODE"] == "E_CONFLICT":
            raise _Busy(SyncFailure("kigo_error", f"Kigo {method} failed with E_CONFLICT"
                                                  f"{_said(str(envelope.get('API_RESULT_TEXT') or ''))}", status))
        return envelope

    def _post(self, method: str, params: dict | None) -> tuple[int, requests.structures.CaseInsensitiveDict, bytes]:
        """Send one request and read its body within the time and size limits."""
        query = {"subscription-key": self.subscription_key} if self.subscription_key else None
        started = time.monotonic()
        try:
            # ints go out as exact JSON numbers: Kigo refuses ids sent as strings
            with self.session.post(f"{self.base_url}/{method}", params=query, auth=self.auth,
                                   data=json.dumps(params).encode(), timeout=self.timeout, stream=True,
                                   allow_redirects=False,
                                   headers={"Content-Type": "application/json", "Accept": "application/json",
                                            "User-Agent": USER_AGENT}) as response:
                body = bytearray()
                for chunk in response.iter_content(65536):
                    body += chunk
                    if len(body) > self.max_bytes:
                        raise SyncFailure("too_large", f"Kigo's answer to {method} is larger than "
                                                       f"{self.max_bytes} bytes", response.status_code)
                    if time.monotonic() - started > self.timeout:
                        raise SyncFailure("timeout", f"Kigo took longer than {self.timeout:g}s to answer {method}")
                return response.status_code, response.headers, bytes(body)
        except requests.RequestException as exc:
            raise classify_transport_error(exc, method, secret=self.subscription_key) from exc


def decode_envelope(body: bytes, method: str, status: int | None = None) -> dict:
    """The reply envelope as a dict, or SyncFailure(kigo_error) saying what came instead."""
    try:
        envelope = json.loads(body)
    except ValueError:
        raise SyncFailure("kigo_error", f"Kigo answered {method} with {_describe(body)} instead of JSON",
                          status) from None
    if not isinstance(envelope, dict):
        raise SyncFailure("kigo_error", f"Kigo answered {method} with a JSON {type(envelope).__name__} "
                                        f"instead of a reply envelope", status)
    code = envelope.get("API_RESULT_CODE")
    if not isinstance(code, str) or not code:
        raise SyncFailure("kigo_error", f"Kigo's answer to {method} has no API_RESULT_CODE"
                                        f"{_said(_envelope_text(body))}", status)
    return envelope


def retry_after_seconds(header: str | None, body: bytes = b"") -> float | None:
    """Seconds Kigo asked us to wait: Retry-After (seconds or HTTP date), else "Try again in N seconds"."""
    seconds = parse_retry_after(header)
    if seconds is not None:
        return seconds
    found = _TRY_AGAIN.search(body[:2000].decode("utf-8", "replace"))
    return float(found.group(1)) if found else None


def classify_transport_error(exc: BaseException, method: str, secret: str | None = None) -> SyncFailure:
    """A requests exception as a network error kind: dns, timeout, tls, too_many_redirects or connect."""
    causes = list(_causes(exc))
    if any(isinstance(cause, (urllib3.exceptions.NameResolutionError, socket.gaierror)) for cause in causes):
        kind, what = "dns", "could not look up Kigo's host name"
    # requests re-raises a read timeout met mid-body as ConnectionError: look at what it wraps
    elif any(_timed_out(cause) for cause in causes):
        kind, what = "timeout", "Kigo did not answer in time"
    elif isinstance(exc, requests.exceptions.SSLError):
        kind, what = "tls", "the TLS handshake with Kigo failed"
    elif isinstance(exc, requests.TooManyRedirects):
        kind, what = "too_many_redirects", "Kigo redirected too many times"
    elif isinstance(exc, (requests.exceptions.InvalidURL, requests.exceptions.MissingSchema,
                          requests.exceptions.InvalidSchema)):
        kind, what = "kigo_error", "the Kigo API address is not usable (check KIGO_API_URL)"
    else:
        kind, what = "connect", "the connection to Kigo failed or broke off"
    detail = str(exc)[:300]
    if secret:
        detail = detail.replace(secret, "***")  # requests puts the full URL, key included, in its messages
    return SyncFailure(kind, f"Kigo {method}: {what} ({type(exc).__name__}: {detail})")


def _timed_out(cause: BaseException) -> bool:
    """A timeout, but not urllib3's NewConnectionError (a refused connection that subclasses ConnectTimeoutError)."""
    return (isinstance(cause, (requests.Timeout, urllib3.exceptions.TimeoutError, TimeoutError))
            and not isinstance(cause, urllib3.exceptions.NewConnectionError))


def _causes(exc: BaseException) -> Iterator[BaseException]:
    """The exception and everything it wraps (requests nests urllib3's reasons in args)."""
    seen: list[BaseException] = []
    stack: list[object] = [exc]
    while stack:
        item = stack.pop()
        if not isinstance(item, BaseException) or any(item is s for s in seen):
            continue
        seen.append(item)
        yield item
        stack.extend([item.__cause__, item.__context__, getattr(item, "reason", None), *item.args])


def _envelope_text(body: bytes) -> str:
    """API_RESULT_TEXT (or a channels-API `message`) of an error body, if it is an envelope at all."""
    try:
        envelope = json.loads(body)
    except ValueError:
        return ""
    if not isinstance(envelope, dict):
        return ""
    return str(envelope.get("API_RESULT_TEXT") or envelope.get("message") or "")


def _describe(body: bytes) -> str:
    """A few words on a body that is not JSON, for the error message."""
    text = body[:200].decode("utf-8", "replace").strip()
    if not text:
        return "an empty body"
    if text.startswith("<"):
        return "an HTML page"
    return f"text starting {text[:60]!r}"


def _said(text: str) -> str:
    """': <Kigo's explanation>' when Kigo gave one."""
    return f": {text.strip()}" if text and text.strip() else ""
