"""API: the OpenAPI 3.1 document of every /api/v1 route (console/api/openapi.yaml), served as JSON
without a token, and read once per process."""
from __future__ import annotations

import functools
from pathlib import Path

import yaml
from flask import jsonify

from console.api.blueprint import api_bp, public

DOCUMENT = Path(__file__).with_name("openapi.yaml")


@functools.cache
def openapi_document() -> dict:
    """The API's OpenAPI document as a dict (parsed on first use, not at import)."""
    return yaml.safe_load(DOCUMENT.read_text(encoding="utf-8"))


@api_bp.get("/openapi.json")
@public
def openapi_json():
    """This API's OpenAPI 3.1 description (no token: it holds nothing secret)."""
    return jsonify(openapi_document())
