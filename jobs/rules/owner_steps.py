"""Plain words for a property's owner: what is wrong with a calendar, whether they must act, and the steps
to take on that calendar's own site. No internal words: no error messages, hosts, job ids or HTTP codes."""
from __future__ import annotations

from dataclasses import dataclass

SOURCE_TITLES = {"airbnb": "Airbnb", "vrbo": "Vrbo / HomeAway", "booking": "Booking.com",
                 "google": "Google Calendar", "9flats": "9flats", "holidaylettings": "HolidayLettings",
                 "ical": "iCal calendar", "kigo": "Kigo"}

_PASTE = ("Paste the new address in your Only-apartments calendar settings (Link, then Save, then Synchronize "
          "now), or send it to us and we will do it.")

# How to copy a fresh export (iCal) address on each site, step by step.
EXPORT_STEPS: dict[str, tuple[str, ...]] = {
    "airbnb": ("Sign in to Airbnb on a computer and open Listings, then this listing.",
               "Open Availability, then Connect calendars.",
               "Choose Export calendar and copy the link (it ends in .ics).", _PASTE),
    "vrbo": ("Sign in to your Vrbo (HomeAway, Abritel, FeWo-direkt, Stayz) owner dashboard.",
             "Open Calendar, then Import/Export (or Sync calendars).",
             "Choose Export, and copy the calendar link (it ends in .ics).", _PASTE),
    "booking": ("Sign in to the Booking.com extranet.",
                "Open Rates & Availability, then Sync calendars.",
                "Choose Export calendar (or Add calendar connection) and copy the link.", _PASTE),
    "google": ("Open Google Calendar on a computer, and the Settings of this property's calendar.",
               "Under Access permissions, tick \"Make available to public\" and choose \"See all event "
               "details\" (not \"free/busy only\").",
               "Under Integrate calendar, copy the \"Public address in iCal format\" (it ends in basic.ics).",
               "Title every booking in that calendar exactly \"Reserved\": only those events block dates.",
               _PASTE),
    "holidaylettings": ("HolidayLettings (TripAdvisor Rentals) stopped direct bookings in 2024 and is switching "
                        "its calendars off: if your listing no longer takes bookings there, tell us and we "
                        "remove this calendar.",
                        "If it still does: sign in to the owner dashboard, open Calendar, then Sync calendars.",
                        "Choose Export and copy the calendar link.", _PASTE),
    "9flats": ("Sign in to 9flats and open this listing's calendar settings.",
               "Look for Export, iCal or Sync calendars and copy the calendar address (usually ending in .ics).",
               _PASTE),
    "ical": ("Open the calendar settings of the site or program that holds this calendar.",
             "Look for Export, iCal or Sync calendars and copy the calendar address (usually ending in .ics), "
             "not the address of a web page.", _PASTE),
    "kigo": ("Sign in to Kigo and open this property.",
             "Check that the property is still shared with Only-apartments, and that its property number "
             "matches the one linked here.",
             "Make sure the property is on \"Instant Booking\": bookings that can be declined or changed "
             "are not accepted."),
}
_INSTANT_BOOKING = ("Sign in to Kigo and open this property.",
                    "Switch \"Instant Booking\" on for this property and save.",
                    "Nothing else to do: we check again at the next read.")
_FREE_BUSY = ("Open Google Calendar on a computer, and the Settings of this property's calendar.",
              "Under Access permissions, next to \"Make available to public\", choose \"See all event details\" "
              "instead of \"See only free/busy\".", "Nothing else to do: we read it again within minutes.")
_TITLE_RESERVED = ("Open this property's Google calendar.",
                   "Title every event that is a booking exactly \"Reserved\" (other events never block dates).")

# What happened, in an owner's words, and whether they must act (False: ours, or passing; we retry).
_WHAT: dict[str, tuple[str, bool]] = {
    "dns": ("The calendar address does not lead anywhere any more.", True),
    "not_found": ("The other site says this calendar does not exist at this address any more: the listing "
                  "may have been removed, or the export link reset.", True),
    "forbidden": ("The other site refused to share this calendar: the export link was probably reset or "
                  "made private.", True),
    "not_ical": ("The address shows a web page, not a calendar.", True),
    "blocked_address": ("The address points to a private network, which we never read.", True),
    "too_many_redirects": ("The address sends us from page to page without reaching a calendar.", True),
    "http_error": ("The other site answered with an error instead of the calendar.", True),
    "invalid_ical": ("The calendar file is damaged or in a format we cannot read.", True),
    "too_large": ("The calendar is far larger than a booking calendar (years of history?): use a calendar "
                  "that holds only this property's bookings.", True),
    "too_complex": ("The calendar holds repeating events that make far more dates than a booking calendar: "
                    "end or delete those repeating events, or use a calendar with only this property's "
                    "bookings.", True),
    "tls": ("The other site's security certificate is invalid, so we did not trust it. This is usually on "
            "their side: we retry automatically.", False),
    "connect": ("We could not reach the other site. This is usually temporary: we retry automatically.", False),
    "timeout": ("The other site took too long to answer. We retry automatically.", False),
    "rate_limited": ("The other site asked us to read less often. We retry automatically.", False),
    "server_error": ("The other site had a problem on its side. We retry automatically.", False),
    "kigo_not_found": ("Kigo does not share this property with us (any more).", True),
    "kigo_not_instant_booking": ("This property is not on Instant Booking in Kigo.", True),
    "kigo_error": ("Kigo had a problem on its side. We retry automatically.", False),
    "kigo_auth": ("Our connection to Kigo has a problem on our side; our team is on it.", False),
    "internal": ("We had a problem on our side; it does not count against you and we retry "
                 "automatically.", False),
    "database": ("We had a problem on our side; it does not count against you and we retry "
                 "automatically.", False),
}
_WHAT_ELSE = ("Something went wrong reading this calendar. We retry automatically.", False)

_WARNINGS = {
    "suspicious_empty": ("The calendar suddenly lost most of its bookings. We keep those dates blocked "
                         "until the change is confirmed: if the bookings were really cancelled, nothing to do.",
                         ()),
    "ignored_events": ("Some events in this calendar do not block dates, because they are not titled "
                       "\"Reserved\".", _TITLE_RESERVED),
    "free_busy_only": ("The calendar is shared as \"free/busy only\", so no booking can be recognised in it.",
                       _FREE_BUSY),
}


@dataclass(frozen=True)
class OwnerAdvice:
    """What to tell the owner about one problem: what happened, whether they must act, how."""

    what: str
    owner_must_act: bool
    steps: tuple[str, ...]


def failure_advice(kind: str, source: str) -> OwnerAdvice:
    """An owner's words for a failed read of a calendar of this source."""
    what, act = _WHAT.get(kind, _WHAT_ELSE)
    if not act:
        return OwnerAdvice(what, False, ())
    if kind == "kigo_not_instant_booking":
        return OwnerAdvice(what, True, _INSTANT_BOOKING)
    if source == "google" and kind in ("not_found", "forbidden"):
        what = "Google says this calendar is not public (or its secret address was reset)."
    return OwnerAdvice(what, True, EXPORT_STEPS.get(source, EXPORT_STEPS["ical"]))


def warning_advice(kind: str) -> OwnerAdvice | None:
    """An owner's words for a warning on a calendar that still works; None for a kind owners need not see."""
    found = _WARNINGS.get(kind)
    return OwnerAdvice(found[0], bool(found[1]), found[1]) if found else None


def mask_address(url: str | None) -> str:
    """A calendar address an owner recognises and nobody can use: the site, and the path's last 8 characters
    (never the query, where most sites keep the secret)."""
    if not url:
        return ""
    rest = url.split("://", 1)[-1]
    host, _, path = rest.partition("/")
    host = host.rsplit("@", 1)[-1]  # never show credentials written into an address
    path = path.split("?", 1)[0].split("#", 1)[0]
    return f"{host}/…{path[-8:]}" if len(path) > 12 else f"{host}/…"
