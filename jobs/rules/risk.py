"""Link and property health, and a property's overbooking risk as factors with advice (kinds and levels:
docs/overbookings-and-score.md)."""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta

LEVELS = ("none", "low", "medium", "high")
RECENT_OVERBOOKING_DAYS = 90
STALE_AFTER_INTERVALS = 3
# A property's health is its worst link's (docs/outcomes.md).
_HEALTH_RANK = {"ok": 0, "never_synced": 1, "stale": 2, "failing": 3}


@dataclass(frozen=True)
class LinkFacts:
    """What risk needs to know about one calendar link."""

    link_id: int
    source: str
    state: str  # linked | active | paused
    health: str  # never_synced | ok | stale | failing
    ignored_events: int = 0
    free_busy_only: bool = False
    kigo_instant_booking: bool | None = None  # Kigo links only; None = unknown or not Kigo
    failure_is_ours: bool = False  # failing with an error of ours (internal, database)


@dataclass(frozen=True)
class PropertyFacts:
    """What risk needs to know about one property."""

    today: date
    links: Sequence[LinkFacts] = ()
    manual_blocks: int = 0  # upcoming manual blocks
    upcoming_direct_bookings: int = 0
    counted_overbooking_dates: Sequence[date] = ()  # detection dates of overbookings counted against the owner


@dataclass(frozen=True)
class RiskFactor:
    """One reason a property may be overbooked, with what to do about it."""

    kind: str
    level: str  # low | medium | high
    message: str
    advice: str
    ours: bool = False  # caused by our own failure: shown, never counted against the owner


@dataclass(frozen=True)
class Risk:
    """A property's risk: the highest factor level ("none" without factors) and the factors."""

    level: str
    factors: list[RiskFactor]


def link_health(state: str, last_attempt_ok: bool | None, last_sync_at: datetime | None,
                last_success_at: datetime | None, now: datetime, interval_minutes: int) -> str:
    """The health of a link (docs/outcomes.md): never_synced, failing, stale or ok."""
    # The rule depends on attempts only: a paused link goes stale as its data ages, which is the truth.
    del state
    if last_sync_at is None or last_attempt_ok is None:
        return "never_synced"
    if not last_attempt_ok:
        return "failing"
    if last_success_at is None or now - last_success_at > timedelta(minutes=STALE_AFTER_INTERVALS * interval_minutes):
        return "stale"
    return "ok"


def property_health(link_healths: Sequence[str]) -> str:
    """A property's health: its worst link's (failing > stale > never_synced > ok), "none" without links."""
    if not link_healths:
        return "none"
    return max(link_healths, key=lambda health: _HEALTH_RANK.get(health, len(_HEALTH_RANK)))


def _names(links: Sequence[LinkFacts]) -> str:
    return ", ".join(f"{link.source} (link {link.link_id})" for link in links)


def _plural(count: int, word: str) -> str:
    return f"{count} {word}{'' if count == 1 else 's'}"


def assess_risk(facts: PropertyFacts) -> Risk:
    """List a property's risk factors, highest level first, and its overall level."""
    links = list(facts.links)
    active = [link for link in links if link.state == "active"]
    failing = [link for link in active if link.health == "failing"]
    stale = [link for link in active if link.health == "stale"]
    # An active link not read yet protects nothing either: its first sync may still be queued.
    not_protecting = [link for link in links
                      if link.state != "active" or link.health in ("failing", "stale", "never_synced")]
    factors: list[RiskFactor] = []

    if facts.upcoming_direct_bookings and not_protecting:
        factors.append(RiskFactor("unprotected_bookings", "high", (
            f"{_plural(facts.upcoming_direct_bookings, 'upcoming direct booking')} while these calendars are not "
            f"being read: {_names(not_protecting)}."), (
            "Fix or activate these links now, then check the owner's other calendars for the same nights."),
            ours=all(link.failure_is_ours for link in not_protecting)))
    theirs = [link for link in failing if not link.failure_is_ours]
    if theirs:
        factors.append(RiskFactor("link_failing", "high", f"Syncing fails for {_names(theirs)}.", (
            "Open the link's last error and follow its advice; ask the owner for a fresh export link if needed.")))
    elif failing:  # our own failure: the owner has nothing to fix and loses no points for it
        factors.append(RiskFactor("link_failing", "high", (
            f"Syncing fails for {_names(failing)} because of our own failure, not the owner's."), (
            "Tell the tech team: the link's last error says what stopped the sync. We retry automatically."),
            ours=True))
    free_busy = [link for link in links if link.free_busy_only]
    if free_busy:
        factors.append(RiskFactor("free_busy_only", "high", (
            f"The Google calendar {_names(free_busy)} is shared as free/busy only: titles are hidden, so no "
            "event can be recognised as \"Reserved\" and nothing blocks dates."), (
            "Ask the owner to share the calendar publicly with all event details.")))
    not_instant = [link for link in links if link.source == "kigo" and link.kigo_instant_booking is False]
    if not_instant:
        factors.append(RiskFactor("kigo_not_instant_booking", "high", (
            f"The Kigo property {_names(not_instant)} is not set to Instant Booking."), (
            "Ask the owner to turn on Instant Booking for this property in Kigo.")))
    if not active:
        factors.append(RiskFactor("no_active_link", "medium", (
            "No external calendar is synchronised for this property." if not links else
            f"No calendar link is active: {_names(links)} {'is' if len(links) == 1 else 'are'} linked or paused."), (
            "Ask the owner to link their other calendars and press \"Synchronize now\" to activate them.")))
    if stale:
        factors.append(RiskFactor("link_stale", "medium", f"No successful sync for a while: {_names(stale)}.", (
            "Check the sync history; force a resync and see whether the source answers.")))
    if facts.manual_blocks and active:
        factors.append(RiskFactor("manual_blocks", "medium", (
            f"{_plural(facts.manual_blocks, 'manual block')} kept beside an active calendar sync."), (
            "Ask the owner to delete manual blocks and let the external calendar do the blocking.")))
    since = facts.today - timedelta(days=RECENT_OVERBOOKING_DAYS)
    recent = [day for day in facts.counted_overbooking_dates if since <= day <= facts.today]
    if recent:
        factors.append(RiskFactor("recent_overbooking", "medium", (
            f"{_plural(len(recent), 'overbooking')} counted against the owner in the last "
            f"{RECENT_OVERBOOKING_DAYS} days (latest {max(recent).isoformat()})."), (
            "Review the overbooking's attribution with the owner and fix its cause.")))
    ignoring = [link for link in links if link.ignored_events and not link.free_busy_only]
    if ignoring:
        total = sum(link.ignored_events for link in ignoring)
        factors.append(RiskFactor("ignored_events", "low", (
            f"{_plural(total, 'event')} ignored because not titled \"Reserved\": {_names(ignoring)}."), (
            "Ask the owner to title every booking \"Reserved\" in Google Calendar, or confirm the others are "
            "not bookings.")))

    # stable: the documented order within a level
    factors.sort(key=lambda factor: -LEVELS.index(factor.level))
    level = factors[0].level if factors else "none"
    return Risk(level=level, factors=factors)
