"""The console pages a person uses: dashboard, property list with filters, property page."""
import re
from datetime import timedelta

from console.extensions import db
from console.models import CalendarLink
from console.timeutil import iso, utcnow


def _failing(link, kind="not_found", status=404):
    link.last_sync_at = link.last_error_at = utcnow()
    link.last_attempt_ok = False
    link.last_error_kind, link.last_error_http_status = kind, status
    link.last_error_message = "the calendar address answered 404 (not found)"
    link.consecutive_failures = 3
    db.session.commit()


def test_property_list_shows_links_with_source_state_health_and_error(login, make_property,
                                                                       make_link):
    client = login("viewer")
    prop = make_property("Madrid Flat", owner_email="lucia@example.com")
    _failing(make_link(prop, source="google", url="https://calendar.google.com/x.ics"))
    html = client.get("/properties/").get_data(as_text=True)
    assert "Madrid Flat" in html and "lucia@example.com" in html
    assert "google" in html and "active" in html
    assert 'data-health="failing"' in html and 'data-error-kind="not_found"' in html


def test_property_list_filters(login, make_property, make_link):
    client = login("viewer")
    bad = make_property("Bad one")
    _failing(make_link(bad))
    make_property("Quiet one")
    html = client.get("/properties/?health=failing").get_data(as_text=True)
    assert "Bad one" in html and "Quiet one" not in html
    html = client.get("/properties/?q=quiet").get_data(as_text=True)
    assert "Quiet one" in html and "Bad one" not in html
    html = client.get("/properties/?source=ical").get_data(as_text=True)
    assert "Bad one" in html and "Quiet one" not in html


def test_property_page_shows_error_advice_and_codes(login, make_property, make_link,
                                                    make_reservation):
    client = login("viewer")
    prop = make_property("Madrid Flat")
    link = make_link(prop, source="google", url="https://calendar.google.com/x.ics")
    _failing(link)
    block = make_reservation(prop, "external", in_days=3, nights=2, link=link)
    direct = make_reservation(prop, "direct", in_days=20, nights=2)
    html = client.get(f"/properties/{prop.id}").get_data(as_text=True)
    assert "Madrid Flat" in html
    assert "not_found" in html and "What to do" in html and "public" in html.lower()
    assert block.code in html and direct.code in html
    assert 'data-action="sync"' not in html  # a viewer sees no staff actions


def test_staff_can_pause_from_the_property_page_but_viewer_cannot(login, make_property,
                                                                  make_link, client):
    import re
    prop = make_property()
    link = make_link(prop, state="active")
    staff = login("staff")
    page = staff.get(f"/properties/{prop.id}").get_data(as_text=True)
    assert 'data-action="pause"' in page
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    resp = staff.post(f"/properties/{prop.id}/links/{link.id}/pause", data={"csrf_token": token})
    assert resp.status_code == 302
    db.session.expire_all()
    assert db.session.get(CalendarLink, link.id).state == "paused"


def test_viewer_is_refused_staff_actions(login, make_property, make_link):
    import re
    prop = make_property()
    link = make_link(prop, state="active")
    viewer = login("viewer")
    page = viewer.get(f"/properties/{prop.id}").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    resp = viewer.post(f"/properties/{prop.id}/links/{link.id}/pause",
                       data={"csrf_token": token})
    assert resp.status_code == 403
    db.session.expire_all()
    assert db.session.get(CalendarLink, link.id).state == "active"


def test_dashboard_counts_and_failing_links(login, make_property, make_link):
    client = login("viewer")
    prop = make_property("Failing Flat")
    _failing(make_link(prop, source="google", url="https://calendar.google.com/y.ics"))
    ok = make_link(make_property("Fine Flat"))
    ok.last_sync_at = ok.last_success_at = utcnow() - timedelta(minutes=1)
    ok.last_attempt_ok = True
    db.session.commit()
    html = client.get("/").get_data(as_text=True)
    assert 'data-health-count="failing"' in html
    assert "Failing Flat" in html and "Fine Flat" not in html


def test_console_loads_nothing_from_other_hosts(login, make_property):
    import re
    client = login("viewer")
    prop = make_property()
    for path in ("/", "/properties/", f"/properties/{prop.id}", "/login"):
        html = client.get(path).get_data(as_text=True)
        sources = re.findall(r'(?:src|href)="([^"]+)"', html)
        external = [s for s in sources if s.startswith(("http://", "https://", "//"))]
        assert external == [], (path, external)
    for asset in re.findall(r'(?:src|href)="(/static/[^"]+)"', client.get("/").get_data(
            as_text=True)):
        assert client.get(asset).status_code == 200, asset


def test_kigo_link_shows_the_raw_instant_booking_value(login, make_property, make_link):
    client = login("staff")
    prop = make_property()
    make_link(prop, url=None, source="kigo", kigo_code="ACC1", kigo_property_id=101,
              kigo_instant_booking_raw="false")
    html = client.get(f"/properties/{prop.id}").get_data(as_text=True)
    assert 'data-test="kigo-instant-booking"' in html and ">false<" in html
    assert f"/kigo/?property_id={prop.id}" in html


def _overbooking(prop, direct, external, counts, attribution, days_ago=1):
    from console.models import Overbooking
    night = (utcnow() - timedelta(days=days_ago)).date()
    row = Overbooking(property_id=prop.id, direct_code=direct, external_code=external,
                      first_night=night, last_night=night, nights=1, link_source="airbnb",
                      detected_at=utcnow() - timedelta(days=days_ago),
                      counts_against_owner=counts, attribution=attribution)
    db.session.add(row)
    db.session.commit()
    return row


def _snapshot(prop, hours_ago, overbookings=(), attempts=10, successes=10):
    """A score snapshot with the real formula's components, computed `hours_ago`."""
    from console.models import ScoreSnapshot
    from jobs.rules.score import OverbookingRecord, OwnerRecord, compute_score
    at = utcnow() - timedelta(hours=hours_ago)
    record = OwnerRecord(
        overbookings=[OverbookingRecord(at - timedelta(days=1), 1, counts) for counts in overbookings],
        sync_attempts_30d=attempts, sync_successes_30d=successes, last_success_at=at)
    score = compute_score(record, at)
    row = ScoreSnapshot(property_id=prop.id, score=score.value, components=score.components,
                        computed_at=at)
    db.session.add(row)
    db.session.commit()
    return row


def test_property_page_shows_overbookings_risk_score_and_why_it_changed(login, make_property):
    from markupsafe import escape

    from jobs.sync.property_state import recompute_property
    client = login("viewer")
    prop = make_property("Cádiz Loft")
    counted = _overbooking(prop, "OA-COUNTED", "EX-COUNTED", True,
                           "the link had been failing for 2 days when the guest booked")
    spared = _overbooking(prop, "OA-RACE", "EX-RACE", False,
                          "the external stay was created within one sync interval of our booking")
    recompute_property(prop, scores=False)  # no link + a recent counted overbooking
    db.session.commit()
    factors = prop.risk_factors
    assert {"no_active_link", "recent_overbooking"} <= {f["kind"] for f in factors}
    first = _snapshot(prop, hours_ago=27, overbookings=[False])
    newest = _snapshot(prop, hours_ago=3, overbookings=[False, True], successes=8)
    assert newest.score < first.score

    html = client.get(f"/properties/{prop.id}").get_data(as_text=True)
    # Overbookings: both, each with its attribution and whether it counts.
    assert f'data-overbooking-id="{counted.id}" data-counts="yes"' in html
    assert f'data-overbooking-id="{spared.id}" data-counts="no"' in html
    assert "counts against the owner" in html and "does not count" in html
    assert str(escape(counted.attribution)) in html and str(escape(spared.attribution)) in html
    # Risk: every factor with its message and advice.
    assert f'data-risk="{prop.risk_level}"' in html
    for factor in factors:
        assert f'data-factor="{factor["kind"]}"' in html
        assert str(escape(factor["message"])) in html and str(escape(factor["advice"])) in html
    # Score: the current value and its components.
    assert f'<span data-test="score-value">{newest.score}</span>' in html
    for name in ("overbookings", "sync_success", "sync_freshness", "hygiene"):
        assert f'data-component="{name}"' in html
    assert "1 counted against the owner, 1 not counted" in html
    assert "8 of 10 syncs succeeded in 30 days" in html
    # History: newest first, with when and why.
    assert html.index(f'data-snapshot-id="{newest.id}"') < html.index(f'data-snapshot-id="{first.id}"')
    assert "3 hours ago" in html and "27 hours ago" in html
    assert f"({newest.score - first.score:+d})" in html
    assert "Overbookings: 1 counted against the owner (was 0): 50 to 30.15 points." in html
    assert "Sync success: 80% of 10 syncs in 30 days succeeded (was 100%): 20 to 16 points." in html
    assert "First score for this property." in html


def test_the_scores_last_success_is_said_as_of_now_not_as_of_when_it_was_computed(login, make_property, api):
    prop = make_property()
    snap = _snapshot(prop, hours_ago=5)  # computed 5 hours ago, right after a successful sync
    html = login("viewer").get(f"/properties/{prop.id}").get_data(as_text=True)
    shown = re.search(r'data-test="last-success"><time[^>]*>([^<]+)</time>', html).group(1)
    assert shown == "5 hours ago"  # was "just now", frozen in the stored age
    part = api("viewer").get(f"/properties/{prop.id}").get_json()["score"]["components"]["sync_freshness"]
    assert part["last_success_at"] == iso(snap.computed_at) and part["last_success_age_hours"] == 0


def test_a_score_stored_before_the_moment_was_kept_still_reads_as_of_now(login, make_property, api):
    from console.models import ScoreSnapshot
    prop = make_property()
    snap = _snapshot(prop, hours_ago=26)
    old = {**snap.components, "sync_freshness": {
        k: v for k, v in snap.components["sync_freshness"].items() if k != "last_success_at"}}
    db.session.execute(db.update(ScoreSnapshot).where(ScoreSnapshot.id == snap.id).values(components=old))
    prop.score_components = old
    db.session.commit()
    html = login("viewer").get(f"/properties/{prop.id}").get_data(as_text=True)
    assert re.search(r'data-test="last-success"><time[^>]*>26 hours ago</time>', html)
    body = api("viewer").get(f"/properties/{prop.id}").get_json()
    assert body["score"]["components"]["sync_freshness"]["last_success_at"] == iso(snap.computed_at)
    history = api("viewer").get(f"/properties/{prop.id}/score/history").get_json()["items"]
    assert history[0]["components"]["sync_freshness"]["last_success_at"] == iso(snap.computed_at)


def test_property_page_score_history_keeps_the_last_five_each_explained(login, make_property):
    client = login("viewer")
    prop = make_property()
    snaps = [_snapshot(prop, hours_ago=100 - i, successes=10 - i) for i in range(7)]
    html = client.get(f"/properties/{prop.id}").get_data(as_text=True)
    shown = [s for s in snaps if f'data-snapshot-id="{s.id}"' in html]
    assert shown == snaps[2:]
    # The oldest row shown is explained against the snapshot before it, not as a first score.
    assert "First score for this property." not in html
    assert html.count('data-test="score-reason"') == 5
    assert "Sync success: 60% of 10 syncs in 30 days succeeded (was 70%)" in html


def test_property_page_without_a_score_says_so(login, make_property):
    client = login("viewer")
    prop = make_property()
    html = client.get(f"/properties/{prop.id}").get_data(as_text=True)
    assert "No score computed yet." in html and 'data-test="score-history"' not in html


def _staff_action(staff, prop, link, action):
    import re
    page = staff.get(f"/properties/{prop.id}").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    return staff.post(f"/properties/{prop.id}/links/{link.id}/{action}",
                      data={"csrf_token": token}, follow_redirects=True)


def test_activate_from_the_page_queues_one_sync_and_the_scheduler_does_not_queue_another(
        app, login, make_property, make_link, redis_conn):
    from rq import Queue

    from jobs.tasks import due_link_ids
    prop = make_property()
    link = make_link(prop, state="linked")
    resp = _staff_action(login("staff"), prop, link, "activate")
    assert "queued" in resp.get_data(as_text=True)
    db.session.expire_all()
    stored = db.session.get(CalendarLink, link.id)
    assert stored.state == "active" and stored.next_sync_at > utcnow()
    assert [job.args for job in Queue("forced", connection=redis_conn).get_jobs()] == [(link.id,)]
    assert link.id not in due_link_ids()


def test_activate_from_the_page_with_redis_down_changes_nothing(app, login, make_property,
                                                               make_link):
    import socket
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    app.config["REDIS_URL"] = f"redis://127.0.0.1:{port}/0"  # nothing listens there
    app.extensions.pop("csc_redis", None)
    prop = make_property()
    link = make_link(prop, state="linked")
    resp = _staff_action(login("staff"), prop, link, "activate")
    assert resp.status_code == 200 and "nothing was changed" in resp.get_data(as_text=True)
    db.session.expire_all()
    stored = db.session.get(CalendarLink, link.id)
    assert (stored.state, stored.activated_at, stored.next_sync_at) == ("linked", None, None)


def test_property_page_history_says_what_each_sync_changed(login, make_property, make_link):
    from console.models import SyncRun
    prop = make_property()
    link = make_link(prop, state="active")
    db.session.add(SyncRun(link_id=link.id, started_at=utcnow(), outcome="changed", added=0,
                           updated=1, removed=1, details={
                               "added": [], "updated": ["EX-MOVED"], "removed": ["EX-GONE"],
                               "notes": ["TZID 'Mars/Olympus' unknown: read in Europe/Madrid"],
                               "changes": [
                                   {"code": "EX-MOVED", "change": "updated", "check_in": "2027-01-06",
                                    "check_out": "2027-01-10", "was": ["2027-01-05", "2027-01-09"]},
                                   {"code": "EX-GONE", "change": "removed", "check_in": "2027-02-01",
                                    "check_out": "2027-02-03"}]}))
    db.session.commit()
    html = login("viewer").get(f"/properties/{prop.id}").get_data(as_text=True)
    assert 'data-test="run-changes"' in html
    assert "EX-MOVED</span> updated: 2027-01-06 → 2027-01-10 (was 2027-01-05 → 2027-01-09)" in html
    assert "EX-GONE</span> removed: 2027-02-01 → 2027-02-03" in html
    assert "Mars/Olympus" in html


def test_errors_are_pages_of_the_console_and_json_under_the_api(client, login, api, make_property):
    login("viewer")
    missing = client.get("/properties/999999")
    assert missing.status_code == 404 and 'data-fault="404"' in missing.get_data(as_text=True)
    assert "Dashboard" in missing.get_data(as_text=True)  # inside the console's menu
    # headed by what happened, not by the name of the view it came through
    assert re.search(r'<h4 class="mb-3">\s*Not found', missing.get_data(as_text=True))
    assert not re.search(r'<h4 class="mb-4">\s*Dashboard', missing.get_data(as_text=True))
    refused = client.post("/properties/1/links/new", data={})
    assert refused.status_code in (400, 403)  # CSRF first, then the role: never a bare page
    wrong = client.put("/properties/")
    assert wrong.status_code == 405 and 'data-fault="405"' in wrong.get_data(as_text=True)
    assert "Allow" in wrong.headers
    assert api("viewer").get("/nothing").get_json()["error"]["code"] == "not_found"


def test_a_viewer_posting_a_staff_form_gets_the_styled_403(app, client, login, make_property):
    prop = make_property()
    login("viewer")
    import re
    token = re.search(r'name="csrf_token" value="([^"]+)"',
                      client.get("/").get_data(as_text=True)).group(1)
    resp = client.post(f"/properties/{prop.id}/links/new", data={"csrf_token": token, "url": "x"})
    assert resp.status_code == 403 and 'data-fault="403"' in resp.get_data(as_text=True)


def test_the_property_page_title_names_the_property_and_plurals_are_right(client, login,
                                                                          make_property):
    prop = make_property(name="Casa Única")
    login("viewer")
    page = client.get(f"/properties/{prop.id}").get_data(as_text=True)
    assert "<title>Casa Única · Properties" in page
    assert "1 property</span>" in client.get("/properties/").get_data(as_text=True)


def test_the_list_filters_by_error_kind_and_held_and_finds_a_city(client, login, api, make_property,
                                                                  make_link):
    from console.timeutil import utcnow
    from tests.factories import db as _db
    gone = make_property(name="Gone Flat", city="Cádiz")
    link = make_link(gone, source="google")
    link.last_sync_at, link.last_attempt_ok, link.last_error_kind = utcnow(), False, "not_found"
    held = make_property(name="Held Flat", city="Sevilla")
    make_link(held, hold_state={"confirmations": 0}, warnings=[{"kind": "suspicious_empty", "message": "m"}])
    make_link(make_property(name="Calm Flat", city="Toledo"))
    _db.session.commit()
    login("viewer")

    def names(query: str) -> list[str]:
        html = client.get(f"/properties/?{query}").get_data(as_text=True)
        return [n for n in ("Gone Flat", "Held Flat", "Calm Flat") if f">{n}</a>" in html]
    assert names("error=not_found") == ["Gone Flat"]
    assert names("error=rate_limited") == []
    assert names("held=1") == ["Held Flat"]
    assert names("q=sevilla") == ["Held Flat"]
    assert 'data-test="held"' in client.get("/properties/?held=1").get_data(as_text=True)
    assert [p["name"] for p in api("viewer").get("/properties?error=not_found").get_json()["items"]] == \
        ["Gone Flat"]
    assert [p["name"] for p in api("viewer").get("/properties?held=true").get_json()["items"]] == ["Held Flat"]


def test_the_dashboard_groups_failing_links_by_error_and_source_and_counts_held(client, login,
                                                                                make_property,
                                                                                make_link):
    from console.timeutil import utcnow
    for n, (source, kind) in enumerate([("google", "not_found"), ("google", "not_found"),
                                        ("airbnb", "forbidden")]):
        link = make_link(make_property(name=f"Flat {n}"), source=source)
        link.last_sync_at, link.last_attempt_ok, link.last_error_kind = utcnow(), False, kind
    make_link(make_property(name="Held"), hold_state={"confirmations": 0})
    make_property(name="Calm")
    db.session.commit()
    login("viewer")
    html = client.get("/").get_data(as_text=True)
    by_error = html.split('data-test="by-error"')[1].split("</table>")[0]
    assert "?error=not_found" in by_error and "<td>2</td><td>2</td><td>40.0 %</td>" in by_error
    by_source = html.split('data-test="by-source"')[1].split("</table>")[0]
    assert "?source=airbnb" in by_source and "<td>1</td><td>1</td><td>20.0 %</td>" in by_source
    assert 'href="/properties/?held=1"' in html
    held = html.split('data-test="held-count"')[1]
    assert '<div class="h4 mb-0">1</div>' in held
