"""Bulk resync, pause and resume on the filtered property list: confirm, summary, same list, refusals."""
from __future__ import annotations

import re

import pytest
from rq import Queue

from console.extensions import db
from console.models import CalendarLink
from console.timeutil import utcnow


def _failing(link, kind="forbidden"):
    link.last_sync_at = link.last_error_at = utcnow()
    link.last_attempt_ok, link.last_error_kind, link.consecutive_failures = False, kind, 3
    db.session.commit()
    return link


def _token(html: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)


def _states() -> dict[int, tuple]:
    db.session.expire_all()
    return {link.id: (link.state, link.next_sync_at) for link in db.session.query(CalendarLink)}


def _queued(redis_conn) -> list[int]:
    return sorted(job.args[0] for job in Queue("forced", connection=redis_conn).jobs)


@pytest.fixture
def fleet(make_property, make_link):
    """Google links refused access (3 active, 1 paused), one Google link failing otherwise, an Airbnb one."""
    links = {}
    for n in range(3):
        prop = make_property(f"Flat {n}", owner_email=f"o{n}@example.com")
        links[f"forbidden{n}"] = _failing(make_link(prop, source="google"))
        if n == 0:  # a healthy Airbnb link on the same property: not the filter's business
            links["airbnb_ok"] = make_link(prop, source="airbnb")
    paused = make_property("Flat paused", owner_email="p@example.com")
    links["paused"] = _failing(make_link(paused, source="google", state="paused"))
    other = make_property("Flat other", owner_email="x@example.com")
    links["timeout"] = _failing(make_link(other, source="google"), kind="timeout")
    return links


def _post(client, path, data):
    html = client.get("/properties/", query_string={k: v for k, v in data.items()
                                                    if k in ("source", "error", "q")}).get_data(as_text=True)
    return client.post(path, data={**data, "csrf_token": _token(html)})


FILTER = {"source": "google", "error": "forbidden"}


def test_staff_bulk_resync_of_all_matching_queues_each_active_link_and_refuses_the_paused(
        login, fleet, redis_conn):
    client = login("staff")
    before = _states()
    confirm = _post(client, "/properties/bulk/confirm", {**FILTER, "all": "1", "action": "resync"})
    page = confirm.get_data(as_text=True)
    assert confirm.status_code == 200
    assert "Resync 3 links of 4 properties" in page
    assert "1 link will be left as it is: 1 paused (resume them to sync them)" in page
    assert _queued(redis_conn) == [] and _states() == before  # the confirm step changes nothing
    done = _post(client, "/properties/bulk/run", {**FILTER, "all": "1", "action": "resync"})
    assert done.status_code == 302
    assert done.headers["Location"] == "/properties/?source=google&error=forbidden"
    expected = sorted(fleet[f"forbidden{n}"].id for n in range(3))
    assert _queued(redis_conn) == expected  # not the Airbnb link, not the timeout one, not the paused
    for link_id in expected:  # the same marker a single "Synchronize now" leaves
        assert redis_conn.get(f"csc:link-job:{link_id}") is not None
    html = client.get(done.headers["Location"]).get_data(as_text=True)
    assert "3 links queued, 1 left as it is: 1 paused (resume them to sync them)." in html
    again = _post(client, "/properties/bulk/run", {**FILTER, "all": "1", "action": "resync"})
    html = client.get(again.headers["Location"]).get_data(as_text=True)
    assert "0 links queued (3 already queued or running, not queued twice), 1 left as it is" in html
    assert _queued(redis_conn) == expected


def test_bulk_pause_of_checked_rows_pauses_only_their_matching_links(login, fleet, redis_conn):
    client = login("staff")
    chosen = [fleet["forbidden0"].property_id, fleet["forbidden1"].property_id]
    before = _states()
    done = _post(client, "/properties/bulk/run", {**FILTER, "ids": chosen, "action": "pause"})
    html = client.get(done.headers["Location"]).get_data(as_text=True)
    assert "2 links paused." in html
    after = _states()
    for name in ("forbidden0", "forbidden1"):
        assert after[fleet[name].id] == ("paused", None)
    unchanged = {k: v for k, v in after.items() if k not in (fleet["forbidden0"].id, fleet["forbidden1"].id)}
    assert unchanged == {k: v for k, v in before.items() if k in unchanged}  # Airbnb link stays active


def test_bulk_pause_of_a_propertys_last_active_link_shows_no_active_link_at_once(login, fleet):
    client = login("staff")
    chosen = [fleet["forbidden0"].property_id, fleet["forbidden1"].property_id]
    _post(client, "/properties/bulk/run", {**FILTER, "ids": chosen, "action": "pause"})
    db.session.expire_all()
    alone, with_airbnb = fleet["forbidden1"].property, fleet["forbidden0"].property
    assert "no_active_link" in {f["kind"] for f in alone.risk_factors}
    assert "no_active_link" not in {f["kind"] for f in with_airbnb.risk_factors or []}
    assert alone.risk_computed_at is not None and alone.score_computed_at is not None


def test_bulk_resume_activates_paused_links_and_queues_them(login, fleet, redis_conn):
    client = login("staff")
    done = _post(client, "/properties/bulk/run", {"source": "google", "all": "1", "action": "resume"})
    html = client.get(done.headers["Location"]).get_data(as_text=True)
    assert "1 link resumed and queued, 4 left as they are: 4 not paused (already syncing)." in html
    state, turn = _states()[fleet["paused"].id]
    assert state == "active" and turn > utcnow()
    assert _queued(redis_conn) == [fleet["paused"].id]


def test_a_resume_without_the_queue_leaves_the_links_paused(login, fleet, app):
    client = login("staff")
    app.config["REDIS_URL"] = "redis://127.0.0.1:1/0"  # nothing listens there
    app.extensions.pop("csc_redis", None)
    before = _states()
    done = _post(client, "/properties/bulk/run", {"source": "google", "all": "1", "action": "resume"})
    html = client.get(done.headers["Location"]).get_data(as_text=True)
    assert "unreachable" in html and "nothing was queued" in html
    assert _states() == before
    assert db.session.get(CalendarLink, fleet["paused"].id).activated_at is None


def test_a_viewer_sees_no_bulk_form_and_is_refused_with_nothing_changed(login, fleet, redis_conn):
    client = login("viewer")
    html = client.get("/properties/").get_data(as_text=True)
    assert 'id="bulk"' not in html and 'name="ids"' not in html and "Resync" not in html
    before = _states()
    for path in ("/properties/bulk/confirm", "/properties/bulk/run"):
        resp = _post(client, path, {"all": "1", "action": "pause"})
        assert resp.status_code == 403
        assert "Not allowed" in resp.get_data(as_text=True)  # the console's own 403 page
    assert _states() == before and _queued(redis_conn) == []


def test_all_matching_takes_exactly_the_filtered_set(login, make_property, make_link):
    client = login("staff")
    inside = [make_link(make_property(f"Casa Málaga {n}", owner_email=f"m{n}@example.com")) for n in range(4)]
    outside = [make_link(make_property(f"Casa Sevilla {n}", owner_email=f"s{n}@example.com")) for n in range(3)]
    done = _post(client, "/properties/bulk/run", {"q": "malaga", "all": "1", "action": "pause"})
    assert done.headers["Location"] == "/properties/?q=malaga"
    states = _states()
    assert [states[link.id][0] for link in inside] == ["paused"] * 4
    assert [states[link.id][0] for link in outside] == ["active"] * 3


def test_nothing_selected_changes_nothing(login, fleet, redis_conn):
    client = login("staff")
    before = _states()
    resp = _post(client, "/properties/bulk/confirm", {**FILTER, "action": "pause"})
    html = client.get(resp.headers["Location"]).get_data(as_text=True)
    assert "Nothing selected" in html and _states() == before and _queued(redis_conn) == []


def test_a_post_without_csrf_token_is_refused(login, fleet):
    client = login("staff")
    before = _states()
    resp = client.post("/properties/bulk/run", data={"all": "1", "action": "pause"})
    assert resp.status_code == 400 and _states() == before


def test_a_large_resync_is_fanned_out_and_each_link_gets_its_own_job(app, fleet, redis_conn):
    from jobs.queue import FAN_OUT_JOB, enqueue_link_syncs
    from jobs.tasks import fan_out_link_syncs_job
    ids = sorted(fleet[f"forbidden{n}"].id for n in range(3))
    assert enqueue_link_syncs(ids, fan_out_above=2) == (3, 0)
    fan_outs = Queue("forced", connection=redis_conn).jobs
    assert [(job.func_name, job.args[0]) for job in fan_outs] == [(FAN_OUT_JOB, ids)]
    assert fan_out_link_syncs_job(*fan_outs[0].args) == "3 link syncs queued, 0 already queued or running"
    fan_outs[0].delete()
    assert _queued(redis_conn) == ids
    assert enqueue_link_syncs(ids, fan_out_above=2) == (0, 3)  # their jobs are live: not queued twice
    assert _queued(redis_conn) == ids
