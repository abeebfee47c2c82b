"""Plain-words advice for the property team, for every error kind and warning kind (docs/outcomes.md)."""
from __future__ import annotations

_GOOGLE_MAKE_PUBLIC = (
    "The Google calendar is not public, so Google answers \"not found\". Ask the owner to open Google Calendar "
    "on a computer, go to the calendar's Settings > Access permissions, tick \"Make available to public\" "
    "(with \"See all event details\"), then copy the \"Public address in iCal format\" from the "
    "Integrate calendar section and paste it here. The secret iCal address works too.")

# Every error kind of docs/outcomes.md (last_error.kind, error_kind), in the order the console lists them.
ERROR_KINDS = ("dns", "connect", "timeout", "tls", "blocked_address", "too_many_redirects", "not_found",
               "forbidden", "rate_limited", "server_error", "http_error", "not_ical", "invalid_ical", "too_large",
               "too_complex", "kigo_auth", "kigo_not_found", "kigo_not_instant_booking", "kigo_error", "internal",
               "database")

# Error kinds of our own making: recorded and shown, never counted against the owner.
OUR_FAILURES = ("internal", "database")

# (kind, source) first, then (kind, None); http_status-specific entries are handled in advice_for.
_ADVICE: dict[tuple[str, str | None], str] = {
    ("dns", None): "The calendar's web address points to a host name that does not exist (or not any more). "
                   "Check the link for typos, or ask the owner for a fresh export link from the channel.",
    ("connect", None): "We could not reach the calendar's server, or the connection broke before the whole "
                       "calendar arrived. This is usually temporary: we retry automatically. If it lasts more "
                       "than a day, check the link with the owner.",
    ("timeout", None): "The calendar's server took too long to answer. We retry automatically; if it keeps "
                       "happening, the channel may be having problems, or the link may be wrong.",
    ("tls", None): "The calendar's server has an invalid security certificate, so we refused to trust it. "
                   "Check that the link starts with the channel's real address; if it does, the channel has "
                   "a problem on its side and we retry automatically.",
    ("blocked_address", None): "The link points to a private or internal network address, which we never "
                               "fetch for safety. Ask the owner for the calendar's public export link.",
    ("too_many_redirects", None): "The link sends us from address to address without ever reaching a "
                                  "calendar. Ask the owner for a fresh export link from the channel.",
    ("not_found", None): "The calendar no longer exists at this address (the channel answered \"not found\"). "
                         "The listing may have been removed or the export link reset: ask the owner for the "
                         "current export link. Existing blocks are kept meanwhile.",
    ("not_found", "google"): _GOOGLE_MAKE_PUBLIC,
    ("not_found", "airbnb"): "Airbnb no longer knows this calendar link: the listing may be unlisted or the "
                             "export link was reset. Ask the owner to copy the link again from Airbnb: Listing > "
                             "Availability > Connect calendars > Export calendar.",
    ("not_found", "holidaylettings"): "HolidayLettings (TripAdvisor Rentals) stopped direct bookings in 2024 "
                                      "and its calendar feeds are being switched off: this feed is most likely "
                                      "dead. Ask the owner whether the listing still takes bookings; if not, "
                                      "pause or delete this link.",
    ("forbidden", None): "The channel refused to give us the calendar (access denied). The export link was "
                         "probably reset or made private: ask the owner for the current export link.",
    ("forbidden", "airbnb"): "Airbnb refused the link: the export link was reset. Ask the owner to copy the new "
                             "one from Airbnb: Listing > Availability > Connect calendars > Export calendar, "
                             "and replace this link with it.",
    ("forbidden", "google"): "Google refused access: the calendar is private or the secret address was reset. "
                             + _GOOGLE_MAKE_PUBLIC.split(". ", 1)[1],
    ("rate_limited", None): "The channel asked us to slow down. We back off automatically and retry later; "
                            "no action needed unless it lasts for days.",
    ("rate_limited", "holidaylettings"): "HolidayLettings limits how often its calendars may be read each day. "
                                         "We back off automatically; no action needed. Since the channel stopped "
                                         "direct bookings in 2024, check whether this link is still useful.",
    ("server_error", None): "The channel's server had an error. This is on their side and usually temporary; "
                            "we back off and retry automatically. No action needed unless it lasts for days.",
    ("server_error", "holidaylettings"): "HolidayLettings stopped direct bookings in 2024 and its feeds are "
                                         "being switched off: this feed is likely dead. Ask the owner whether the "
                                         "listing still takes bookings; if not, pause or delete this link.",
    ("http_error", None): "The channel answered with an unexpected error. Open the link in a browser to see "
                          "what it says, and ask the owner for a fresh export link if it does not show a calendar.",
    ("not_ical", None): "The link shows a web page or another kind of file, not a calendar (iCal). Ask the owner "
                        "for the channel's calendar export link, usually ending in .ics.",
    ("not_ical", "google"): "The owner pasted a Google Calendar web page (embed or HTML view) instead of the "
                            "calendar's iCal address. In Google Calendar: Settings > the calendar > Integrate "
                            "calendar, copy the \"Public address in iCal format\" (or the secret address in "
                            "iCal format) and replace this link with it.",
    ("not_ical", "booking"): "Booking.com sent something other than a calendar. Ask the owner to copy the export "
                             "link again from the Booking.com extranet: Rates & Availability > Sync calendars.",
    ("internal", None): "Our own failure, not the owner's: the sync of this link stopped before its result was "
                        "stored (a crash, a stopped or timed-out job, or a job that passed its memory "
                        "ceiling). The blocks are unchanged and it does not count against the owner. Tell "
                        "the tech team if it happens again; we retry automatically.",
    ("database", None): "Our own failure, not the owner's: the result of this sync could not be written to our "
                        "database (busy, unreachable, or it refused the data). The blocks are unchanged and it "
                        "does not count against the owner; we retry automatically. Tell the tech team if it "
                        "lasts.",
    ("invalid_ical", None): "The calendar file is damaged or not in a format we can read, so we kept the "
                            "existing blocks. If it lasts, ask the owner to export the calendar link again.",
    ("too_complex", None): "The calendar holds repeating events that would make far more dates than any booking "
                           "calendar (for example an event repeating every minute, or thousands of daily series), "
                           "so we did not read it and kept the existing blocks. Ask the owner to delete or end "
                           "those repeating events in their calendar, or to share a calendar that only holds this "
                           "property's bookings.",
    ("too_large", None): "The calendar file is far larger than any normal booking calendar, so we did not read "
                         "it. It may be a shared calendar with years of history: ask the owner for a calendar "
                         "that only holds this property's bookings.",
    ("too_large", "google"): "This Google calendar holds too much history to read. Ask the owner to use a separate "
                             "Google calendar for this property's bookings and share that one's iCal address.",
    ("kigo_auth", None): "Kigo refused Only-apartments' own API credentials (401/403): no owner can fix this. "
                         "Tell the tech team to check KIGO_API_USERNAME and KIGO_API_PASSWORD (or the channels "
                         "subscription key); the owner's blocks are kept meanwhile.",
    ("kigo_not_found", None): "Kigo does not know this property for that account. Check the Kigo property id "
                              "with the owner, and that the property is still shared with us in Kigo.",
    ("kigo_not_instant_booking", None): "The property is not on Instant Booking in Kigo, so bookings can be "
                                        "declined or changed there. Ask the owner to switch Instant Booking on "
                                        "for this property in Kigo.",
    ("kigo_error", None): "Kigo's API answered with an error. This is usually temporary: we retry "
                          "automatically. Tell the tech team if it lasts more than a day.",
}

_WARNING_ADVICE: dict[str, str] = {
    "suspicious_empty": "The calendar suddenly became empty or lost most of its future bookings. We kept the "
                        "existing blocks until the change is confirmed; check with the owner whether the bookings "
                        "were really cancelled, then accept the change or wait for the next sync.",
    "ignored_events": "Some events in the calendar do not block dates (for Google calendars, only events "
                      "titled \"Reserved\" do). Check the list: if they are bookings, ask the owner to title them "
                      "\"Reserved\".",
    "free_busy_only": "The Google calendar is shared as \"free/busy only\", so event titles are hidden and no "
                      "booking can be recognised. Ask the owner to share it with \"See all event details\" in "
                      "Settings > Access permissions.",
}

_FALLBACK = "Something went wrong with this calendar link. Check the link with the owner, and tell the tech team " \
            "if it lasts."


def advice_for(kind: str, source: str | None, http_status: int | None = None) -> str:
    """Advice in plain words for an error kind, specific to the channel where that helps."""
    if kind == "server_error" and source == "holidaylettings" and http_status not in (None, 503):
        source = None  # only 404/503 are the signs of a switched-off HolidayLettings feed
    return _ADVICE.get((kind, source)) or _ADVICE.get((kind, None)) or _FALLBACK


def warning_advice(kind: str) -> str:
    """Advice in plain words for a warning kind."""
    return _WARNING_ADVICE.get(kind, "Check this calendar link with the owner.")


def describe(exc: BaseException) -> str:
    """An exception in one short line for a message staff read: a database error in the driver's words."""
    cause = getattr(exc, "orig", None) or exc  # SQLAlchemy wraps the driver's error
    first = str(cause).strip().splitlines()[0] if str(cause).strip() else ""
    return f"{type(cause).__name__}: {first}"[:300]
