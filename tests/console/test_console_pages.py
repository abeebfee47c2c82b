"""The console pages a person uses: dashboard, property list with filters, property page."""
from datetime import timedelta

from console.extensions import db
from console.models import CalendarLink
from console.timeutil import utcnow


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
