"""No N+1: every list endpoint and page sends the same number of statements at two page sizes."""
from __future__ import annotations

from datetime import timedelta

import pytest

from console.extensions import db
from console.models import CalendarLink, Overbooking, Owner, Property, Reservation, ScoreSnapshot, SyncRun
from console.timeutil import utcnow
from tests.statements import counted


def fleet(n: int, start: int = 0) -> list[Property]:
    """n properties, each with two failing links of n runs, n stays, an overbooking and a score."""
    now = utcnow()
    props = []
    for i in range(start, start + n):
        prop = Property(name=f"Flat {i:03d}", owner=Owner(email=f"owner{i}@example.com"),
                        external_ref=f"REF-{i}", city="Sevilla")
        db.session.add(prop)
        for j in range(2):
            link = CalendarLink(property=prop, source="airbnb", url=f"http://127.0.0.1:1/{i}-{j}.ics",
                                state="active", last_sync_at=now, last_attempt_ok=False,
                                last_error_kind="not_found", last_error_at=now)
            link.runs.extend(SyncRun(started_at=now - timedelta(minutes=k), outcome="error",
                                     error_kind="not_found") for k in range(n))
            db.session.add(link)
        db.session.flush()
        db.session.add_all([
            Reservation(code=f"EX-L{i:04d}{k:03d}", property_id=prop.id, origin="external",
                        link_id=link.id, check_in=now.date() + timedelta(days=4 + 3 * k),
                        check_out=now.date() + timedelta(days=6 + 3 * k)) for k in range(n)])
        db.session.add_all([
            Reservation(code=f"OA-L{i:07d}", property_id=prop.id, origin="direct",
                        check_in=now.date() + timedelta(days=3), check_out=now.date() + timedelta(days=5)),
            Overbooking(property_id=prop.id, direct_code=f"OA-L{i:07d}", external_code=f"EX-L{i:04d}000",
                        link_id=link.id, first_night=now.date(), last_night=now.date(), nights=1,
                        attribution="test"),
            ScoreSnapshot(property_id=prop.id, score=50 + i % 40, components={"version": 1})])
        props.append(prop)
    db.session.commit()
    return props


def statements_of(get, path: str) -> int:
    get(path)  # the first request of a token or a session writes when it was last used
    db.session.expunge_all()  # the test's session is the request's: nothing may come from its memory
    with counted() as seen:
        resp = get(path)
    assert resp.status_code == 200, path
    return len(seen)


API_LISTS = ["/properties?per_page={n}", "/overbookings", "/scores?per_page={n}",
             "/links/{link}/runs", "/properties/{prop}/reservations"]
PAGES = ["/properties/", "/overbookings/", "/", "/properties/{prop}", "/notifications/"]


def _growth(get, template: str) -> tuple[int, int]:
    """Statements of `template` over a fleet of 3 and of 12 properties (a page of 3 and of 12)."""
    counts = []
    for n in (3, 12):
        props = fleet(n, start=100 * len(counts))
        link = db.session.query(CalendarLink).filter_by(property_id=props[0].id).first()
        counts.append(statements_of(get, template.format(n=n, prop=props[0].id, link=link.id)))
    return counts[0], counts[1]


@pytest.mark.parametrize("template", API_LISTS)
def test_api_lists_send_the_same_statements_at_two_page_sizes(api, template):
    viewer = api("viewer")
    small, large = _growth(viewer.get, template)
    assert large == small, f"{template}: {small} statements for 3 rows, {large} for 12"


@pytest.mark.parametrize("template", PAGES)
def test_console_pages_send_the_same_statements_at_two_fleet_sizes(login, template):
    client = login("staff")
    small, large = _growth(client.get, template)
    assert large == small, f"{template}: {small} statements for 3 rows, {large} for 12"
