"""Batches of links synced concurrently: every result applied, deletions in flight, one link crashing."""
from __future__ import annotations

import threading

import pytest
from pytest_httpserver import HTTPServer
from sqlalchemy import delete, text
from werkzeug import Response

from console.extensions import db
from console.models import CalendarLink, Reservation
from console.timeutil import utcnow
from jobs.sync.runner import sync_links
from tests.jobs.feeds import airbnb_feed, all_day, calendar, event
from tests.jobs.sync.test_feeds import FeedServer, blocks, dates, day, fresh_link, runs


@pytest.fixture
def servers():
    """Three threaded loopback feed servers (standing for three providers)."""
    started = [HTTPServer(host="127.0.0.1", port=0, threaded=True) for _ in range(3)]
    for server in started:
        server.start()
    yield started
    for server in started:
        server.clear()
        server.stop()


def test_thirty_links_on_three_servers_are_all_applied(app, servers, make_property, make_link):
    app.config["FETCH_PER_HOST_LIMIT"] = 4
    expected = {}
    for n in range(30):
        stays = [(day(3 + n), day(5 + n), "Reserved"), (day(100 + n), day(101 + n), "Reserved")][: 1 + n % 2]
        feed = FeedServer(servers[n % 3], f"/feed{n}.ics", airbnb_feed(stays))
        link = make_link(make_property(name=f"Flat {n}"), url=feed.url, source="airbnb")
        expected[link.id] = [(ci, co) for ci, co, _s in stays]
    summaries = sync_links(list(expected))
    assert sorted(s.link_id for s in summaries) == sorted(expected)
    assert {s.outcome for s in summaries} == {"changed"}
    for link_id, stays in expected.items():
        assert dates(link_id) == stays
        assert [r.outcome for r in runs(link_id)] == ["changed"]
    again = sync_links(list(expected))
    assert {s.outcome for s in again} == {"unchanged"}


def test_link_deleted_while_its_fetch_is_in_flight_is_skipped_cleanly(
        app, httpserver, make_property, make_link):
    prop = make_property()
    other = FeedServer(httpserver, "/other.ics", airbnb_feed([(day(3), day(5), "Reserved")]))
    other_link = make_link(prop, url=other.url, source="airbnb")
    doomed = make_link(prop, url=httpserver.url_for("/doomed.ics"), source="airbnb")
    engine, doomed_id = db.engine, doomed.id

    def delete_then_answer(_request):
        # Staff delete the link (another connection) while its feed is being read.
        with engine.begin() as conn:
            conn.execute(delete(Reservation).where(Reservation.link_id == doomed_id))
            conn.execute(delete(CalendarLink).where(CalendarLink.id == doomed_id))
        return Response(airbnb_feed([(day(9), day(12), "Reserved")]), content_type="text/calendar")
    httpserver.expect_request("/doomed.ics").respond_with_handler(delete_then_answer)
    summaries = {s.link_id: s for s in sync_links([doomed_id, other_link.id])}
    assert summaries[doomed_id].outcome == "skipped"
    assert summaries[other_link.id].outcome == "changed"
    db.session.expire_all()
    assert db.session.get(CalendarLink, doomed_id) is None
    assert db.session.query(Reservation).filter_by(link_id=doomed_id).count() == 0
    assert dates(other_link.id) == [(day(3), day(5))]


POISON_UID = "poison@example.com"


@pytest.fixture
def poisoned_blocks(app):
    """A real database trigger that refuses to store one UID: a crash in the middle of applying a result."""
    with db.engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            conn.execute(text(
                "CREATE FUNCTION poison_block() RETURNS trigger AS $$ BEGIN "
                f"IF NEW.external_uid = '{POISON_UID}' THEN RAISE EXCEPTION 'poisoned block'; END IF; "
                "RETURN NEW; END $$ LANGUAGE plpgsql"))
            conn.execute(text("CREATE TRIGGER poison_block BEFORE INSERT ON reservations "
                              "FOR EACH ROW EXECUTE FUNCTION poison_block()"))
        else:
            conn.execute(text(
                "CREATE TRIGGER poison_block BEFORE INSERT ON reservations "
                f"WHEN NEW.external_uid = '{POISON_UID}' BEGIN SELECT RAISE(ABORT, 'poisoned block'); END"))
    yield
    db.session.rollback()  # the test's open read transaction would block DROP TRIGGER on PostgreSQL
    with db.engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            conn.execute(text("DROP TRIGGER IF EXISTS poison_block ON reservations"))
            conn.execute(text("DROP FUNCTION IF EXISTS poison_block()"))
        else:
            conn.execute(text("DROP TRIGGER IF EXISTS poison_block"))


def test_crash_while_storing_one_link_keeps_its_blocks_and_other_links_results(
        app, servers, poisoned_blocks, make_property, make_link):
    prop = make_property()
    feeds, links = [], []
    for n in range(6):
        feed = FeedServer(servers[n % 3], f"/f{n}.ics", airbnb_feed([(day(10 + n), day(12 + n), "Reserved")]))
        feeds.append(feed)
        links.append(make_link(prop, url=feed.url, source="airbnb").id)
    sync_links(links)
    victim = links[2]
    before = blocks(victim)
    # The victim's stay moves and a new stay appears whose row the database refuses mid-transaction.
    feeds[2].body = calendar(["PRODID:x", "VERSION:2.0",
                              *event("000000000000-" + "ab" * 16 + "@airbnb.com", all_day(day(30)),
                                     all_day(day(33)), "Reserved"),
                              *event(POISON_UID, all_day(day(60)), all_day(day(61)), "Reserved")])
    for n in (0, 4):
        feeds[n].body = airbnb_feed([(day(70 + n), day(72 + n), "Reserved")])
    link = fresh_link(victim)
    due_at = link.next_sync_at = utcnow()
    db.session.commit()

    summaries = {s.link_id: s for s in sync_links(links)}
    assert (summaries[victim].outcome, summaries[victim].error_kind) == ("error", "database")
    assert blocks(victim) == before  # the move was rolled back with the refused insert
    # The attempt is recorded as our own failure: the link says "failing", never "ok".
    failed = fresh_link(victim)
    assert len(runs(victim)) == 2 and runs(victim)[-1].error_kind == "database"
    assert "poisoned block" in runs(victim)[-1].error_message
    assert failed.health(utcnow(), 15) == "failing" and failed.last_error_kind == "database"
    assert failed.next_sync_at > due_at  # retried after the usual backoff
    assert dates(links[0]) == [(day(70), day(72))] and dates(links[4]) == [(day(74), day(76))]
    assert all(len(runs(link_id)) == 2 for link_id in links if link_id != victim)

    feeds[2].body = airbnb_feed([(day(30), day(33), "Reserved")])  # the feed is fixed: next sync applies
    [summary] = sync_links([victim])
    assert summary.outcome == "changed" and [c for c, *_ in blocks(victim)] == [before[0][0]]


def test_same_link_synced_twice_at_once_keeps_one_block_per_stay(app, httpserver, make_property, make_link):
    feed = FeedServer(httpserver, "/a.ics", airbnb_feed([(day(5), day(9), "Reserved"),
                                                         (day(20), day(22), "Reserved")]))
    link = make_link(make_property(), url=feed.url, source="airbnb")
    link_id, errors = link.id, []

    def sync_in_own_context():
        with app.app_context():
            try:
                sync_links([link_id])
            except Exception as exc:  # noqa: BLE001 - reported below
                errors.append(exc)
    threads = [threading.Thread(target=sync_in_own_context) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert errors == []
    stored = dates(link_id)
    assert stored == [(day(5), day(9)), (day(20), day(22))]
