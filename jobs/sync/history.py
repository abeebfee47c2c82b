"""Pruning old sync history in bounded batches (short write transactions, indexed lookups)."""
from __future__ import annotations

import time
from datetime import datetime

from sqlalchemy import delete, select

from console.extensions import db
from console.models import AuditEntry, Overbooking, SyncRun
from console.models.audit import PRUNE_OPTION

# Each transaction aims at this long (SQLite's write lock is held that long): syncs and API reads go on
# between batches (one transaction for 234,000 runs held it for 9 minutes). The batch size follows the
# time the last batch took, within these bounds: larger batches touch each index page fewer times.
PRUNE_TARGET_SECONDS = 0.25
PRUNE_BATCH, PRUNE_MIN_BATCH, PRUNE_MAX_BATCH = 5000, 500, 50_000


def next_batch(batch: int, took: float) -> int:
    """The next batch size, so that a transaction takes about PRUNE_TARGET_SECONDS."""
    wanted = batch * PRUNE_TARGET_SECONDS / max(took, 1e-3)
    return int(min(PRUNE_MAX_BATCH, max(PRUNE_MIN_BATCH, min(wanted, 2 * batch))))


def prune_runs(cutoff: datetime, batch: int = PRUNE_BATCH, *, adapt: bool = True) -> int:
    """Delete sync runs started before `cutoff`, except overbooking evidence; commits each batch."""
    # A run that found an overbooking is its evidence: kept as long as the overbooking.
    evidence = select(Overbooking.sync_run_id).where(Overbooking.sync_run_id.is_not(None))
    pruned = 0
    while True:
        ids = list(db.session.execute(
            select(SyncRun.id).where(SyncRun.started_at < cutoff, SyncRun.id.not_in(evidence))
            .order_by(SyncRun.started_at).limit(batch)).scalars())
        if not ids:
            return pruned
        began = time.perf_counter()
        db.session.execute(delete(SyncRun).where(SyncRun.id.in_(ids)),
                           execution_options={"synchronize_session": False})
        db.session.commit()
        pruned += len(ids)
        if adapt:
            batch = next_batch(batch, time.perf_counter() - began)


def prune_audit(cutoff: datetime, batch: int = PRUNE_BATCH) -> int:
    """Delete audit entries recorded before `cutoff` (the one deletion the trail allows); commits each batch."""
    pruned = 0
    while True:
        ids = list(db.session.execute(select(AuditEntry.id).where(AuditEntry.at < cutoff)
                                      .order_by(AuditEntry.at).limit(batch)).scalars())
        if not ids:
            return pruned
        db.session.execute(delete(AuditEntry).where(AuditEntry.id.in_(ids)),
                           execution_options={"synchronize_session": False, PRUNE_OPTION: True})
        db.session.commit()
        pruned += len(ids)
