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
    """An `EX-` block; created_at is when our database first held it with its current dates."""

    code: str
    link_id: int
    uid: str
    check_in: date
    check_out: date
    created_at: datetime


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


def _minutes(delta: timedelta) -> str:
    minutes = int(delta.total_seconds() // 60)
    if minutes < 120:
        return f"{minutes} minutes"
    hours = minutes // 60
    return f"{hours} hours" if hours < 48 else f"{hours // 24} days"
