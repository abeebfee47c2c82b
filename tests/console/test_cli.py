"""The CONTRACT CLI commands, through the real Flask CLI runner."""
from console.extensions import db
from console.models import ApiToken, CalendarLink, Property, User


def test_create_user_then_update_role(runner):
    result = runner.invoke(args=["create-user", "Ana@Example.com", "--role", "staff",
                                 "--password", "long enough pw"])
    assert result.exit_code == 0, result.output
    user = db.session.query(User).one()
    assert user.email == "ana@example.com" and user.role == "staff"
    assert user.check_password("long enough pw")
    result = runner.invoke(args=["create-user", "ana@example.com", "--role", "admin",
                                 "--password", "another long pw"])
    assert result.exit_code == 0 and db.session.query(User).count() == 1
    db.session.expire_all()
    assert db.session.query(User).one().role == "admin"


def test_create_user_refuses_short_password_and_bad_role(runner):
    assert runner.invoke(args=["create-user", "a@example.com", "--role", "staff",
                               "--password", "short"]).exit_code != 0
    assert runner.invoke(args=["create-user", "a@example.com", "--role", "god",
                               "--password", "long enough pw"]).exit_code != 0
    assert db.session.query(User).count() == 0


def test_create_token_prints_the_token_alone_last(runner, client):
    result = runner.invoke(args=["create-token", "ranking", "--role", "viewer"])
    assert result.exit_code == 0
    token = result.output.strip().splitlines()[-1]
    assert " " not in token and len(token) > 30
    assert ApiToken.find(token).role == "viewer"
    resp = client.get("/api/v1/scores", headers={"Authorization": f"Bearer {token}"})
    assert resp.status_code != 401


def test_demo_is_idempotent_and_prints_the_login(runner):
    first = runner.invoke(args=["demo"])
    assert first.exit_code == 0 and "admin@only-apartments.com" in first.output
    count = db.session.query(Property).count()
    assert count >= 12
    second = runner.invoke(args=["demo"])
    assert second.exit_code == 0 and db.session.query(Property).count() == count
    skipped = runner.invoke(args=["demo", "--if-empty"])
    assert "not loaded" in skipped.output and db.session.query(Property).count() == count
    sources = {link.source for link in db.session.query(CalendarLink)}
    assert {"airbnb", "vrbo", "booking", "google"} <= sources


def test_sync_of_unknown_link_fails_and_of_nothing_says_so(runner):
    result = runner.invoke(args=["sync", "4242"])
    assert result.exit_code != 0 and "no such link" in result.output
    result = runner.invoke(args=["sync"])
    assert result.exit_code != 0
    assert runner.invoke(args=["sync", "--all"]).output.strip() == "nothing to sync"


def test_sync_prints_one_line_per_link_and_exits_0_on_link_failure(runner, make_property,
                                                                   make_link, httpserver):
    httpserver.expect_request("/gone.ics").respond_with_data("nope", status=404)
    prop = make_property()
    link = make_link(prop, url=httpserver.url_for("/gone.ics"))
    result = runner.invoke(args=["sync", str(link.id)])
    assert result.exit_code == 0, result.output
    assert f"link {link.id}: error not_found" in result.output


def test_recompute_scores_command(runner, make_property):
    make_property()
    result = runner.invoke(args=["recompute-scores"])
    assert result.exit_code == 0 and "recomputed 1 properties" in result.output


def test_init_db_is_idempotent(runner):
    assert runner.invoke(args=["init-db"]).exit_code == 0
    assert runner.invoke(args=["init-db"]).exit_code == 0
