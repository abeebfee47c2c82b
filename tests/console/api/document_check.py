"""Every answer of the API tests checked against console/api/openapi.yaml (openapi-core): a test
client whose /api/v1 answers must be described by the document, status, headers and body."""
from __future__ import annotations

import functools
import json
from pathlib import Path

import yaml
from flask.testing import FlaskClient
from openapi_core import OpenAPI
from openapi_core.contrib.werkzeug import WerkzeugOpenAPIRequest, WerkzeugOpenAPIResponse
from werkzeug.exceptions import MethodNotAllowed, NotFound

API_PREFIX = "/api/v1/"
# Read as a file, as any client would read it: tests reach console.api only through HTTP
# (tests/test_layout.py); test_openapi.py proves GET /api/v1/openapi.json serves this very file.
DOCUMENT_FILE = Path(__file__).resolve().parents[3] / "console" / "api" / "openapi.yaml"


@functools.cache
def _document_text() -> str:
    return json.dumps(yaml.safe_load(DOCUMENT_FILE.read_text(encoding="utf-8")))


def load_document() -> dict:
    """The API's OpenAPI document (a fresh copy each call: tests may change theirs)."""
    return json.loads(_document_text())


@functools.cache
def described_api() -> OpenAPI:
    """The document, checked once as valid OpenAPI 3.1, ready to validate answers."""
    return OpenAPI.from_dict(load_document())


class AnsweredRequest(WerkzeugOpenAPIRequest):
    """The request an answer came from; its body was read by the app already (and is not needed to
    check the answer)."""

    @property
    def body(self) -> bytes | None:
        return None


def routed(app, path: str, method: str) -> bool:
    """Whether a Flask route answers this path and method (unrouted requests answer a plain 404/405)."""
    try:
        app.url_map.bind("localhost").match(path, method=method)
    except (NotFound, MethodNotAllowed):
        return False
    return True


def check_answer(app, response) -> None:
    """Raise when an /api/v1 answer is not what the document describes for its route."""
    request = response.request
    if not request.path.startswith(API_PREFIX) or request.method in ("HEAD", "OPTIONS"):
        return
    if not routed(app, request.path, request.method):
        return
    described_api().validate_response(AnsweredRequest(request),
                                      WerkzeugOpenAPIResponse(response))


class DocumentCheckedClient(FlaskClient):
    """The Flask test client, raising when an /api/v1 answer does not match the document."""

    def open(self, *args, **kwargs):
        response = super().open(*args, **kwargs)
        check_answer(self.application, response)
        return response
