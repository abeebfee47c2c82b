"""Link actions: add (iCal or Kigo, after every URL check), test, activate, sync now, pause, resume,
accept a held change, delete."""
from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from datetime import timedelta

from flask import current_app
from sqlalchemy import delete

from console.actions.errors import ActionError, invalid, not_found, required_text
from console.audit import trail
from console.extensions import db
from console.models import SOURCES, CalendarLink, Property, Reservation
from console.timeutil import utcnow
from jobs.fetch.addresses import AllowList
from jobs.fetch.link_urls import LinkUrlError, check_link_url, normalize_for_compare
from jobs.queue import QueueUnavailable, enqueue_link_sync, forget_link
from jobs.sync.property_state import recompute_properties

URL_MAX = 2048
DRY_RUNS_AT_ONCE = 4
KIGO_CODE_MAX = 64
ICAL_SOURCES = tuple(s for s in SOURCES if s != "kigo")


def get_link(link_id: int, property_id: int | None = None) -> CalendarLink:
    """The link (of that property, when one is named), or a 404."""
    link = db.session.get(CalendarLink, link_id)
    if link is None or (property_id is not None and link.property_id != property_id):
        raise not_found(f"link {link_id}")
    return link


def add_ical_link(prop: Property, url, source: str | None = None) -> CalendarLink:
    """Link an iCal calendar ("Link" then "Save") after the URL checks (docs/api.md); state "linked"."""
    url, source = checked_ical_address(prop, url, source)
    return _saved(CalendarLink(property=prop, source=source, url=url))


def checked_ical_address(prop: Property, url, source: str | None = None) -> tuple[str, str]:
    """(the address as stored, its source) after every URL check, or the refusal."""
    if isinstance(url, str) and len(url.strip()) > URL_MAX:  # said plainly, never cut to fit
        raise invalid("url", f"the address is {len(url.strip()):,} characters long; a calendar address has at "
                             f"most {URL_MAX:,}. Copy the calendar's export link alone.")
    url = required_text(url, "url", URL_MAX)
    if source is not None and source not in ICAL_SOURCES:
        raise invalid("source", f"must be one of {', '.join(ICAL_SOURCES)}")
    try:
        checked = check_link_url(url, AllowList.parse(current_app.config["FETCH_ALLOW_HOSTS"]))
    except LinkUrlError as err:
        extra = {"suggested_url": err.suggested_url} if err.suggested_url else {}
        raise ActionError(err.code, err.message, field="url", **extra) from None
    wanted = normalize_for_compare(checked.url)
    if any(link.url and normalize_for_compare(link.url) == wanted for link in prop.links):
        raise ActionError("duplicate_link", "this calendar is already linked to the property",
                          field="url")
    return checked.url, source or checked.source


def add_kigo_link(prop: Property, kigo_code, kigo_property_id) -> CalendarLink:
    """Link a Kigo property shared by the owner's account `kigo_code`; state "linked"."""
    code = required_text(kigo_code, "kigo_code", KIGO_CODE_MAX)
    if kigo_property_id is None:
        raise invalid("kigo_property_id", "is required", "missing_field")
    if isinstance(kigo_property_id, bool) or not isinstance(kigo_property_id, int) \
            or not 0 < kigo_property_id < 2 ** 63:
        raise invalid("kigo_property_id", "must be a positive whole number (Kigo PROP_ID)")
    if any(link.source == "kigo" and link.kigo_property_id == kigo_property_id
           for link in prop.links):
        raise ActionError("duplicate_link", f"Kigo property {kigo_property_id} is already linked",
                          field="kigo_property_id")
    return _saved(CalendarLink(property=prop, source="kigo", kigo_code=code,
                               kigo_property_id=kigo_property_id))


def _saved(link: CalendarLink) -> CalendarLink:
    db.session.add(link)
    db.session.flush()
    trail.record("link.added", "link", link.id, link.property_id, {
        "source": link.source, "calendar": trail.calendar_shown(link.url),
        "kigo_property_id": link.kigo_property_id, "state": link.state})
    db.session.commit()
    return link


def preview_link(link: CalendarLink) -> dict:
    """Dry run: fetch and parse now, say what a sync would do; nothing is stored."""
    from jobs.sync.dry_run import dry_run_link  # late: pulls in the whole pipeline
    link_id, property_id = link.id, link.property_id
    answer = _within_limit(lambda: dry_run_link(db.session.get(CalendarLink, link_id)))
    _audit_test("link", link_id, property_id, answer)
    return answer


def preview_address(prop: Property, url, source: str | None = None, *, audited: bool = True) -> dict:
    """Test a calendar address before it is linked ("Test" before "Save"): the URL checks, then
    what its first sync would block and ignore; nothing is stored. `audited=False` for the check Save
    runs itself (the person saved; the save is the entry)."""
    from jobs.sync.dry_run import dry_run_url
    url, source = checked_ical_address(prop, url, source)
    property_id, zone = prop.id, prop.timezone
    answer = _within_limit(lambda: dry_run_url(property_id, zone, url, source))
    if audited:
        _audit_test("property", property_id, property_id, answer, calendar=trail.calendar_shown(url),
                    source=source)
    return {**answer, "url": url, "source": source}


def _audit_test(target_kind: str, target_id: int, property_id: int, answer: dict, **details) -> None:
    """One "link.tested" entry: a test stores nothing else, but who read which calendar is recorded."""
    error = answer.get("error") or {}
    trail.record("link.tested", target_kind, target_id, property_id,
                 {**details, "ok": answer.get("ok"), "error_kind": error.get("kind")})
    db.session.commit()


def _within_limit(test) -> dict:
    """Run a test beside the request under DRY_RUN_TIMEOUT_SECONDS (the parser's own work budget
    bounds it as well): a person gets an answer, never a page that hangs."""
    app = current_app._get_current_object()
    limit = app.config["DRY_RUN_TIMEOUT_SECONDS"]

    def run() -> dict:
        with app.app_context():
            try:
                return test()
            finally:
                db.session.remove()
    pool = app.extensions.get("csc_dry_runs")
    if pool is None:
        pool = app.extensions["csc_dry_runs"] = ThreadPoolExecutor(
            max_workers=DRY_RUNS_AT_ONCE, thread_name_prefix="dry-run")
    try:
        return pool.submit(run).result(timeout=limit)
    except FutureTimeout:
        raise ActionError("test_timeout", f"The test took longer than {limit} s and was abandoned; "
                          "nothing was stored. The feed may be very large or very slow: try again, "
                          "or let a sync read it.", status=504) from None


def activate_link(link: CalendarLink) -> str:
    """"Synchronize now": the link becomes active and its first sync is queued; the job id."""
    before = link.state
    job_id = _activated(link)
    _audit_link(link, "link.activated", job_id, state=trail.change(before, link.state))
    return job_id


def _activated(link: CalendarLink) -> str:
    """The link made active and its sync queued (activate and resume); the job id."""
    # The queued job syncs it now; the scheduler must not queue it a second time meanwhile, so
    # its regular turn starts one interval from now (the job sets the real next time).
    turn = utcnow() + timedelta(minutes=current_app.config["SYNC_INTERVAL_MINUTES"])
    return _change_and_queue(link, state="active", next_sync_at=turn,
                             activated_at=link.activated_at or utcnow())


def check_resumable(state: str) -> None:
    """Only a paused link resumes (the 409 otherwise); shared with bulk actions."""
    if state != "paused":
        raise ActionError("link_not_paused", f"the link is {state}, not paused", status=409)


def check_syncable(state: str) -> None:
    """Only an active link is resynced (the 409 otherwise); shared with bulk actions."""
    if state != "active":
        raise ActionError("link_not_active", f"the link is {state}: activate it first "
                          "(POST /links/<id>/activate)", status=409)


def resume_link(link: CalendarLink) -> str:
    """A paused link syncs again, starting now; the job id."""
    check_resumable(link.state)
    before = link.state
    job_id = _activated(link)
    _audit_link(link, "link.resumed", job_id, state=trail.change(before, link.state))
    return job_id


def sync_link_now(link: CalendarLink) -> str:
    """Force a resync of an active link; while one is queued or running, that job's id."""
    check_syncable(link.state)
    job_id = _queued(link.id)
    _audit_link(link, "link.synced", job_id)
    return job_id


def accept_held_change(link: CalendarLink) -> str:
    """Staff accept the change the suspicious-change guard holds; a sync applies it now."""
    if not link.hold_state:
        raise ActionError("nothing_held", "this link has no held change to accept", status=409)
    held = link.hold_state
    job_id = _change_and_queue(link, accept_next_change=True)
    _audit_link(link, "link.accepted", job_id, held=held)
    return job_id


def pause_link(link: CalendarLink) -> CalendarLink:
    """Stop syncing a link; its blocks stay until it is deleted. The property's risk, nights at
    stake and score follow at once (the last active link paused: "no active link")."""
    before = link.state
    link.state, link.next_sync_at = "paused", None
    trail.record("link.paused", "link", link.id, link.property_id, {"state": trail.change(before, "paused")})
    db.session.flush()
    recompute_properties([link.property_id])  # commits the pause (and its audit entry) with them
    return link


def delete_link(link: CalendarLink) -> int:
    """Unlink a calendar and remove the EX- blocks it brought; how many were removed. The property's
    risk, nights at stake and score follow at once, and nothing of the link is left in Redis."""
    link_id, property_id = link.id, link.property_id
    removed = db.session.execute(delete(Reservation).where(
        Reservation.link_id == link_id, Reservation.origin == "external")).rowcount
    trail.record("link.deleted", "link", link_id, property_id, {
        "source": link.source, "calendar": trail.calendar_shown(link.url),
        "kigo_property_id": link.kigo_property_id, "state": trail.change(link.state, None),
        "blocks_removed": removed})
    db.session.delete(link)
    db.session.flush()
    recompute_properties([property_id])  # commits the delete with them
    forget_link(link_id)
    return removed


def _audit_link(link: CalendarLink, action: str, job_id: str, **details) -> None:
    """The entry of a link action that queued a sync (written once the sync is queued: a refusal records
    nothing, as it changes nothing)."""
    trail.record(action, "link", link.id, link.property_id, {**details, "job_id": job_id})
    db.session.commit()


def _change_and_queue(link: CalendarLink, **changes) -> str:
    """Apply `changes` to the link and queue its sync; the job id. When the queue is unreachable
    the changes are undone: nothing changes without its sync."""
    previous = {name: getattr(link, name) for name in changes}
    for name, value in changes.items():
        setattr(link, name, value)
    db.session.commit()
    try:
        return _queued(link.id)
    except ActionError:
        for name, value in previous.items():
            setattr(link, name, value)
        db.session.commit()
        raise


def _queued(link_id: int) -> str:
    """Queue the link's sync; a 503 queue_unavailable when Redis does not answer."""
    try:
        return enqueue_link_sync(link_id)
    except QueueUnavailable as exc:
        raise ActionError("queue_unavailable", f"{exc}; nothing was changed. Try again shortly.",
                          status=503) from None
