"""assess_risk, link_health and property_health follow the documented kinds, levels and health rule."""
from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from jobs.rules.risk import LinkFacts, PropertyFacts, assess_risk, link_health, property_health

TODAY = date(2025, 6, 1)
NOW = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)
OK_LINK = LinkFacts(link_id=1, source="airbnb", state="active", health="ok")

DOCUMENTED_LEVELS = {"unprotected_bookings": "high", "link_failing": "high", "free_busy_only": "high",
                   "kigo_not_instant_booking": "high", "no_active_link": "medium", "link_stale": "medium",
                   "manual_blocks": "medium", "recent_overbooking": "medium", "ignored_events": "low"}


def kinds(facts: PropertyFacts) -> set[str]:
    return {factor.kind for factor in assess_risk(facts).factors}


def test_healthy_property_has_no_risk():
    risk = assess_risk(PropertyFacts(TODAY, links=[OK_LINK], upcoming_direct_bookings=3))
    assert risk.level == "none" and risk.factors == []


def test_no_links_is_medium_no_active_link():
    risk = assess_risk(PropertyFacts(TODAY))
    assert risk.level == "medium"
    assert [f.kind for f in risk.factors] == ["no_active_link"]


def test_only_paused_or_linked_links_means_no_active_link():
    links = [LinkFacts(1, "vrbo", "paused", "ok"), LinkFacts(2, "booking", "linked", "never_synced")]
    assert kinds(PropertyFacts(TODAY, links=links)) == {"no_active_link"}


def test_failing_link_with_upcoming_bookings_is_high_and_unprotected():
    failing = LinkFacts(2, "vrbo", "active", "failing")
    risk = assess_risk(PropertyFacts(TODAY, links=[OK_LINK, failing], upcoming_direct_bookings=2))
    assert risk.level == "high"
    assert [f.kind for f in risk.factors] == ["unprotected_bookings", "link_failing"]
    assert "vrbo (link 2)" in risk.factors[0].message


def test_failing_link_without_upcoming_bookings_is_not_unprotected():
    assert kinds(PropertyFacts(TODAY, links=[LinkFacts(2, "vrbo", "active", "failing")])) == {"link_failing"}


def test_stale_link_is_medium():
    risk = assess_risk(PropertyFacts(TODAY, links=[LinkFacts(3, "google", "active", "stale")]))
    assert risk.level == "medium" and [f.kind for f in risk.factors] == ["link_stale"]


def test_paused_link_leaves_upcoming_bookings_unprotected():
    links = [OK_LINK, LinkFacts(2, "vrbo", "paused", "ok")]
    assert kinds(PropertyFacts(TODAY, links=links, upcoming_direct_bookings=1)) == {"unprotected_bookings"}


def test_active_link_never_synced_leaves_upcoming_bookings_unprotected():
    links = [OK_LINK, LinkFacts(2, "booking", "active", "never_synced")]
    assert kinds(PropertyFacts(TODAY, links=links, upcoming_direct_bookings=1)) == {"unprotected_bookings"}
    assert kinds(PropertyFacts(TODAY, links=links)) == set()


def test_manual_blocks_count_only_beside_an_active_sync():
    assert kinds(PropertyFacts(TODAY, links=[OK_LINK], manual_blocks=2)) == {"manual_blocks"}
    assert "manual_blocks" not in kinds(PropertyFacts(TODAY, manual_blocks=2))


def test_recent_counted_overbooking_is_medium_and_old_ones_expire():
    recent = PropertyFacts(TODAY, links=[OK_LINK], counted_overbooking_dates=[TODAY - timedelta(days=30)])
    old = PropertyFacts(TODAY, links=[OK_LINK], counted_overbooking_dates=[TODAY - timedelta(days=91)])
    assert assess_risk(recent).level == "medium" and kinds(recent) == {"recent_overbooking"}
    assert kinds(old) == set()


def test_ignored_google_events_are_low():
    risk = assess_risk(PropertyFacts(TODAY, links=[LinkFacts(4, "google", "active", "ok", ignored_events=5)]))
    assert risk.level == "low" and [f.kind for f in risk.factors] == ["ignored_events"]
    assert "5 events" in risk.factors[0].message


def test_free_busy_only_is_high_and_not_also_ignored_events():
    link = LinkFacts(4, "google", "active", "ok", ignored_events=12, free_busy_only=True)
    assert kinds(PropertyFacts(TODAY, links=[link])) == {"free_busy_only"}


def test_kigo_not_instant_booking_is_high():
    kigo = LinkFacts(5, "kigo", "active", "ok", kigo_instant_booking=False)
    assert assess_risk(PropertyFacts(TODAY, links=[kigo])).level == "high"
    assert kinds(PropertyFacts(TODAY, links=[LinkFacts(5, "kigo", "active", "ok", kigo_instant_booking=None)])) == set()


def test_every_factor_has_its_contract_level_and_plain_words():
    links = [LinkFacts(1, "vrbo", "active", "failing"), LinkFacts(2, "airbnb", "active", "stale"),
             LinkFacts(3, "google", "active", "ok", ignored_events=1),
             LinkFacts(4, "google", "active", "ok", free_busy_only=True),
             LinkFacts(5, "kigo", "active", "ok", kigo_instant_booking=False)]
    everything = PropertyFacts(TODAY, links=links, manual_blocks=1, upcoming_direct_bookings=1,
                               counted_overbooking_dates=[TODAY])
    risk = assess_risk(everything)
    expected = {kind: level for kind, level in DOCUMENTED_LEVELS.items() if kind != "no_active_link"}
    assert {f.kind: f.level for f in risk.factors} == expected
    assert all(f.message and f.advice for f in risk.factors)
    levels = [f.level for f in risk.factors]
    assert levels == sorted(levels, key=["high", "medium", "low"].index)


def test_link_health_rule():
    interval = 15
    assert link_health("linked", None, None, None, NOW, interval) == "never_synced"
    assert link_health("active", False, NOW, NOW - timedelta(hours=1), NOW, interval) == "failing"
    assert link_health("active", True, NOW, NOW - timedelta(minutes=45), NOW, interval) == "ok"
    assert link_health("active", True, NOW, NOW - timedelta(minutes=46), NOW, interval) == "stale"
    assert link_health("paused", True, NOW - timedelta(days=1), NOW - timedelta(days=1), NOW, interval) == "stale"
    assert link_health("active", False, NOW, None, NOW, interval) == "failing"


def test_property_health_is_the_worst_links():
    assert property_health([]) == "none"
    assert property_health(["ok", "ok"]) == "ok"
    assert property_health(["ok", "never_synced"]) == "never_synced"
    assert property_health(["never_synced", "stale", "ok"]) == "stale"
    assert property_health(["stale", "failing", "ok"]) == "failing"


def test_a_link_failing_by_our_own_fault_is_shown_but_marked_ours():
    ours = LinkFacts(2, "vrbo", "active", "failing", failure_is_ours=True)
    risk = assess_risk(PropertyFacts(TODAY, links=[ours], upcoming_direct_bookings=1))
    by_kind = {f.kind: f for f in risk.factors}
    assert risk.level == "high"  # the nights are unprotected all the same: the truth is shown
    assert by_kind["link_failing"].ours and "our own failure" in by_kind["link_failing"].message
    assert by_kind["unprotected_bookings"].ours


def test_an_owners_failing_link_beside_ours_is_the_owners():
    ours = LinkFacts(2, "vrbo", "active", "failing", failure_is_ours=True)
    theirs = LinkFacts(3, "airbnb", "active", "failing")
    factors = assess_risk(PropertyFacts(TODAY, links=[ours, theirs], upcoming_direct_bookings=1)).factors
    failing = [f for f in factors if f.kind == "link_failing"]
    assert len(failing) == 1 and not failing[0].ours and "airbnb (link 3)" in failing[0].message
    assert not [f for f in factors if f.kind == "unprotected_bookings"][0].ours
