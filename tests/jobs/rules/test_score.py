"""compute_score and explain_change: bounded, monotone, explained, deterministic."""
from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from jobs.rules.risk import RiskFactor
from jobs.rules.score import OverbookingRecord, OwnerRecord, compute_score, explain_change, with_moments

NOW = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)
HIGH = RiskFactor("link_failing", "high", "Syncing fails.", "Fix it.")
MEDIUM = RiskFactor("manual_blocks", "medium", "Manual blocks.", "Delete them.")
PERFECT = OwnerRecord(sync_attempts_30d=2880, sync_successes_30d=2880, last_success_at=NOW - timedelta(minutes=5))


def counted(days_ago: float) -> OverbookingRecord:
    return OverbookingRecord(NOW - timedelta(days=days_ago), nights=2, counts_against_owner=True)


def test_perfect_record_scores_100():
    assert compute_score(PERFECT, NOW).value == 100


def test_empty_record_scores_only_what_nothing_can_lose():
    score = compute_score(OwnerRecord(), NOW)
    assert score.value == 70  # 50 overbooking points + 20 hygiene, no sync points without syncs
    assert score.components["sync_success"]["points"] == 0 and score.components["sync_freshness"]["points"] == 0


def test_recent_counted_overbooking_costs_20_points_and_halves_in_90_days():
    assert compute_score(replace(PERFECT, overbookings=[counted(0)]), NOW).value == 80
    assert compute_score(replace(PERFECT, overbookings=[counted(90)]), NOW).value == 90
    assert compute_score(replace(PERFECT, overbookings=[counted(0)] * 5), NOW).components["overbookings"]["points"] == 0


def test_freshness_is_full_within_three_intervals_then_fades():
    fresh = compute_score(replace(PERFECT, last_success_at=NOW - timedelta(minutes=45)), NOW)
    later = compute_score(replace(PERFECT, last_success_at=NOW - timedelta(days=3)), NOW)
    gone = compute_score(replace(PERFECT, last_success_at=NOW - timedelta(days=8)), NOW)
    assert fresh.components["sync_freshness"]["points"] == 10
    assert 0 < later.components["sync_freshness"]["points"] < 10
    assert gone.components["sync_freshness"]["points"] == 0


def test_freshness_keeps_the_moment_of_the_last_success_not_only_its_age():
    record = replace(PERFECT, last_success_at=NOW - timedelta(hours=2))
    part = compute_score(record, NOW).components["sync_freshness"]
    assert part["last_success_at"] == "2025-06-01T10:00:00Z" and part["last_success_age_hours"] == 2
    assert compute_score(OwnerRecord(), NOW).components["sync_freshness"]["last_success_at"] is None


def test_components_stored_before_the_moment_was_kept_get_it_back_when_read():
    computed = datetime(2025, 6, 1, 12, 0)
    old = {"version": 1, "sync_freshness": {"points": 10.0, "last_success_age_hours": 1.5}}
    assert with_moments(old, computed)["sync_freshness"]["last_success_at"] == "2025-06-01T10:30:00Z"
    never = {"sync_freshness": {"points": 0.0, "last_success_age_hours": None}}
    assert with_moments(never, computed)["sync_freshness"]["last_success_at"] is None
    new = compute_score(PERFECT, NOW).components
    assert with_moments(new, computed) == new  # the stored moment wins
    assert old["sync_freshness"] == {"points": 10.0, "last_success_age_hours": 1.5}  # not changed in place
    assert with_moments(None, computed) == {}


def test_the_freshness_reason_speaks_of_the_scores_own_moment_never_of_now():
    old = compute_score(replace(PERFECT, last_success_at=NOW - timedelta(minutes=5)), NOW).components
    new = compute_score(replace(PERFECT, last_success_at=NOW - timedelta(days=3)), NOW).components
    [reason] = explain_change(old, new)
    assert reason.startswith("Sync freshness: the last successful sync was 72.0 hours old when this "
                             "score was computed:")
    assert "ago" not in reason


def test_risk_factors_cost_hygiene_points_by_level():
    score = compute_score(replace(PERFECT, risk_factors=[HIGH, MEDIUM]), NOW)
    assert score.components["hygiene"]["points"] == 8
    assert score.value == 88


def test_a_risk_of_our_own_making_costs_the_owner_nothing():
    ours = RiskFactor("link_failing", "high", "Syncing fails because of our own failure.", "Tell the tech team.",
                      ours=True)
    assert compute_score(replace(PERFECT, risk_factors=[ours]), NOW).value == 100
    assert compute_score(replace(PERFECT, risk_factors=[replace(ours, ours=False)]), NOW).value < 100


def test_components_are_json_serialisable_and_show_inputs():
    score = compute_score(replace(PERFECT, overbookings=[counted(10)], risk_factors=[MEDIUM]), NOW)
    again = json.loads(json.dumps(score.components))
    assert again["overbookings"]["counted"] == 1
    assert again["sync_success"]["attempts_30d"] == 2880
    assert again["hygiene"]["factors"] == [{"kind": "manual_blocks", "level": "medium", "penalty": 4}]
    assert again["total"] == score.value


def test_explain_change_names_the_reasons():
    old = compute_score(PERFECT, NOW).components
    worse = replace(PERFECT, overbookings=[counted(1)], risk_factors=[HIGH], sync_successes_30d=1440)
    reasons = explain_change(old, compute_score(worse, NOW).components)
    assert len(reasons) == 3
    assert reasons[0].startswith("Overbookings: 1 counted against the owner (was 0)")
    assert "50%" in reasons[1]
    assert "new risk link_failing (high)" in reasons[2]


def test_explain_change_is_empty_when_nothing_moved_and_says_first_score():
    components = compute_score(PERFECT, NOW).components
    assert explain_change(components, components) == []
    assert explain_change(None, components) == ["First score for this property."]


def test_ageing_overbookings_are_explained():
    record = replace(PERFECT, overbookings=[counted(10)], last_success_at=None)  # freshness stays 0
    reasons = explain_change(compute_score(record, NOW).components,
                             compute_score(record, NOW + timedelta(days=30)).components)
    assert len(reasons) == 1 and "weigh less as they age" in reasons[0]


# Property-based
when = st.integers(min_value=-5, max_value=800).map(lambda days: NOW - timedelta(days=days))
overbooking = st.builds(OverbookingRecord, detected_at=when, nights=st.integers(1, 14),
                        counts_against_owner=st.booleans())
factor = st.sampled_from([HIGH, MEDIUM, RiskFactor("ignored_events", "low", "m", "a")])


@st.composite
def records(draw) -> OwnerRecord:
    attempts = draw(st.integers(0, 3000))
    return OwnerRecord(
        overbookings=draw(st.lists(overbooking, max_size=8)),
        sync_attempts_30d=attempts,
        sync_successes_30d=draw(st.integers(0, attempts)),
        last_success_at=draw(st.none() | st.integers(-60, 20000).map(lambda m: NOW - timedelta(minutes=m))),
        sync_interval_minutes=draw(st.sampled_from([5, 15, 60])),
        risk_factors=draw(st.lists(factor, max_size=6)))


@settings(max_examples=300)
@given(records())
def test_score_is_bounded_and_deterministic(record):
    score = compute_score(record, NOW)
    assert 0 <= score.value <= 100
    assert compute_score(record, NOW) == score


@settings(max_examples=300)
@given(records(), st.integers(0, 800))
def test_another_counted_overbooking_never_raises_the_score(record, days_ago):
    more = replace(record, overbookings=[*record.overbookings, counted(days_ago)])
    assert compute_score(more, NOW).value <= compute_score(record, NOW).value


@settings(max_examples=300)
@given(records(), when)
def test_overbooking_not_counted_against_owner_does_not_move_the_score(record, detected_at):
    excused = OverbookingRecord(detected_at, nights=3, counts_against_owner=False)
    more = replace(record, overbookings=[excused, *record.overbookings])
    assert compute_score(more, NOW).value == compute_score(record, NOW).value


@settings(max_examples=300)
@given(records(), st.integers(0, 3000))
def test_more_successful_syncs_never_lower_the_score(record, extra):
    healthier = replace(record, sync_successes_30d=min(record.sync_attempts_30d, record.sync_successes_30d + extra))
    assert compute_score(healthier, NOW).value >= compute_score(record, NOW).value


@settings(max_examples=300)
@given(records(), st.integers(0, 20000))
def test_fresher_last_success_never_lowers_the_score(record, minutes_fresher):
    if record.last_success_at is None:
        fresher = replace(record, last_success_at=NOW - timedelta(minutes=minutes_fresher))
    else:
        fresher = replace(record, last_success_at=record.last_success_at + timedelta(minutes=minutes_fresher))
    assert compute_score(fresher, NOW).value >= compute_score(record, NOW).value


@settings(max_examples=200)
@given(records(), factor)
def test_another_risk_factor_never_raises_the_score(record, extra):
    worse = replace(record, risk_factors=[*record.risk_factors, extra])
    assert compute_score(worse, NOW).value <= compute_score(record, NOW).value
