"""Pruning old sync history in bounded batches (short write transactions, indexed lookups)."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, select

from console.extensions import db
from console.models import Overbooking, SyncRun

# Runs deleted per transaction: a few tens of milliseconds of SQLite's write lock each, so syncs
# and API reads go on between batches (one transaction for 234,000 runs held it for 9 minutes).
PRUNE_BATCH = 2000


def prune_runs(cutoff: datetime, batch: int = PRUNE_BATCH) -> int:
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
        db.session.execute(delete(SyncRun).where(SyncRun.id.in_(ids)),
                           execution_options={"synchronize_session": False})
        db.session.commit()
        pruned += len(ids)
