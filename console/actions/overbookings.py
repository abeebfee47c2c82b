"""Overbooking actions: staff resolve one with a note (it keeps counting: it happened)."""
from __future__ import annotations

from console.actions.errors import ActionError, not_found, required_text
from console.audit import trail
from console.extensions import db
from console.models import Overbooking
from jobs.sync.overbookings import resolve

NOTE_MAX = 2000


def get_overbooking(overbooking_id: int) -> Overbooking:
    """The overbooking or a 404."""
    ob = db.session.get(Overbooking, overbooking_id)
    if ob is None:
        raise not_found(f"overbooking {overbooking_id}")
    return ob


def resolve_overbooking(ob: Overbooking, by: str, note) -> Overbooking:
    """Mark the overbooking handled by `by`, with a note saying how."""
    note = required_text(note, "note", NOTE_MAX)
    if ob.state == "resolved":
        raise ActionError("already_resolved", f"overbooking {ob.id} was resolved by "
                          f"{ob.resolved_by}", status=409, resolved_by=ob.resolved_by)
    before = ob.state
    resolve(ob, by, note)
    trail.record("overbooking.resolved", "overbooking", ob.id, ob.property_id,
                 {"state": trail.change(before, ob.state), "note": note})
    db.session.commit()
    return ob
