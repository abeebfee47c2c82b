"""The audit trail's own rules: entries cannot be changed or deleted through the ORM (one by one or in bulk),
only the retention prune removes them, and the prune keeps what is younger than AUDIT_RETENTION_DAYS."""
from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import delete, func, select, update

from console.audit import trail
from console.extensions import db
from console.models import AuditEntry
from console.models.audit import AuditEntryImmutable
from console.timeutil import utcnow
from jobs.sync.history import prune_audit
from jobs.tasks import prune_runs_job


def _entry(days_old: float = 0, **fields) -> AuditEntry:
    row = AuditEntry(at=utcnow() - timedelta(days=days_old), actor_kind="user", actor_name="ana@example.com",
                     action="link.paused", target_kind="link", target_id=1, property_id=1,
                     details={"state": {"before": "active", "after": "paused"}}, **fields)
    db.session.add(row)
    db.session.commit()
    return row


def _stored() -> list[tuple]:
    db.session.rollback()
    return db.session.execute(select(AuditEntry.id, AuditEntry.action, AuditEntry.details)
                              .order_by(AuditEntry.id)).all()


def test_an_entry_cannot_be_changed_through_the_orm(app):
    row = _entry()
    before = _stored()
    row = db.session.get(AuditEntry, row.id)
    row.action = "nothing.happened"
    with pytest.raises(AuditEntryImmutable):
        db.session.commit()
    assert _stored() == before


def test_an_entry_cannot_be_deleted_through_the_orm(app):
    row = _entry()
    before = _stored()
    db.session.delete(db.session.get(AuditEntry, row.id))
    with pytest.raises(AuditEntryImmutable):
        db.session.commit()
    assert _stored() == before


@pytest.mark.parametrize("statement", [update(AuditEntry).values(action="nothing.happened"), delete(AuditEntry)])
def test_bulk_statements_on_the_trail_are_refused(app, statement):
    _entry()
    before = _stored()
    with pytest.raises(AuditEntryImmutable):
        db.session.execute(statement)
    assert _stored() == before


def test_the_prune_removes_only_entries_older_than_the_retention(app):
    app.config["AUDIT_RETENTION_DAYS"] = 400
    old, kept = _entry(days_old=401), _entry(days_old=399)
    old_id, kept_id = old.id, kept.id
    prune_runs_job()  # the nightly prune job takes the trail's old entries with the old sync runs
    assert [row[0] for row in _stored()] == [kept_id] and old_id != kept_id


def test_the_prune_works_in_batches_until_nothing_old_is_left(app):
    for _ in range(5):
        _entry(days_old=500)
    _entry(days_old=1)
    assert prune_audit(utcnow() - timedelta(days=400), batch=2) == 5
    assert db.session.execute(select(func.count(AuditEntry.id))).scalar() == 1


def test_the_retention_defaults_to_400_days_and_is_read_from_the_environment():
    from config import Config
    assert Config(env={}).AUDIT_RETENTION_DAYS == 400
    assert Config(env={"AUDIT_RETENTION_DAYS": "30"}).AUDIT_RETENTION_DAYS == 30


def test_outside_a_request_the_actor_is_the_system(app):
    kind, name = trail.current_actor()
    assert kind == "system" and name.startswith("cli")


def test_calendar_addresses_keep_only_scheme_and_host():
    assert trail.calendar_shown("https://www.airbnb.com/calendar/ical/123.ics?s=secret") == \
        "https://www.airbnb.com/…"
    assert trail.calendar_shown(None) is None


def test_a_bulk_entry_keeps_at_most_a_thousand_ids_and_says_so():
    assert trail.ids_kept(list(range(1500))) == {"link_ids": list(range(1000)), "link_ids_cut": True}
    assert trail.ids_kept([1, 2]) == {"link_ids": [1, 2], "link_ids_cut": False}
