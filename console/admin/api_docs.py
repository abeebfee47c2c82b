"""Console page: the JSON API's OpenAPI document (GET /api/v1/openapi.json) rendered by Swagger UI,
whose files the app serves from the installed swagger-ui-bundle package (no CDN), for anyone logged in."""
from __future__ import annotations

import mimetypes
from pathlib import Path

from flask import Response, abort, redirect, request, url_for
from flask_admin import expose
from swagger_ui_bundle import swagger_ui_path

from console.admin.base import ConsoleView

SWAGGER_DIR = Path(str(swagger_ui_path))
VERSION = SWAGGER_DIR.name.removeprefix("swagger-ui-")  # e.g. 5.31.0: the files change only with it
FILES = ("swagger-ui-bundle.js", "swagger-ui.css")  # all the page needs; nothing else is served
ONE_YEAR = 365 * 24 * 3600


class ApiDocsView(ConsoleView):
    """Every /api/v1 operation, its parameters, bodies and answers, browsable and tryable."""

    @expose("/")
    def index(self):
        """The page; its script draws the document in it."""
        return self.render("api_docs/index.html", swagger_version=VERSION,
                           document_url=url_for("api.openapi_json"))

    @expose("/swagger-ui-<version>/<filename>")
    def swagger_file(self, version: str, filename: str):
        """Swagger UI's script or style, immutable for a year under its versioned address."""
        if version != VERSION:  # a page cached before an upgrade asks for the old name
            return redirect(url_for(".swagger_file", version=VERSION, filename=filename))
        if filename not in FILES:
            abort(404)
        resp = Response((SWAGGER_DIR / filename).read_bytes(),
                        mimetype=mimetypes.guess_type(filename)[0])
        resp.headers["Cache-Control"] = f"public, max-age={ONE_YEAR}, immutable"
        resp.add_etag()
        return resp.make_conditional(request)
