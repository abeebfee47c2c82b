"""First checks that the app boots on the test backends."""


def test_healthz_reports_database_and_redis_up(client):
    resp = client.get("/healthz")
    assert resp.status_code == 200
    assert resp.get_json() == {"status": "ok", "database": "up", "redis": "up"}
