"""Bulk link actions on a filtered list of properties: a plan (what would be touched or refused), then
resync, pause or resume, with the same state rules as one link's actions (console.actions.links)."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta

from flask import current_app
from sqlalchemy import false, func, select, update
from sqlalchemy.sql import Select

from console.actions.errors import ActionError
from console.actions.links import check_resumable, check_syncable
from console.audit import trail
from console.extensions import db
from console.models import CalendarLink, Property
from console.timeutil import utcnow
from jobs.queue import QueueUnavailable, enqueue_link_syncs
from jobs.sync.property_state import recompute_properties

ACTIONS = ("resync", "pause", "resume")
ID_CHUNK = 500  # ids per IN list of an UPDATE
# Why a link was left out, by (action, its state): the words of the summary and of the confirm step.
REASONS = {
    ("resync", "paused"): "paused (resume them to sync them)",
    ("resync", "linked"): "never activated (Synchronize now on the property page starts them)",
    ("pause", "paused"): "already paused",
    ("resume", "active"): "not paused (already syncing)",
    ("resume", "linked"): "never activated, so not paused",
}
WHAT_HAPPENS = {
    "resync": "each is queued for a sync now (one already queued or running is not queued twice); "
              "its blocks change only when its calendar did",
    "pause": "they are no longer synced; their blocks stay until a link is deleted",
    "resume": "they sync again, each queued for a sync now",
}


def links_word(n: int) -> str:
    """'1 link', '412 links'."""
    return f"{n} link{'s' if n != 1 else ''}"


@dataclass
class Plan:
    """What a bulk action would do: the links it touches and those it refuses, by reason."""

    action: str
    properties: int
    link_ids: list[int] = field(default_factory=list)
    refused: dict[str, int] = field(default_factory=dict)

    def refusals(self) -> str:
        """'3 paused (resume them to sync them), 1 never activated (...)'."""
        return ", ".join(f"{n} {reason}" for reason, n in self.refused.items())

    def describe(self) -> str:
        """The confirm step's sentence: how many links, of how many properties, what happens."""
        verb = self.action.capitalize()
        text = (f"{verb} {links_word(len(self.link_ids))} of {self.properties} "
                f"propert{'y' if self.properties == 1 else 'ies'}: {WHAT_HAPPENS[self.action]}.")
        if self.refused:
            n = sum(self.refused.values())
            text += f" {links_word(n)} will be left as {'it is' if n == 1 else 'they are'}: {self.refusals()}."
        return text


@dataclass
class Outcome:
    """What a bulk action did."""

    plan: Plan
    done: int
    already: int = 0  # resync: links whose sync was already queued or running

    def summary(self) -> str:
        """The flash after the action: '412 links queued, 3 left as they are: 3 paused (...)'."""
        word = {"resync": "queued", "pause": "paused", "resume": "resumed and queued"}[self.plan.action]
        text = f"{links_word(self.done)} {word}"
        if self.already:
            text += f" ({self.already} already queued or running, not queued twice)"
        refused = sum(self.plan.refused.values())
        if refused:
            text += f", {refused} left as {'it is' if refused == 1 else 'they are'}: {self.plan.refusals()}"
        return text + "."


def selected_properties(query: Select, property_ids: list[int] | None) -> Select:
    """The filtered list's properties (re-run here, never sent by the browser), or the checked rows
    among them."""
    return query if property_ids is None else query.where(Property.id.in_(property_ids))


def plan(action: str, properties: Select, *, source: str | None = None, error: str | None = None) -> Plan:
    """The links of these properties that the action would touch; with a source or error filter,
    only the links that match it (the list shows a property for one of its links)."""
    if action not in ACTIONS:
        raise ActionError("unknown_action", f"action must be one of {', '.join(ACTIONS)}", status=404)
    chosen = properties.order_by(None).subquery()
    query = select(CalendarLink.id, CalendarLink.state).where(
        CalendarLink.property_id.in_(select(chosen.c.id))).order_by(CalendarLink.id)
    if source:
        query = query.where(CalendarLink.source == source)
    if error:
        query = query.where(CalendarLink.last_attempt_ok == false(), CalendarLink.last_error_kind == error)
    count = db.session.execute(select(func.count()).select_from(chosen)).scalar()
    result = Plan(action, count)
    for link_id, state in db.session.execute(query):
        reason = _refusal(action, state)
        if reason is None:
            result.link_ids.append(link_id)
        else:
            result.refused[reason] = result.refused.get(reason, 0) + 1
    return result


def _refusal(action: str, state: str) -> str | None:
    """Why this action leaves a link of this state alone (one link's own rule), or None."""
    if action == "pause":
        return REASONS[(action, state)] if state == "paused" else None
    try:
        (check_syncable if action == "resync" else check_resumable)(state)
    except ActionError:
        return REASONS.get((action, state), state)
    return None


def run(action_plan: Plan) -> Outcome:
    """Carry the plan out: queue, pause or resume its links (in batches) and say what was done."""
    outcome = _carried_out(action_plan)
    trail.record(f"bulk.{action_plan.action}", "links", None, None, {
        "properties": action_plan.properties, "links": len(action_plan.link_ids), "done": outcome.done,
        "already_queued": outcome.already, "refused": action_plan.refused,
        **trail.ids_kept(action_plan.link_ids)})
    db.session.commit()
    return outcome


def _carried_out(action_plan: Plan) -> Outcome:
    ids = action_plan.link_ids
    if action_plan.action == "resync":
        queued, already = _queued(ids)
        return Outcome(action_plan, queued, already)
    if action_plan.action == "pause":
        done = _update(ids, CalendarLink.state != "paused", state="paused", next_sync_at=None)
        db.session.commit()
        # Risk, nights at stake and score at once: a property may have lost its last active link.
        recompute_properties({i for chunk in _chunks(ids) for i in db.session.execute(
            select(CalendarLink.property_id).where(CalendarLink.id.in_(chunk))).scalars()})
        return Outcome(action_plan, done)
    return _resume(action_plan)


def _resume(action_plan: Plan) -> Outcome:
    """Paused links become active and are queued; when the queue is unreachable they are paused again
    (as one link's resume: nothing changes without its sync)."""
    ids, now = action_plan.link_ids, utcnow()
    never = [i for chunk in _chunks(ids) for i in db.session.execute(select(CalendarLink.id).where(
        CalendarLink.id.in_(chunk), CalendarLink.activated_at.is_(None))).scalars()]
    # The queued job syncs it now: its regular turn starts one interval later (as activate_link).
    turn = now + timedelta(minutes=current_app.config["SYNC_INTERVAL_MINUTES"])
    done = _update(ids, CalendarLink.state == "paused", state="active", next_sync_at=turn,
                   activated_at=func.coalesce(CalendarLink.activated_at, now))
    db.session.commit()
    try:
        _, already = _queued(ids)
    except ActionError:
        _update(ids, CalendarLink.state == "active", state="paused", next_sync_at=None)
        _update(never, CalendarLink.id.is_not(None), activated_at=None)
        db.session.commit()
        raise
    return Outcome(action_plan, done, already)


def _chunks(ids: list[int]):
    return (ids[start:start + ID_CHUNK] for start in range(0, len(ids), ID_CHUNK))


def _update(ids: list[int], guard, **values) -> int:
    """One UPDATE per ID_CHUNK links still in the state the plan saw (`guard`); rows changed."""
    return sum(db.session.execute(update(CalendarLink).where(CalendarLink.id.in_(chunk), guard)
                                  .values(**values).execution_options(synchronize_session=False)).rowcount
               for chunk in _chunks(ids))


def _queued(ids: list[int]) -> tuple[int, int]:
    try:
        return enqueue_link_syncs(ids)
    except QueueUnavailable as exc:
        raise ActionError("queue_unavailable", f"{exc}; nothing was queued. Try again shortly.",
                          status=503) from None
