"""Reservation actions: report a direct booking or a manual block, cancel or remove one."""
from __future__ import annotations

import logging
from datetime import date

from sqlalchemy import select

from console.actions.errors import ActionError, invalid
from console.audit import trail
from console.extensions import db
from console.models import Property, Reservation, new_reservation_code
from console.timeutil import utcnow
from jobs.sync.property_state import refresh_risks

log = logging.getLogger(__name__)
ORIGINS = ("direct", "manual")  # external blocks come from linked calendars only
MAX_NIGHTS = 366


def check_origin(origin) -> None:
    """Only direct bookings and manual blocks are reported; external blocks come from links."""
    if origin not in ORIGINS:
        raise invalid("origin", "must be \"direct\" or \"manual\" (external blocks come from "
                      "linked calendars)", "missing_field" if origin is None else "invalid_field")


def check_stay(check_in: date, check_out: date) -> None:
    """A check-in and an exclusive check-out, one night to MAX_NIGHTS apart."""
    if check_out <= check_in:
        raise invalid("check_out", "must be after check_in (check_out is the departure day)")
    if (check_out - check_in).days > MAX_NIGHTS:
        raise invalid("check_out", f"a stay is at most {MAX_NIGHTS} nights")


def add_reservation(prop: Property, origin, check_in: date, check_out: date,
                    guest_name: str | None = None, summary: str | None = None) -> Reservation:
    """Store a direct booking (checked against the blocks for overbookings) or a manual block."""
    check_origin(origin)
    check_stay(check_in, check_out)
    res = Reservation(code=new_reservation_code(origin), property_id=prop.id, origin=origin,
                      check_in=check_in, check_out=check_out, guest_name=guest_name,
                      summary=summary)
    db.session.add(res)
    db.session.flush()
    trail.record("reservation.reported", "reservation", res.id, prop.id, _stay(res))
    if origin == "manual":  # manual blocks beside a sync are a risk factor: show it at once
        refresh_risks([prop.id])
    db.session.commit()
    if origin == "direct":
        from jobs.sync.overbookings import record_overbookings_for_direct
        record_overbookings_for_direct(res.id)
        _read_sooner(prop.id)
    return res


def _read_sooner(property_id: int) -> None:
    """A direct booking raises what is at stake: its calendars' next reads come sooner when they should."""
    from jobs.sync.link_schedule import bring_forward
    try:
        bring_forward(property_id, utcnow())
    except Exception:  # noqa: BLE001 - the booking is stored; the next read sets the schedule anyway
        db.session.rollback()
        log.warning("could not bring property %s's next reads forward", property_id, exc_info=True)


def get_reservation(code: str) -> Reservation:
    """The reservation (or EX- block) with this code, or a 404."""
    res = db.session.execute(select(Reservation).filter_by(code=code)).scalar_one_or_none()
    if res is None:
        raise ActionError("not_found", f"reservation {code} not found", status=404)
    return res


def delete_reservation(code: str) -> Reservation:
    """Cancel a direct booking or remove a manual block; EX- blocks belong to their link (409)."""
    res = get_reservation(code)
    if res.origin == "external":
        raise ActionError("owned_by_link", f"{code} was brought by link {res.link_id}; it goes "
                          "away when the external calendar drops it or the link is deleted",
                          status=409)
    trail.record("reservation.cancelled", "reservation", res.id, res.property_id, _stay(res))
    db.session.delete(res)
    db.session.flush()
    refresh_risks([res.property_id])  # fewer bookings or blocks: the risk may drop at once
    db.session.commit()
    return res


def _stay(res: Reservation) -> dict:
    """What the trail keeps of a stay (no guest name: the trail outlives the booking)."""
    return {"code": res.code, "origin": res.origin, "check_in": res.check_in.isoformat(),
            "check_out": res.check_out.isoformat()}
