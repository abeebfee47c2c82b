"""Console page: the JSON API's OpenAPI document (GET /api/v1/openapi.json) rendered by Swagger UI
served from the installed package, for anyone logged in."""
from __future__ import annotations

from flask import redirect, request, url_for
from flask_admin import expose

from console.admin.base import ConsoleView
from console.swagger_asset import VERSION, swagger_file_response


class ApiDocsView(ConsoleView):
    """Every /api/v1 operation, its parameters, bodies and answers, browsable and tryable."""

    @expose("/")
    def index(self):
        """The page; its script draws the document in it."""
        return self.render("api_docs/index.html", swagger_version=VERSION,
                           document_url=url_for("api.openapi_json"))

    @expose("/swagger-ui-<version>/<filename>")
    def swagger_file(self, version: str, filename: str):
        """Swagger UI's script and style from the installed package (no CDN)."""
        if version != VERSION:  # a page cached before an upgrade asks for the old name
            return redirect(url_for(".swagger_file", version=VERSION, filename=filename))
        return swagger_file_response(request, filename)
