"""The pure alert rules: when a link's outcome is noticed, flapping, incidents, exposure, timing."""
from __future__ import annotations

from datetime import date, datetime, timedelta

from jobs.rules.alerts import (
    AlertPolicy,
    AlertState,
    IncidentPolicy,
    Outcome,
    decide,
    export_stopped,
    exposure,
    incident_groups,
    incident_resolved,
    incident_title,
    is_urgent,
    quiet_until,
    reminder_due,
    retry_delay,
    send_after,
)

T0 = datetime(2026, 5, 4, 10, 5)
POLICY = AlertPolicy()


def run(outcomes, state=AlertState(), policy=POLICY):  # noqa: B008 - AlertState is frozen
    notices = []
    for outcome in outcomes:
        decision = decide(state, outcome, policy)
        state = decision.state
        notices.append(decision.notice)
    return state, notices


def fail(n, minutes=None, kind="server_error", stale=False):
    return Outcome(ok=False, at=T0 + timedelta(minutes=15 * n if minutes is None else minutes),
                   consecutive_failures=n, error_kind=kind, stale=stale)


def ok(minutes):
    return Outcome(ok=True, at=T0 + timedelta(minutes=minutes))


def test_failure_is_noticed_at_the_third_in_a_row_once_and_recovery_follows():
    state, notices = run([fail(1), fail(2), fail(3), fail(4), ok(75)])
    assert notices == [None, None, "link_failing", None, "link_recovered"]
    assert not state.alerted


def test_stale_comes_first_when_it_does():
    _state, notices = run([fail(1, stale=True)])
    assert notices == ["link_failing"]


def test_rate_limited_waits_for_its_backoff_to_fail_and_the_calendar_to_go_stale():
    _s, notices = run([fail(n, kind="rate_limited") for n in (1, 2, 3, 4)])
    assert notices == [None] * 4
    _s, notices = run([fail(1, kind="rate_limited", stale=True), fail(2, kind="rate_limited", stale=True)])
    assert notices == [None, "link_failing"]


def test_no_recovery_for_a_link_nobody_was_told_about():
    _s, notices = run([fail(1), ok(20)])
    assert notices == [None, None]


def test_flapping_is_reported_once_and_ends_after_a_calm_window():
    outcomes = [fail(1, minutes=m) if i % 2 == 0 else ok(m) for i, m in enumerate(range(0, 240, 20))]
    state, notices = run(outcomes)
    assert notices.count("link_flapping") == 1 and set(notices) == {None, "link_flapping"}
    assert state.flapping_since is not None
    state, notices = run([ok(7 * 60)], state)
    assert notices == [None]  # calm for less than the window: still flapping
    state, notices = run([ok(10 * 60), ok(11 * 60)], state)
    assert notices == ["link_recovered", None]
    assert state.flapping_since is None


def test_reminder_at_most_every_interval():
    state, _ = run([fail(1), fail(2), fail(3)])
    assert not reminder_due(state, T0 + timedelta(hours=23), POLICY)
    assert reminder_due(state, T0 + timedelta(hours=25), POLICY)


def test_incident_needs_many_links_and_a_share_of_the_source():
    policy = IncidentPolicy()
    failing = {("airbnb", "server_error"): 143, ("vrbo", "timeout"): 25, ("google", "not_found"): 5}
    totals = {"airbnb": 500, "vrbo": 1000, "google": 10}
    assert incident_groups(failing, totals, policy) == [("airbnb", "server_error")]
    assert not incident_resolved(20, 143, policy) and incident_resolved(3, 143, policy)
    assert incident_title("airbnb", "server_error", 143, T0, 503) == "Airbnb: 143 links answer 503 since 10:05 UTC"


def test_exposure_counts_direct_bookings_and_free_nights_in_the_next_30_days():
    today = date(2026, 5, 4)
    stays = [("direct", date(2026, 5, 10), date(2026, 5, 13)), ("external", date(2026, 5, 12), date(2026, 5, 15)),
             ("direct", date(2026, 4, 1), date(2026, 4, 3)), ("direct", date(2026, 7, 1), date(2026, 7, 3))]
    assert exposure(stays, today) == exposure(stays, today).__class__(direct_bookings=1, sellable_nights=25)


def test_urgent_kinds_skip_digests_and_quiet_hours():
    assert is_urgent("held_change") and is_urgent("provider_incident")
    assert is_urgent("overbooking", counts_against_owner=True) and not is_urgent("overbooking")
    night = datetime(2026, 5, 4, 23, 30)
    assert send_after("held_change", True, "daily", night, (22, 7)) == ("immediate", night)
    assert send_after("link_failing", False, "hourly", night, (None, None)) == \
        ("digest", datetime(2026, 5, 5, 0, 0))
    assert send_after("link_failing", False, "immediate", night, (22, 7)) == \
        ("immediate", datetime(2026, 5, 5, 7, 0))
    assert quiet_until(datetime(2026, 5, 4, 12), 22, 7) is None
    assert quiet_until(datetime(2026, 5, 4, 21, 30), 22, 7, "Europe/Madrid") == datetime(2026, 5, 5, 5, 0)


def test_retry_backoff_grows_and_gives_up():
    assert retry_delay(1) == timedelta(seconds=30) and retry_delay(3) == timedelta(minutes=2)
    assert retry_delay(7) == timedelta(minutes=32) and retry_delay(8) is None


def test_export_stopped_after_a_daily_reader_goes_silent_for_a_day():
    reads = [T0 - timedelta(days=d, hours=-2) for d in range(1, 6)]
    assert not export_stopped(reads, T0)  # last read 22 h ago
    assert export_stopped(reads, T0 + timedelta(hours=3))  # last read 25 h ago
    assert not export_stopped([T0 - timedelta(days=2)], T0)  # a platform that read once is not a daily reader
