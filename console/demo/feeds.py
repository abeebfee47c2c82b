"""Feeds the demo links point at, served by the app itself (only when DEMO_FEEDS is on)."""
from __future__ import annotations

import threading
from datetime import date, timedelta

from flask import Blueprint, Response, abort, current_app

demo_feeds_bp = Blueprint("demo_feeds", __name__, url_prefix="/demo-feeds")


def _d(days: int) -> str:
    return (date.today() + timedelta(days=days)).strftime("%Y%m%d")


def _cal(prodid: str, events: list[str], extra: str = "", eol: str = "\r\n") -> str:
    lines = ["BEGIN:VCALENDAR", f"PRODID:{prodid}", "VERSION:2.0", "CALSCALE:GREGORIAN", extra]
    lines += events + ["END:VCALENDAR", ""]
    return eol.join(line for line in lines if line != "")


def _allday(uid: str, start: int, end: int, summary: str, more: str = "") -> str:
    return "\r\n".join(x for x in ["BEGIN:VEVENT", "DTSTAMP:20261101T000000Z",
                                   f"DTSTART;VALUE=DATE:{_d(start)}", f"DTEND;VALUE=DATE:{_d(end)}",
                                   f"UID:{uid}", f"SUMMARY:{summary}", more, "END:VEVENT"] if x)


def airbnb() -> str:
    """An Airbnb-style feed: reservations with HM codes and a 'Not available' block."""
    return _cal("-//Airbnb Inc//Hosting Calendar 1.0//EN", [
        _allday("1418fb94e984-3a8b2f0c6d1e4f5a9b8c7d6e5f4a3b2c@airbnb.com", 3, 7, "Reserved",
                "DESCRIPTION:Reservation URL: https://www.airbnb.com/hosting/reservations/details/"
                "HMQ8Z3KX2A\\nPhone Number (Last 4 Digits): 4821"),
        _allday("5c2d8e1a7b3f-9d8e7f6a5b4c3d2e1f0a9b8c7d6e5f4a3b@airbnb.com", 12, 15, "Reserved"),
        _allday("7a1b2c3d4e5f-0a1b2c3d4e5f6a7b8c9d0e1f2a3b4c5d6e@airbnb.com", 40, 44,
                "Airbnb (Not available)"),
    ])


def vrbo() -> str:
    """A Vrbo/HomeAway-style feed with localised summaries."""
    return _cal("-//HomeAway.com, Inc.//EN", [
        _allday("3f2a1b4c-5d6e-4f7a-8b9c-0d1e2f3a4b5c", 5, 12, "Reserved - Maria"),
        _allday("9e8d7c6b-5a4f-4e3d-2c1b-0a9f8e7d6c5b", 20, 23, "Blocked"),
    ])


def booking() -> str:
    """A Booking.com-style feed (bare LF line endings, escaped PRODID)."""
    return _cal("-//admin.booking.com\\, b.v.//NONSGML v1.0//EN", [
        _allday("8f3e2d1c0b9a@booking.com", 2, 4, "CLOSED - Not available").replace("\r\n", "\n"),
        _allday("1a2b3c4d5e6f@booking.com", 9, 16, "CLOSED - Not available").replace("\r\n", "\n"),
    ], extra="METHOD:PUBLISH", eol="\n")


def _google(events: list[str]) -> str:
    return _cal("-//Google Inc//Google Calendar 70.9054//EN", events,
                extra="METHOD:PUBLISH\r\nX-WR-CALNAME:Apartment\r\nX-WR-TIMEZONE:Europe/Madrid")


def google_reserved() -> str:
    """A public Google calendar where the owner titles bookings "Reserved"."""
    return _google([
        _allday("g1r2@google.com", 6, 9, "Reserved"),
        "\r\n".join(["BEGIN:VEVENT", f"DTSTART;TZID=Europe/Madrid:{_d(18)}T160000",
                     f"DTEND;TZID=Europe/Madrid:{_d(21)}T110000", "UID:g1r3@google.com",
                     "SUMMARY: reserved ", "STATUS:CONFIRMED", "END:VEVENT"]),
    ])


def google_mixed() -> str:
    """A Google calendar mixing bookings with events that are not marked "Reserved"."""
    return _google([
        _allday("m1@google.com", 4, 8, "Reserved"),
        _allday("m2@google.com", 10, 13, "Smith family"),
        _allday("m3@google.com", 15, 16, "Cleaning"),
    ])


FEEDS = {"airbnb-loft": airbnb, "vrbo-villa": vrbo, "booking-studio": booking,
         "google-reserved": google_reserved, "google-mixed": google_mixed}
FAILURES = {
    "booking-empty": ("", 200, {}),  # Booking.com's empty calendar is an empty body
    "google-private": ("<!DOCTYPE html><html><head><title>Not Found</title></head><body>"
                       "<h1>Not Found</h1></body></html>", 404, {"Content-Type": "text/html"}),
    "server-down": ("Service Unavailable", 503, {"Retry-After": "600"}),
    "html-page": ("<!doctype html><html><head><title>My apartment calendar</title></head>"
                  "<body>Calendar</body></html>", 200, {"Content-Type": "text/html"}),
    "rate-limited": ("Too Many Requests", 429, {"Retry-After": "900"}),
    "holidaylettings-gone": ("Gone", 404, {}),
}


# The "flaky" feed answers 503 to its first fetches after the web process started, then a valid calendar:
# within minutes of `make run` the demo raises a failure alert and then its recovery.
FLAKY_FEED, FLAKY_FAILURES = "flaky-then-ok", 2
_FLAKY_LOCK = threading.Lock()


def flaky_fetches() -> int:
    """Count one more fetch of the flaky feed in this app (per process: a restart fails again)."""
    with _FLAKY_LOCK:
        count = current_app.extensions.get("demo_flaky_fetches", 0) + 1
        current_app.extensions["demo_flaky_fetches"] = count
    return count


def flaky() -> Response:
    """503 for the first FLAKY_FAILURES fetches, then a Vrbo-style calendar."""
    if flaky_fetches() <= FLAKY_FAILURES:
        return Response("Service Unavailable (demo: recovers after a few fetches)", status=503,
                        mimetype="text/plain")
    return Response(vrbo(), mimetype="text/calendar")


@demo_feeds_bp.get("/<name>.ics")
def feed(name: str):
    """One demo feed, or one demo failure."""
    if name == FLAKY_FEED:
        return flaky()
    if name in FEEDS:
        return Response(FEEDS[name](), mimetype="text/calendar")
    if name in FAILURES:
        body, status, headers = FAILURES[name]
        return Response(body, status=status, headers=headers,
                        mimetype=headers.get("Content-Type", "text/calendar"))
    abort(404)
