"""Source profiles: how each kind of feed is read (which events block dates, and its known quirks)."""
from __future__ import annotations

from dataclasses import dataclass

from jobs.rules.stays import CANCELLED, NOT_RESERVED

FREE_BUSY_ADVICE = (
    'Every event of this Google calendar is "Busy" or untitled: it is shared as free/busy only, so no event can '
    'be recognised as "Reserved" and no dates are blocked. In Google Calendar, open Settings > Access permissions '
    'and make the calendar public with "See all event details", then sync again.'
)


@dataclass(frozen=True)
class SourceProfile:
    """How one kind of feed is read: which events block dates, and its known quirks."""

    label: str
    reserved_only: bool = False  # Google: only events titled "Reserved" (trimmed, case-insensitive) block
    empty_body_is_empty_calendar: bool = False  # Booking.com sends an empty body when nothing is booked

    def ignore_reason(self, summary: str | None, status: str) -> str | None:
        """Why an event does not block dates, or None when it does."""
        if status == "CANCELLED":
            return CANCELLED
        if self.reserved_only and (summary or "").strip().casefold() != "reserved":
            return NOT_RESERVED
        return None


PROFILES: dict[str, SourceProfile] = {
    "airbnb": SourceProfile("Airbnb"),
    "vrbo": SourceProfile("Vrbo"),
    "booking": SourceProfile("Booking.com", empty_body_is_empty_calendar=True),
    "google": SourceProfile("Google Calendar", reserved_only=True),
    "9flats": SourceProfile("9flats"),
    "holidaylettings": SourceProfile("HolidayLettings"),
    "ical": SourceProfile("iCal"),
}
