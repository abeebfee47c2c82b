"""Risk and reward score through the database: recomputed after syncs, on schedule and by the CLI."""
from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func, select

from console.extensions import db
from console.models import Overbooking, Property, ScoreSnapshot, SyncRun
from console.timeutil import utcnow
from jobs.sync.property_state import owner_record, recompute_all, recompute_property, risks_of
from jobs.sync.runner import sync_links
from tests.jobs.feeds import airbnb_feed


def healthy(minutes_ago: int = 5) -> dict:
    at = utcnow() - timedelta(minutes=minutes_ago)
    return {"last_sync_at": at, "last_success_at": at, "last_attempt_ok": True}


def kinds(prop: Property) -> set[str]:
    """The property's stored risk factor kinds after a fresh recompute."""
    recompute_property(prop, scores=False)
    db.session.commit()
    return {f["kind"] for f in prop.risk_factors}


def snapshots(prop: Property) -> list[ScoreSnapshot]:
    return db.session.execute(select(ScoreSnapshot).filter_by(property_id=prop.id)
                              .order_by(ScoreSnapshot.id)).scalars().all()


def score_now(prop: Property) -> int:
    recompute_property(prop)
    db.session.commit()
    return snapshots(prop)[-1].score


def add_overbooking(prop: Property, counts: bool, days_ago: int = 1, n: int = 1) -> None:
    code = f"{n:04d}{'C' if counts else 'N'}{days_ago:03d}"
    db.session.add(Overbooking(property_id=prop.id, direct_code=f"OA-{code}",
                               external_code=f"EX-{code}", first_night=utcnow().date(),
                               last_night=utcnow().date(), nights=1, counts_against_owner=counts,
                               detected_at=utcnow() - timedelta(days=days_ago)))
    db.session.commit()


# --- the CLI and the scheduled jobs -----------------------------------------------------------

def test_recompute_scores_cli_writes_risk_and_a_score_for_every_property(runner, make_property,
                                                                        make_link):
    props = [make_property(name=f"Flat {i}") for i in range(3)]
    make_link(props[0], **healthy())

    result = runner.invoke(args=["recompute-scores"])

    assert result.exit_code == 0, result.output
    assert "recomputed 3 properties" in result.output
    db.session.expire_all()
    for prop in props:
        assert prop.risk_computed_at is not None
        assert len(snapshots(prop)) == 1
    assert props[1].risk_level == "medium"  # no link at all: no_active_link
    assert {f["kind"] for f in props[1].risk_factors} == {"no_active_link"}
    assert props[0].risk_factors == [] and props[0].risk_level == "none"
    assert snapshots(props[0])[0].score > snapshots(props[1])[0].score


def test_recomputing_an_unchanged_fleet_keeps_one_snapshot_per_property(runner, make_property):
    make_property(name="A")
    make_property(name="B")
    runner.invoke(args=["recompute-scores"])
    result = runner.invoke(args=["recompute-scores"])
    assert result.exit_code == 0
    assert db.session.execute(select(func.count()).select_from(ScoreSnapshot)).scalar() == 2


def test_hourly_risk_job_refreshes_risk_without_writing_scores(make_property):
    from jobs.tasks import recompute_risk_job
    prop = make_property()
    assert recompute_risk_job() == 1
    db.session.expire_all()
    assert prop.risk_level == "medium" and snapshots(prop) == []


# --- risk factors appear and disappear as facts change -----------------------------------------

def test_no_active_link_goes_away_once_a_link_is_active(make_property, make_link):
    prop = make_property()
    assert "no_active_link" in kinds(prop)
    link = make_link(prop, state="linked")
    assert "no_active_link" in kinds(prop)
    link.state = "active"
    link.last_sync_at = link.last_success_at = utcnow()
    link.last_attempt_ok = True
    db.session.commit()
    assert kinds(prop) == set()


def test_failing_then_stale_then_healthy_link(make_property, make_link):
    prop = make_property()
    link = make_link(prop, last_sync_at=utcnow(), last_attempt_ok=False)
    assert "link_failing" in kinds(prop) and prop.risk_level == "high"
    link.last_attempt_ok, link.last_success_at = True, utcnow() - timedelta(hours=3)
    db.session.commit()
    assert kinds(prop) == {"link_stale"} and prop.risk_level == "medium"
    link.last_success_at = utcnow()
    db.session.commit()
    assert kinds(prop) == set() and prop.risk_level == "none"


def test_manual_blocks_count_only_beside_an_active_sync(make_property, make_link,
                                                        make_reservation):
    prop = make_property()
    link = make_link(prop, state="paused", **healthy())
    manual = make_reservation(prop, "manual", in_days=4, nights=2)
    assert "manual_blocks" not in kinds(prop)
    link.state = "active"
    db.session.commit()
    assert kinds(prop) == {"manual_blocks"}
    db.session.delete(manual)
    db.session.commit()
    assert kinds(prop) == set()


def test_upcoming_direct_bookings_are_unprotected_while_a_link_fails(make_property, make_link,
                                                                     make_reservation):
    prop = make_property()
    link = make_link(prop, **healthy())
    make_reservation(prop, "direct", in_days=4, nights=2)
    assert kinds(prop) == set()
    link.last_attempt_ok = False
    db.session.commit()
    assert {"unprotected_bookings", "link_failing"} <= kinds(prop)
    assert prop.risk_factors[0]["kind"] == "unprotected_bookings"
    assert all(f["message"] and f["advice"] for f in prop.risk_factors)


def test_ignored_events_is_a_risk_on_google_links_only(make_property, make_link):
    prop = make_property()
    make_link(prop, source="airbnb", ignored_events=4, **healthy())
    assert kinds(prop) == set()
    make_link(prop, source="google", url="http://127.0.0.1:1/g.ics", ignored_events=3, **healthy())
    assert kinds(prop) == {"ignored_events"} and prop.risk_level == "low"


def test_recent_counted_overbooking_is_a_risk_for_ninety_days(make_property, make_link):
    prop = make_property()
    make_link(prop, **healthy())
    add_overbooking(prop, counts=False, days_ago=2)
    assert kinds(prop) == set()  # a race nobody could prevent is no risk of the owner's
    add_overbooking(prop, counts=True, days_ago=120)
    assert kinds(prop) == set()
    add_overbooking(prop, counts=True, days_ago=10)
    assert kinds(prop) == {"recent_overbooking"}


def test_risk_follows_each_sync_failing_then_succeeding(httpserver, make_property, make_link):
    prop = make_property()
    httpserver.expect_request("/cal.ics").respond_with_data("gone", status=404)
    link = make_link(prop, url=httpserver.url_for("/cal.ics"), source="airbnb", **healthy())

    sync_links([link.id])
    db.session.expire_all()
    assert "link_failing" in {f["kind"] for f in prop.risk_factors}

    httpserver.clear_all_handlers()
    day = utcnow().date() + timedelta(days=9)
    httpserver.expect_request("/cal.ics").respond_with_data(
        airbnb_feed([(day, day + timedelta(days=2), "Reserved")]), content_type="text/calendar")
    sync_links([link.id])
    db.session.expire_all()
    assert prop.risk_factors == [] and prop.risk_level == "none"


# --- the score through the database -------------------------------------------------------------

def test_more_counted_overbookings_never_raise_the_score(make_property, make_link):
    prop = make_property()
    make_link(prop, **healthy())
    scores = [score_now(prop)]
    for n, days_ago in enumerate([200, 30, 1, 1, 0]):
        add_overbooking(prop, counts=True, days_ago=days_ago, n=n)
        scores.append(score_now(prop))
    assert all(later <= earlier for earlier, later in zip(scores, scores[1:], strict=False))
    assert scores[-1] < scores[0]


def test_a_race_that_does_not_count_leaves_the_score_unmoved(make_property, make_link):
    prop = make_property()
    make_link(prop, **healthy())
    before = score_now(prop)
    add_overbooking(prop, counts=False, days_ago=0)
    assert score_now(prop) == before
    assert len(snapshots(prop)) == 1  # nothing moved, so no new snapshot


def test_snapshot_stores_components_that_add_up_to_the_score(make_property, make_link):
    prop = make_property()
    make_link(prop, **healthy())
    add_overbooking(prop, counts=True, days_ago=3)
    recompute_property(prop)
    db.session.commit()
    [snap] = snapshots(prop)
    parts = ("overbookings", "sync_success", "sync_freshness", "hygiene")
    assert set(parts) <= set(snap.components)
    assert snap.components["overbookings"]["counted"] == 1
    assert snap.components["hygiene"]["factors"] == [
        {"kind": "recent_overbooking", "level": "medium", "penalty": 4}]
    assert round(sum(snap.components[p]["points"] for p in parts)) == snap.score


def test_a_new_snapshot_is_kept_only_when_points_move(make_property, make_link):
    prop = make_property()
    link = make_link(prop, **healthy())
    score_now(prop)
    score_now(prop)
    assert len(snapshots(prop)) == 1
    link.last_attempt_ok = False
    db.session.commit()
    score_now(prop)
    assert len(snapshots(prop)) == 2
    assert snapshots(prop)[1].score < snapshots(prop)[0].score


def test_recompute_all_covers_properties_beyond_one_commit_batch(make_property):
    owner = make_property().owner
    db.session.add_all([Property(name=f"P{i}", owner=owner) for i in range(130)])
    db.session.commit()
    assert recompute_all(scores=True) == 131
    assert db.session.execute(select(func.count()).select_from(ScoreSnapshot)).scalar() == 131
    assert db.session.execute(select(func.count()).select_from(Property).where(
        Property.risk_computed_at.is_(None))).scalar() == 0


def test_our_own_failed_runs_are_not_the_owners_sync_record(app, make_property, make_link):
    prop = make_property()
    link = make_link(prop)
    now = utcnow()
    for kind in ("internal", "database", "server_error", None):
        db.session.add(SyncRun(link_id=link.id, started_at=now, finished_at=now,
                               outcome="error" if kind else "unchanged", error_kind=kind))
    link.last_sync_at, link.last_attempt_ok, link.last_error_kind = now, False, "internal"
    db.session.commit()
    risk = risks_of([prop.id], now, 15)[prop.id]
    record = owner_record(prop, risk, now, 15)
    assert (record.sync_attempts_30d, record.sync_successes_30d) == (2, 1)  # theirs: one error, one ok
    assert [f.ours for f in risk.factors if f.kind == "link_failing"] == [True]
