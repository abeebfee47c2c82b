"""find_overbookings and attribute: which nights were sold twice, and whose fault it was."""
from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from jobs.rules.detect import (
    DirectBooking,
    ExternalBlock,
    LinkAtDetection,
    Overlap,
    PropertyAtDetection,
    attribute,
    covered_by,
    find_overbookings,
    is_echo,
    says_unavailable,
    was_ignored,
)

D0 = date(2025, 7, 1)
T0 = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)
CLEAN = PropertyAtDetection(has_manual_blocks=False, has_ignored_google_events=False, sync_interval_minutes=15)
HEALTHY = LinkAtDetection(health="ok", state="active", source="airbnb")


def d(day: int) -> date:
    return D0 + timedelta(days=day)


def direct(code: str, start: int, end: int, created: datetime = T0) -> DirectBooking:
    return DirectBooking(code, d(start), d(end), created)


def ext(code: str, start: int, end: int, created: datetime = T0) -> ExternalBlock:
    return ExternalBlock(code, 1, f"uid-{code}", d(start), d(end), created)


def test_overlapping_nights_are_reported_with_first_and_last_night():
    found = find_overbookings([direct("D1", 0, 5)], [ext("EX-1", 3, 8)])
    assert found == [Overlap("D1", "EX-1", first_night=d(3), last_night=d(4), nights=2)]


def test_checkout_day_equal_to_checkin_day_is_not_an_overlap():
    assert find_overbookings([direct("D1", 0, 3)], [ext("EX-1", 3, 6), ext("EX-2", -4, 0)]) == []


def test_same_start_day_is_reported_once():
    assert len(find_overbookings([direct("D1", 2, 4)], [ext("EX-1", 2, 3)])) == 1


def test_block_inside_a_long_stay_and_several_pairs():
    found = find_overbookings([direct("D1", 0, 30), direct("D2", 10, 12)], [ext("EX-1", 11, 13), ext("EX-2", 20, 21)])
    assert [(o.direct_code, o.external_code, o.nights) for o in found] == [
        ("D1", "EX-1", 2), ("D2", "EX-1", 1), ("D1", "EX-2", 1)]


def test_direct_bookings_overlapping_each_other_are_not_overbookings():
    assert find_overbookings([direct("D1", 0, 5), direct("D2", 1, 4)], [ext("EX-1", 1, 2), ext("EX-2", 0, 9)]) != []
    assert find_overbookings([direct("D1", 0, 5), direct("D2", 1, 4)], []) == []


def test_empty_ranges_never_overlap():
    assert find_overbookings([direct("D1", 3, 3)], [ext("EX-1", 0, 9)]) == []


def naive(directs, blocks):
    out = []
    for a in directs:
        for b in blocks:
            first, end = max(a.check_in, b.check_in), min(a.check_out, b.check_out)
            if end > first:
                out.append((a.code, b.code, first, end - timedelta(days=1), (end - first).days))
    return sorted(out)


ranges = st.tuples(st.integers(0, 30), st.integers(0, 6))


@settings(max_examples=300)
@given(st.lists(ranges, max_size=12), st.lists(ranges, max_size=12))
def test_sweep_finds_exactly_what_the_naive_comparison_finds(direct_ranges, block_ranges):
    directs = [direct(f"D{i}", s, s + n) for i, (s, n) in enumerate(direct_ranges)]
    blocks = [ext(f"EX-{i}", s, s + n) for i, (s, n) in enumerate(block_ranges)]
    got = sorted((o.direct_code, o.external_code, o.first_night, o.last_night, o.nights)
                 for o in find_overbookings(directs, blocks))
    assert got == naive(directs, blocks)


# Attribution
def judge(link, prop=CLEAN, direct_created=T0, block_created=T0 + timedelta(hours=5)):
    a, b = direct("D1", 0, 3, direct_created), ext("EX-1", 1, 4, block_created)
    return attribute(find_overbookings([a], [b])[0], a, b, link, prop)


def test_block_already_known_when_direct_was_booked_is_not_the_owners_fault():
    verdict = judge(HEALTHY, block_created=T0 - timedelta(days=2))
    assert not verdict.counts_against_owner
    assert "availability check" in verdict.reason


def test_block_already_known_is_our_fault_even_on_a_failing_link():
    verdict = judge(LinkAtDetection("failing", "active", "vrbo"), block_created=T0 - timedelta(minutes=1))
    assert not verdict.counts_against_owner


def test_race_within_one_sync_interval_does_not_count():
    verdict = judge(HEALTHY, block_created=T0 + timedelta(minutes=14))
    assert not verdict.counts_against_owner
    assert "within one sync interval" in verdict.reason


def test_race_window_follows_the_sync_interval():
    slow = PropertyAtDetection(False, False, sync_interval_minutes=60)
    assert not judge(HEALTHY, slow, block_created=T0 + timedelta(minutes=45)).counts_against_owner
    assert judge(HEALTHY, CLEAN, block_created=T0 + timedelta(minutes=45)).counts_against_owner


def test_healthy_link_but_late_external_booking_counts():
    verdict = judge(HEALTHY)
    assert verdict.counts_against_owner
    assert "not blocking the dates" in verdict.reason


def test_failing_or_stale_link_counts_even_inside_the_race_window():
    for health in ("failing", "stale", "never_synced"):
        verdict = judge(LinkAtDetection(health, "active", "booking"), block_created=T0 + timedelta(minutes=5))
        assert verdict.counts_against_owner, health
        assert "not being read" in verdict.reason


def test_linked_but_not_activated_counts():
    verdict = judge(LinkAtDetection("ok", "linked", "airbnb"), block_created=T0 + timedelta(minutes=5))
    assert verdict.counts_against_owner and "never activated" in verdict.reason


def test_paused_link_counts():
    verdict = judge(LinkAtDetection("ok", "paused", "airbnb"), block_created=T0 + timedelta(minutes=5))
    assert verdict.counts_against_owner and "paused" in verdict.reason


def test_missing_link_counts():
    assert judge(None).counts_against_owner


def test_manual_blocks_and_ignored_events_are_named_in_the_reason():
    verdict = judge(HEALTHY, PropertyAtDetection(True, True, 15))
    assert verdict.counts_against_owner
    assert "manual blocks" in verdict.reason and "Reserved" in verdict.reason


def read(previous_success: datetime | None, ignored: frozenset[str] = frozenset()) -> LinkAtDetection:
    """A healthy Airbnb link whose read before the one that brought the block was at previous_success."""
    return LinkAtDetection("ok", "active", "airbnb", previous_success_at=previous_success,
                           previously_ignored_uids=ignored)


def test_previous_read_within_one_interval_after_the_booking_makes_a_late_import_a_race():
    # Booked at T0, read at T0+6 min (stay not there yet), read again at T0+20 min: it is there.
    verdict = judge(read(T0 + timedelta(minutes=6)), block_created=T0 + timedelta(minutes=20))
    assert not verdict.counts_against_owner
    assert "previous read" in verdict.reason and "within one sync interval" in verdict.reason


def test_previous_read_before_the_booking_also_makes_it_a_race():
    verdict = judge(read(T0 - timedelta(minutes=3)), block_created=T0 + timedelta(minutes=17))
    assert not verdict.counts_against_owner and "before it" in verdict.reason


def test_previous_read_long_after_the_booking_still_counts():
    verdict = judge(read(T0 + timedelta(hours=2)), block_created=T0 + timedelta(hours=2, minutes=15))
    assert verdict.counts_against_owner and "not blocking the dates" in verdict.reason


def test_previous_read_gives_no_benefit_on_an_unhealthy_link():
    link = LinkAtDetection("stale", "active", "airbnb", previous_success_at=T0 + timedelta(minutes=1))
    assert judge(link, block_created=T0 + timedelta(minutes=20)).counts_against_owner


def test_event_titled_reserved_only_later_counts_even_inside_the_race_window():
    verdict = judge(read(T0 + timedelta(minutes=6), frozenset({"uid-EX-1"})),
                    block_created=T0 + timedelta(minutes=10))
    assert verdict.counts_against_owner
    assert ('the event was in the Google calendar but not titled "Reserved" until 2025-06-01'
            in verdict.reason)


def test_block_already_known_beats_a_late_rename():
    verdict = judge(read(None, frozenset({"uid-EX-1"})), block_created=T0 - timedelta(minutes=1))
    assert not verdict.counts_against_owner and "availability check" in verdict.reason


def test_other_ignored_events_are_no_evidence_against_this_stay():
    verdict = judge(read(None, frozenset({"uid-EX-9"})), block_created=T0 + timedelta(minutes=10))
    assert not verdict.counts_against_owner


def test_instances_of_a_repeating_event_match_their_series_uid():
    assert was_ignored("series@google.com#20250701", frozenset({"series@google.com"}))
    assert was_ignored("a@google.com", frozenset({"a@google.com"}))
    assert not was_ignored("a@google.com", frozenset({"", "b@google.com"}))
    assert not was_ignored("", frozenset({""}))


# Echoes of our own export feed
def echo(summary="Airbnb (Not available)", source="airbnb", block=(0, 3), stays=((0, 3),),
         block_created=T0 + timedelta(hours=3)) -> bool:
    """Direct booking D1 (nights 0-2, made at T0) against an 'unavailable' block; True when it is an echo."""
    b = ExternalBlock("EX-1", 1, "uid-1", d(block[0]), d(block[1]), block_created, summary=summary)
    return is_echo(direct("D1", 0, 3), b, source, [(d(start), d(end)) for start, end in stays])


def test_airbnb_not_available_block_on_exactly_our_nights_after_our_booking_is_an_echo():
    assert echo()
    assert echo(summary="Not available") and echo(summary="  Not Available ")
    assert echo(summary="AIRBNB (NOT  AVAILABLE)")


def test_a_block_that_reads_as_a_booking_is_never_an_echo():
    assert not echo(summary="Reserved")
    assert not echo(summary="Jane Doe (HMABCD1234)")
    assert not echo(summary="")
    assert not echo(summary="Not available until further notice")  # whole titles only


def test_vrbo_blocked_in_its_languages_is_an_echo_but_its_bookings_and_tentative_holds_are_not():
    for title in ("Blocked", "Indisponible", "Nicht verfügbar"):
        assert echo(summary=title, source="vrbo"), title
    for title in ("Reserved - Ana", "Réservée - Jean", "Provisoire - Jean"):
        assert not echo(summary=title, source="vrbo"), title


def test_booking_com_is_never_an_echo_its_bookings_and_closures_read_the_same():
    assert not echo(summary="CLOSED - Not available", source="booking")
    assert not echo(summary="Not available", source="booking")
    assert not echo(summary="Blocked", source="booking")


def test_generic_sources_use_a_short_list_and_unknown_google_or_kigo_sources_never_echo():
    for title in ("Blocked", "Unavailable", "Closed", "Not available"):
        assert echo(summary=title, source="ical"), title
    assert not echo(summary="CLOSED - Not available", source="ical")  # Booking.com's title, whatever the link
    assert not echo(summary="Busy", source="ical")  # free/busy exports say Busy for real bookings too
    assert not echo(summary="Not available", source=None)
    assert not echo(summary="Not available", source="google")
    assert not echo(summary="Not available", source="kigo")
    assert says_unavailable("Blocked", "holidaylettings") and not says_unavailable(None, "airbnb")


def test_an_extra_night_of_its_own_makes_the_block_the_other_channels():
    assert not echo(block=(0, 4))
    assert not echo(block=(-1, 3))


def test_adjacent_direct_and_manual_stays_merged_into_one_block_are_still_an_echo():
    assert echo(block=(0, 5), stays=((0, 3), (3, 5)))
    assert echo(block=(0, 5), stays=((2, 5), (0, 3)))  # overlapping, unsorted
    assert not echo(block=(0, 6), stays=((0, 3), (4, 6)))  # night 3 is nobody's of ours


def test_a_block_that_did_not_appear_after_our_booking_is_no_echo():
    assert echo(block_created=T0 + timedelta(seconds=1))
    assert not echo(block_created=T0)
    assert not echo(block_created=T0 - timedelta(days=1))


@settings(max_examples=300, deadline=None)
@given(st.tuples(st.integers(0, 20), st.integers(1, 6)),
       st.lists(st.tuples(st.integers(-5, 25), st.integers(-2, 8)), max_size=6))
def test_coverage_equals_the_union_of_nights(block, stays):
    start, end = block[0], block[0] + block[1]
    ranges = [(a, a + n) for a, n in stays]
    ours = {night for a, b in ranges for night in range(a, b)}
    assert covered_by(d(start), d(end), [(d(a), d(b)) for a, b in ranges]) == set(range(start, end)).issubset(ours)
