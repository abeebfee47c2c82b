"""Swagger UI's files from the installed swagger-ui-bundle package (no CDN), cached by browsers for a
year under a URL that names the version."""
from __future__ import annotations

import mimetypes
from pathlib import Path

from flask import Request, Response, abort
from swagger_ui_bundle import swagger_ui_path

VERSION = Path(str(swagger_ui_path)).name.removeprefix("swagger-ui-")  # e.g. 5.31.0
FILES = ("swagger-ui-bundle.js", "swagger-ui.css")  # all the page needs; nothing else is served
ONE_YEAR = 365 * 24 * 3600


def swagger_file_response(request: Request, name: str) -> Response:
    """One of Swagger UI's files, immutable for a year; 404 for any other name."""
    if name not in FILES:
        abort(404)
    path = Path(str(swagger_ui_path)) / name
    resp = Response(path.read_bytes(), mimetype=mimetypes.guess_type(name)[0])
    resp.headers["Cache-Control"] = f"public, max-age={ONE_YEAR}, immutable"
    resp.add_etag()
    return resp.make_conditional(request)
