"""The words of each notification: a title, a body for the team (property, source, error, advice, what is
at stake, the console link) and, for owners, plain words with what to do."""
from __future__ import annotations

from dataclasses import dataclass

from jobs.rules.advice import advice_for
from jobs.rules.alerts import SOURCE_NAMES, Exposure

# For owners: what to do themselves, without our internal words.
_OWNER_TODO = {
    ("not_found", "google"): "Your Google calendar is not public. Open Google Calendar on a computer, go to the "
                             "calendar's Settings > Access permissions, tick \"Make available to public\", then "
                             "copy the \"Public address in iCal format\" and paste it in your Only-apartments "
                             "calendar settings.",
    ("not_found", None): "The calendar address no longer works. Copy the export (iCal) link again from the other "
                         "site and paste it in your Only-apartments calendar settings.",
    ("forbidden", None): "The other site refused to share the calendar: the export link was probably reset. "
                         "Copy the new export (iCal) link and paste it in your Only-apartments calendar settings.",
    ("not_ical", None): "The address you linked is a web page, not a calendar. Use the export (iCal) link, "
                        "which usually ends in .ics.",
}
_OWNER_DEFAULT = ("We retry automatically. If this lasts more than a day, check the calendar link in your "
                  "Only-apartments calendar settings, or reply to this message.")


@dataclass(frozen=True)
class LinkFacts:
    """What a link notice names."""

    property_id: int
    property_name: str
    link_id: int
    source: str
    url: str | None
    error_kind: str | None
    error_message: str | None
    http_status: int | None
    consecutive_failures: int


def source_name(source: str | None) -> str:
    """Airbnb, Booking.com... as people say it."""
    return SOURCE_NAMES.get(source or "", source or "calendar")


def property_url(base_url: str, property_id: int) -> str:
    """The property's console page."""
    return f"{base_url.rstrip('/')}/properties/{property_id}"


def stake_line(exposure: Exposure | None) -> str:
    """What is at stake, in one line."""
    if exposure is None:
        return ""
    nights = exposure.sellable_nights
    return (f"At stake over the next 30 days: {exposure.direct_bookings} upcoming direct booking"
            f"{'s' if exposure.direct_bookings != 1 else ''} and {nights} sellable night{'s' if nights != 1 else ''} "
            "we still show as free.")


def error_words(facts: LinkFacts) -> str:
    """The error in words: kind, HTTP status, message."""
    status = f" (HTTP {facts.http_status})" if facts.http_status else ""
    return f"{facts.error_kind or 'unknown'}{status}: {facts.error_message or 'no message'}"


def link_notice(kind: str, facts: LinkFacts, exposure: Exposure | None, base_url: str,
                failing_hours: float | None = None) -> dict:
    """Title, body and advice of a link's failing / reminder / recovered / flapping notice."""
    where = f"{facts.property_name} · {source_name(facts.source)} link"
    advice = advice_for(facts.error_kind, facts.source, facts.http_status) if facts.error_kind else None
    if kind == "link_failing":
        title = f"Failing: {where}: {facts.error_kind}"
        head = f"The {source_name(facts.source)} calendar of {facts.property_name} failed " \
               f"{facts.consecutive_failures} time(s) in a row."
    elif kind == "link_reminder":
        title = f"Still failing: {where}: {facts.error_kind}"
        head = f"The {source_name(facts.source)} calendar of {facts.property_name} is still failing" + (
            f" after {failing_hours:.0f} h." if failing_hours is not None else ".")
    elif kind == "link_recovered":
        title, advice = f"Recovered: {where}", None
        head = f"The {source_name(facts.source)} calendar of {facts.property_name} syncs again."
    else:
        title = f"Flapping: {where}"
        head = (f"The {source_name(facts.source)} calendar of {facts.property_name} keeps switching between "
                "failing and working: reported once; no more alerts until it is stable.")
    lines = [head, f"Property: {facts.property_name}", f"Source: {source_name(facts.source)}"
             f"{' · ' + facts.url if facts.url else ''}"]
    if kind != "link_recovered" and facts.error_kind:
        lines.append(f"Error: {error_words(facts)}")
        lines.append(f"What to do: {advice}")
    if kind != "link_recovered" and exposure is not None:
        lines.append(stake_line(exposure))
    lines.append(f"Console: {property_url(base_url, facts.property_id)}")
    return {"title": title, "body": "\n".join(lines), "advice": advice}


def owner_text(facts: LinkFacts) -> str:
    """The owner's words: what is wrong with their calendar and what to do."""
    todo = _OWNER_TODO.get((facts.error_kind, facts.source)) or _OWNER_TODO.get((facts.error_kind, None)) \
        or _OWNER_DEFAULT
    return (f"Hello, we could not read your {source_name(facts.source)} calendar for \"{facts.property_name}\" "
            f"{facts.consecutive_failures} times in a row, so nights booked there may still look free on "
            f"Only-apartments.\n\nWhat to do: {todo}")


def body_with_console(lines: list[str], base_url: str, property_id: int | None) -> str:
    """Body lines, ending with the console link when there is a property."""
    if property_id is not None:
        lines = lines + [f"Console: {property_url(base_url, property_id)}"]
    return "\n".join(line for line in lines if line)
