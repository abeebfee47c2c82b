"""What a person or a client sees when the database is locked or unreachable: a 503 that says so,
within DB_TIMEOUT_SECONDS, as JSON under /api/v1 and as a console page elsewhere."""
from __future__ import annotations

import logging

import redis
from flask import Flask, abort, current_app, jsonify, request
from flask_admin import BaseView, expose
from sqlalchemy.exc import InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from werkzeug.exceptions import default_exceptions

from console.extensions import db
from jobs.broker import QueueUnavailable

log = logging.getLogger(__name__)
RETRY_AFTER_SECONDS = 30
UNAVAILABLE = ("The database is not answering (busy, locked or unreachable), so nothing could be "
               "read or saved. Nothing was changed.")
QUEUE_UNAVAILABLE = ("The job queue (Redis) is not answering, so this page could not be shown. "
                     "Nothing was changed; syncs already recorded are kept.")
UNAVAILABLE_ADVICE = "Try again in a minute. If it lasts, tell the tech team: /healthz shows the state."


PAGES = {
    403: ("Not allowed", "Your role does not allow this. Ask an admin if you need it."),
    404: ("Not found", "There is nothing at this address: the property or link may have been deleted."),
    405: ("Not allowed here", "This address does not take that kind of request."),
    500: ("Something went wrong on our side", "The error is logged for the tech team; nothing was "
          "changed. Try again, and tell the tech team if it lasts."),
}


class FaultView(BaseView):
    """Draws the error pages inside the console's frame: a view of no menu item, so the menu highlights
    nothing (a 404 is not the Dashboard)."""

    @expose("/")
    def index(self):  # Flask-Admin wants a default view; this one is never mounted
        abort(404)


def fault_view(admin) -> FaultView:
    """The admin's error-page view, made once (never added to the menu)."""
    view = admin.__dict__.get("_csc_fault_view")
    if view is None:
        view = FaultView(name="Error", endpoint="csc_fault")
        view.admin = admin
        admin._csc_fault_view = view
    return view


def register_fault_pages(app: Flask) -> None:
    """Console pages for errors (JSON stays JSON under /api/v1); a clear 503 for database faults."""

    # The API blueprint shapes its own routing errors (unknown path, wrong method) as JSON:
    # its handlers, registered before these, answer under /api/.
    api_handlers = {status: app.error_handler_spec.get(None, {}).get(status, {})
                    .get(default_exceptions[status]) for status in (403, 404, 405)}

    def console_page(err):
        code = getattr(err, "code", None) or 500
        if request.path.startswith("/api/"):
            handler = api_handlers.get(code)
            return handler(err) if handler else err
        title, message = PAGES[code]
        if code == 500:  # the database may be the cause: a page that reads nothing
            return fault_page("internal", title, message, ""), 500
        admin = app.extensions.get("csc_admin")
        if admin is None:
            return err
        headers = [(k, v) for k, v in err.get_headers() if k.lower() != "content-type"] \
            if hasattr(err, "get_headers") else []  # Allow on a 405
        return fault_view(admin).render("errors/page.html", code=code, title=title,
                                        message=message), code, headers

    for status in (403, 404, 405):
        app.register_error_handler(status, console_page)

    @app.errorhandler(500)
    def internal_error(err):
        if request.path.startswith("/api/"):
            body = {"code": "internal", "message": "our own failure; it is logged"}
            return jsonify(error=body), 500
        return console_page(err)

    @app.errorhandler(OperationalError)
    @app.errorhandler(InterfaceError)
    @app.errorhandler(PoolTimeout)
    def database_unavailable(err):
        try:
            db.session.rollback()
        except Exception:  # noqa: BLE001 - a lost connection may refuse even the rollback
            db.session.close()
        log.warning("database unavailable during %s %s: %s", request.method, request.path, err)
        return unavailable("database_unavailable", "The database is not answering", UNAVAILABLE)

    @app.errorhandler(QueueUnavailable)
    @app.errorhandler(redis.ConnectionError)
    @app.errorhandler(redis.TimeoutError)
    def queue_unavailable(err):
        log.warning("job queue unavailable during %s %s: %s", request.method, request.path, err)
        return unavailable("queue_unavailable", "The job queue is not answering", QUEUE_UNAVAILABLE)


def unavailable(code: str, title: str, message: str):
    """A 503 with Retry-After: the API's error as JSON, the console's fault page elsewhere."""
    headers = {"Retry-After": str(RETRY_AFTER_SECONDS)}
    if request.path.startswith("/api/"):
        return jsonify(error={"code": code, "message": message}), 503, headers
    return fault_page(code, title, message, UNAVAILABLE_ADVICE), 503, headers


def fault_page(code: str, title: str, message: str, advice: str) -> str:
    """The fault page, rendered without the template context processors: Flask-Login's would load
    the logged-in user from the database, the very thing that may have failed."""
    return current_app.jinja_env.get_template("errors/fault.html").render(
        code=code, title=title, message=message, advice=advice)
