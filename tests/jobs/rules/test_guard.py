"""guard_change: suspicious removals are held until confirmed over time, or accepted by staff."""
from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from jobs.rules.reconcile import (
    ChangeSet,
    GuardDecision,
    HoldState,
    StoredBlock,
    guard_change,
    held_change_set,
    reconcile_blocks,
)
from jobs.rules.stays import Stay

TODAY = date(2025, 6, 1)
T0 = datetime(2025, 6, 1, 8, 0, tzinfo=UTC)


def blocks(n: int) -> list[StoredBlock]:
    return [StoredBlock(i, f"EX-{i}", f"u{i}", TODAY + timedelta(days=3 * i + 1), TODAY + timedelta(days=3 * i + 3))
            for i in range(1, n + 1)]


def stays_of(stored: list[StoredBlock]) -> list[Stay]:
    return [Stay(b.uid, b.check_in, b.check_out, b.summary) for b in stored]


def run_syncs(stored: list[StoredBlock], feed: list[Stay], times: list[datetime],
              state: HoldState | None = None) -> list[GuardDecision]:
    """Repeat the same feed at the given times, carrying the hold state like the adapter would."""
    decisions = []
    for now in times:
        changes = reconcile_blocks(stored, feed, TODAY)
        decision = guard_change(len(stored), changes, TODAY, state, now, accepted_by_staff=False)
        decisions.append(decision)
        state = decision.state
    return decisions


def every(minutes: int, count: int) -> list[datetime]:
    return [T0 + timedelta(minutes=minutes * i) for i in range(count)]


def test_empty_feed_is_held_and_blocks_kept():
    stored = blocks(4)
    changes = reconcile_blocks(stored, [], TODAY)
    decision = guard_change(4, changes, TODAY, None, T0, accepted_by_staff=False)
    assert decision.hold
    assert decision.state == HoldState(first_seen_at=T0, confirmations=0, fingerprint=decision.state.fingerprint)
    assert "no longer shows any future stay" in decision.reason
    kept = held_change_set(changes)
    assert kept.removed == [] and sorted(b.id for b in kept.unchanged) == [1, 2, 3, 4]


def test_held_removal_goes_through_after_confirmations():
    decisions = run_syncs(blocks(4), [], every(60, 3))  # 0h, 1h, 2h
    assert [d.hold for d in decisions] == [True, True, False]
    assert decisions[-1].state is None
    assert "Confirmed" in decisions[-1].reason


def test_confirmations_without_enough_time_keep_holding():
    decisions = run_syncs(blocks(4), [], every(15, 8))  # 8 syncs over 1h45
    assert all(d.hold for d in decisions)
    assert decisions[-1].state.confirmations == 7


def test_enough_time_without_enough_confirmations_keeps_holding():
    decisions = run_syncs(blocks(4), [], [T0, T0 + timedelta(hours=5)])
    assert [d.hold for d in decisions] == [True, True]


def test_single_block_cancellation_eventually_goes_through():
    decisions = run_syncs(blocks(1), [], every(15, 9))  # 15-minute syncs, 2 hours
    assert [d.hold for d in decisions] == [True] * 8 + [False]


def test_staff_acceptance_releases_at_once():
    stored = blocks(4)
    decision = guard_change(4, reconcile_blocks(stored, [], TODAY), TODAY, None, T0, accepted_by_staff=True)
    assert not decision.hold and decision.state is None
    assert "Accepted by staff" in decision.reason


def test_staff_accept_the_held_change_not_a_different_one_that_came_after():
    stored = blocks(6)
    held = run_syncs(stored, stays_of(stored[:2]), [T0])[-1].state  # loses 4 of 6: held
    same = guard_change(6, reconcile_blocks(stored, stays_of(stored[:2]), TODAY), TODAY, held,
                        T0 + timedelta(minutes=15), accepted_by_staff=True)
    assert not same.hold and "Accepted by staff" in same.reason
    # Staff saw "4 of 6 gone"; by the sync the feed lost 5 others: that is held afresh.
    other = guard_change(6, reconcile_blocks(stored, stays_of(stored[3:4]), TODAY), TODAY, held,
                         T0 + timedelta(minutes=15), accepted_by_staff=True)
    assert other.hold and other.state.confirmations == 0
    assert other.state.fingerprint != held.fingerprint


def test_feed_coming_back_clears_the_hold():
    stored = blocks(4)
    first = run_syncs(stored, [], [T0])[-1]
    back = guard_change(4, reconcile_blocks(stored, stays_of(stored), TODAY), TODAY, first.state,
                        T0 + timedelta(hours=1), accepted_by_staff=False)
    assert not back.hold and back.state is None


def test_different_removal_restarts_the_hold():
    stored = blocks(6)
    state = run_syncs(stored, stays_of(stored[:2]), every(60, 2))[-1].state  # loses 4 of 6
    other = guard_change(6, reconcile_blocks(stored, stays_of(stored[3:4]), TODAY), TODAY, state,
                         T0 + timedelta(hours=3), accepted_by_staff=False)  # now loses 5: other codes
    assert other.hold
    assert other.state.confirmations == 0 and other.state.first_seen_at == T0 + timedelta(hours=3)
    assert other.state.fingerprint != state.fingerprint


def test_one_cancellation_among_many_is_not_suspicious():
    stored = blocks(5)
    decision = guard_change(5, reconcile_blocks(stored, stays_of(stored[1:]), TODAY), TODAY, None, T0, False)
    assert decision == GuardDecision(hold=False, reason="", state=None)


def test_losing_most_future_blocks_is_held():
    stored = blocks(6)
    decision = guard_change(6, reconcile_blocks(stored, stays_of(stored[:3]), TODAY), TODAY, None, T0, False)
    assert decision.hold
    assert "lost 3 of its 6" in decision.reason


def test_losing_two_of_three_is_ordinary_churn():
    stored = blocks(3)
    decision = guard_change(3, reconcile_blocks(stored, stays_of(stored[:1]), TODAY), TODAY, None, T0, False)
    assert not decision.hold


def test_rolling_ranges_replaced_by_new_ones_are_not_suspicious():
    # Airbnb's "Not available" ranges move every day with new UIDs: removed and added in the same sync.
    stored = blocks(4)
    moved = [Stay(f"new{b.id}", b.check_in + timedelta(days=1), b.check_out + timedelta(days=1)) for b in stored]
    changes = reconcile_blocks(stored, moved, TODAY)
    assert len(changes.removed) == 4 and len(changes.added) == 4
    assert not guard_change(4, changes, TODAY, None, T0, False).hold


def test_nothing_stored_in_the_future_is_never_suspicious():
    past = [StoredBlock(1, "EX-1", "p", TODAY - timedelta(days=9), TODAY - timedelta(days=2))]
    changes = reconcile_blocks(past, [], TODAY)
    assert not guard_change(0, changes, TODAY, None, T0, False).hold


def test_previous_state_from_another_feed_does_not_count_as_confirmation():
    stale = HoldState(first_seen_at=T0 - timedelta(days=1), confirmations=5, fingerprint="something-else")
    stored = blocks(3)
    decision = guard_change(3, reconcile_blocks(stored, [], TODAY), TODAY, stale, T0, False)
    assert decision.hold and decision.state.confirmations == 0


def test_held_change_set_keeps_additions_and_updates():
    stored = blocks(4)
    feed = [Stay("fresh", TODAY + timedelta(days=40), TODAY + timedelta(days=42))]
    changes = reconcile_blocks(stored, feed, TODAY)
    kept = held_change_set(changes)
    assert kept.added == feed and kept.removed == []
    assert isinstance(kept, ChangeSet) and len(kept.unchanged) == 4
