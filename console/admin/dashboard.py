"""The dashboard at /: the fleet's health at a glance and the links that need someone now."""
from __future__ import annotations

from flask import current_app
from flask_admin import expose
from sqlalchemy import func, select

from console.admin.base import ConsoleIndexView
from console.extensions import db
from console.models import CalendarLink, Overbooking, Property
from console.property_filters import health_counts, held_condition
from console.timeutil import utcnow
from jobs.rules.advice import advice_for


class DashboardView(ConsoleIndexView):
    """Counts by health and risk, failing links with their advice, open overbookings."""

    @expose("/")
    def index(self):
        """The dashboard."""
        now, interval = utcnow(), current_app.config["SYNC_INTERVAL_MINUTES"]
        by_health = health_counts(now, interval)
        by_risk = dict(db.session.execute(select(Property.risk_level, func.count())
                                          .group_by(Property.risk_level)).all())
        failing = db.session.execute(
            select(CalendarLink, Property.name).join(Property)
            .where(CalendarLink.last_attempt_ok.is_(False))
            .order_by(CalendarLink.consecutive_failures.desc()).limit(25)).all()
        open_obs = db.session.execute(select(func.count()).select_from(Overbooking)
                                      .filter_by(state="open")).scalar()
        fleet = db.session.execute(select(func.count()).select_from(Property)).scalar() or 0
        held = db.session.execute(select(func.count()).select_from(Property)
                                  .where(held_condition())).scalar()
        return self.render("dashboard/index.html", by_health=by_health, by_risk=by_risk,
                           failing=[(link, name, advice_for(link.last_error_kind, link.source,
                                                            link.last_error_http_status))
                                    for link, name in failing],
                           open_overbookings=open_obs, held=held,
                           by_kind=_failing_groups(CalendarLink.last_error_kind, fleet),
                           by_source=_failing_groups(CalendarLink.source, fleet))


def _failing_groups(column, fleet: int) -> list[dict]:
    """Failing links counted by `column` (error kind or source): links, properties hit, fleet share."""
    rows = db.session.execute(
        select(column, func.count(), func.count(CalendarLink.property_id.distinct()))
        .where(CalendarLink.last_attempt_ok.is_(False)).group_by(column)
        .order_by(func.count().desc(), column)).all()
    return [{"value": value, "links": links, "properties": props,
             "share": round(100 * props / fleet, 1) if fleet else 0.0} for value, links, props in rows]
