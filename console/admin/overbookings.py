"""Console page for managers: overbooking charts (week, source, city, owner), the score explained, the
list, each downloadable as CSV for the chosen date range."""
from __future__ import annotations

from datetime import timedelta
from urllib.parse import urlsplit

from flask import abort, current_app, flash, redirect, request, url_for
from flask_admin import expose
from flask_login import current_user

from console.actions.errors import ActionError
from console.actions.overbookings import NOTE_MAX, get_overbooking, resolve_overbooking
from console.admin.base import ConsoleView
from console.queries.availability import prevented_rows
from console.reports import charts
from console.reports import overbooking_rates as rate_rules
from console.reports import overbooking_stats as stats
from console.reports.csv_download import csv_response
from console.reports.date_range import DateRange, parse_range, presets
from console.reports.plotly_asset import VERSION, plotly_response
from console.timeutil import iso, utcnow
from jobs.rules import score as score_rules

BLAME_HEADER = ["counts against the owner", "does not count", "total"]
LIST_HEADER = ["id", "property id", "property", "direct code", "external code", "first night", "last night",
               "nights", "detected at (UTC)", "source", "link health at detection",
               "counts against the owner", "attribution", "state", "resolved by", "resolution note"]
PREVENTED_HEADER = ["id", "property id", "link id", "source", "check-in", "check-out", "external code",
                    "detected at (UTC)"]
RATES_SHOWN = 50  # groups per rate table on the page (the weeks all); its CSV holds every one
FELL_HEADER = ["property id", "property", "score a week ago", "score now", "change", "fell most in",
               "why"]


def _list_filters() -> tuple[str | None, bool | None]:
    state = request.args.get("state") if request.args.get("state") in ("open", "resolved") else None
    return state, {"true": True, "false": False}.get(request.args.get("counts", ""))


def _table(name: str, r: DateRange) -> tuple[list[str], list[list]]:
    """The header and rows of one chart or list, exactly what the page shows for the range."""
    if name == "weekly":
        return (["week starting", *BLAME_HEADER],
                [[w.week.isoformat(), w.counted, w.not_counted, w.counted + w.not_counted]
                 for w in stats.weekly(r)])
    if name in stats.GROUP_COLUMNS:
        return ([name, *BLAME_HEADER], [[g.name, g.counted, g.not_counted, g.counted + g.not_counted]
                                        for g in stats.by_group(name, r)])
    if name == "scores":
        return ["score", "properties"], [list(band) for band in stats.score_bands(*_tally_args())]
    if name == "fell":
        return FELL_HEADER, [[f["property_id"], f["name"], f["was"], f["value"], f["change"],
                              (f["fell_most_in"] or "").replace("_", " "), " ".join(f["reasons"])]
                             for f in stats.fell_most(utcnow())]
    if name.startswith("rates-") and name[6:] in rate_rules.DIMENSIONS:
        return [name[6:], *rate_rules.RATE_HEADER], [rate.row() for rate in rate_rules.rates(name[6:], r)]
    if name == "prevented":
        return PREVENTED_HEADER, [[p.id, p.property_id, p.link_id, p.source, p.check_in.isoformat(),
                                   p.check_out.isoformat(), p.external_code, iso(p.detected_at)]
                                  for p in prevented_rows(r.first, r.last + timedelta(days=1))]
    if name == "list":
        return LIST_HEADER, [[ob.id, ob.property_id, prop_name, ob.direct_code, ob.external_code,
                              ob.first_night.isoformat(), ob.last_night.isoformat(), ob.nights,
                              iso(ob.detected_at), ob.link_source, ob.link_health_at_detection,
                              ob.counts_against_owner, ob.attribution, ob.state, ob.resolved_by,
                              ob.resolution_note]
                             for ob, prop_name in stats.newest_overbookings(r, *_list_filters())]
    abort(404)


def _tally_args() -> tuple:
    return utcnow(), current_app.config["SYNC_INTERVAL_MINUTES"]


def chart_blocks(r: DateRange) -> list[dict]:
    """The page's charts: id, CSV name and HTML, each drawn from the rows its CSV holds."""
    figures = [("weekly", charts.overbookings_per_week(stats.weekly(r)))]
    figures += [(name, charts.overbookings_by(name, stats.by_group(name, r))) for name in stats.GROUP_COLUMNS]
    figures.append(("scores", charts.score_distribution(stats.score_bands(*_tally_args()))))
    return [{"name": name, "html": charts.figure_html(fig, f"chart-{name}")} for name, fig in figures]


def _local(target: str | None) -> str | None:
    """The address if it stays on this site (a path), else None: no open redirect."""
    if not target:
        return None
    parts = urlsplit(target)
    return target if not parts.scheme and not parts.netloc and target.startswith("/") \
        and not target.startswith(("//", "/\\")) else None


class OverbookingsView(ConsoleView):
    """Overbooking trends, the score explained and the list of overbookings, with staff resolution."""

    @expose("/")
    def index(self):
        """Charts and list over ?from=&to= (or a preset, or an old ?weeks=), list filtered by state and blame."""
        today = utcnow().date()
        r, problem = parse_range(request.args, today)
        state, counts = _list_filters()
        rates, rates_age = rate_rules.rates_by_dimension(r)
        return self.render("overbookings/index.html", charts=chart_blocks(r), range=r, problem=problem,
                           presets=presets(today), rows=stats.newest_overbookings(r, state, counts),
                           list_size=stats.LIST_SIZE, fell=stats.fell_most(utcnow()),
                           state=state, counts=request.args.get("counts", ""), rules=score_rules,
                           plotly_version=VERSION, can_act=current_user.can("staff"),
                           rates=rates, rates_age=rates_age, rates_shown=RATES_SHOWN,
                           prevented=prevented_rows(r.first, r.last + timedelta(days=1), stats.LIST_SIZE))

    @expose("/<chart>.csv")
    def csv(self, chart: str):
        """One chart's or list's rows as CSV, for the same range and filters as the page."""
        r, _problem = parse_range(request.args, utcnow().date())
        header, rows = _table(chart, r)
        return csv_response(f"overbookings-{chart}-{r.first}-to-{r.last}.csv", header, rows)

    @expose("/plotly-<version>.min.js")
    def plotly_js(self, version: str):
        """plotly.js from the installed plotly package (no CDN): gzipped, cached for a year."""
        if version != VERSION:  # a page cached before an upgrade asks for the old name
            return redirect(url_for(".plotly_js", version=VERSION))
        return plotly_response(request)

    @expose("/<int:overbooking_id>/resolve", methods=["POST"])
    def resolve_action(self, overbooking_id: int):
        """Staff resolve an overbooking with a note, then go back where they came from."""
        if not current_user.can("staff"):
            abort(403)
        try:
            ob = get_overbooking(overbooking_id)
        except ActionError:
            abort(404)
        note = (request.form.get("note") or "").strip()[:NOTE_MAX] or None
        try:
            resolve_overbooking(ob, current_user.email, note)
            flash(f"Overbooking {ob.id} resolved.", "success")
        except ActionError as err:
            if err.code == "already_resolved":
                flash(f"Overbooking {ob.id} was already resolved by {ob.resolved_by}.", "warning")
            else:
                flash("Write a note saying how the overbooking was handled.", "error")
        return redirect(_local(request.form.get("next")) or url_for(".index"))
