"""The schedule by value as a pure policy: each factor, the bounds, the floors, and the fleet's budget."""
from __future__ import annotations

import random

import pytest

from jobs.rules import risk
from jobs.rules.sync_interval import (
    DAY,
    LinkValue,
    ScheduleBounds,
    backoff_interval,
    budget_scale,
    fleet_rate,
    interval_for,
    jitter_range,
    link_floor,
    link_weight,
    quantile,
    until_next_read,
)

BOUNDS = ScheduleBounds(mean_minutes=15, min_minutes=2, max_minutes=60)
PLAIN = LinkValue(source="airbnb")


def minutes(value: LinkValue, scale: float = 1.0, bounds: ScheduleBounds = BOUNDS) -> float:
    return interval_for(value, bounds, scale).seconds / 60


def test_an_ordinary_link_is_read_at_the_mean_interval_and_says_nothing_is_at_stake():
    chosen = interval_for(PLAIN, BOUNDS)
    assert chosen.seconds == 15 * 60
    assert chosen.reason == "every 15 min: nothing booked ahead, no recent demand or change"


@pytest.mark.parametrize("days, faster", [(0, 10.0), (2, 10.0), (3, 8.0), (14, 8.0)])
def test_a_direct_check_in_within_two_weeks_reads_sooner_the_nearer_it_is(days, faster):
    value = LinkValue(source="airbnb", days_to_check_in=days)
    assert interval_for(value, BOUNDS, scale=16).seconds == pytest.approx(15 * 60 * 16 / faster, abs=1)
    assert "a direct check-in" in interval_for(value, BOUNDS).reason


def test_a_check_in_further_than_two_weeks_changes_nothing():
    assert minutes(LinkValue(days_to_check_in=15)) == 15


def test_guests_asking_availability_read_the_calendar_sooner_and_say_when():
    last_hour = interval_for(LinkValue(demand_age=600), BOUNDS)
    today = interval_for(LinkValue(demand_age=5 * 3600), BOUNDS)
    assert last_hour.seconds == 10 * 60 and today.seconds == 12.5 * 60
    assert "guests asked its availability in the last hour" in last_hour.reason
    assert minutes(LinkValue(demand_age=2 * DAY)) == 15


def test_nights_at_stake_read_sooner_up_to_twice_as_often():
    assert minutes(LinkValue(exposure_nights=15)) == pytest.approx(10, abs=0.01)
    assert minutes(LinkValue(exposure_nights=300)) == pytest.approx(7.5, abs=0.01)
    assert "15 nights at stake" in interval_for(LinkValue(exposure_nights=15), BOUNDS).reason


def test_a_calendar_that_changes_often_is_read_sooner_and_a_quiet_one_later():
    assert minutes(LinkValue(change_age=3 * 3600)) == pytest.approx(15 / 1.3, abs=0.01)
    assert minutes(LinkValue(change_age=3 * DAY)) == pytest.approx(15 / 1.1, abs=0.01)
    assert "its calendar changed in the last day" in interval_for(LinkValue(change_age=3 * 3600), BOUNDS).reason
    quiet = LinkValue(change_age=40 * DAY, watched_for=90 * DAY)
    assert minutes(quiet) == 30
    assert "has not changed in 30 days" in interval_for(quiet, BOUNDS).reason
    # A link watched for only a week has not had the time to look quiet.
    assert minutes(LinkValue(watched_for=7 * DAY)) == 15


def test_intervals_stay_within_the_min_and_the_stale_safe_max():
    everything = LinkValue(days_to_check_in=0, demand_age=60, exposure_nights=30, change_age=600)
    chosen = interval_for(everything, BOUNDS)
    assert chosen.seconds == 2 * 60 and chosen.reason.startswith("every 2 min (the shortest): ")
    slow = interval_for(PLAIN, BOUNDS, scale=50)
    # 60 min is the max, but a link read every 60 min would show stale after 45 (3 x 15): kept to 40.
    assert slow.seconds == 40 * 60 and "(the longest)" in slow.reason
    assert BOUNDS.longest < risk.STALE_AFTER_INTERVALS * 15 * 60
    assert ScheduleBounds(30, 2, 60).longest == 60 * 60  # under 3 x 30 the max itself holds


def test_a_min_above_the_mean_reads_every_link_at_the_mean():
    bounds = ScheduleBounds(mean_minutes=2, min_minutes=5, max_minutes=60)
    assert minutes(LinkValue(days_to_check_in=0), bounds=bounds) == 2


def test_a_providers_own_minimum_wins_over_what_is_at_stake_but_never_makes_a_link_stale():
    hot = LinkValue(source="holidaylettings", days_to_check_in=1)
    slow_fleet = ScheduleBounds(mean_minutes=60, min_minutes=2, max_minutes=240)
    chosen = interval_for(hot, slow_fleet)
    assert chosen.seconds == 2 * 3600
    assert chosen.reason.startswith("every 2 h: HolidayLettings (TripAdvisor Rentals) asks to be read at most "
                                    "every 2 h; a direct check-in within 2 days")
    # At 15 minutes, 2 h would read as stale after 45 min: the minimum is kept to the longest interval.
    kept = interval_for(hot, BOUNDS)
    assert kept.seconds == 40 * 60 and "kept to 40 min, so the link is never shown stale" in kept.reason


def test_caching_headers_slow_only_links_where_nothing_is_at_stake_and_never_past_the_mean():
    hinted = interval_for(LinkValue(cache_max_age=3600, change_age=3 * 3600), BOUNDS)
    assert hinted.seconds == 15 * 60
    assert "the feed says its answer stays fresh for 60 min" in hinted.reason
    assert minutes(LinkValue(cache_max_age=3600, days_to_check_in=1)) == 2
    assert minutes(LinkValue(cache_max_age=60)) == 15  # a short hint never reads sooner


def test_backoff_and_retry_after_are_said_in_words():
    assert backoff_interval(1800, 2, None).reason == "in 30 min: backing off after 2 failed reads in a row"
    assert backoff_interval(7200, 1, 7200).reason == "in 2 h: the feed asked us to wait (Retry-After)"


def _fleet(n: int, seed: int = 3) -> list[LinkValue]:
    rng = random.Random(seed)
    values = []
    for _ in range(n):
        values.append(LinkValue(
            source=rng.choice(["airbnb", "booking", "vrbo", "holidaylettings", "google"]),
            days_to_check_in=rng.choice([None, None, None, 0, 3, 10, 30]),
            demand_age=rng.choice([None, None, 300, 20000]),
            exposure_nights=rng.choice([0, 0, 0, 5]),
            change_age=rng.choice([None, 3600, 3 * DAY, 60 * DAY]), watched_for=200 * DAY))
    return values


@pytest.mark.parametrize("mean", [2, 15, 60])
def test_the_fleet_reads_at_its_budget_whatever_its_mix_the_mean_interval_holds(mean):
    bounds = ScheduleBounds(mean_minutes=mean, min_minutes=2, max_minutes=60)
    fleet = _fleet(2000)
    groups: dict = {}
    for value in fleet:
        key = (round(link_weight(value)[0], 2), value.source)
        groups[key] = groups.get(key, 0) + 1
    scale = budget_scale([(w, s, n) for (w, s), n in groups.items()], bounds)
    reads_per_minute = sum(60 / interval_for(v, bounds, scale).seconds for v in fleet)
    budget = len(fleet) / mean
    assert reads_per_minute <= budget * 1.001
    if bounds.shortest < mean * 60 < bounds.longest:  # with room both sides the budget is spent, not left
        assert reads_per_minute >= budget * 0.97
        hot = [v for v in fleet if v.days_to_check_in is not None and v.days_to_check_in <= 14]
        rest = [v for v in fleet if v not in hot]

        def rate(values):
            return sum(60 / interval_for(v, bounds, scale).seconds for v in values) / len(values)
        assert rate(hot) >= 2 * rate(rest)  # the reads go where a guest is about to arrive


def test_budget_scale_of_an_empty_fleet_is_one_and_rate_falls_with_the_scale():
    assert budget_scale([], BOUNDS) == 1.0
    groups = [(1.0, "airbnb", 10), (4.0, "airbnb", 5)]
    assert fleet_rate(groups, BOUNDS, 0.5) > fleet_rate(groups, BOUNDS, 2.0)


def test_quantile_interpolates_within_a_bucket_and_stops_at_the_last_bound():
    bounds = [10.0, 20.0, 30.0]
    assert quantile(bounds, [0, 0, 0, 0], 0.5) is None
    assert quantile(bounds, [10, 10, 0, 0], 0.5) == 10.0
    assert quantile(bounds, [0, 10, 0, 0], 0.95) == 19.5
    assert quantile(bounds, [0, 0, 0, 5], 0.99) == 30.0


def test_the_stale_rule_the_longest_interval_guards_is_the_risk_rules():
    from jobs.rules import sync_interval
    assert sync_interval.STALE_AFTER_INTERVALS == risk.STALE_AFTER_INTERVALS


def test_a_link_is_read_sooner_when_its_check_in_comes_within_14_days_before_its_next_read():
    far = LinkValue(source="airbnb", days_to_check_in=16)
    planned = interval_for(far, BOUNDS, 3.0).seconds  # a busy fleet: 45 min, kept to the longest (40)
    near = interval_for(LinkValue(source="airbnb", days_to_check_in=14), BOUNDS, 3.0).seconds
    assert near < planned / 4
    # Within 14 days in 10 min: read 10 min + the near interval from now, not after the long one.
    assert until_next_read(far, planned, 600, BOUNDS, 3.0) == 600 + near
    assert until_next_read(far, planned, -30, BOUNDS, 3.0) == near  # the day has begun already
    assert until_next_read(far, planned, planned + 1, BOUNDS, 3.0) == planned  # after the planned read
    assert until_next_read(far, planned, None, BOUNDS, 3.0) == planned  # no check-in known
    already = LinkValue(source="airbnb", days_to_check_in=3)
    assert until_next_read(already, 200, 0, BOUNDS, 3.0) == 200  # at its rate already


@pytest.mark.parametrize("bounds", [BOUNDS, ScheduleBounds(30, 2, 60), ScheduleBounds(5, 1, 60)])
def test_jitter_never_takes_a_read_past_the_longest_nor_before_a_floor(bounds):
    longest = bounds.longest
    low, high = jitter_range(longest, bounds.shortest, bounds)
    assert high == 1.0 and longest * high <= min(bounds.max_minutes * 60, 3 * bounds.mean_minutes * 60)
    floor = link_floor(LinkValue(source="holidaylettings"), bounds)[0]
    assert jitter_range(floor, floor, bounds)[0] == 1.0  # a provider's minimum is only waited longer
    assert jitter_range(bounds.mean_minutes * 60 * 0.7, bounds.shortest, bounds) == (0.9, 1.1)
