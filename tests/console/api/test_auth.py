"""API authentication and roles: 401 without a valid token, 403 when the role is too low."""
from console.extensions import db
from console.models import ApiToken


def test_missing_token_is_401_with_error_shape(client):
    resp = client.get("/api/v1/properties")
    assert resp.status_code == 401
    assert resp.get_json()["error"]["code"] == "unauthorized"


def test_invalid_and_malformed_tokens_are_401(client):
    for header in ("Bearer nope", "Basic abc", "Bearer ", "token"):
        resp = client.get("/api/v1/properties", headers={"Authorization": header})
        assert resp.status_code == 401, header


def test_revoked_token_is_401(app, client):
    row, clear = ApiToken.issue("old", "admin")
    row.revoked = True
    db.session.add(row)
    db.session.commit()
    resp = client.get("/api/v1/properties", headers={"Authorization": f"Bearer {clear}"})
    assert resp.status_code == 401


def test_viewer_reads_but_cannot_write(api):
    viewer = api("viewer")
    assert viewer.get("/properties").status_code == 200
    resp = viewer.post("/properties", json={"name": "X", "owner_email": "o@example.com"})
    assert resp.status_code == 403
    assert resp.get_json()["error"]["code"] == "forbidden"


def test_staff_writes(api):
    resp = api("staff").post("/properties", json={"name": "X", "owner_email": "o@example.com"})
    assert resp.status_code == 201


def test_tokens_are_stored_hashed_only(app):
    row, clear = ApiToken.issue("svc", "viewer")
    db.session.add(row)
    db.session.commit()
    stored = db.session.get(ApiToken, row.id)
    assert clear not in stored.token_hash and len(stored.token_hash) == 64
    assert ApiToken.find(clear).id == row.id


def test_unknown_api_path_answers_json_404(api):
    resp = api("viewer").get("/nothing-here")
    assert resp.status_code == 404
    assert resp.get_json()["error"]["code"] == "not_found"


def test_token_use_is_recorded(api, app):
    viewer = api("viewer")
    viewer.get("/properties")
    assert db.session.query(ApiToken).one().last_used_at is not None


def test_wrong_method_under_api_answers_json_405_with_allow(api, client):
    resp = api("admin").put("/properties/1", json={"name": "X"})
    assert resp.status_code == 405
    assert resp.is_json
    assert resp.get_json()["error"]["code"] == "method_not_allowed"
    assert resp.get_json()["error"]["message"]
    assert {"GET"} <= {m.strip() for m in resp.headers["Allow"].split(",")}
    assert "PUT" not in resp.headers["Allow"]
    # Without a token too: routing refuses the method before authentication runs.
    assert client.delete("/api/v1/properties").get_json()["error"]["code"] == \
        "method_not_allowed"


def test_wrong_method_on_a_console_page_stays_html(client):
    resp = client.put("/login")
    assert resp.status_code == 405
    assert resp.mimetype == "text/html" and "Allow" in resp.headers


def test_a_missing_token_is_challenged_with_www_authenticate_bearer(client):
    resp = client.get("/api/v1/properties")
    assert resp.status_code == 401
    assert resp.headers["WWW-Authenticate"] == 'Bearer realm="Calendar Sync Console API"'


def test_a_bad_token_is_challenged_as_an_invalid_token(client):
    for header in ("Bearer nope", "Bearer " + "a" * 43):
        resp = client.post("/api/v1/properties", json={}, headers={"Authorization": header})
        assert resp.status_code == 401
        assert resp.headers["WWW-Authenticate"] == \
            'Bearer realm="Calendar Sync Console API", error="invalid_token"'


def test_a_role_too_low_is_403_without_a_challenge(api):
    resp = api("viewer").post("/properties", json={"name": "X", "owner_email": "o@example.com"})
    assert resp.status_code == 403 and "WWW-Authenticate" not in resp.headers
