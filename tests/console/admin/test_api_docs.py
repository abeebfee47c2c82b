"""The API page: behind the login, linked from the menu, Swagger UI's files served by the app from
the installed package (and nothing else from its folder)."""
from __future__ import annotations

from console.admin.api_docs import VERSION


def test_the_api_page_needs_a_login(client):
    resp = client.get("/api-docs/")
    assert resp.status_code == 302 and "/login" in resp.headers["Location"]


def test_a_viewer_gets_the_page_from_the_menu_with_the_documents_address(login):
    client = login("viewer")
    menu = client.get("/").get_data(as_text=True)
    assert 'href="/api-docs/"' in menu
    page = client.get("/api-docs/").get_data(as_text=True)
    assert 'data-document-url="/api/v1/openapi.json"' in page
    assert f"/api-docs/swagger-ui-{VERSION}/swagger-ui-bundle.js" in page and "api_docs.js" in page


def test_swagger_ui_files_come_from_the_package_cached_for_a_year(login):
    client = login("viewer")
    script = client.get(f"/api-docs/swagger-ui-{VERSION}/swagger-ui-bundle.js")
    assert script.status_code == 200 and script.mimetype == "text/javascript"
    assert b"SwaggerUIBundle" in script.data and "immutable" in script.headers["Cache-Control"]
    assert client.get(f"/api-docs/swagger-ui-{VERSION}/swagger-ui.css").mimetype == "text/css"
    again = client.get(f"/api-docs/swagger-ui-{VERSION}/swagger-ui.css",
                       headers={"If-None-Match": script.headers["ETag"]})
    assert again.status_code == 200  # another file's tag is not this one's


def test_only_the_pages_files_are_served_and_an_old_version_is_redirected(login):
    client = login("viewer")
    for name in ("index.html", "swagger-initializer.js", "..%2F__init__.py", "swagger-ui.js.map"):
        assert client.get(f"/api-docs/swagger-ui-{VERSION}/{name}").status_code == 404, name
    old = client.get("/api-docs/swagger-ui-4.0.0/swagger-ui.css")
    assert old.status_code == 302
    assert old.headers["Location"].endswith(f"/api-docs/swagger-ui-{VERSION}/swagger-ui.css")
