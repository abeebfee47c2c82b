"""A loopback stand-in for Kigo's JSON API, with state (accounts, properties, reservations, diffs)
and knobs to make it fail the ways the real one does.

Both address forms are served: the legacy Rental Agency API at `standin.url` (HTTP Basic) and the
channels API at `standin.channels_url` (`?subscription-key=`). Use it through the `kigo_standin`
fixture (import it into a conftest) and build clients with `KigoClient(**standin.client_kwargs())`.
"""
from __future__ import annotations

import json
import re
import threading
import time
import uuid
from dataclasses import dataclass
from datetime import date

import pytest
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

LEGACY_PREFIX = "/api/ra/v1/"
CHANNELS_PREFIX = "/channels/v1/"
NOSUCH_PROPERTY = "The property was not found, or is unavailable (i.e. was deactivated)."
# Failure kinds for fail_next besides HTTP statuses (ints) and result codes ("E_..."):
BODY_FAILURES = frozenset({"html", "malformed_json", "not_object", "no_result_code", "null_reply", "empty_body"})


@dataclass
class StandinProperty:
    """A property some Kigo account shares with us; instant_booking is the raw PROP_INSTANT_BOOK value."""

    prop_id: int
    account: str
    name: str
    instant_booking: object
    provider_type: str


@dataclass
class StandinReservation:
    """A reservation as Kigo lists it."""

    res_id: int
    prop_id: int
    check_in: str
    check_out: str
    status: str
    is_for: str


@dataclass(frozen=True)
class KigoCall:
    """One request the stand-in received: which API form, method, decoded JSON body, auth accepted."""

    api: str  # "legacy" or "channels"
    method: str
    params: object
    authorized: bool


@dataclass
class _Failure:
    """A queued failure for the next `times` calls of `method` ("*" = any method)."""

    method: str
    kind: int | str
    times: int
    retry_after: float | str | None
    text: str | None


class KigoStandin:
    """Kigo's API over loopback: holds state, checks credentials, and fails on request."""

    def __init__(self, username: str = "kigo-user", password: str = "kigo-pass",
                 subscription_key: str = "kigo-key"):
        self.server = HTTPServer(host="127.0.0.1", port=0, threaded=True)
        self._lock = threading.Lock()
        self._defaults = (username, password, subscription_key)
        self.reset()

    def reset(self) -> None:
        """Forget all state, knobs and recorded calls; back to the default credentials."""
        with self._lock:
            self.username, self.password, self.subscription_key = self._defaults
            self.properties: dict[int, StandinProperty] = {}
            self.reservations: dict[int, StandinReservation] = {}
            self.calls: list[KigoCall] = []
            self._failures: list[_Failure] = []
            self._delays: list[_Failure] = []  # kind "delay", retry_after = seconds to wait
            self._unknown_methods: set[str] = set()
            self._changes: list[int] = []  # reservation ids in the order they changed, for diffs

    # -- lifecycle and addresses -------------------------------------------------------------
    def start(self) -> KigoStandin:
        """Start serving on 127.0.0.1 (a free port)."""
        self.server.expect_request(re.compile(".*")).respond_with_handler(self._handle)
        self.server.start()
        return self

    def stop(self) -> None:
        """Stop serving."""
        if self.server.is_running():
            self.server.stop()
        self.server.clear()

    @property
    def url(self) -> str:
        """Base URL of the legacy Rental Agency API form (HTTP Basic)."""
        return f"http://127.0.0.1:{self.server.port}{LEGACY_PREFIX.rstrip('/')}"

    @property
    def channels_url(self) -> str:
        """Base URL of the channels API form (subscription key)."""
        return f"http://127.0.0.1:{self.server.port}{CHANNELS_PREFIX.rstrip('/')}"

    def client_kwargs(self, channels: bool = False) -> dict:
        """Keyword arguments for KigoClient that reach this stand-in with good credentials."""
        if channels:
            return {"base_url": self.channels_url, "subscription_key": self.subscription_key}
        return {"base_url": self.url, "username": self.username, "password": self.password}

    # -- state ------------------------------------------------------------------------------
    def add_property(self, account: str, prop_id: int, name: str | None = None,
                     instant_booking: object = True, provider_type: str = "RA") -> None:
        """Share a property from Kigo account `account` (its RA_ID) with us."""
        with self._lock:
            self.properties[prop_id] = StandinProperty(prop_id, str(account), name or f"Kigo property {prop_id}",
                                                       instant_booking, provider_type)

    def set_instant_booking(self, prop_id: int, value: object) -> None:
        """Change the raw PROP_INSTANT_BOOK value of a property."""
        with self._lock:
            self.properties[prop_id].instant_booking = value

    def remove_property(self, prop_id: int) -> None:
        """Stop sharing a property (it disappears from lists; reading it answers E_NOSUCH)."""
        with self._lock:
            self.properties.pop(prop_id, None)

    def add_reservation(self, prop_id: int, res_id: int, check_in: date | str, check_out: date | str,
                        status: str = "CONFIRMED", is_for: str = "GUEST") -> None:
        """Add or replace a reservation (dates as date or YYYY-MM-DD; check_out exclusive)."""
        with self._lock:
            self.reservations[res_id] = StandinReservation(res_id, prop_id, str(check_in), str(check_out),
                                                           status, is_for)
            self._changes.append(res_id)

    def cancel_reservation(self, res_id: int, status: str = "CANCELLED") -> None:
        """Mark a reservation cancelled (it stays listed with that status, as a diff reports it)."""
        with self._lock:
            self.reservations[res_id].status = status
            self._changes.append(res_id)

    # -- knobs ------------------------------------------------------------------------------
    def fail_next(self, method: str, kind: int | str, times: int = 1, retry_after: float | str | None = None,
                  text: str | None = None) -> None:
        """Fail the next `times` calls of `method` ("*": any): an HTTP status (401, 403, 404, 409, 429, 5xx),
        a result code ("E_NOSUCH", "E_CONFLICT", ...) or one of BODY_FAILURES."""
        if not (isinstance(kind, int) or kind.startswith("E_") or kind in BODY_FAILURES):
            raise ValueError(f"unknown failure kind {kind!r}")
        with self._lock:
            self._failures.append(_Failure(method, kind, times, retry_after, text))

    def delay_next(self, method: str, seconds: float, times: int = 1) -> None:
        """Wait `seconds` before answering the next `times` calls of `method` (for timeouts)."""
        with self._lock:
            self._delays.append(_Failure(method, "delay", times, seconds, None))

    def forget_method(self, method: str) -> None:
        """Answer 404 for `method`, as an API that does not know it (e.g. listProperties2)."""
        with self._lock:
            self._unknown_methods.add(method)

    def calls_to(self, method: str) -> list[KigoCall]:
        """The requests received for one method, oldest first."""
        with self._lock:
            return [call for call in self.calls if call.method == method]

    # -- HTTP -------------------------------------------------------------------------------
    def _handle(self, request: Request) -> Response:
        """Route one request: address form, credentials, knobs, then the method itself."""
        if request.path.startswith(LEGACY_PREFIX):
            api, method = "legacy", request.path[len(LEGACY_PREFIX):]
            authorized = (request.authorization is not None
                          and request.authorization.username == self.username
                          and request.authorization.password == self.password)
        elif request.path.startswith(CHANNELS_PREFIX):
            api, method = "channels", request.path[len(CHANNELS_PREFIX):]
            authorized = request.args.get("subscription-key") == self.subscription_key
        else:
            return Response("<html><body>Not Found</body></html>", 404, content_type="text/html")
        try:
            params = json.loads(request.get_data() or b"null")
        except ValueError:
            return self._envelope(method, "E_INVALID", None, "The request body is not valid JSON.", 400)
        with self._lock:
            self.calls.append(KigoCall(api, method, params, authorized))
            delay, failure = _take(self._delays, method), _take(self._failures, method)
            unknown = method in self._unknown_methods
        if delay is not None:
            time.sleep(delay.retry_after)
        if not authorized:
            return _json_response({"statusCode": 401, "message": "Access denied: invalid credentials."}, 401,
                                  {"WWW-Authenticate": 'Basic realm="Kigo API"'})
        if failure is not None:
            return self._failure_response(method, failure)
        handler = getattr(self, f"_m_{method}", None)
        if unknown or handler is None:
            return Response("<html><body>Unknown method</body></html>", 404, content_type="text/html")
        with self._lock:
            code, reply, text = handler(params)
        return self._envelope(method, code, reply, text)

    def _failure_response(self, method: str, failure: _Failure) -> Response:
        """The response a queued failure stands for."""
        kind, text = failure.kind, failure.text
        headers = {} if failure.retry_after is None else {"Retry-After": str(failure.retry_after)}
        if kind == 429:
            wait = failure.retry_after if isinstance(failure.retry_after, (int, float)) else 1
            return _json_response({"statusCode": 429, "message": text or f"Rate limit is exceeded. Try again in "
                                                                        f"{wait:g} seconds."}, 429, headers)
        if kind == 409:
            return self._envelope(method, "E_CONFLICT", None, text or "Another request is in progress.", 409,
                                  headers)
        if isinstance(kind, int):
            return Response(f"<!DOCTYPE html><html><body><h1>{kind}</h1>{text or ''}</body></html>", kind,
                            headers, content_type="text/html")
        if kind.startswith("E_"):
            return self._envelope(method, kind, None, text if text is not None else f"Stand-in {kind}.")
        bodies = {"html": "<!DOCTYPE html><html><body>Maintenance</body></html>",
                  "malformed_json": '{"API_RESULT_CODE": "E_OK", "API_REPLY": [',
                  "not_object": "[1, 2, 3]",
                  "no_result_code": json.dumps({"API_VERSION": 1, "API_METHOD": method, "API_REPLY": []}),
                  "empty_body": ""}
        if kind == "null_reply":
            return self._envelope(method, "E_OK", None, text or "")
        return Response(bodies[kind], 200, content_type="text/html" if kind == "html" else "application/json")

    def _envelope(self, method: str, code: str, reply: object, text: str = "", status: int = 200,
                  headers: dict | None = None) -> Response:
        """A reply envelope as Kigo writes it."""
        return _json_response({"API_VERSION": 1, "API_REVISION": 14, "API_METHOD": method,
                               "API_CALL_ID": str(uuid.uuid4()), "API_RESULT_CODE": code,
                               "API_RESULT_TEXT": text, "API_REPLY": reply}, status, headers)

    # -- methods (called under the lock): return (result code, API_REPLY, API_RESULT_TEXT) -----
    def _m_ping(self, params: object) -> tuple:
        return "E_OK", None, ""

    def _m_listProperties2(self, params: object) -> tuple:
        return "E_OK", [{"PROP_ID": p.prop_id, "PROP_NAME": p.name,
                         "PROP_PROVIDER": {"PROVIDER_TYPE": p.provider_type, "RA_ID": _ra_id(p.account)}}
                        for p in self.properties.values()], ""

    def _m_listProperties(self, params: object) -> tuple:
        # the legacy list flattens the provider into PROP_PROVIDER_* fields
        return "E_OK", [{"PROP_ID": p.prop_id, "PROP_NAME": p.name, "PROP_PROVIDER_RA_ID": _ra_id(p.account)}
                        for p in self.properties.values()], ""

    def _m_readProperty2(self, params: object) -> tuple:
        prop = self._property(params)
        if isinstance(prop, tuple):
            return prop
        return "E_OK", {"PROP_ID": prop.prop_id, "PROP_INSTANT_BOOK": prop.instant_booking,
                        "PROP_PROVIDER": {"PROVIDER_TYPE": prop.provider_type, "RA_ID": _ra_id(prop.account)},
                        "PROP_INFO": {"PROP_NAME": prop.name}}, ""

    _m_readProperty = _m_readProperty2

    def _m_listPropertyCalendarReservations(self, params: object) -> tuple:
        prop = self._property(params)
        if isinstance(prop, tuple):
            return prop
        try:
            start, end = (date.fromisoformat(params[key]) for key in ("LIST_START_DATE", "LIST_END_DATE"))
        except (KeyError, TypeError, ValueError):
            return "E_INVALID", None, "LIST_START_DATE and LIST_END_DATE must be YYYY-MM-DD dates."
        return "E_OK", [_res_record(r) for r in self.reservations.values()
                        if r.prop_id == prop.prop_id and date.fromisoformat(r.check_out) > start
                        and date.fromisoformat(r.check_in) <= end], ""

    def _m_diffPropertyCalendarReservations(self, params: object) -> tuple:
        diff_id = params.get("DIFF_ID") if isinstance(params, dict) else None
        if diff_id is None:
            changed = list(self.reservations)
        else:
            found = re.fullmatch(r"standin-diff-(\d+)", str(diff_id))
            if not found or int(found.group(1)) > len(self._changes):
                return "E_NOSUCH", None, "The DIFF_ID is unknown or expired."
            changed = list(dict.fromkeys(self._changes[int(found.group(1)):]))
        return "E_OK", {"DIFF_ID": f"standin-diff-{len(self._changes)}",
                        "RES_LIST": [_res_record(self.reservations[i]) for i in changed]}, ""

    def _property(self, params: object) -> StandinProperty | tuple:
        """The property named by PROP_ID, or the error reply (ids must be JSON numbers, as in Kigo)."""
        prop_id = params.get("PROP_ID") if isinstance(params, dict) else None
        if not isinstance(prop_id, int) or isinstance(prop_id, bool):
            return "E_INVALID", None, "PROP_ID must be a number."
        if prop_id not in self.properties:
            return "E_NOSUCH", None, NOSUCH_PROPERTY
        return self.properties[prop_id]


def _take(queue: list[_Failure], method: str) -> _Failure | None:
    """Use up one queued knob for `method` (or for any method)."""
    for knob in queue:
        if knob.method in (method, "*"):
            knob.times -= 1
            if knob.times <= 0:
                queue.remove(knob)
            return knob
    return None


def _ra_id(account: str) -> int | str:
    """Real RA_IDs are numbers; named test accounts ("ACC1") are kept as text."""
    return int(account) if account.isdigit() else account


def _res_record(res: StandinReservation) -> dict:
    """A reservation as listPropertyCalendarReservations and diffPropertyCalendarReservations list it."""
    return {"PROP_ID": res.prop_id, "RES_ID": res.res_id, "RES_STATUS": res.status,
            "RES_CHECK_IN": res.check_in, "RES_CHECK_OUT": res.check_out, "RES_IS_FOR": res.is_for}


def _json_response(payload: object, status: int = 200, headers: dict | None = None) -> Response:
    """A JSON response."""
    return Response(json.dumps(payload), status, headers or {}, content_type="application/json")


_shared: KigoStandin | None = None


def shared_standin() -> KigoStandin:
    """The process's one running stand-in (a werkzeug server takes 0.5 s to stop: start it once)."""
    global _shared
    if _shared is None:
        _shared = KigoStandin().start()  # its thread is a daemon: it ends with the test process
    return _shared


@pytest.fixture
def kigo_standin() -> KigoStandin:
    """The running Kigo stand-in on 127.0.0.1, emptied before and after the test."""
    standin = shared_standin()
    standin.reset()
    yield standin
    standin.reset()
