"""Console pages: the property list (filters, search, order, bulk actions, CSV) and one property's full picture."""
from __future__ import annotations

from flask import abort, flash, redirect, request, url_for
from flask_admin import expose
from flask_login import current_user
from sqlalchemy import select

from console.actions import links as link_actions
from console.actions.errors import ActionError
from console.actions.links import ICAL_SOURCES
from console.admin.base import ConsoleView
from console.admin.bulk_pages import BulkPages
from console.admin.link_pages import LinkPages
from console.admin.notifications import alert_history
from console.admin.owner_share import OwnerSharePages, owner_share_panel
from console.admin.property_list import CSV_HEADER, csv_rows, list_state, page_window
from console.audit.search import recent_for_property
from console.extensions import db
from console.models import SOURCES, Overbooking, Property, Reservation, SyncRun
from console.queries.link_jobs import link_job_states
from console.queries.property_filters import HEALTHS, RISKS, count_matching, with_relations
from console.queries.serialize import properties_json, property_json, run_json, score_history_items
from console.reports import overbooking_rates
from console.reports.csv_download import csv_response
from console.timeutil import iso, utcnow
from jobs.rules.advice import ERROR_KINDS

PAGE_SIZE = 50
SCORE_HISTORY_SIZE = 5
LINK_ALERTS = 5  # beside each link: its newest alerts (the whole list is one click away)
CHANGES_SHOWN = 10  # the property's newest audit entries (admins; the whole trail is one click away)


class PropertiesView(OwnerSharePages, BulkPages, LinkPages, ConsoleView):
    """The fleet of properties and each property's page."""

    @expose("/")
    def index(self):
        """Properties with health, exposure, links and last errors; filters, search, any order, CSV."""
        state = list_state(request.args)
        query = state.query(utcnow())
        if request.args.get("format") == "csv":
            return csv_response(f"properties-{utcnow():%Y-%m-%d}.csv", CSV_HEADER, csv_rows(query))
        total = count_matching(query)
        pages = max(1, -(-total // PAGE_SIZE))
        page = min(state.page, pages)  # past the end: the last page, and a word about it
        props = page_of(query, page)
        items = properties_json(props)
        last_sync = {p["id"]: max((link["last_sync_at"] for link in p["links"] if link["last_sync_at"]),
                                  default=None) for p in items}
        return self.render("properties/list.html", items=items, total=total, last_sync=last_sync,
                           page=page, pages=pages, window=page_window(page, pages),
                           asked_page=state.page if state.page > pages else None,
                           at_stake={p.id: p.exposure_nights for p in props}, state=state,
                           filters=state.filters, healths=HEALTHS, risks=RISKS, sources=SOURCES,
                           error_kinds=ERROR_KINDS, can_act=current_user.can("staff"))

    @expose("/<int:property_id>")
    def detail(self, property_id: int):
        """One property: links with status and advice, history, stays and blocks, risk, score."""
        return self.property_page(db.session.get(Property, property_id) or abort(404))

    def property_page(self, prop: Property, status: int = 200, **panels):
        """The property page, with the panels an action filled (a link test, the add-link form)."""
        link_ids = [link.id for link in prop.links]
        runs = db.session.execute(select(SyncRun).where(SyncRun.link_id.in_(link_ids))
                                  .order_by(SyncRun.started_at.desc(), SyncRun.id.desc())
                                  .limit(30)).scalars().all() if link_ids else []
        today = utcnow().date()
        stays = db.session.execute(select(Reservation).filter_by(property_id=prop.id)
                                   .where(Reservation.check_out > today)
                                   .order_by(Reservation.check_in)).scalars().all()
        overbookings = db.session.execute(select(Overbooking).filter_by(property_id=prop.id)
                                          .order_by(Overbooking.detected_at.desc())).scalars().all()
        return self.render("properties/detail.html",
                           prop=property_json(prop, secrets=current_user.can("staff")),
                           runs=[run_json(r) for r in runs], stays=stays,
                           overbookings=overbookings, now=utcnow(),
                           score_history=score_history_items(prop.id, SCORE_HISTORY_SIZE),
                           alerts=alert_history(property_id=prop.id),
                           link_alerts={i: alert_history(link_id=i, limit=LINK_ALERTS) for i in link_ids},
                           ignored={link.id: link.ignored_detail or [] for link in prop.links},
                           sources=ICAL_SOURCES, can_act=current_user.can("staff"),
                           jobs=link_job_states(prop.links), iso=iso,
                           changes=recent_for_property(prop.id, CHANGES_SHOWN) if current_user.can("admin") else None,
                           owner_share=owner_share_panel(prop) if current_user.can("staff") else None,
                           rates=overbooking_rates.property_and_owner(prop, today), **panels), status

    @expose("/<int:property_id>/links/<int:link_id>/<action>", methods=["POST"])
    def link_action(self, property_id: int, link_id: int, action: str):
        """Staff actions on a link: activate, sync now, pause, resume, accept a held change."""
        if not current_user.can("staff"):
            abort(403)
        queued_by = {"activate": link_actions.activate_link, "sync": link_actions.sync_link_now,
                     "resume": link_actions.resume_link, "accept": link_actions.accept_held_change}
        if action != "pause" and action not in queued_by:
            abort(404)
        try:
            link = link_actions.get_link(link_id, property_id)
            if action == "pause":
                link_actions.pause_link(link)
                flash(f"Link {link.id} paused: its blocks stay, it is no longer synced.", "info")
            else:
                job_id = queued_by[action](link)
                flash(f"Sync of link {link.id} queued (job {job_id}).", "success")
        except ActionError as err:
            if err.status == 404:
                abort(404)
            flash(err.message, "error")
        return redirect(url_for(".detail", property_id=property_id))


def page_of(query, page: int) -> list[Property]:
    """One page of the ordered list: the ids are sorted first (narrow rows sort fast, even on page 300),
    then those properties are loaded with their owners and links."""
    ids = db.session.execute(query.with_only_columns(Property.id).limit(PAGE_SIZE)
                             .offset((page - 1) * PAGE_SIZE)).scalars().all()
    if not ids:
        return []
    found = {p.id: p for p in db.session.execute(with_relations(select(Property).where(
        Property.id.in_(ids)))).scalars()}
    return [found[i] for i in ids if i in found]
