"""The rough edges a new user met (issue 23), each held by a test: tokens, plurals, wording, limits."""
from __future__ import annotations

import re
from datetime import timedelta

from sqlalchemy import select

from console.extensions import db
from console.models import ApiToken
from console.timeutil import ago, utcnow


def test_a_token_made_for_30_days_says_in_30_days():
    now = utcnow()
    assert ago(now + timedelta(days=30) - timedelta(seconds=5), now) == "in 30 days"
    assert ago(now + timedelta(hours=3) - timedelta(seconds=1), now) == "in 3 hours"
    assert ago(now - timedelta(days=2, hours=23), now) == "2 days ago"  # the past still counts whole days


def test_two_live_tokens_cannot_share_a_name_from_the_cli(app, runner):
    assert runner.invoke(args=["create-token", "ranking", "--role", "viewer"]).exit_code == 0
    again = runner.invoke(args=["create-token", "ranking", "--role", "staff"])
    assert again.exit_code != 0 and "already named 'ranking'" in again.output
    assert db.session.execute(select(ApiToken).filter_by(name="ranking")).scalars().all().__len__() == 1
    assert runner.invoke(args=["revoke-token", "ranking"]).exit_code == 0
    assert runner.invoke(args=["create-token", "ranking", "--role", "viewer"]).exit_code == 0, \
        "a revoked token's name may be used again"


def test_two_live_tokens_cannot_share_a_name_on_the_tokens_page(app, client, login):
    login("admin")
    page = client.get("/tokens/").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    client.post("/tokens/", data={"csrf_token": token, "name": "main-site", "role": "staff"})
    resp = client.post("/tokens/", data={"csrf_token": token, "name": "main-site", "role": "viewer"},
                       follow_redirects=True)
    assert "already named" in resp.get_data(as_text=True)
    assert len(db.session.execute(select(ApiToken).filter_by(name="main-site")).scalars().all()) == 1


def test_the_tokens_page_names_itself_once(app, client, login):
    login("admin")
    page = client.get("/tokens/").get_data(as_text=True)
    assert len(re.findall(r"<h4[^>]*>\s*API tokens", page)) == 1


def test_the_404_page_highlights_no_menu_item(app, client, login):
    login("staff")
    resp = client.get("/properties/999999")
    html = resp.get_data(as_text=True)
    assert resp.status_code == 404 and "Not found" in html
    assert 'class="active"' not in html and "active " not in html.split("</nav>")[0].split("navbar-nav")[1]


def test_not_a_url_at_all_is_told_so_and_a_too_long_one_is_told_its_length():
    import pytest

    from jobs.fetch.addresses import AllowList
    from jobs.fetch.link_urls import LinkUrlError, check_link_url
    with pytest.raises(LinkUrlError) as not_url:
        check_link_url("not a url at all", AllowList.parse(""))
    assert "not a web address" in str(not_url.value) and "too long" not in str(not_url.value)
    with pytest.raises(LinkUrlError) as spaced:
        check_link_url("https://example.com/a b.ics", AllowList.parse(""))
    assert "spaces" in str(spaced.value) and "too long" not in str(spaced.value)
    with pytest.raises(LinkUrlError) as long_one:
        check_link_url("https://example.com/" + "a" * 5000, AllowList.parse(""))
    assert "5,020 characters long" in str(long_one.value)


def test_a_5000_character_address_is_refused_whole_on_the_property_page(app, client, login, make_property):
    from console.models import CalendarLink
    prop = make_property()
    login("staff")
    page = client.get(f"/properties/{prop.id}").get_data(as_text=True)
    assert 'maxlength="2048"' not in page, "the browser must not cut a pasted address silently"
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    url = "https://www.airbnb.com/calendar/ical/1.ics?s=" + "a" * 5000
    resp = client.post(f"/properties/{prop.id}/links/new", data={"csrf_token": token, "url": url, "step": "save"})
    html = resp.get_data(as_text=True)
    assert "5,045 characters long" in html and "at most 2,048" in html
    assert url in html, "the address is kept in the form"
    assert db.session.execute(select(CalendarLink)).first() is None


def test_notifications_count_one_direct_booking_in_the_singular(app, client, login, make_property):
    from jobs.notify.messages import stake_line
    from jobs.notify.store import raise_notification
    from jobs.rules.alerts import Exposure
    prop = make_property()
    raise_notification("link_failing", "Failing: Test Flat", body="b", property_id=prop.id, targets=[],
                       exposure={"direct_bookings": 1, "sellable_nights": 1})
    db.session.commit()
    login("staff")
    html = client.get("/notifications/").get_data(as_text=True)
    assert "1 direct booking," in html and "1 sellable night" in html and "1 direct bookings" not in html
    assert "1 upcoming direct booking and 1 sellable night we" in stake_line(Exposure(1, 1))


def test_viewers_are_not_told_to_link_a_kigo_property(app, client, login):
    login("viewer")
    html = client.get("/kigo/").get_data(as_text=True)
    assert "then link one" not in html and "Linking one is for staff" in html


def test_staff_are_told_to_link_a_kigo_property(app, client, login):
    login("staff")
    assert "then link one" in client.get("/kigo/").get_data(as_text=True)
