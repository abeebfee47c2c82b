"""The hourly risk pass and the nightly score pass: a constant number of statements per chunk of
properties, and writes only for what changed."""
from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from console.extensions import db
from console.models import CalendarLink, Owner, Property, Reservation, ScoreSnapshot, SyncRun
from console.timeutil import utcnow
from jobs.sync import property_state
from jobs.sync.property_state import recompute_all
from tests.statements import counted


def fleet(n: int, start: int = 0) -> list[Property]:
    """n properties, each with a healthy active link, a failed run and an upcoming direct booking."""
    owner = db.session.query(Owner).first() or Owner(email="fleet@example.com")
    now = utcnow()
    props = []
    for i in range(start, start + n):
        prop = Property(name=f"P{i}", owner=owner)
        link = CalendarLink(property=prop, source="airbnb", url=f"http://127.0.0.1:1/{i}.ics",
                            state="active", last_sync_at=now, last_success_at=now, last_attempt_ok=True)
        link.runs.append(SyncRun(started_at=now - timedelta(hours=1), outcome="error", error_kind="timeout"))
        db.session.add_all([prop, link])
        db.session.flush()
        db.session.add(Reservation(code=f"OA-F{i:08d}", property_id=prop.id, origin="direct",
                                   check_in=now.date() + timedelta(days=3),
                                   check_out=now.date() + timedelta(days=5)))
        props.append(prop)
    db.session.commit()
    return props


@pytest.mark.parametrize("scores", [False, True])
def test_a_pass_costs_the_same_statements_at_5_and_40_properties(app, scores):
    fleet(5)
    with counted() as small:
        recompute_all(scores=scores)
    fleet(35, start=5)
    db.session.execute(Property.__table__.update().values(risk_computed_at=None, score_value=None))
    db.session.commit()
    with counted() as large:
        assert recompute_all(scores=scores) == 40
    assert len(large) == len(small) <= (9 if scores else 6)


def test_the_risk_pass_writes_only_properties_whose_risk_changed(app):
    props = fleet(20)
    assert recompute_all(scores=False) == 20
    with counted() as quiet:
        recompute_all(scores=False)
    assert quiet.writes == []  # nothing changed: reads only
    link = db.session.execute(select(CalendarLink).filter_by(property_id=props[3].id)).scalar_one()
    link.last_attempt_ok = False
    db.session.commit()
    with counted() as one:
        recompute_all(scores=False)
    assert len(one.writes) == 1  # one UPDATE for the changed property
    db.session.expire_all()
    assert props[3].risk_level == "high" and props[4].risk_level == "none"


def test_the_score_pass_writes_snapshots_only_when_scores_move(app):
    props = fleet(12)
    recompute_all(scores=True)
    assert db.session.execute(select(func.count()).select_from(ScoreSnapshot)).scalar() == 12
    with counted() as quiet:
        recompute_all(scores=True)
    assert quiet.writes == []
    link = db.session.execute(select(CalendarLink).filter_by(property_id=props[0].id)).scalar_one()
    link.last_attempt_ok = False
    db.session.commit()
    recompute_all(scores=True)
    db.session.expire_all()
    newest = db.session.execute(select(ScoreSnapshot).filter_by(property_id=props[0].id)
                                .order_by(ScoreSnapshot.id.desc())).scalars().first()
    assert db.session.execute(select(func.count()).select_from(ScoreSnapshot)).scalar() == 13
    assert props[0].score_snapshot_id == newest.id and props[0].score_value == newest.score
    assert props[1].score_value > props[0].score_value


def test_the_fleet_pass_goes_chunk_by_chunk_with_a_few_statements_each(app, monkeypatch):
    fleet(25)
    monkeypatch.setattr(property_state, "FLEET_CHUNK", 10)
    with counted() as statements:
        assert recompute_all(scores=False) == 25
    # the id list, then per chunk of 10: 4 reads and one UPDATE for the changed risks
    assert len(statements) == 1 + 3 * 5
