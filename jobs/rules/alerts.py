"""What to notice about a link and when to tell whom: pure alert rules (no database, no clock of their own).

One notice per change of state (failing, recovered), reminders while still failing, flapping reported once,
provider incidents instead of one alert per link, digests and quiet hours for what can wait.
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

# Kinds of notification; the urgent ones are never held back by a digest or quiet hours.
KINDS = ("link_failing", "link_reminder", "link_recovered", "link_flapping", "held_change", "overbooking",
         "kigo_auth", "kigo_auth_resolved", "export_not_read", "provider_incident", "incident_resolved",
         "digest", "weekly_digest", "test", "owner_status")
URGENT_KINDS = frozenset({"held_change", "provider_incident", "kigo_auth"})
DIGEST_MODES = ("immediate", "hourly", "daily")
EXPOSURE_DAYS = 30


@dataclass(frozen=True)
class AlertPolicy:
    """The thresholds of noticing (ALERT_AFTER_FAILURES, ALERT_REMINDER_HOURS, flapping)."""

    after_failures: int = 3
    reminder_hours: int = 24
    flap_flips: int = 3  # more flips than this within flap_window is flapping
    flap_window: timedelta = timedelta(hours=6)


@dataclass(frozen=True)
class AlertState:
    """What the alerting already knows of one link."""

    alerted: bool = False                  # a failure (or flapping) notice went out, or an incident covers it
    last_ok: bool | None = None            # the previous attempt's raw outcome
    failing_since: datetime | None = None  # first failure of the current streak
    last_notice_at: datetime | None = None  # last failure or reminder notice
    flips: tuple[datetime, ...] = ()       # changes between failing and ok within the flapping window
    flapping_since: datetime | None = None
    incident_id: int | None = None         # the provider incident that speaks for this link


@dataclass(frozen=True)
class Outcome:
    """One finished sync attempt of a link, as the alert rules see it."""

    ok: bool
    at: datetime
    consecutive_failures: int = 0
    error_kind: str | None = None
    stale: bool = False  # the last success is older than the freshness limit


@dataclass(frozen=True)
class Decision:
    """The link's new alert state and what (if anything) to notice now."""

    state: AlertState
    notice: str | None = None  # link_failing | link_recovered | link_flapping


def failure_is_noticeable(outcome: Outcome, policy: AlertPolicy) -> bool:
    """After N failures in a row or once stale; a 429 only when waiting out its backoff did not help."""
    if outcome.ok:
        return False
    if outcome.error_kind == "rate_limited":
        # The channel asked us to wait; we did. Only a calendar that went stale meanwhile, and whose retry
        # after the backoff failed again, is worth a person's attention.
        return outcome.stale and outcome.consecutive_failures >= 2
    return outcome.consecutive_failures >= policy.after_failures or outcome.stale


def decide(state: AlertState, outcome: Outcome, policy: AlertPolicy) -> Decision:
    """The notice (if any) a link's new outcome calls for, and its new alert state."""
    flips = state.flips
    if state.last_ok is not None and state.last_ok != outcome.ok:
        flips = flips + (outcome.at,)
    flips = tuple(t for t in flips if outcome.at - t <= policy.flap_window)
    state = replace(state, flips=flips, last_ok=outcome.ok,
                    failing_since=None if outcome.ok else (state.failing_since or outcome.at))
    if state.flapping_since is not None:
        if flips:  # still flipping: it was reported once, say nothing more
            return Decision(state)
        state = replace(state, flapping_since=None)  # calm for a whole window: back to normal rules
    elif len(flips) > policy.flap_flips:
        return Decision(replace(state, flapping_since=outcome.at, alerted=True,
                                last_notice_at=outcome.at), "link_flapping")
    if outcome.ok:
        if state.alerted:
            covered = state.incident_id is not None
            state = replace(state, alerted=False, last_notice_at=None, incident_id=None)
            return Decision(state, None if covered else "link_recovered")
        return Decision(state)
    if not state.alerted and failure_is_noticeable(outcome, policy):
        return Decision(replace(state, alerted=True, last_notice_at=outcome.at), "link_failing")
    return Decision(state)


def reminder_due(state: AlertState, now: datetime, policy: AlertPolicy) -> bool:
    """A failing link that was noticed gets a reminder at most every `reminder_hours`."""
    if not state.alerted or state.last_ok is not False or state.flapping_since or state.incident_id:
        return False
    last = state.last_notice_at or state.failing_since
    return last is not None and now - last >= timedelta(hours=policy.reminder_hours)


# --- provider incidents -------------------------------------------------------------------------------

@dataclass(frozen=True)
class IncidentPolicy:
    """Many links of one source failing the same way at once is one incident (e.g. Airbnb answers 503)."""

    min_links: int = 20
    min_share: float = 0.2
    window: timedelta = timedelta(minutes=15)
    resolved_share: float = 0.1  # resolved when fewer than this share of its peak still fail that way


def incident_groups(failing: dict[tuple[str, str], int], totals: dict[str, int],
                    policy: IncidentPolicy) -> list[tuple[str, str]]:
    """(source, error kind) groups failing widely enough, within the window, to be one incident."""
    found = []
    for (source, kind), count in sorted(failing.items()):
        total = totals.get(source, 0)
        if total and count >= policy.min_links and count / total >= policy.min_share:
            found.append((source, kind))
    return found


def incident_resolved(still_failing: int, peak: int, policy: IncidentPolicy) -> bool:
    """An incident ends when nearly all of its links answer again."""
    return still_failing < max(1, peak * policy.resolved_share)


SOURCE_NAMES = {"airbnb": "Airbnb", "vrbo": "Vrbo", "booking": "Booking.com", "google": "Google Calendar",
                "9flats": "9flats", "holidaylettings": "HolidayLettings", "ical": "iCal feeds", "kigo": "Kigo"}
_KIND_WORDS = {"server_error": "answer {status}", "timeout": "time out", "connect": "cannot be reached",
               "dns": "do not resolve", "tls": "fail the TLS check", "not_found": "answer 404",
               "forbidden": "refuse access", "rate_limited": "answer 429 (slow down)",
               "not_ical": "answer something that is not a calendar", "invalid_ical": "send broken calendars"}


def incident_title(source: str, kind: str, links: int, since: datetime, http_status: int | None = None) -> str:
    """The one line of an incident: "Airbnb: 143 links answer 503 since 10:05"."""
    words = _KIND_WORDS.get(kind, f"fail with {kind}").format(status=http_status or "5xx")
    return f"{SOURCE_NAMES.get(source, source)}: {links} links {words} since {since:%H:%M} UTC"


# --- what is at stake -------------------------------------------------------------------------------

@dataclass(frozen=True)
class Exposure:
    """What a broken link leaves unprotected over the next EXPOSURE_DAYS days."""

    direct_bookings: int
    sellable_nights: int


def exposure(stays: list[tuple[str, date, date]], today: date, days: int = EXPOSURE_DAYS) -> Exposure:
    """Upcoming direct bookings and the nights still shown free (sellable twice while the link is broken)."""
    end = today + timedelta(days=days)
    booked: set[date] = set()
    direct = 0
    for origin, check_in, check_out in stays:
        if check_out <= today or check_in >= end:
            continue
        direct += origin == "direct"
        night = max(check_in, today)
        while night < min(check_out, end):
            booked.add(night)
            night += timedelta(days=1)
    return Exposure(direct_bookings=direct, sellable_nights=days - len(booked))


# --- delivery timing --------------------------------------------------------------------------------

def is_urgent(kind: str, counts_against_owner: bool = False) -> bool:
    """Held changes, provider incidents, our Kigo credentials and owner-blamed overbookings cannot wait."""
    return kind in URGENT_KINDS or (kind == "overbooking" and counts_against_owner)


def _zone(name: str | None) -> ZoneInfo:
    try:
        return ZoneInfo(name or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def quiet_until(now: datetime, start_hour: int | None, end_hour: int | None, zone: str | None = None
                ) -> datetime | None:
    """When quiet hours [start, end) on the recipient's clock end, if `now` (naive UTC) is inside them."""
    if start_hour is None or end_hour is None or start_hour == end_hour:
        return None
    tz = _zone(zone)
    local = now.replace(tzinfo=ZoneInfo("UTC")).astimezone(tz)
    hour = local.hour
    inside = start_hour <= hour < end_hour if start_hour < end_hour else (hour >= start_hour or hour < end_hour)
    if not inside:
        return None
    end_day = local.date() if hour < end_hour else local.date() + timedelta(days=1)
    end = datetime.combine(end_day, time(end_hour), tzinfo=tz)
    return end.astimezone(ZoneInfo("UTC")).replace(tzinfo=None)


def digest_window_end(mode: str, now: datetime) -> datetime:
    """When the digest that a notice of `now` joins is sent: the next full hour, or tomorrow 07:00 UTC."""
    if mode == "hourly":
        return now.replace(minute=0, second=0, microsecond=0) + timedelta(hours=1)
    if mode == "daily":
        send = now.replace(hour=7, minute=0, second=0, microsecond=0)
        return send if send > now else send + timedelta(days=1)
    return now


def send_after(kind: str, urgent: bool, mode: str, now: datetime, quiet: tuple[int | None, int | None],
               zone: str | None = None) -> tuple[str, datetime]:
    """('immediate' | 'digest', when): urgent notices go now; others wait for a digest or quiet hours."""
    if urgent or kind in ("test", "digest", "weekly_digest", "owner_status"):
        return "immediate", now
    if mode in ("hourly", "daily"):
        return "digest", digest_window_end(mode, now)
    return "immediate", quiet_until(now, quiet[0], quiet[1], zone) or now


MAX_DELIVERY_ATTEMPTS = 8


def retry_delay(attempts: int) -> timedelta | None:
    """Backoff before the next delivery attempt (30 s, 1 min, 2 min ... at most 1 h); None: give up."""
    if attempts >= MAX_DELIVERY_ATTEMPTS:
        return None
    return timedelta(seconds=min(3600, 30 * 2 ** max(0, attempts - 1)))


# --- the reverse direction: platforms reading our export ------------------------------------------------

def export_stopped(reads: list[datetime], now: datetime, silence: timedelta = timedelta(hours=24),
                   daily_days: int = 3, lookback: timedelta = timedelta(days=7)) -> bool:
    """A platform that read our feed on `daily_days` days of the week before its last read, then nothing for
    `silence`: the other direction of the sync is broken."""
    if not reads:
        return False
    last = max(reads)
    if now - last < silence:
        return False
    days = {r.date() for r in reads if last - r <= lookback}
    return len(days) >= daily_days
