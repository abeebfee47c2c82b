"""What a person or a client sees when the database is locked or unreachable: a 503 that says so,
within DB_TIMEOUT_SECONDS, as JSON under /api/v1 and as a console page elsewhere."""
from __future__ import annotations

import logging

from flask import Flask, jsonify, render_template, request
from sqlalchemy.exc import InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout

from console.extensions import db

log = logging.getLogger(__name__)
RETRY_AFTER_SECONDS = 30
UNAVAILABLE = ("The database is not answering (busy, locked or unreachable), so nothing could be "
               "read or saved. Nothing was changed.")
UNAVAILABLE_ADVICE = "Try again in a minute. If it lasts, tell the tech team: /healthz shows the state."


def register_fault_pages(app: Flask) -> None:
    """Answer database faults with a clear 503 instead of a generic 500."""

    @app.errorhandler(OperationalError)
    @app.errorhandler(InterfaceError)
    @app.errorhandler(PoolTimeout)
    def database_unavailable(err):
        db.session.rollback()
        log.warning("database unavailable during %s %s: %s", request.method, request.path, err)
        headers = {"Retry-After": str(RETRY_AFTER_SECONDS)}
        if request.path.startswith("/api/"):
            body = {"code": "database_unavailable", "message": UNAVAILABLE}
            return jsonify(error=body), 503, headers
        return render_template("errors/fault.html", code="database_unavailable",
                               title="The database is not answering", message=UNAVAILABLE,
                               advice=UNAVAILABLE_ADVICE), 503, headers
