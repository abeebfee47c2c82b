"""Console page for managers: overbooking charts (week, source, city, owner), score spread, the list."""
from __future__ import annotations

from datetime import datetime, time, timedelta
from pathlib import Path

import plotly
from flask import abort, flash, redirect, request, send_file, url_for
from flask_admin import expose
from flask_login import current_user
from sqlalchemy import func, select

from console import charts
from console.actions.errors import ActionError
from console.actions.overbookings import NOTE_MAX, resolve_overbooking
from console.admin.base import ConsoleView
from console.extensions import db
from console.models import Overbooking, Owner, Property
from console.timeutil import utcnow

PLOTLY_JS = Path(plotly.__file__).parent / "package_data" / "plotly.min.js"
DEFAULT_WEEKS, MAX_WEEKS = 26, 260
LIST_SIZE = 100


def _groups(column, since) -> list[charts.GroupCount]:
    """Overbookings detected since `since`, counted per value of `column` and by blame."""
    rows = db.session.execute(
        select(column, Overbooking.counts_against_owner, func.count())
        .select_from(Overbooking).join(Property, Property.id == Overbooking.property_id)
        .join(Owner, Owner.id == Property.owner_id).where(Overbooking.detected_at >= since)
        .group_by(column, Overbooking.counts_against_owner)).all()
    totals: dict[str, list[int]] = {}
    for name, counts, n in rows:
        totals.setdefault(name or "unknown", [0, 0])[0 if counts else 1] += n
    return [charts.GroupCount(name, c, nc) for name, (c, nc) in totals.items()]


def _newest_scores() -> list[int]:
    """Every property's newest score (the copy on its row), from one grouped read of an index."""
    rows = db.session.execute(select(Property.score_value, func.count())
                              .where(Property.score_value.is_not(None))
                              .group_by(Property.score_value)).all()
    return [score for score, n in rows for _ in range(n)]


def chart_blocks(weeks: int) -> list[str]:
    """The page's charts as HTML blocks, from the last `weeks` weeks of overbookings."""
    today = utcnow().date()
    first = charts.week_start(today) - timedelta(weeks=weeks - 1)
    since = datetime.combine(first, time())
    detections = db.session.execute(select(Overbooking.detected_at, Overbooking.counts_against_owner)
                                    .where(Overbooking.detected_at >= since)).all()
    figures = [
        ("chart-weekly", charts.overbookings_per_week(charts.weekly_counts(detections, first, today))),
        ("chart-source", charts.overbookings_by("source", _groups(Overbooking.link_source, since))),
        ("chart-city", charts.overbookings_by("city", _groups(Property.city, since))),
        ("chart-owner", charts.overbookings_by("owner", _groups(Owner.email, since))),
        ("chart-scores", charts.score_distribution(_newest_scores())),
    ]
    return [charts.figure_html(fig, div_id) for div_id, fig in figures]


class OverbookingsView(ConsoleView):
    """Overbooking trends and the list of overbookings, with staff resolution."""

    @expose("/")
    def index(self):
        """Charts over ?weeks= (default 26) and the newest overbookings, filtered by state and blame."""
        weeks = min(max(request.args.get("weeks", DEFAULT_WEEKS, type=int) or DEFAULT_WEEKS, 1),
                    MAX_WEEKS)
        state = request.args.get("state") if request.args.get("state") in ("open", "resolved") \
            else None
        counts = {"true": True, "false": False}.get(request.args.get("counts", ""))
        query = select(Overbooking, Property.name).join(Property,
                                                        Property.id == Overbooking.property_id)
        if state:
            query = query.where(Overbooking.state == state)
        if counts is not None:
            query = query.where(Overbooking.counts_against_owner.is_(counts))
        rows = db.session.execute(query.order_by(Overbooking.detected_at.desc(),
                                                 Overbooking.id.desc()).limit(LIST_SIZE)).all()
        return self.render("overbookings/index.html", charts=chart_blocks(weeks), rows=rows,
                           weeks=weeks, state=state, counts=request.args.get("counts", ""),
                           plotly_version=plotly.__version__, can_act=current_user.can("staff"))

    @expose("/plotly.min.js")
    def plotly_js(self):
        """plotly.js from the installed plotly package: the console works offline, no CDN."""
        return send_file(PLOTLY_JS, mimetype="text/javascript", max_age=7 * 24 * 3600)

    @expose("/<int:overbooking_id>/resolve", methods=["POST"])
    def resolve_action(self, overbooking_id: int):
        """Staff resolve an overbooking with a note."""
        if not current_user.can("staff"):
            abort(403)
        ob = db.session.get(Overbooking, overbooking_id) or abort(404)
        note = (request.form.get("note") or "").strip()[:NOTE_MAX] or None
        try:
            resolve_overbooking(ob, current_user.email, note)
            flash(f"Overbooking {ob.id} resolved.", "success")
        except ActionError as err:
            if err.code == "already_resolved":
                flash(f"Overbooking {ob.id} was already resolved by {ob.resolved_by}.", "warning")
            else:
                flash("Write a note saying how the overbooking was handled.", "error")
        return redirect(url_for(".index"))
