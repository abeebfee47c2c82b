"""The audit trail: one append-only entry per change a person or a token made."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Index, String, event
from sqlalchemy.orm import Mapped, Session, mapped_column

from console.extensions import db
from console.timeutil import utcnow

ACTOR_KINDS = ("user", "token", "system")
# The one way an entry may go: the retention prune passes this execution option (jobs/sync/history.py).
PRUNE_OPTION = "audit_retention_prune"


class AuditEntryImmutable(RuntimeError):
    """Something tried to change or delete an audit entry outside the retention prune."""


class AuditEntry(db.Model):
    """Who (a console user, an API token or the system) did what to which object, when and from where."""

    __tablename__ = "audit_entries"
    # The property page's own changes, newest first; the retention prune walks `at`.
    __table_args__ = (Index("ix_audit_entries_property_id_id", "property_id", "id"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    actor_kind: Mapped[str] = mapped_column(String(8))
    actor_name: Mapped[str] = mapped_column(String(254), index=True)
    action: Mapped[str] = mapped_column(String(40), index=True)
    target_kind: Mapped[str] = mapped_column(String(24))
    target_id: Mapped[int | None]
    property_id: Mapped[int | None]  # no foreign key: the entry outlives the property
    details: Mapped[dict] = mapped_column(JSON, default=dict)
    remote_addr: Mapped[str | None] = mapped_column(String(64))


@event.listens_for(AuditEntry, "before_update")
def _refuse_update(_mapper, _connection, entry: AuditEntry) -> None:
    raise AuditEntryImmutable(f"audit entry {entry.id} cannot be changed")


@event.listens_for(AuditEntry, "before_delete")
def _refuse_delete(_mapper, _connection, entry: AuditEntry) -> None:
    raise AuditEntryImmutable(f"audit entry {entry.id} cannot be deleted")


@event.listens_for(Session, "do_orm_execute")
def _refuse_bulk_change(state) -> None:
    """UPDATE or DELETE statements on the trail through any session, but the prune's, are refused
    (mapper events do not see bulk statements)."""
    if not (state.is_update or state.is_delete) or state.execution_options.get(PRUNE_OPTION):
        return
    if state.bind_mapper is not None and state.bind_mapper.class_ is AuditEntry:
        raise AuditEntryImmutable("audit entries cannot be changed or deleted")
