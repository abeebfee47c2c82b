"""reconcile_blocks: matching by UID, then by dates, history kept, idempotent."""
from __future__ import annotations

from datetime import date, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from jobs.rules.reconcile import ChangeSet, StoredBlock, reconcile_blocks
from jobs.rules.stays import Stay

TODAY = date(2025, 6, 1)


def d(day: int) -> date:
    """A date `day` days after TODAY (negative: before)."""
    return TODAY + timedelta(days=day)


def block(id_: int, uid: str, start: int, end: int, summary: str = "") -> StoredBlock:
    return StoredBlock(id=id_, code=f"EX-{id_:04d}", uid=uid, check_in=d(start), check_out=d(end), summary=summary)


def apply(stored: list[StoredBlock], changes: ChangeSet) -> list[StoredBlock]:
    """What an adapter does with a change set: new blocks get fresh ids and codes, updated ones keep theirs."""
    removed = {b.id for b in changes.removed}
    updated = {b.id: s for b, s in changes.updated}
    result = []
    for b in stored:
        if b.id in removed:
            continue
        s = updated.get(b.id)
        result.append(b if s is None else StoredBlock(b.id, b.code, s.uid, s.check_in, s.check_out, s.summary))
    next_id = max((b.id for b in stored), default=0) + 1
    for i, s in enumerate(changes.added):
        result.append(StoredBlock(next_id + i, f"EX-{next_id + i:04d}", s.uid, s.check_in, s.check_out, s.summary))
    return result


def future_view(blocks: list[StoredBlock]) -> set[tuple[str, date, date, str]]:
    return {(b.uid, b.check_in, b.check_out, b.summary) for b in blocks if b.check_out > TODAY}


def test_new_feed_adds_every_future_stay():
    stays = [Stay("b", d(5), d(8)), Stay("a", d(1), d(3))]
    changes = reconcile_blocks([], stays, TODAY)
    assert [s.uid for s in changes.added] == ["a", "b"]
    assert changes.updated == changes.removed == changes.unchanged == []


def test_same_feed_twice_changes_nothing():
    stays = [Stay("a", d(1), d(3), "Reserved"), Stay("b", d(5), d(8))]
    stored = apply([], reconcile_blocks([], stays, TODAY))
    again = reconcile_blocks(stored, stays, TODAY)
    assert again.is_empty
    assert sorted(b.code for b in again.unchanged) == sorted(b.code for b in stored)


def test_moved_stay_updates_its_block_and_keeps_the_code():
    stored = [block(1, "a", 1, 3)]
    changes = reconcile_blocks(stored, [Stay("a", d(2), d(6))], TODAY)
    assert changes.updated == [(stored[0], Stay("a", d(2), d(6)))]
    assert changes.added == changes.removed == []


def test_new_summary_alone_is_an_update():
    stored = [block(1, "a", 1, 3, "Blocked")]
    changes = reconcile_blocks(stored, [Stay("a", d(1), d(3), "Reserved - Ann")], TODAY)
    assert [s.summary for _, s in changes.updated] == ["Reserved - Ann"]


def test_vanished_future_stay_removes_its_block():
    stored = [block(1, "a", 1, 3), block(2, "b", 5, 8)]
    changes = reconcile_blocks(stored, [Stay("a", d(1), d(3))], TODAY)
    assert changes.removed == [stored[1]]
    assert changes.unchanged == [stored[0]]


def test_regenerated_uid_with_same_dates_keeps_the_block():
    stored = [block(1, "old-1", 1, 3), block(2, "old-2", 5, 8)]
    stays = [Stay("new-1", d(1), d(3)), Stay("new-2", d(5), d(8))]
    changes = reconcile_blocks(stored, stays, TODAY)
    assert [(b.code, s.uid) for b, s in changes.updated] == [("EX-0001", "new-1"), ("EX-0002", "new-2")]
    assert changes.added == changes.removed == []


def test_vrbo_date_change_with_new_uid_is_remove_and_add():
    stored = [block(1, "uuid-1", 1, 3)]
    changes = reconcile_blocks(stored, [Stay("uuid-2", d(2), d(4))], TODAY)
    assert changes.removed == stored
    assert changes.added == [Stay("uuid-2", d(2), d(4))]


def test_uid_match_wins_over_date_match():
    # "a" moved onto "b"'s old dates while "b" vanished: "a" must keep its own block.
    stored = [block(1, "a", 1, 3), block(2, "b", 5, 8)]
    changes = reconcile_blocks(stored, [Stay("a", d(5), d(8))], TODAY)
    assert [b.id for b, _ in changes.updated] == [1]
    assert changes.removed == [stored[1]]


def test_past_blocks_missing_from_feed_are_kept():
    stored = [block(1, "old", -10, -5), block(2, "ends-today", -3, 0)]
    changes = reconcile_blocks(stored, [], TODAY)
    assert changes.removed == []
    assert [b.id for b in changes.unchanged] == [1, 2]


def test_past_stays_not_stored_are_not_imported():
    changes = reconcile_blocks([], [Stay("old", d(-10), d(-5)), Stay("now", d(-1), d(2))], TODAY)
    assert [s.uid for s in changes.added] == ["now"]


def test_edited_past_stay_leaves_history_alone():
    stored = [block(1, "old", -10, -5, "Reserved")]
    changes = reconcile_blocks(stored, [Stay("old", d(-10), d(-6), "Blocked")], TODAY)
    assert changes.unchanged == stored and changes.updated == []


def test_stay_extended_past_today_updates_its_block():
    stored = [block(1, "a", -3, 0)]
    changes = reconcile_blocks(stored, [Stay("a", d(-3), d(2))], TODAY)
    assert [(b.id, s.check_out) for b, s in changes.updated] == [(1, d(2))]
    assert changes.added == []


def test_duplicate_uid_in_feed_creates_one_block():
    stays = [Stay("a", d(1), d(3)), Stay("a", d(1), d(3)), Stay("a", d(4), d(6))]
    changes = reconcile_blocks([], stays, TODAY)
    assert changes.added == [Stay("a", d(1), d(3))]


def test_duplicate_uid_in_store_keeps_one_block_and_removes_the_other():
    stored = [block(1, "a", 1, 3), block(2, "a", 1, 3)]
    changes = reconcile_blocks(stored, [Stay("a", d(1), d(3))], TODAY)
    assert [b.id for b in changes.unchanged] == [1]
    assert [b.id for b in changes.removed] == [2]


def test_empty_or_inverted_ranges_are_ignored():
    changes = reconcile_blocks([], [Stay("z", d(3), d(3)), Stay("y", d(4), d(2))], TODAY)
    assert changes.added == []


def test_output_order_does_not_depend_on_input_order():
    stored = [block(i, f"s{i}", i, i + 2) for i in range(1, 6)]
    stays = [Stay(f"s{i}", d(i + 1), d(i + 3)) for i in range(1, 4)] + [Stay("n1", d(20), d(22)),
                                                                       Stay("n0", d(10), d(12))]
    first = reconcile_blocks(stored, stays, TODAY)
    second = reconcile_blocks(list(reversed(stored)), list(reversed(stays)), TODAY)
    assert first == second
    assert [s.uid for s in first.added] == ["n0", "n1"]


# Property-based: small id/date spaces so that UIDs and dates collide often.
uids = st.sampled_from([f"u{i}" for i in range(8)])
days = st.integers(min_value=-6, max_value=10)


@st.composite
def stays_strategy(draw) -> list[Stay]:
    out = []
    for _ in range(draw(st.integers(0, 8))):
        start = draw(days)
        out.append(Stay(draw(uids), d(start), d(start + draw(st.integers(1, 4))), draw(st.sampled_from(["", "R"]))))
    return out


@st.composite
def stored_strategy(draw) -> list[StoredBlock]:
    out = []
    for i in range(draw(st.integers(0, 8))):
        start = draw(days)
        out.append(block(i + 1, draw(uids), start, start + draw(st.integers(1, 4)), draw(st.sampled_from(["", "R"]))))
    return out


def expected_future(stays: list[Stay]) -> set[tuple[str, date, date, str]]:
    first: dict[str, Stay] = {}
    for s in stays:
        first.setdefault(s.uid, s)
    return {(s.uid, s.check_in, s.check_out, s.summary) for s in first.values() if s.check_out > TODAY}


@settings(max_examples=300)
@given(stored_strategy(), stays_strategy())
def test_applied_change_set_holds_exactly_the_feeds_future(stored, stays):
    after = apply(stored, reconcile_blocks(stored, stays, TODAY))
    assert future_view(after) == expected_future(stays)
    assert len([b for b in after if b.check_out > TODAY]) == len(expected_future(stays))


@settings(max_examples=300)
@given(stored_strategy(), stays_strategy())
def test_reconcile_after_apply_is_idempotent(stored, stays):
    after = apply(stored, reconcile_blocks(stored, stays, TODAY))
    assert reconcile_blocks(after, stays, TODAY).is_empty


@settings(max_examples=300)
@given(stored_strategy(), stays_strategy())
def test_every_stored_block_lands_in_exactly_one_bucket_and_past_is_never_removed(stored, stays):
    changes = reconcile_blocks(stored, stays, TODAY)
    ids = [b.id for b in changes.unchanged] + [b.id for b in changes.removed] + [b.id for b, _ in changes.updated]
    assert sorted(ids) == sorted(b.id for b in stored)
    assert all(b.check_out > TODAY for b in changes.removed)
    past = {b.id: b for b in stored if b.check_out <= TODAY}
    assert all(past[b.id] == b for b in changes.unchanged if b.id in past)


# --- blocks of events the feed holds but we could not read (keep_uids) ------------------------------------------

def test_block_of_an_unreadable_event_is_kept_while_another_vanished_block_is_removed():
    stored = [block(1, "unreadable", 1, 3, "Reserved"), block(2, "gone", 5, 8), block(3, "same", 10, 12)]
    changes = reconcile_blocks(stored, [Stay("same", d(10), d(12))], TODAY, keep_uids=["unreadable"])
    assert changes.removed == [stored[1]]
    assert changes.unchanged == [stored[0], stored[2]]
    assert changes.added == changes.updated == []
    # Without the unreadable UIDs, the same feed removes both.
    assert reconcile_blocks(stored, [Stay("same", d(10), d(12))], TODAY).removed == stored[:2]


def test_kept_block_is_neither_updated_nor_taken_over_by_dates_nor_added_twice():
    stored = [block(1, "a", 1, 3, "Reserved"), block(2, "b", 5, 8)]
    # "a" also reads (a duplicate UID) with other dates; a new UID lands on "b"'s exact dates.
    stays = [Stay("a", d(2), d(4), "Reserved"), Stay("new", d(5), d(8))]
    changes = reconcile_blocks(stored, stays, TODAY, keep_uids={"a", "b"})
    assert changes.unchanged == stored
    assert changes.updated == [] and changes.removed == []
    assert changes.added == [Stay("new", d(5), d(8))]


def test_kept_uid_covers_the_blocks_of_its_instances_only():
    stored = [block(1, "w@google.com#20250603", 2, 4), block(2, "w@google.com#20250610", 9, 11),
              block(3, "w@google.com.other#20250603", 2, 4), block(4, "x#w@google.com", 12, 13)]
    changes = reconcile_blocks(stored, [], TODAY, keep_uids=["w@google.com"])
    assert [b.id for b in changes.unchanged] == [1, 2]
    assert [b.id for b in changes.removed] == [3, 4]


def test_unreadable_event_from_a_parsed_feed_keeps_its_stored_block():
    """parse_feed -> reconcile_blocks: an Airbnb stay that lost its DTSTART keeps its block; a cancelled one goes."""
    from tests.jobs.feeds import TODAY as FEED_TODAY
    from tests.jobs.feeds import calendar, event, parse

    def on(days: int) -> date:
        return FEED_TODAY + timedelta(days=days)

    def stored_block(id_: int, uid: str, start: int, end: int) -> StoredBlock:
        return StoredBlock(id_, f"EX-{id_:04d}", uid, on(start), on(end), "Reserved")

    stored = [stored_block(1, "kept@airbnb.com", 3, 7), stored_block(2, "cancelled@airbnb.com", 10, 12),
              stored_block(3, "still@airbnb.com", 20, 25)]
    body = calendar(["PRODID:-//Airbnb Inc//Hosting Calendar 1.0//EN",
                     "BEGIN:VEVENT", f"DTEND;VALUE=DATE:{on(7):%Y%m%d}", "SUMMARY:Reserved", "UID:kept@airbnb.com",
                     "END:VEVENT",
                     *event("still@airbnb.com", f";VALUE=DATE:{on(20):%Y%m%d}", f";VALUE=DATE:{on(25):%Y%m%d}",
                            "Reserved")])
    parsed = parse(body, "airbnb")
    assert parsed.unreadable_uids == ["kept@airbnb.com"]
    changes = reconcile_blocks(stored, parsed.stays, FEED_TODAY, keep_uids=parsed.unreadable_uids)
    assert [b.uid for b in changes.removed] == ["cancelled@airbnb.com"]
    assert sorted(b.uid for b in changes.unchanged) == ["kept@airbnb.com", "still@airbnb.com"]
    assert changes.added == changes.updated == []


@settings(max_examples=300)
@given(stored_strategy(), stays_strategy(), st.sets(uids, max_size=3))
def test_kept_blocks_stay_as_stored_and_every_block_lands_in_one_bucket(stored, stays, keep):
    changes = reconcile_blocks(stored, stays, TODAY, keep_uids=keep)
    ids = [b.id for b in changes.unchanged] + [b.id for b in changes.removed] + [b.id for b, _ in changes.updated]
    assert sorted(ids) == sorted(b.id for b in stored)
    kept = {b.id for b in stored if b.uid in keep}
    assert kept <= {b.id for b in changes.unchanged}
    after = apply(stored, changes)
    assert {b for b in after if b.id in kept} == {b for b in stored if b.id in kept}
    assert not {s.uid for s in changes.added} & {b.uid for b in stored if b.id in kept}  # never added twice
