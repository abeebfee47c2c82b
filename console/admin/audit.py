"""Admin page: the audit trail (who changed what, when, from where), filtered as the API filters it, newest
first, downloadable as CSV. It only reads: no edit or delete is offered, and none exists."""
from __future__ import annotations

from flask import Response, abort, request, stream_with_context
from flask_admin import expose
from flask_login import current_user

from console.actions.errors import ActionError
from console.admin.base import ConsoleView
from console.audit.search import CSV_HEADER, AuditFilters, csv_rows, page_before, parse_filters, whole_number
from console.audit.trail import ACTIONS
from console.reports.csv_download import csv_lines
from console.timeutil import iso, utcnow

PAGE_SIZE = 100


class AuditView(ConsoleView):
    """The audit trail, for admins only."""

    def is_visible(self) -> bool:
        return current_user.is_authenticated and current_user.can("admin")

    @expose("/")
    def index(self):
        """The entries matching the filters, newest first, PAGE_SIZE a page (?before_id= for older ones)."""
        if not current_user.can("admin"):
            abort(403)
        problem = None
        try:
            filters = parse_filters(request.args)
            before_id = whole_number(request.args.get("before_id"), "before_id")
        except ActionError as err:
            filters, before_id, problem = AuditFilters(), None, f"{err.message}: showing every entry."
        if request.args.get("format") == "csv" and problem is None:
            return _csv(filters)
        rows, older = page_before(filters, before_id, PAGE_SIZE)
        args = {name: request.args.get(name) for name in ("actor", "action", "property_id", "from", "to")
                if request.args.get(name) and problem is None}
        return self.render("audit/index.html", entries=rows, older=older, args=args, problem=problem,
                           actions=ACTIONS, first_page=before_id is None, iso=iso)


def _csv(filters: AuditFilters) -> Response:
    """Every matching entry (not one page), streamed, with a BOM as every console CSV."""
    def lines():
        yield "\ufeff"
        yield from csv_lines(CSV_HEADER, csv_rows(filters))
    return Response(stream_with_context(lines()), mimetype="text/csv", headers={
        "Content-Disposition": f"attachment; filename=audit-{utcnow():%Y-%m-%d}.csv",
        "Cache-Control": "private, no-store"})
