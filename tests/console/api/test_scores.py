"""GET /scores for the ranking service (incremental, paged) and a property's score history."""
from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from console.extensions import db
from console.models import ScoreSnapshot

T0 = datetime(2030, 1, 1, 12, 0, 0)


def snap(prop, score: int, hours: float, **components) -> ScoreSnapshot:
    row = ScoreSnapshot(property_id=prop.id, score=score, computed_at=T0 + timedelta(hours=hours),
                        components={"version": 1, **components})
    db.session.add(row)
    db.session.commit()
    return row


@pytest.fixture
def props(make_property):
    """Five properties with external refs and a few snapshots each (newest: score 70 + i at hour 10 + i)."""
    made = []
    for i in range(5):
        prop = make_property(name=f"Flat {i}", external_ref=f"OA-REF-{i}")
        snap(prop, 50, 1)
        snap(prop, 70 + i, 10 + i)
        made.append(prop)
    return made


def pull(client, query: str = "") -> dict:
    resp = client.get(f"/scores{query}")
    assert resp.status_code == 200, resp.get_json()
    return resp.get_json()


def test_scores_give_each_property_its_newest_snapshot(api, props):
    body = pull(api("viewer"))
    assert [(i["property_id"], i["external_ref"], i["score"]) for i in body["items"]] == [
        (p.id, f"OA-REF-{n}", 70 + n) for n, p in enumerate(props)]
    first = body["items"][0]
    assert set(first) == {"property_id", "external_ref", "score", "components", "computed_at"}
    assert first["computed_at"] == "2030-01-01T22:00:00Z" and first["components"]["version"] == 1
    assert body["next_after_id"] is None


def test_updated_since_keeps_only_properties_scored_after_it(api, props):
    viewer = api("viewer")
    body = pull(viewer, "?updated_since=2030-01-02T00:00:00Z")  # hour 12 = T0 + 12h
    assert [i["score"] for i in body["items"]] == [73, 74]
    assert pull(viewer, "?updated_since=2030-01-02T02:00:00Z")["items"] == []
    # Strictly after: a snapshot computed exactly at updated_since was already seen.
    assert [i["score"] for i in pull(viewer, "?updated_since=2030-01-02T01:00:00Z")["items"]] == [74]


def test_a_newer_snapshot_replaces_the_older_one_in_the_next_pull(api, props):
    viewer = api("viewer")
    snap(props[1], 40, 30)
    body = pull(viewer, "?updated_since=2030-01-02T05:00:00Z")
    assert [(i["property_id"], i["score"]) for i in body["items"]] == [(props[1].id, 40)]
    assert [i["score"] for i in pull(viewer)["items"]] == [70, 40, 72, 73, 74]


@pytest.mark.parametrize("since", ["2030-01-02T03:00:00+03:00", "2030-01-02T03:00:00 03:00",
                                   "2030-01-02T00:00:00", "2030-01-02T00:00:00.000Z"])
def test_updated_since_accepts_offsets_and_converts_them_to_utc(api, props, since):
    assert [i["score"] for i in pull(api("viewer"), f"?updated_since={since}")["items"]] == [73, 74]


@pytest.mark.parametrize("since", ["yesterday", "2030-13-01T00:00:00Z", "1700000000", "2030-01-02T25:00"])
def test_invalid_updated_since_is_422_naming_the_field(api, props, since):
    resp = api("viewer").get(f"/scores?updated_since={since}")
    assert resp.status_code == 422
    assert resp.get_json()["error"]["field"] == "updated_since"


@pytest.mark.parametrize("query, field", [("?after_id=-1", "after_id"), ("?per_page=0", "per_page"),
                                          ("?per_page=x", "per_page"),
                                          # past the ids' 32 bits: PostgreSQL refused it with a 500
                                          ("?after_id=2147483648", "after_id")])
def test_bad_paging_is_422(api, props, query, field):
    resp = api("viewer").get(f"/scores{query}")
    assert resp.status_code == 422 and resp.get_json()["error"]["field"] == field


# Found by the property-based run: the watermark (minutes before as_of) of year 1 overflowed, and
# so did converting year 1 with an offset: 500s.
@pytest.mark.parametrize("field, value", [("as_of", "0001-01-01T00:00:00Z"),
                                          ("as_of", "0001-01-01T00:00:00%2B00:01"),
                                          ("updated_since", "9999-12-31T23:59:59-01:00"),
                                          ("updated_since", "1999-12-31T23:59:59Z")])
def test_times_out_of_range_are_422_not_500(api, props, field, value):
    resp = api("viewer").get(f"/scores?{field}={value}")
    assert resp.status_code == 422 and resp.get_json()["error"]["field"] == field


def test_the_whole_fleet_comes_in_one_paged_pass_without_gaps_or_repeats(api, props,
                                                                         make_property):
    make_property(name="never scored")
    viewer = api("viewer")
    seen, after, pages = [], 0, 0
    while after is not None:
        body = pull(viewer, f"?per_page=2&after_id={after}")
        seen += [i["property_id"] for i in body["items"]]
        after, pages = body["next_after_id"], pages + 1
    assert seen == [p.id for p in props]
    assert pages == 3


def test_scores_need_a_token(client, props):
    assert client.get("/api/v1/scores").status_code == 401


# --- history ------------------------------------------------------------------------------------

def parts(overbookings: float, counted: int, hygiene: float = 20.0, factors=()) -> dict:
    return {"overbookings": {"points": overbookings, "counted": counted},
            "sync_success": {"points": 20.0, "ratio": 1.0, "attempts_30d": 10},
            "sync_freshness": {"points": 10.0, "last_success_age_hours": 0.1},
            "hygiene": {"points": hygiene, "factors": list(factors)}}


def test_history_is_newest_first_with_reasons_for_each_change(api, make_property):
    prop = make_property()
    snap(prop, 100, 0, **parts(50, 0))
    snap(prop, 76, 1, **parts(30, 1, 16, [{"kind": "recent_overbooking", "level": "medium"}]))
    snap(prop, 80, 2, **parts(30, 1))

    body = api("viewer").get(f"/properties/{prop.id}/score/history").get_json()

    assert [i["value"] for i in body["items"]] == [80, 76, 100]
    assert [i["previous_value"] for i in body["items"]] == [76, 100, None]
    newest, middle, first = (i["reasons"] for i in body["items"])
    assert newest == ["Hygiene: resolved recent_overbooking (medium): 16 to 20 points."]
    assert middle[0] == "Overbookings: 1 counted against the owner (was 0): 50 to 30 points."
    assert first == ["First score for this property."]
    assert body["items"][0]["components"]["overbookings"]["points"] == 30


def test_history_limit_still_explains_the_oldest_shown(api, make_property):
    prop = make_property()
    snap(prop, 100, 0, **parts(50, 0))
    snap(prop, 80, 1, **parts(30, 1))
    body = api("viewer").get(f"/properties/{prop.id}/score/history?limit=1").get_json()
    [only] = body["items"]
    assert only["value"] == 80 and only["reasons"][0].startswith("Overbookings: 1 counted")


def test_history_of_unknown_property_is_404_and_of_unscored_property_empty(api, make_property):
    viewer = api("viewer")
    assert viewer.get("/properties/999999/score/history").status_code == 404
    prop = make_property()
    assert viewer.get(f"/properties/{prop.id}/score/history").get_json()["items"] == []


def test_property_shows_its_newest_score_with_components(api, make_property):
    prop = make_property()
    snap(prop, 100, 0, **parts(50, 0))
    snap(prop, 80, 1, **parts(30, 1))
    score = api("viewer").get(f"/properties/{prop.id}").get_json()["score"]
    assert score["value"] == 80 and score["components"]["overbookings"]["counted"] == 1


def test_property_json_and_scores_agree_on_the_newest_snapshot_when_ids_and_times_disagree(
        api, make_property):
    """A snapshot committed late (higher id, older computed_at) is not the newest anywhere."""
    prop = make_property(external_ref="OA-LATE")
    newest = snap(prop, 90, 5)
    late = snap(prop, 60, 2)
    assert late.id > newest.id and late.computed_at < newest.computed_at
    viewer = api("viewer")

    one = viewer.get(f"/properties/{prop.id}").get_json()["score"]
    listed = [p["score"] for p in viewer.get("/properties").get_json()["items"]]
    [pulled] = pull(viewer)["items"]
    history = viewer.get(f"/properties/{prop.id}/score/history").get_json()["items"]

    assert one["value"] == 90 and one["computed_at"] == "2030-01-01T17:00:00Z"
    assert [s["value"] for s in listed] == [90]
    assert (pulled["score"], pulled["computed_at"]) == (90, one["computed_at"])
    assert history[0]["value"] == 90


# --- the watermark: incremental pulls that never miss a late commit ------------------------------

def at(seconds_ago: float) -> datetime:
    from console.timeutil import utcnow
    return utcnow() - timedelta(seconds=seconds_ago)


def wire(moment: datetime) -> datetime:
    return datetime.fromisoformat(moment.replace("Z", ""))


def commit_snapshot(prop, score: int, computed_at: datetime) -> ScoreSnapshot:
    row = ScoreSnapshot(property_id=prop.id, score=score,
                        computed_at=computed_at.replace(microsecond=0), components={"version": 1})
    db.session.add(row)
    db.session.commit()
    return row


def test_next_updated_since_catches_a_snapshot_committed_after_a_pull_with_an_older_computed_at(
        api, make_property):
    lag = timedelta(minutes=10)  # the documented default watermark lag
    early, late = make_property(name="early"), make_property(name="late")
    viewer = api("viewer")
    commit_snapshot(early, 80, at(60))  # computed and committed a minute ago
    before = at(0)
    first = pull(viewer)
    after = at(0)
    assert [i["score"] for i in first["items"]] == [80]
    watermark = wire(first["next_updated_since"])
    assert before - lag - timedelta(seconds=1) <= watermark <= after - lag

    # The nightly batch computed "late" two minutes ago and commits it only now, after the pull.
    commit_snapshot(late, 55, at(120))

    # The old client habit (largest computed_at seen, strictly after) misses it for good ...
    naive = pull(viewer, f"?updated_since={first['items'][0]['computed_at']}")
    assert naive["items"] == []
    # ... the server's watermark brings it (and re-sends "early": a repeat, never a miss).
    second = pull(viewer, f"?updated_since={first['next_updated_since']}")
    assert [(i["property_id"], i["score"]) for i in second["items"]] == [(early.id, 80),
                                                                         (late.id, 55)]
    assert second["next_updated_since"] >= first["next_updated_since"]


def test_watermark_comes_on_the_last_page_anchored_at_the_start_of_the_pass(api, app,
                                                                           make_property):
    app.config["SCORES_WATERMARK_LAG_SECONDS"] = 60
    props = [make_property(name=f"Flat {i}") for i in range(3)]
    for prop in props:
        commit_snapshot(prop, 70, at(600))
    viewer = api("viewer")

    page = pull(viewer, "?per_page=2")
    as_of = page["as_of"]
    assert page["next_after_id"] == props[1].id and page["next_updated_since"] is None
    # A snapshot for a property the pass already went by, committed during the pass.
    commit_snapshot(props[0], 71, at(5))
    last = pull(viewer, f"?per_page=2&after_id={page['next_after_id']}&as_of={as_of}")
    assert [i["property_id"] for i in last["items"]] == [props[2].id]
    assert last["next_after_id"] is None and last["as_of"] == as_of
    assert wire(last["next_updated_since"]) <= wire(as_of) - timedelta(seconds=60)
    assert wire(last["next_updated_since"]) > wire(as_of) - timedelta(seconds=61)

    following = pull(viewer, f"?updated_since={last['next_updated_since']}")
    assert [(i["property_id"], i["score"]) for i in following["items"]] == [(props[0].id, 71)]


def test_an_as_of_in_the_future_is_clamped_to_now_and_a_bad_one_is_422(api, props):
    viewer = api("viewer")
    body = pull(viewer, "?as_of=2999-01-01T00:00:00Z")
    assert wire(body["as_of"]) <= at(0)
    resp = viewer.get("/scores?as_of=soon")
    assert resp.status_code == 422 and resp.get_json()["error"]["field"] == "as_of"
