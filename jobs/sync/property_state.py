"""Recompute and store each property's risk and reward score (the database side of risk/score):
in set operations per chunk of properties, writing only what changed."""
from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import datetime

from flask import current_app
from sqlalchemy import and_, or_, select

from console.extensions import db
from console.models import Property, ScoreSnapshot
from console.timeutil import utcnow
from jobs.notify.facts import upcoming_stays
from jobs.rules.alerts import exposure
from jobs.rules.risk import Risk, assess_risk, link_health
from jobs.rules.score import OwnerRecord, Score, compute_score
from jobs.sync.property_facts import PropertyRecord, Scope, is_held, property_facts, read_records
from jobs.sync.set_updates import update_rows

RISK_CHUNK = 500  # properties named by id (an IN list) read in one set of queries
FLEET_CHUNK = 2000  # properties of a whole-fleet pass (an id range) read and written per commit
_RISK_COLUMNS = ("risk_level", "risk_factors", "risk_computed_at", "exposure_nights")
UNPROTECTING = ("failing", "stale", "never_synced")
_SCORE_COLUMNS = ("score_snapshot_id", "score_value", "score_components", "score_computed_at")


def _ids_in(ids: list[int]) -> Scope:
    return lambda column: column.in_(ids)


def _id_range(first: int, last: int) -> Scope:
    return lambda column: column.between(first, last)


def _interval() -> int:
    return current_app.config["SYNC_INTERVAL_MINUTES"]


def risks_of(property_ids: Iterable[int], now: datetime, interval: int) -> dict[int, Risk]:
    """The risk of each named property (a few hundred at most), from four queries whatever their
    number."""
    ids = list(property_ids)
    records = read_records(_ids_in(ids), now, scores=False)
    return {i: assess_risk(property_facts(records.get(i) or PropertyRecord(i), now, interval))
            for i in ids}


def unprotected(record: PropertyRecord, now: datetime, interval: int) -> bool:
    """A link of the property is failing, stale or never synced, or has a held change."""
    return any(is_held(link) or link_health(link.state, link.last_attempt_ok, link.last_sync_at,
                                            link.last_success_at, now, interval) in UNPROTECTING
               for link in record.links)


def exposures(scope: Scope, records: dict[int, PropertyRecord], now: datetime,
              interval: int) -> dict[int, int]:
    """Each property's nights at stake (jobs.rules.alerts.exposure) when it is unprotected, else 0;
    the stays are read (one query) only when some property in scope is unprotected."""
    open_ids = {i for i, record in records.items() if unprotected(record, now, interval)}
    stays = upcoming_stays(scope, now.date()) if open_ids else {}
    return {i: exposure(stays.get(i, []), now.date()).sellable_nights if i in open_ids else 0
            for i in records}


def _factors(risk: Risk) -> list[dict]:
    return [{"kind": f.kind, "level": f.level, "message": f.message, "advice": f.advice}
            for f in risk.factors]


def store_risk(prop: Property, risk: Risk, now: datetime) -> None:
    """Keep a property's risk level and factors on its row."""
    prop.risk_level = risk.level
    prop.risk_factors = _factors(risk)
    prop.risk_computed_at = now


def _points(components: dict | None) -> dict:
    return {k: v.get("points") for k, v in (components or {}).items() if isinstance(v, dict)}


def _score_moved(record: PropertyRecord, score: Score) -> bool:
    """Whether the score or any component's points differ from the newest snapshot's."""
    return record.score_value is None or record.score_value != score.value or \
        _points(record.score_components) != _points(score.components)


def _owner_record(record: PropertyRecord, risk: Risk, interval: int) -> OwnerRecord:
    active = [link for link in record.links if link.state == "active"]
    successes_at = [link.last_success_at for link in active]
    weakest = None if not active or None in successes_at else min(successes_at)
    return OwnerRecord(overbookings=record.overbookings, sync_attempts_30d=record.attempts,
                       sync_successes_30d=record.successes, last_success_at=weakest,
                       sync_interval_minutes=interval, risk_factors=risk.factors)


def owner_record(prop: Property, risk: Risk, now: datetime, interval: int) -> OwnerRecord:
    """The record the score is computed from: overbookings, 30 days of syncs, risk factors."""
    record = read_records(_ids_in([prop.id]), now, scores=True).get(prop.id) or PropertyRecord(prop.id)
    return _owner_record(record, risk, interval)


def recompute_property(prop: Property, now: datetime | None = None, *, scores: bool = True) -> None:
    """Refresh one property's stored risk (and score)."""
    now, interval = now or utcnow(), _interval()
    record = read_records(_ids_in([prop.id]), now, scores=scores).get(prop.id) or \
        PropertyRecord(prop.id)
    risk = assess_risk(property_facts(record, now, interval))
    store_risk(prop, risk, now)
    prop.exposure_nights = exposures(_ids_in([prop.id]), {prop.id: record}, now, interval)[prop.id]
    if scores:
        score = compute_score(_owner_record(record, risk, interval), now)
        if _score_moved(record, score):
            db.session.add(ScoreSnapshot(property_id=prop.id, score=score.value,
                                         components=score.components, computed_at=now))
            db.session.flush()
            db.session.expire(prop, list(_SCORE_COLUMNS))


def _expire(ids: set[int], columns: tuple[str, ...]) -> None:
    """Properties of this session written by the set UPDATEs read their new values again."""
    for obj in list(db.session.identity_map.values()):
        if isinstance(obj, Property) and obj.id in ids:
            db.session.expire(obj, list(columns))


def _older_copy(current, new):
    """The property's copy is older than the new snapshot (by computed_at, then id)."""
    return or_(current.score_computed_at.is_(None), current.score_computed_at < new["score_computed_at"],
               and_(current.score_computed_at == new["score_computed_at"],
                    current.score_snapshot_id < new["score_snapshot_id"]))


def _refresh(scope: Scope, now: datetime, *, scores: bool) -> int:
    """Recompute the properties in `scope`; write the risks and scores that changed, in one
    statement each (the caller commits). Returns how many properties were looked at."""
    interval = _interval()
    records = read_records(scope, now, scores=scores)
    at_stake = exposures(scope, records, now, interval)
    risk_rows, snapshots = [], []
    for record in records.values():
        risk = assess_risk(property_facts(record, now, interval))
        factors = _factors(risk)
        # An unchanged risk is not written: the hourly pass over a quiet fleet costs reads only.
        # Compared as the JSON text it is stored as (written by json.dumps, as SQLAlchemy does).
        if record.risk_computed_at is None or record.risk_level != risk.level or \
                record.risk_factors != json.dumps(factors) or \
                record.exposure_nights != at_stake[record.id]:
            risk_rows.append({"id": record.id, "risk_level": risk.level, "risk_factors": factors,
                              "risk_computed_at": now, "exposure_nights": at_stake[record.id]})
        if scores:
            score = compute_score(_owner_record(record, risk, interval), now)
            if _score_moved(record, score):
                snapshots.append({"property_id": record.id, "score": score.value,
                                  "components": score.components, "computed_at": now})
    if risk_rows:
        update_rows(Property.__table__, risk_rows)
        _expire({row["id"] for row in risk_rows}, _RISK_COLUMNS)
    if snapshots:
        table = ScoreSnapshot.__table__
        # A bulk insert fires no ORM event: the property copies are written here, in one statement.
        # One snapshot per property here, so RETURNING's rows are matched by property id (an
        # order-preserving RETURNING would cost SQLite one INSERT per row).
        ids = dict(db.session.execute(table.insert().returning(table.c.property_id, table.c.id),
                                      snapshots).all())
        update_rows(Property.__table__, [
            {"id": row["property_id"], "score_snapshot_id": ids[row["property_id"]],
             "score_value": row["score"], "score_components": row["components"],
             "score_computed_at": row["computed_at"]} for row in snapshots], condition=_older_copy)
        _expire({row["property_id"] for row in snapshots}, _SCORE_COLUMNS)
    return len(records)


def refresh_risks(property_ids: Iterable[int], now: datetime | None = None) -> int:
    """Recompute and keep the risk of many properties at once (the caller commits)."""
    now, ids, count = now or utcnow(), sorted(set(property_ids)), 0
    for start in range(0, len(ids), RISK_CHUNK):  # bounded IN lists
        count += _refresh(_ids_in(ids[start:start + RISK_CHUNK]), now, scores=False)
    return count


def recompute_properties(property_ids: Iterable[int], *, scores: bool = True) -> int:
    """Refresh the named properties, committing every chunk."""
    now, ids, count = utcnow(), sorted(set(property_ids)), 0
    for start in range(0, len(ids), RISK_CHUNK):
        count += _refresh(_ids_in(ids[start:start + RISK_CHUNK]), now, scores=scores)
        db.session.commit()
    return count


def recompute_all(*, scores: bool = True) -> int:
    """Refresh every property, a range of FLEET_CHUNK ids per transaction."""
    ids = list(db.session.execute(select(Property.id).order_by(Property.id)).scalars())
    now, count = utcnow(), 0
    for start in range(0, len(ids), FLEET_CHUNK):
        chunk = ids[start:start + FLEET_CHUNK]
        count += _refresh(_id_range(chunk[0], chunk[-1]), now, scores=scores)
        db.session.commit()
    return count
