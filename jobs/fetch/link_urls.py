"""Checks on a calendar link URL before it is stored ("Link URL checks" in docs/api.md), and its source."""
from __future__ import annotations

import base64
import binascii
import re
import socket
from dataclasses import dataclass
from urllib.parse import parse_qs, quote, unquote, urlsplit, urlunsplit

from jobs.fetch.addresses import AllowList, Resolver, resolve_public
from jobs.rules.stays import SyncFailure

MAX_URL_LENGTH = 2048
_SCHEMES = {"http": "http", "https": "https", "webcal": "https", "webcals": "https"}
_DEFAULT_PORTS = {"http": 80, "https": 443}
_HOST_CHARS = re.compile(r"^[a-z0-9._~\-]+$|^\[[0-9a-f:.]+\]$")
_GOOGLE_HOSTS = {"calendar.google.com", "www.google.com", "google.com"}
_GOOGLE_ICAL_URL = "https://calendar.google.com/calendar/ical/{id}/{visibility}/basic.ics"
# /calendar, then an optional account selector (/u/0, /b/1) that Google puts in copied addresses.
_GOOGLE_PATH = re.compile(r"^/calendar(?:/[ub]/\d+)?(?P<rest>/.*)?$")
_GOOGLE_FEED = re.compile(r"^/feeds/(?P<id>[^/]+)/(?P<visibility>public|private-[0-9a-f]+)/")


@dataclass(frozen=True)
class CheckedUrl:
    """A link URL that passed the checks, as it should be stored, with the channel it belongs to."""

    url: str
    source: str


class LinkUrlError(Exception):
    """A link URL refused with an error code of docs/api.md (422), possibly with a better address."""

    def __init__(self, code: str, message: str, suggested_url: str | None = None):
        super().__init__(message)
        self.code = code
        self.message = message
        self.suggested_url = suggested_url


def _brand(name: str) -> re.Pattern[str]:
    """A host pattern for a brand under any country domain (airbnb.com, airbnb.co.uk, airbnb.com.au)."""
    return re.compile(rf"(?:^|\.)(?:{name})(?:\.(?:com|co|net|org))?\.[a-z]{{2,3}}$")


_SOURCES: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("airbnb", _brand("airbnb")),
    ("vrbo", _brand(r"vrbo|homeaway|abritel|fewo-direkt|stayz|bookabach|homelidays")),
    ("booking", re.compile(r"(?:^|\.)booking\.com$")),
    ("9flats", _brand("9flats")),
    ("holidaylettings", _brand("holidaylettings|tripadvisor|flipkey|niumba")),
)


def detect_source(url: str) -> str:
    """The channel a calendar URL belongs to (the sources of docs/sync-rules.md), "ical" when unknown."""
    parts = _split(url.strip())
    host = (parts.hostname or "").rstrip(".") if parts else ""
    if _is_google(host, parts.path if parts else ""):
        return "google"
    for source, pattern in _SOURCES:
        if pattern.search(host):
            return source
    return "ical"


def _is_google(host: str, path: str) -> bool:
    """Google Calendar lives on calendar.google.com and, for old links, www.google.com/calendar."""
    if host == "calendar.google.com":
        return True
    return host in _GOOGLE_HOSTS and bool(_GOOGLE_PATH.match(path))


def _split(url: str):
    """urlsplit that answers None instead of raising on garbage."""
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError on a bad port
        return parts
    except ValueError:
        return None


def normalize_for_compare(url: str) -> str:
    """A form of `url` in which two spellings of the same feed address compare equal."""
    parts = _split(url.strip())
    if parts is None or not parts.hostname:
        return url.strip()
    scheme = _SCHEMES.get(parts.scheme.lower(), parts.scheme.lower())
    host = parts.hostname.rstrip(".")
    if ":" in host:
        host = f"[{host}]"
    if parts.port is not None and parts.port != _DEFAULT_PORTS.get(scheme):
        host = f"{host}:{parts.port}"
    return urlunsplit((scheme, host, parts.path or "/", parts.query, ""))


def check_link_url(url: str, allow: AllowList,
                   resolver: Resolver = socket.getaddrinfo) -> CheckedUrl:
    """Check a link URL from the API; return it as stored, or raise LinkUrlError."""
    text = (url or "").strip()
    parts = _parse_http_url(text)
    host = parts.hostname.rstrip(".")
    stored = _stored_form(parts, host)
    _refuse_known_non_ical(host, parts.path, parts.query)
    try:
        resolve_public(host, parts.port or _DEFAULT_PORTS[_SCHEMES[parts.scheme.lower()]], allow,
                       resolver=resolver)
    except SyncFailure as failure:
        # A name that does not resolve now may later: every fetch checks the address again.
        if failure.kind == "blocked_address":
            raise LinkUrlError("blocked_address", failure.message) from failure
    return CheckedUrl(stored, detect_source(stored))


def _parse_http_url(text: str):
    """Split `text` as an http/https/webcal URL with a host, or raise LinkUrlError("invalid_url")."""
    if not text:
        raise LinkUrlError("invalid_url", "The address is empty.")
    if len(text) > MAX_URL_LENGTH or any(ch.isspace() or ord(ch) < 32 for ch in text):
        raise LinkUrlError("invalid_url", "The address is too long or contains spaces or control characters.")
    parts = _split(text)
    if parts is None:
        raise LinkUrlError("invalid_url", "The address could not be read (check the port number).")
    if parts.scheme.lower() not in _SCHEMES:
        raise LinkUrlError("invalid_url", "Only http://, https:// and webcal:// calendar addresses can be linked.")
    if not parts.hostname:
        raise LinkUrlError("invalid_url", "The address has no host name.")
    if parts.username is not None or parts.password is not None:
        raise LinkUrlError("invalid_url", "The address contains a user name or password; "
                                          "use the calendar's secret export link instead.")
    host = parts.hostname
    try:
        ascii_host = host.encode("idna").decode("ascii") if not host.startswith("[") else host
    except UnicodeError as exc:
        raise LinkUrlError("invalid_url", f"The host name {host!r} is not valid.") from exc
    if not (_HOST_CHARS.match(ascii_host) or ":" in host) or ".." in ascii_host:
        raise LinkUrlError("invalid_url", f"The host name {host!r} is not valid.")
    return parts


def _stored_form(parts, host: str) -> str:
    """The URL as stored: webcal becomes https, scheme and host in lower case, no fragment."""
    scheme = _SCHEMES[parts.scheme.lower()]
    netloc = f"[{host}]" if ":" in host else host
    if parts.port is not None:
        netloc = f"{netloc}:{parts.port}"
    return urlunsplit((scheme, netloc, parts.path or "/", parts.query, ""))


# Listing and admin pages owners paste instead of the export link. Their export addresses hold a
# secret we cannot derive, so the answer says where to find them instead of suggesting one.
_PAGE_RULES: tuple[tuple[re.Pattern[str], re.Pattern[str], str], ...] = (
    (_brand("airbnb"), re.compile(r"^/(?!calendar/ical/)"),
     "This is an Airbnb page, not the calendar export. In Airbnb open Calendar > Availability > "
     "Connect to another website (Export calendar) and copy the address ending in .ics."),
    (_brand(r"vrbo|homeaway|abritel|fewo-direkt|stayz"), re.compile(r"^/(?:[a-z]{2}-[a-z]{2}/)?\d+[a-z]*/?$"),
     "This is a Vrbo listing page, not the calendar export. In Vrbo open Calendar > Import/Export > "
     "Export calendar and copy the address ending in .ics."),
    (re.compile(r"^(?:www\.)?booking\.com$"), re.compile(r"^/(?:hotel|searchresults)"),
     "This is a Booking.com page, not the calendar export. In the Booking.com extranet open Rates & "
     "Availability > Sync calendars > Export calendar and copy the link it shows."),
)


def _refuse_known_non_ical(host: str, path: str, query: str) -> None:
    """Raise not_ical_url for pages and XML feeds that people paste instead of an iCal address."""
    for host_rule, path_rule, message in _PAGE_RULES:
        if host_rule.search(host) and path_rule.match(path or "/"):
            raise LinkUrlError("not_ical_url", message)
    if host not in _GOOGLE_HOSTS:
        return
    match = _GOOGLE_PATH.match(path)
    if not match:
        return
    rest = match.group("rest") or "/"
    if rest.startswith("/ical/"):
        return
    feed = _GOOGLE_FEED.match(rest)
    if feed:
        suggested = _google_ical_url(unquote(feed.group("id")), feed.group("visibility"))
        raise LinkUrlError("not_ical_url", "This is Google Calendar's old XML feed, not an iCal calendar.",
                           suggested)
    calendar_id = _google_calendar_id(parse_qs(query))
    suggested = _google_ical_url(calendar_id, "public") if calendar_id else None
    raise LinkUrlError("not_ical_url", "This is a Google Calendar web page, not its iCal address "
                                       "(\"Public address in iCal format\").", suggested)


def _google_calendar_id(query: dict[str, list[str]]) -> str | None:
    """The calendar id in an embed/htmlview address: `src=` as is, `cid=` plain or base64."""
    for src in query.get("src", []):
        if "@" in src:
            return src
    for cid in query.get("cid", []):
        decoded = cid if "@" in cid else _decode_cid(cid)
        if decoded:
            return decoded
    return None


def _decode_cid(cid: str) -> str | None:
    """Google writes `cid` as URL-safe base64 of the calendar id, without padding."""
    try:
        raw = base64.urlsafe_b64decode(cid + "=" * (-len(cid) % 4))
        text = raw.decode("utf-8")
    except (binascii.Error, ValueError, UnicodeDecodeError):
        return None
    return text if "@" in text and text.isprintable() and " " not in text else None


def _google_ical_url(calendar_id: str, visibility: str) -> str:
    """The iCal address of a Google calendar, with its id escaped the way Google shows it."""
    return _GOOGLE_ICAL_URL.format(id=quote(calendar_id, safe=""), visibility=visibility)
