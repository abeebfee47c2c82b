"""Find overbookings (direct bookings overlapping external blocks) and decide whether they count against the owner.

Attribution rules, first match wins:
1. The block was already in our calendar when the direct booking was made -> does not count: our own
   availability check should have refused the booking (whatever the link's health).
2. The block's event (same UID) was in the link's previous read but ignored for not being titled "Reserved" ->
   counts, even inside the race window: the event was in the Google calendar but not titled "Reserved" until the
   sync that brought the block.
3. No link, or the link was only linked (never activated) or paused -> counts: nothing kept those nights in sync.
4. The link was failing, stale or never synced at detection -> counts: the owner's calendar was not being read.
5. The link was healthy and either the block was first seen within one sync interval after our direct booking, or
   the link's previous successful read (the one before the sync that brought the block) came no later than one
   sync interval after our direct booking -> does not count: the stay appeared on the other channel after that
   read, so both channels may have sold the nights before either could learn of the other (a race nobody can
   prevent).
6. Otherwise (healthy link, the other channel sold nights we had sold more than one sync interval earlier) ->
   counts: the other channel is not importing our calendar. Manual blocks kept beside the sync and Google events
   ignored for not being titled "Reserved" are named in the reason when present.

Echoes (`is_echo`) are not overbookings and are never recorded. Platforms import our export feed (direct bookings
and manual blocks) and publish the dates they imported back in their own feed as "unavailable" blocks (Airbnb:
"Airbnb (Not available)"; Vrbo: "Blocked"), which we import in turn as `EX-` blocks: they overlap the very direct
booking they came from. An overlap is an echo only when all three hold:
(a) the block's SUMMARY says "unavailable/blocked" (not a booking) in that source's own words (`says_unavailable`):
    Airbnb "Airbnb (Not available)" / "Not available"; Vrbo/HomeAway "Blocked" and its localisations
    ("Indisponible", "Nicht verfügbar"...); other iCal generators a short list of plain unavailable/blocked/closed
    words. Whole-title matches only (trimmed, case-insensitive). Never for Booking.com, whose real bookings and
    closures both read "CLOSED - Not available", nor for Google (only events titled "Reserved" become blocks) or
    Kigo (reservations read from its API), nor when the source is unknown;
(b) every night of the block lies within the union of the property's direct and manual stays' nights (what our
    export feed publishes; the platform may merge adjacent stays into one block): a block with even one night
    of its own is the other channel's, and may hide a real booking;
(c) the block first appeared with its dates after the direct booking it overlaps was made (an echo cannot
    predate what it echoes): a block that was already there is a real double sale (rule 1).
Anything not proven an echo is recorded as usual: a missed echo costs a false overbooking that staff resolve, a
wrong one would hide a real double sale from the owner's record.
"""
from __future__ import annotations

import heapq
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta

HEALTHY = "ok"


@dataclass(frozen=True)
class DirectBooking:
    """A direct Only-apartments booking: nights [check_in, check_out)."""

    code: str
    check_in: date
    check_out: date
    created_at: datetime


@dataclass(frozen=True)
class ExternalBlock:
    """An `EX-` block; created_at is when our database first held it with its current dates (a UID or summary
    rewrite does not change it); summary is the event's SUMMARY as stored."""

    code: str
    link_id: int
    uid: str
    check_in: date
    check_out: date
    created_at: datetime
    summary: str = ""


@dataclass(frozen=True)
class LinkAtDetection:
    """The block's link as it was when the overbooking was found."""

    health: str  # never_synced | ok | stale | failing
    state: str  # linked | active | paused
    source: str
    # The last successful read before the sync that brought the block (None: unknown or none).
    previous_success_at: datetime | None = None
    # UIDs of the events that read ignored for not being titled "Reserved" (Google).
    previously_ignored_uids: frozenset[str] = frozenset()


@dataclass(frozen=True)
class PropertyAtDetection:
    """Property facts that bear on blame."""

    has_manual_blocks: bool
    has_ignored_google_events: bool
    sync_interval_minutes: int


@dataclass(frozen=True)
class Overlap:
    """A direct booking and an external block sharing nights; last_night is the last shared night (inclusive)."""

    direct_code: str
    external_code: str
    first_night: date
    last_night: date
    nights: int


@dataclass(frozen=True)
class Attribution:
    """Whether an overbooking counts against the owner, and why in plain words."""

    counts_against_owner: bool
    reason: str


def find_overbookings(directs: Sequence[DirectBooking], blocks: Sequence[ExternalBlock]) -> list[Overlap]:
    """Every (direct, block) pair of one property sharing at least one night, by a sort-and-sweep."""
    # Events sorted by check-in; each pair is reported once, when its later-starting member arrives and meets the
    # other kind's stays still running (heaps drop those already checked out).
    events: list[tuple[date, int, int]] = [
        (b.check_in, 0, i) for i, b in enumerate(directs) if b.check_out > b.check_in]
    events += [(b.check_in, 1, i) for i, b in enumerate(blocks) if b.check_out > b.check_in]
    events.sort()
    active: tuple[dict[int, date], dict[int, date]] = ({}, {})
    ending: tuple[list[tuple[date, int]], list[tuple[date, int]]] = ([], [])
    found: list[Overlap] = []
    for start, kind, index in events:
        for side in (0, 1):
            while ending[side] and ending[side][0][0] <= start:
                _, gone = heapq.heappop(ending[side])
                del active[side][gone]
        end = (directs[index] if kind == 0 else blocks[index]).check_out
        for other in active[1 - kind]:
            d_i, b_i = (index, other) if kind == 0 else (other, index)
            found.append(_overlap(directs[d_i], blocks[b_i]))
        active[kind][index] = end
        heapq.heappush(ending[kind], (end, index))
    found.sort(key=lambda o: (o.first_night, o.direct_code, o.external_code))
    return found


def _overlap(direct: DirectBooking, block: ExternalBlock) -> Overlap:
    first = max(direct.check_in, block.check_in)
    end = min(direct.check_out, block.check_out)
    return Overlap(direct_code=direct.code, external_code=block.code, first_night=first,
                   last_night=end - timedelta(days=1), nights=(end - first).days)


def attribute(overlap: Overlap, direct: DirectBooking, block: ExternalBlock, link: LinkAtDetection | None,
              prop: PropertyAtDetection) -> Attribution:
    """Decide whether one overbooking counts against the owner (rules in the module docstring)."""
    nights = f"{overlap.nights} night{'s' if overlap.nights != 1 else ''} from {overlap.first_night.isoformat()}"
    if block.created_at <= direct.created_at:
        return Attribution(False, (
            f"The external stay ({block.code}) was already in our calendar when {direct.code} was booked: our "
            f"availability check should have refused the booking. Not the owner's fault."))
    if link is not None and was_ignored(block.uid, link.previously_ignored_uids):
        return Attribution(True, (
            f"{nights} sold twice: the event was in the Google calendar but not titled \"Reserved\" until "
            f"{block.created_at.date().isoformat()}, so it did not block our dates until then."))
    if link is None:
        return Attribution(True, f"{nights} sold twice: the calendar that brought {block.code} is no longer linked.")
    if link.state == "linked":
        return Attribution(True, (
            f"{nights} sold twice: the {link.source} calendar was linked but never activated "
            f"(\"Synchronize now\"), so its bookings did not block our dates."))
    if link.state == "paused":
        return Attribution(True, f"{nights} sold twice: the {link.source} calendar link was paused.")
    if link.health != HEALTHY:
        why = {"failing": "its last sync failed", "stale": "it had not synced successfully for too long",
               "never_synced": "it had never synced"}.get(link.health, f"its health was {link.health}")
        return Attribution(True, f"{nights} sold twice: the {link.source} calendar was not being read ({why}).")
    race = _race(direct, block, link, prop.sync_interval_minutes)
    if race:
        return Attribution(False, race)
    late_by = block.created_at - direct.created_at
    extra = []
    if prop.has_manual_blocks:
        extra.append("manual blocks are kept beside the sync")
    if prop.has_ignored_google_events:
        extra.append("Google events not titled \"Reserved\" were ignored")
    return Attribution(True, (
        f"{nights} sold twice: the {link.source} stay appeared {_minutes(late_by)} after {direct.code} was booked "
        f"here, so the other channel is not blocking the dates it gets from our calendar"
        + (f"; also, {' and '.join(extra)}." if extra else ".")))


def was_ignored(uid: str, ignored_uids: frozenset[str]) -> bool:
    """Whether a block's UID names an ignored event (a repeating one's instances carry `#...` after it)."""
    series = uid.rpartition("#")[0]
    return bool(uid) and (uid in ignored_uids or bool(series) and series in ignored_uids)


def _race(direct: DirectBooking, block: ExternalBlock, link: LinkAtDetection, interval_minutes: int) -> str | None:
    """Why the overlap is a race on a healthy link (rule 5), or None when it is not one."""
    interval = timedelta(minutes=interval_minutes)
    late_by = block.created_at - direct.created_at
    window = f"within one sync interval ({interval_minutes} minutes)"
    if late_by <= interval:
        return (f"The {link.source} stay appeared {_minutes(late_by)} after {direct.code} was booked, {window}: both "
                f"sides sold the nights before either could know. Not the owner's fault.")
    previous = link.previous_success_at
    if previous is None or previous - direct.created_at > interval:
        return None
    when = ("before it" if previous <= direct.created_at
            else f"{_minutes(previous - direct.created_at)} after it")
    return (f"The {link.source} stay was read {_minutes(late_by)} after {direct.code} was booked, but our previous "
            f"read of that calendar came {when}, {window}: the stay appeared on the other channel after that "
            f"read, maybe before it could learn of ours. Not the owner's fault.")


# Whole SUMMARY titles (trimmed, whitespace collapsed, casefolded) that mean "unavailable", not "booked", by source.
_AIRBNB_UNAVAILABLE = frozenset({"airbnb (not available)", "not available"})
_VRBO_UNAVAILABLE = frozenset({
    "blocked", "indisponible", "nicht verfügbar", "blockiert", "gesperrt", "no disponible", "bloqueado",
    "non disponibile", "bloccato", "niet beschikbaar", "geblokkeerd", "não disponível", "indisponível"})
_GENERIC_UNAVAILABLE = _AIRBNB_UNAVAILABLE | _VRBO_UNAVAILABLE | frozenset({"unavailable", "closed"})
# Other iCal sources (ical, 9flats, holidaylettings, ...) use the generic list.
UNAVAILABLE_TITLES: dict[str, frozenset[str]] = {"airbnb": _AIRBNB_UNAVAILABLE, "vrbo": _VRBO_UNAVAILABLE}
# Sources whose blocks never say "unavailable" as opposed to "booked": Booking.com writes "CLOSED - Not available"
# for both; Google blocks are events titled "Reserved"; Kigo blocks are reservations read from its API.
NEVER_ECHO_SOURCES = frozenset({"booking", "google", "kigo"})


def says_unavailable(summary: str | None, source: str | None) -> bool:
    """Whether a block's SUMMARY marks unavailable/blocked nights (not a booking) in its source's words.

    Unknown sources use the generic list; Booking.com, Google, Kigo and a missing source never do."""
    if not summary or source is None or source in NEVER_ECHO_SOURCES:
        return False
    title = " ".join(summary.split()).casefold()
    return title in UNAVAILABLE_TITLES.get(source, _GENERIC_UNAVAILABLE)


def covered_by(check_in: date, check_out: date, stays: Sequence[tuple[date, date]]) -> bool:
    """Whether every night of [check_in, check_out) lies within the union of the stays' nights."""
    reached = check_in
    for start, end in sorted(stay for stay in stays if stay[1] > stay[0]):
        if reached >= check_out:
            break
        if end <= reached:
            continue
        if start > reached:
            return False  # a night nobody of ours holds
        reached = end
    return reached >= check_out


def is_echo(direct: DirectBooking, block: ExternalBlock, source: str | None,
            own_stays: Sequence[tuple[date, date]]) -> bool:
    """Whether an overlap of `direct` and `block` is the other channel echoing our own export feed back to us.

    own_stays: the property's direct bookings and manual blocks as (check_in, check_out), i.e. what our export feed
    publishes. True only when (a) the block's summary says "unavailable" in its source's words, (b) its nights lie
    entirely within the union of own_stays, and (c) it first appeared with its dates after `direct` was made (see
    the module docstring for why each condition is needed)."""
    return (says_unavailable(block.summary, source)
            and covered_by(block.check_in, block.check_out, own_stays)
            and block.created_at > direct.created_at)


def _minutes(delta: timedelta) -> str:
    minutes = int(delta.total_seconds() // 60)
    if minutes < 120:
        return f"{minutes} minutes"
    hours = minutes // 60
    return f"{hours} hours" if hours < 48 else f"{hours // 24} days"
