"""Tell what a fetched body is before reading it: an iCal calendar, or HTML, XML, JSON, binary or other text.

The binary check reads the whole body (a calendar may carry a stray NUL byte anywhere): a body is refused as
binary when it does not start like a calendar and holds a NUL, or when control bytes are more than
BINARY_SHARE of it. A calendar with a few stray NULs is read with them removed: PostgreSQL refuses NUL in text,
and refusing the whole calendar for one bad byte would leave every new booking unblocked.
"""
from __future__ import annotations

import html
import re

from jobs.ical.scan import decode_value
from jobs.rules.stays import SyncFailure

_TITLE = re.compile(r"<title[^>]*>(.*?)</title", re.I | re.S)
_XML_ROOT = re.compile(r"<([A-Za-z_][\w:.-]*)")
_XML_SKIP = re.compile(r"\s*(?:<\?.*?\?>|<!--.*?-->|<!DOCTYPE[^>]*>)", re.S)
_SNIFF_BYTES = 16384
BINARY_SHARE = 0.02  # control bytes in a text calendar are rare; in compressed or image data about 11%
# Bytes text never holds: C0 controls but tab, line feed, form feed and carriage return (and ESC, which some
# generators leave in descriptions).
_CONTROL = bytes(b for b in range(32) if b not in (9, 10, 12, 13, 27))
_TEXT = bytes(b for b in range(256) if b not in _CONTROL)


def drop_nul_bytes(body: bytes, content_type: str | None) -> bytes:
    """The (normalised) body without NUL bytes; SyncFailure not_ical when the whole body looks binary."""
    controls = len(body.translate(None, _TEXT))  # C speed: about 1 ms per MB
    if controls == 0:
        return body
    starts_like_calendar = body.replace(b"\x00", b"")[:64].lstrip().upper().startswith(b"BEGIN:VCALENDAR")
    if controls > BINARY_SHARE * len(body) or (b"\x00" in body and not starts_like_calendar):
        raise SyncFailure("not_ical", f"The address returned binary data, not an iCal calendar{_served(content_type)}.")
    return body.replace(b"\x00", b"")


def _served(content_type: str | None) -> str:
    """' (served as type/subtype)' when the server named a content type."""
    return f" (served as {content_type.split(';')[0].strip()})" if content_type else ""


def reject_non_ical(body: bytes, content_type: str | None) -> None:
    """Raise SyncFailure unless the (normalised, non-empty) body starts like an iCal calendar."""
    head = decode_value(body[:_SNIFF_BYTES]).lstrip()
    served = _served(content_type)
    if "\x00" in head[:1024]:
        raise SyncFailure("not_ical", f"The address returned binary data, not an iCal calendar{served}.")
    lowered = head[:1024].lower()
    if lowered.startswith("begin:vcalendar"):
        return
    if lowered.startswith("<"):
        if "<html" in lowered or lowered.startswith("<!doctype html") or _TITLE.search(head):
            raise SyncFailure("not_ical", f"The address returned an HTML page{_html_title(head)}, "
                                          f"not an iCal calendar{served}.")
        raise SyncFailure("not_ical", f"The address returned an XML document{_xml_root(head)}, "
                                      f"not an iCal calendar{served}.")
    if lowered.startswith(("{", "[")) and "begin:v" not in lowered:
        raise SyncFailure("not_ical", f"The address returned JSON data, not an iCal calendar{served}.")
    upper = head.upper()
    if "BEGIN:VCALENDAR" in upper:
        raise SyncFailure("invalid_ical", f"The calendar starts with unexpected text: {_excerpt(head)}.")
    if "BEGIN:VEVENT" in upper:
        raise SyncFailure("invalid_ical", "The body holds events but no BEGIN:VCALENDAR line.")
    raise SyncFailure("not_ical", f"The address returned text that is not an iCal calendar{served}, "
                                  f"starting with: {_excerpt(head)}.")


def _html_title(head: str) -> str:
    """' (title: ...)' for an HTML page that has a title, else ''."""
    match = _TITLE.search(head)
    if not match:
        return ""
    title = " ".join(html.unescape(match.group(1)).split())
    return f" (title: {title[:100]!r})" if title else ""


def _xml_root(head: str) -> str:
    """' (root element <name>)' for an XML document, else ''."""
    pos = 0
    while (skipped := _XML_SKIP.match(head, pos)) and skipped.end() > pos:
        pos = skipped.end()
    match = _XML_ROOT.search(head, pos)
    return f" (root element <{match.group(1)}>)" if match else ""


def _excerpt(text: str) -> str:
    """The first line of text, shortened and quoted, for error messages."""
    first = text.strip().split("\n", 1)[0].strip()
    return repr(first[:80] + ("..." if len(first) > 80 else ""))
