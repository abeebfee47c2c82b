"""The dashboard at /: the fleet's health at a glance and the links that need someone now."""
from __future__ import annotations

from flask import current_app
from flask_admin import expose
from sqlalchemy import false, select

from console.admin.base import ConsoleIndexView
from console.extensions import db
from console.models import CalendarLink, Property
from console.operations import freshness
from console.reports import fleet_tally
from console.timeutil import utcnow
from jobs.rules.advice import advice_for


class DashboardView(ConsoleIndexView):
    """Counts by health and risk, failing links with their advice, open overbookings."""

    @expose("/")
    def index(self):
        """The dashboard: counts from the fleet tally (at most a minute old, said on the page), the
        failing links read now."""
        now, interval = utcnow(), current_app.config["SYNC_INTERVAL_MINUTES"]
        tally = fleet_tally.current(now, interval)
        failing = db.session.execute(
            select(CalendarLink, Property.name).join(Property)
            .where(CalendarLink.last_attempt_ok == false())  # "= false": ix_calendar_links_failing
            .order_by(CalendarLink.consecutive_failures.desc(), CalendarLink.id.desc()).limit(25)).all()
        return self.render("dashboard/index.html", by_health=tally["health"],
                           late=freshness.fleet_lateness(fleet_tally.redis_or_none()),
                           age=freshness.calendar_age(tally),
                           by_risk=dict(tally["risks"]), tally=tally,
                           failing=[(link, name, advice_for(link.last_error_kind, link.source,
                                                            link.last_error_http_status))
                                    for link, name in failing],
                           open_overbookings=tally["overbookings_open"], held=tally["held"],
                           by_kind=fleet_tally.failing_groups(tally["failing_by_kind"], tally["fleet"]),
                           by_source=fleet_tally.failing_groups(tally["failing_by_source"], tally["fleet"]))
