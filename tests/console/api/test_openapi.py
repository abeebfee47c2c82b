"""The API's OpenAPI document: valid 3.1, served without a token, equal to the Flask routes both
ways (paths, methods, path parameters, roles), and strict enough to refuse an answer it does not
describe."""
from __future__ import annotations

import json
import re

import pytest
import yaml
from flask.testing import FlaskClient
from openapi_core.templating.responses.exceptions import ResponseNotFound
from openapi_core.validation.response.exceptions import InvalidData
from openapi_spec_validator import validate

from config import TestConfig
from console import create_app
from console.actions.errors import ActionError
from console.extensions import db
from console.models import ApiToken
from tests.console.api.document_check import DOCUMENT_FILE, check_answer, load_document

METHODS = ("get", "put", "post", "delete", "patch")
API = "/api/v1"
_PARAM = re.compile(r"<(?:(\w+):)?(\w+)>")


def route_operations(app) -> dict[tuple[str, str], object]:
    """Every (METHOD, OpenAPI path) Flask answers under /api/v1, with its rule."""
    found = {}
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith(API + "/"):
            continue
        path = _PARAM.sub(lambda m: "{" + m.group(2) + "}", rule.rule[len(API):])
        for method in rule.methods - {"HEAD", "OPTIONS"}:
            found[(method, path)] = rule
    return found


def documented_operations(document: dict) -> dict[tuple[str, str], dict]:
    """Every (METHOD, path) the document describes, with its operation."""
    return {(method.upper(), path): item[method] for path, item in document["paths"].items()
            for method in METHODS if method in item}


def disagreements(app, document: dict) -> dict[str, list[str]]:
    """Routes without an entry in the document, and entries without a route."""
    routes, described = set(route_operations(app)), set(documented_operations(document))
    return {"undocumented routes": sorted(f"{m} {p}" for m, p in routes - described),
            "documented but not routed": sorted(f"{m} {p}" for m, p in described - routes)}


def needed_role(app, rule, method: str) -> str:
    """The role the API's authentication asks of this route (console/api/blueprint.py)."""
    view = app.view_functions[rule.endpoint]
    if getattr(view, "_api_public", False):
        return "none"
    return getattr(view, "_api_role", None) or ("viewer" if method == "GET" else "staff")


def path_parameters(document: dict, path: str, operation: dict) -> dict[str, dict]:
    """The path parameters of an operation (its own and its path's), by name, $refs followed."""
    params = document["paths"][path].get("parameters", []) + operation.get("parameters", [])
    resolved = []
    for param in params:
        if "$ref" in param:
            param = document["components"]["parameters"][param["$ref"].rsplit("/", 1)[1]]
        resolved.append(param)
    return {p["name"]: p for p in resolved if p["in"] == "path"}


def test_the_document_is_valid_openapi_3_1():
    document = load_document()
    assert document["openapi"].startswith("3.1")
    validate(document)  # raises on any schema error


def test_every_201_names_the_created_resource_in_location_and_every_401_challenges():
    for (method, path), operation in documented_operations(load_document()).items():
        answers = operation["responses"]
        if "201" in answers:
            assert "Location" in answers["201"]["headers"], f"{method} {path}"
        if "202" in answers:
            assert answers["202"] == {"$ref": "#/components/responses/SyncQueuedWithLink"} or \
                "Location" in answers["202"]["headers"], f"{method} {path}"
        if "401" in answers:
            assert answers["401"] == {"$ref": "#/components/responses/Unauthorized"}, f"{method} {path}"


def test_every_api_route_is_documented_and_every_documented_operation_is_a_route(app):
    assert disagreements(app, load_document()) == {
        "undocumented routes": [], "documented but not routed": []}


def test_a_route_added_without_its_entry_fails_the_comparison(backends):
    app = create_app(TestConfig(env=dict(backends)))
    app.add_url_rule(f"{API}/properties/<int:property_id>/brand-new", "brand_new",
                     lambda property_id: "", methods=["POST"])
    assert disagreements(app, load_document()) == {
        "undocumented routes": ["POST /properties/{property_id}/brand-new"],
        "documented but not routed": []}


def test_an_entry_without_its_route_fails_the_comparison(app):
    document = json.loads(json.dumps(load_document()))
    document["paths"]["/scores"]["delete"] = {"responses": {"204": {"description": "gone"}}}
    assert disagreements(app, document) == {
        "undocumented routes": [], "documented but not routed": ["DELETE /scores"]}


def test_path_parameters_are_described_with_the_routes_types(app):
    document = load_document()
    described = documented_operations(document)
    for (method, path), rule in route_operations(app).items():
        params = path_parameters(document, path, described[(method, path)])
        assert set(params) == set(rule.arguments), f"{method} {path}"
        for converter, name in _PARAM.findall(rule.rule):
            wanted = "integer" if converter == "int" else "string"
            assert params[name]["schema"]["type"] == wanted, f"{method} {path} {name}"
            assert params[name]["required"] is True


def test_each_operation_names_the_role_the_route_asks_for(app):
    document = load_document()
    described = documented_operations(document)
    for (method, path), rule in route_operations(app).items():
        operation = described[(method, path)]
        role = needed_role(app, rule, method)
        assert operation["x-required-role"] == role, f"{method} {path}"
        if role == "none":
            assert operation["security"] == []
        else:
            assert "security" not in operation  # the document's default: the bearer token
            assert "401" in operation["responses"], f"{method} {path}"
        if role in ("staff", "admin"):
            assert "403" in operation["responses"], f"{method} {path}"


def test_the_document_is_served_as_json_without_a_token(client):
    resp = client.get(f"{API}/openapi.json")
    assert resp.status_code == 200 and resp.mimetype == "application/json"
    assert resp.get_json() == yaml.safe_load(DOCUMENT_FILE.read_text())
    assert resp.get_json()["servers"] == [{"url": "/api/v1"}]


def test_the_check_refuses_an_answer_the_document_does_not_describe(app, monkeypatch, make_property,
                                                                   make_link):
    link = make_link(make_property())
    row, clear = ApiToken.issue("t", "viewer")
    db.session.add(row)
    db.session.commit()
    plain = FlaskClient(app)  # not the checking client: the test checks the answer itself
    bearer = {"Authorization": f"Bearer {clear}"}
    check_answer(app, plain.get(f"{API}/links/{link.id}", headers=bearer))  # the real answer passes
    # The same route answering a link with no such state and most fields missing:
    monkeypatch.setattr("console.api.links.link_json", lambda link: {"id": link.id, "state": "asleep"})
    wrong = plain.get(f"{API}/links/{link.id}", headers=bearer)
    assert wrong.status_code == 200
    with pytest.raises(InvalidData):
        check_answer(app, wrong)
    # And an answer whose status the operation does not describe.
    monkeypatch.setattr("console.api.links.get_link", lambda link_id: (_ for _ in ()).throw(
        ActionError("teapot", "no", status=418)))
    with pytest.raises(ResponseNotFound, match="418"):
        check_answer(app, plain.get(f"{API}/links/{link.id}", headers=bearer))
