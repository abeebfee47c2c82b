"""Property test: random sequences of feeds, emptyings and failures never lose a block silently."""
from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import delete, select

from console.extensions import db
from console.models import CalendarLink, Reservation, SyncRun
from jobs.sync.runner import sync_links
from tests.jobs.feeds import all_day, calendar, event
from tests.jobs.ical.test_parse_robustness import _SEEDS, _SOURCES, mutated_feeds
from tests.jobs.sync.test_feeds import FeedServer, day, fresh_link, runs

# A pool of stays a feed may hold: (uid, first day from today, nights); two share dates on purpose.
POOL = [(f"stay-{n}@example.com", start, nights)
        for n, (start, nights) in enumerate([(2, 3), (6, 1), (10, 7), (30, 2), (31, 2), (60, 5),
                                             (90, 3), (90, 3)])]
FAILURES = [(404, b"<html>gone</html>", "text/html"), (500, b"oops", "text/plain"),
            (429, b"slow down", "text/plain"), (200, b"<html>a page</html>", "text/html"),
            (200, b"BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\n", "text/calendar")]

steps = st.lists(st.one_of(
    st.tuples(st.just("feed"), st.lists(st.sampled_from(range(len(POOL))), unique=True, max_size=6)),
    st.tuples(st.just("moved"), st.lists(st.sampled_from(range(len(POOL))), unique=True, min_size=1,
                                         max_size=4)),
    st.tuples(st.just("fail"), st.sampled_from(range(len(FAILURES)))),
    st.tuples(st.just("accept"), st.none()),
), min_size=1, max_size=7)


def feed_body(indexes: list[int], shift: int = 0) -> bytes:
    """A generic iCal feed holding the chosen stays of the pool (moved `shift` days)."""
    lines = ["PRODID:-//Example//Channel Manager//EN", "VERSION:2.0"]
    for n in indexes:
        uid, start, nights = POOL[n]
        lines += event(uid, all_day(day(start + shift)), all_day(day(start + shift + nights)), "Booked")
    return calendar(lines)


def _fresh_start(httpserver) -> None:
    """Hypothesis runs many examples in one test: each starts from an empty database."""
    db.session.execute(delete(Reservation))
    db.session.execute(delete(SyncRun))
    db.session.execute(delete(CalendarLink))
    db.session.commit()
    httpserver.clear()


def stored(link_id: int) -> dict[str, tuple[str, object, object]]:
    """The link's blocks by code: (uid, check_in, check_out)."""
    db.session.expire_all()
    rows = db.session.execute(select(Reservation).where(Reservation.link_id == link_id)).scalars()
    return {r.code: (r.external_uid, r.check_in, r.check_out) for r in rows}


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(plan=steps)
def test_random_feed_sequences_never_lose_a_block_silently(httpserver, make_property, plan):
    _fresh_start(httpserver)
    feed = FeedServer(httpserver, "/feed.ics", feed_body([]))
    link_id = CalendarLink(property=make_property(), url=feed.url, source="ical", state="active")
    db.session.add(link_id)
    db.session.commit()
    link_id = link_id.id

    for kind, arg in plan:
        before = stored(link_id)
        if kind == "accept":
            link = fresh_link(link_id)
            link.accept_next_change = True
            db.session.commit()
            continue
        if kind == "fail":
            feed.status, feed.body, feed.content_type = FAILURES[arg]
        else:
            feed.status, feed.content_type = 200, "text/calendar"
            feed.body = feed_body(arg, shift=1 if kind == "moved" else 0)
        [summary] = sync_links([link_id])
        after = stored(link_id)
        run = runs(link_id)[-1]
        removed = set(before) - set(after)

        # Every removal is visible in a run that was not held; a failure or a hold removes nothing.
        if removed:
            assert run.outcome == "changed", (kind, run.outcome)
            assert removed == set(run.details["removed"])
        assert set((run.details or {}).get("removed", [])) == removed
        if kind == "fail":
            assert summary.outcome == "error" and after == before
        # At most one block per stay, and codes survive while their stay does.
        uids = [uid for uid, _ci, _co in after.values()]
        assert len(uids) == len(set(uids))
        assert len({(ci, co, uid) for uid, ci, co in after.values()}) == len(after)
        for code, (uid, _ci, _co) in before.items():
            if code in after:
                assert after[code][0] == uid or after[code][1:] == before[code][1:]
        if kind != "fail" and run.outcome != "held":
            wanted = {(POOL[n][0],) for n in arg}
            assert {(uid,) for uid, _ci, _co in after.values()} == wanted

        # The same answer again changes nothing.
        [again] = sync_links([link_id])
        assert stored(link_id) == after
        if kind != "fail" and run.outcome != "held":
            assert again.outcome in ("unchanged", "not_modified")


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                  HealthCheck.too_slow])
@given(seed=st.sampled_from(range(len(_SEEDS))), body=mutated_feeds(),
       source=st.sampled_from(_SOURCES))
def test_mutated_feeds_through_the_whole_sync_never_lose_a_block_silently(
        httpserver, make_property, seed, body, source):
    """A real feed synced, then a mutated one: a failure keeps every block, a success shows every
    removal in its run, and the worker never crashes (no "internal" error)."""
    _fresh_start(httpserver)
    feed = FeedServer(httpserver, "/fuzz.ics", _SEEDS[seed])
    link = CalendarLink(property=make_property(), url=feed.url, source=source, state="active")
    db.session.add(link)
    db.session.commit()
    sync_links([link.id])
    before = stored(link.id)
    feed.body = body
    [summary] = sync_links([link.id])
    after, run = stored(link.id), runs(link.id)[-1]
    assert summary.error_kind != "internal"
    if run.outcome == "error":
        assert after == before
        return
    removed = set(before) - set(after)
    assert removed <= set((run.details or {}).get("removed", []))
    assert run.removed == len(removed)
