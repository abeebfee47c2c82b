"""The owner status page: one property's calendars in an owner's words, at a secret address, no login.

What the page may show is chosen here, field by field, from the stored state (never a serialised link):
the property's name, each calendar's site, its masked address, its state and last read, what it
imported, what to do when it fails, the manual blocks to remove, and how to reach the property team.
Never an e-mail address, a full calendar address, an error message (they name hosts and addresses),
a job id, or anything of another property. An unknown, forged or replaced token gets a plain 404.
"""
from __future__ import annotations

from datetime import datetime

from flask import Blueprint, current_app, render_template
from sqlalchemy import func, select

from console.extensions import db
from console.models import CalendarLink, OwnerStatusLink, Property, Reservation
from console.timeutil import local_today, utcnow
from jobs.rules.owner_steps import SOURCE_TITLES, failure_advice, mask_address, warning_advice

owner_status_bp = Blueprint("owner_status", __name__)
NO_INDEX = {"X-Robots-Tag": "noindex, nofollow", "Referrer-Policy": "no-referrer",
            "Cache-Control": "private, no-store"}


def calendar_status(link: CalendarLink, blocks: int, next_block, now: datetime, interval: int) -> dict:
    """One calendar as its owner reads it."""
    health = link.health(now, interval)
    if link.state == "paused":
        state, words = "paused", "Paused: we do not read this calendar now, so dates booked there do not " \
                                 "block your Only-apartments calendar."
    elif link.state == "linked":
        state, words = "not_active", "Linked but not switched on: press \"Synchronize now\" (or ask us) so " \
                                     "that it blocks dates."
    elif health == "failing":
        state, words = "failing", "Not working: we could not read this calendar the last " + (
            f"{link.consecutive_failures} times" if (link.consecutive_failures or 0) > 1 else "time") + \
            ". The dates it blocked before stay blocked meanwhile."
    elif health == "stale":
        state, words = "late", "Late: we have not read this calendar successfully for a while. We keep trying."
    elif health == "never_synced":
        state, words = "waiting", "Waiting for its first read (within minutes)."
    else:
        state, words = "ok", "Working: dates booked there block your Only-apartments calendar."
    problem = failure_advice(link.last_error_kind, link.source) \
        if state in ("failing", "late") and link.last_error_kind else None
    kinds = [w.get("kind") for w in (link.warnings or [])]
    if link.ignored_events and "ignored_events" not in kinds:
        kinds.append("ignored_events")
    notes = [n for n in (warning_advice(kind) for kind in kinds) if n]
    where = f"Kigo property {link.kigo_property_id}" if link.source == "kigo" else mask_address(link.url)
    return {"source": SOURCE_TITLES.get(link.source, link.source), "source_kind": link.source,
            "address": where, "state": state, "words": words, "last_read_at": link.last_success_at,
            "last_try_at": link.last_sync_at, "blocks": blocks, "next_block": next_block,
            "ignored": link.ignored_events or 0, "problem": problem, "notes": notes}


def status_page_data(prop: Property, now: datetime | None = None) -> dict:
    """Everything the page shows of a property, and nothing more."""
    now = now or utcnow()
    today = local_today(prop.timezone, now)
    interval = current_app.config["SYNC_INTERVAL_MINUTES"]
    ids = [link.id for link in prop.links]
    counts, nexts = {}, {}
    if ids:
        upcoming = (Reservation.link_id.in_(ids), Reservation.origin == "external",
                    Reservation.check_out > today)
        for link_id, count, first in db.session.execute(
                select(Reservation.link_id, func.count(), func.min(Reservation.check_in))
                .where(*upcoming).group_by(Reservation.link_id)):
            counts[link_id], nexts[link_id] = count, first
    calendars = [calendar_status(link, counts.get(link.id, 0), nexts.get(link.id), now, interval)
                 for link in prop.links]
    manual = db.session.execute(select(Reservation.check_in, Reservation.check_out).where(
        Reservation.property_id == prop.id, Reservation.origin == "manual", Reservation.check_out > today)
        .order_by(Reservation.check_in)).all()
    return {"name": prop.name, "calendars": calendars, "manual_blocks": manual,
            "synced": any(c["state"] in ("ok", "late", "failing") for c in calendars),
            "to_fix": sum(1 for c in calendars if c["problem"] and c["problem"].owner_must_act),
            "now": now, "contact_url": current_app.config.get("OWNER_CONTACT_URL")}


@owner_status_bp.get("/owner-status/<token>")
def owner_status_page(token: str):
    """The owner's page: the token in the URL is the only credential."""
    row = OwnerStatusLink.find_live(token)
    prop = db.session.get(Property, row.property_id) if row else None
    if prop is None:
        return render_template("owner_status/gone.html"), 404, NO_INDEX
    return render_template("owner_status/page.html", s=status_page_data(prop)), 200, NO_INDEX
