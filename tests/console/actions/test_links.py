"""Link actions, called as the API and the pages call them: every refusal is one ActionError with the
documented code (docs/api.md), message and field, and a refused action changes nothing."""
from __future__ import annotations

import socket

import pytest
from rq.job import Job
from sqlalchemy import func, select

from config import TestConfig
from console import create_app
from console.actions import links as actions
from console.actions.errors import ActionError
from console.extensions import db
from console.models import CalendarLink, Reservation
from jobs.broker import redis_connection

EMBED = "https://calendar.google.com/calendar/embed?src=owner%40example.com"


def link_count() -> int:
    return db.session.execute(select(func.count()).select_from(CalendarLink)).scalar()


def refusal(call, *args) -> ActionError:
    with pytest.raises(ActionError) as caught:
        call(*args)
    return caught.value


def test_a_google_embed_page_is_refused_with_the_ical_address_to_use(make_property):
    prop = make_property()
    err = refusal(actions.add_ical_link, prop, EMBED)
    assert (err.code, err.field, err.status) == ("not_ical_url", "url", 422)
    assert err.extra["suggested_url"] == ("https://calendar.google.com/calendar/ical/"
                                          "owner%40example.com/public/basic.ics")
    assert link_count() == 0
    link = actions.add_ical_link(prop, err.extra["suggested_url"])
    assert (link.state, link.source) == ("linked", "google")


def test_webcal_is_stored_as_https_and_a_second_copy_is_refused_keeping_the_first(make_property):
    prop = make_property()
    first = actions.add_ical_link(prop, "webcal://127.0.0.1:1/owner.ics")
    assert first.url == "https://127.0.0.1:1/owner.ics"
    err = refusal(actions.add_ical_link, prop, "https://127.0.0.1:1/owner.ics")
    assert (err.code, err.field) == ("duplicate_link", "url")
    assert [link.id for link in db.session.execute(select(CalendarLink)).scalars()] == [first.id]


@pytest.mark.parametrize("url, code", [(None, "missing_field"), ("  ", "invalid_field"),
                                       ("ftp://example.com/a.ics", "invalid_url"),
                                       ("x" * 2049, "invalid_field")])
def test_a_bad_url_names_the_field(make_property, url, code):
    err = refusal(actions.add_ical_link, make_property(), url)
    assert (err.code, err.field) == (code, "url") and link_count() == 0


def test_an_unknown_or_kigo_source_is_refused_for_an_ical_link(make_property):
    for source in ("kigo", "myspace"):
        err = refusal(actions.add_ical_link, make_property(), "https://127.0.0.1:1/a.ics", source)
        assert (err.code, err.field) == ("invalid_field", "source")
    assert link_count() == 0


@pytest.mark.parametrize("code, prop_id, expected", [
    ("ACC1", None, ("missing_field", "kigo_property_id")),
    ("ACC1", True, ("invalid_field", "kigo_property_id")),
    ("ACC1", 0, ("invalid_field", "kigo_property_id")),
    ("ACC1", 2 ** 63, ("invalid_field", "kigo_property_id")),
    ("ACC1", "101", ("invalid_field", "kigo_property_id")),
    (None, 101, ("missing_field", "kigo_code")),
    ("x" * 65, 101, ("invalid_field", "kigo_code")),
])
def test_a_kigo_link_needs_an_account_code_and_a_whole_property_id(make_property, code, prop_id,
                                                                   expected):
    err = refusal(actions.add_kigo_link, make_property(), code, prop_id)
    assert (err.code, err.field) == expected and link_count() == 0


def test_the_same_kigo_property_is_linked_once(make_property):
    prop = make_property()
    link = actions.add_kigo_link(prop, " ACC1 ", 101)
    assert (link.source, link.kigo_code, link.kigo_property_id, link.state) == (
        "kigo", "ACC1", 101, "linked")
    err = refusal(actions.add_kigo_link, prop, "ACC1", 101)
    assert (err.code, err.field) == ("duplicate_link", "kigo_property_id") and link_count() == 1


def test_activate_queues_one_sync_and_schedules_the_next_turn(app, make_property, make_link):
    link = make_link(make_property(), state="linked")
    job_id = actions.activate_link(link)
    assert link.state == "active" and link.activated_at is not None and link.next_sync_at
    job = Job.fetch(job_id, connection=redis_connection(app))
    assert job.func_name == "jobs.tasks.sync_link_job" and job.args == (link.id,)
    assert actions.sync_link_now(link) == job_id  # one job per link while it waits


def test_sync_now_and_resume_refuse_a_link_in_the_wrong_state(make_property, make_link):
    linked = make_link(make_property(), state="linked")
    err = refusal(actions.sync_link_now, linked)
    assert (err.code, err.status) == ("link_not_active", 409) and linked.state == "linked"
    active = make_link(linked.property, url="http://127.0.0.1:1/b.ics")
    err = refusal(actions.resume_link, active)
    assert (err.code, err.status) == ("link_not_paused", 409)


def test_pause_then_resume_syncs_again(app, make_property, make_link):
    link = make_link(make_property())
    actions.pause_link(link)
    assert (link.state, link.next_sync_at) == ("paused", None)
    job_id = actions.resume_link(link)
    assert link.state == "active" and Job.fetch(job_id, connection=redis_connection(app))


def test_accepting_needs_a_held_change(make_property, make_link):
    link = make_link(make_property())
    err = refusal(actions.accept_held_change, link)
    assert (err.code, err.status) == ("nothing_held", 409) and not link.accept_next_change


def test_delete_removes_the_links_blocks_and_nothing_else(make_property, make_link,
                                                          make_reservation):
    prop = make_property()
    link, other = make_link(prop), make_link(prop, url="http://127.0.0.1:1/other.ics")
    make_reservation(prop, origin="external", link=link, uid="a")
    make_reservation(prop, origin="external", link=link, uid="b", in_days=20)
    kept_block = make_reservation(prop, origin="external", link=other, uid="c")
    direct = make_reservation(prop, origin="direct", in_days=40)
    assert actions.delete_link(link) == 2
    left = db.session.execute(select(Reservation.code).order_by(Reservation.code)).scalars().all()
    assert left == sorted([kept_block.code, direct.code])
    assert db.session.get(CalendarLink, other.id) is not None


def test_a_missing_link_or_one_of_another_property_is_not_found(make_property, make_link):
    link = make_link(make_property())
    for call in ((link.id + 1, None), (link.id, link.property_id + 1)):
        err = refusal(actions.get_link, *call)
        assert (err.code, err.status) == ("not_found", 404)
    assert actions.get_link(link.id, link.property_id) is link


@pytest.fixture
def app_without_redis(backends):
    """An app on the same database whose Redis is a closed loopback port."""
    probe = socket.socket()
    probe.bind(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()
    return create_app(TestConfig(env={**backends, "REDIS_URL": f"redis://127.0.0.1:{port}/0"}))


def test_a_queue_that_does_not_answer_undoes_the_activation(app, app_without_redis,
                                                            make_property, make_link):
    link_id = make_link(make_property(), state="linked").id
    db.session.remove()
    with app_without_redis.app_context():
        link = db.session.get(CalendarLink, link_id)
        err = refusal(actions.activate_link, link)
        assert (err.code, err.status) == ("queue_unavailable", 503)
        assert "nothing was changed" in err.message
        db.session.remove()
    stored = db.session.get(CalendarLink, link_id)
    assert (stored.state, stored.activated_at, stored.next_sync_at) == ("linked", None, None)
