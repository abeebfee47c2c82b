"""The Kigo client and link read, through the real client against the loopback stand-in."""
from __future__ import annotations

import socket
import threading
from datetime import UTC, date, datetime, timedelta
from email.utils import format_datetime

import pytest
import requests
import urllib3
from hypothesis import given, settings
from hypothesis import strategies as st

from jobs.kigo.account import list_account_properties, sync_kigo_property
from jobs.kigo.client import KigoClient, classify_transport_error
from jobs.kigo.replies import parse_reservations
from jobs.rules.stays import Stay, SyncFailure
from tests.kigo_standin import kigo_standin  # noqa: F401  (fixture)

TODAY = date(2025, 3, 1)


@pytest.fixture
def sleeps() -> list[float]:
    """The delays the client asked to sleep (nobody really sleeps)."""
    return []


@pytest.fixture
def client(kigo_standin, sleeps) -> KigoClient:
    """A legacy-API client with good credentials and a recording sleep."""
    return KigoClient(**kigo_standin.client_kwargs(), sleep=sleeps.append, timeout=5)


def failure_of(call, *args, **kwargs) -> SyncFailure:
    """The SyncFailure a call raises."""
    with pytest.raises(SyncFailure) as caught:
        call(*args, **kwargs)
    return caught.value


# -- properties and accounts -----------------------------------------------------------------
def test_list_properties_reads_ids_names_and_account_codes(kigo_standin, client):
    kigo_standin.add_property("14908", 194100, "Villa Kiri")
    kigo_standin.add_property("ACC2", 216169, "Villa Patricia", provider_type="OWNER")
    props = {p.prop_id: p for p in client.list_properties()}
    assert props[194100].name == "Villa Kiri" and props[194100].ra_id == 14908
    assert props[194100].account_code == "14908" and props[194100].provider_type == "RA"
    assert props[216169].account_code == "ACC2" and props[216169].provider_type == "OWNER"


def test_list_properties_falls_back_to_legacy_list_when_listproperties2_is_unknown(kigo_standin, client):
    kigo_standin.add_property("14908", 194100, "Villa Kiri")
    kigo_standin.forget_method("listProperties2")
    [prop] = client.list_properties()
    assert (prop.prop_id, prop.account_code, prop.name) == (194100, "14908", "Villa Kiri")
    assert len(kigo_standin.calls_to("listProperties")) == 1


def test_list_properties_does_not_fall_back_on_other_failures(kigo_standin, client):
    kigo_standin.fail_next("listProperties2", "E_ACCESS", text="Not allowed")
    assert failure_of(client.list_properties).kind == "kigo_error"
    assert kigo_standin.calls_to("listProperties") == []


def test_e_empty_property_list_is_no_properties(kigo_standin, client):
    kigo_standin.add_property("14908", 194100)
    kigo_standin.fail_next("listProperties2", "E_EMPTY")
    assert client.list_properties() == []


def test_list_account_properties_keeps_only_that_accounts_properties(kigo_standin, client):
    kigo_standin.add_property("ACC1", 101)
    kigo_standin.add_property("ACC2", 102)
    kigo_standin.add_property("ACC1", 103)
    assert [p.prop_id for p in list_account_properties(client, "acc1")] == [101, 103]
    assert list_account_properties(client, "") == []


def test_ids_beyond_float_precision_survive_the_round_trip(kigo_standin, client):
    big_prop, big_res = 2**53 + 1, 2**63 + 7
    kigo_standin.add_property("ACC1", big_prop)
    kigo_standin.add_reservation(big_prop, big_res, "2025-03-10", "2025-03-12")
    assert [p.prop_id for p in client.list_properties()] == [big_prop]
    [stay] = client.list_reservations(big_prop, TODAY, TODAY + timedelta(days=30))
    assert stay.uid == f"kigo-{big_res}"
    assert kigo_standin.calls_to("listPropertyCalendarReservations")[0].params["PROP_ID"] == big_prop


@pytest.mark.parametrize("raw, on", [(True, True), (False, False), ("true", True), (1, True), (0, False),
                                     (None, False), ("no", False)])
def test_read_property_reads_instant_booking_and_keeps_the_raw_value(kigo_standin, client, raw, on):
    kigo_standin.add_property("ACC1", 101, "Casa Azul", instant_booking=raw)
    info = client.read_property(101)
    assert (info.prop_id, info.name, info.instant_booking, info.instant_booking_raw) == (101, "Casa Azul", on, raw)


# -- reservations ----------------------------------------------------------------------------
def test_confirmed_and_hold_block_and_cancelled_does_not(kigo_standin, client):
    kigo_standin.add_property("ACC1", 101)
    kigo_standin.add_reservation(101, 1, "2025-03-10", "2025-03-14", status="CONFIRMED")
    kigo_standin.add_reservation(101, 2, "2025-03-05", "2025-03-07", status="HOLD")
    kigo_standin.add_reservation(101, 3, "2025-03-20", "2025-03-22", status="CANCELLED")
    kigo_standin.add_reservation(101, 4, "2025-03-25", "2025-03-26", status="CANCELED_BY_GUEST")
    stays = client.list_reservations(101, TODAY, TODAY + timedelta(days=60))
    assert stays == [Stay("kigo-2", date(2025, 3, 5), date(2025, 3, 7), "Kigo reservation 2 (HOLD)"),
                     Stay("kigo-1", date(2025, 3, 10), date(2025, 3, 14), "Kigo reservation 1 (CONFIRMED)")]


def test_list_reservations_sends_numeric_prop_id_and_the_date_range(kigo_standin, client):
    kigo_standin.add_property("ACC1", 101)
    client.list_reservations("101", date(2025, 3, 1), date(2026, 9, 2))
    [call] = kigo_standin.calls_to("listPropertyCalendarReservations")
    assert call.params == {"PROP_ID": 101, "LIST_START_DATE": "2025-03-01", "LIST_END_DATE": "2026-09-02"}


def test_e_empty_reservation_list_is_no_stays(kigo_standin, client):
    kigo_standin.add_property("ACC1", 101)
    kigo_standin.fail_next("listPropertyCalendarReservations", "E_EMPTY")
    assert client.list_reservations(101, TODAY, TODAY + timedelta(days=10)) == []


def test_unknown_property_is_kigo_not_found_for_reservations_and_details(kigo_standin, client):
    for call in (lambda: client.list_reservations(999, TODAY, TODAY), lambda: client.read_property(999)):
        failure = failure_of(call)
        assert failure.kind == "kigo_not_found"
        assert "999" in failure.message and "E_NOSUCH" in failure.message and "deactivated" in failure.message


def test_zero_night_reservation_blocks_nothing_and_reversed_dates_fail():
    assert parse_reservations([{"RES_ID": 1, "RES_STATUS": "CONFIRMED", "RES_CHECK_IN": "2025-03-01",
                                "RES_CHECK_OUT": "2025-03-01"}], "m") == []
    failure = failure_of(parse_reservations, [{"RES_ID": 2, "RES_STATUS": "HOLD", "RES_CHECK_IN": "2025-03-05",
                                               "RES_CHECK_OUT": "2025-03-01"}], "m")
    assert failure.kind == "kigo_error" and "reservation 2" in failure.message


def test_unknown_status_blocks_and_bad_dates_fail_the_read():
    [stay] = parse_reservations([{"RES_ID": 7, "RES_STATUS": "OWNER_STAY", "RES_CHECK_IN": "2025-03-01",
                                  "RES_CHECK_OUT": "2025-03-03"}], "m")
    assert stay.summary == "Kigo reservation 7 (OWNER_STAY)"
    assert failure_of(parse_reservations, [{"RES_ID": 8, "RES_CHECK_IN": "soon", "RES_CHECK_OUT": "2025-03-03"}],
                      "m").kind == "kigo_error"


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 2**64), st.sampled_from(["CONFIRMED", "HOLD", "CANCELLED"]),
                          st.dates(date(2020, 1, 1), date(2030, 1, 1)), st.integers(1, 40)),
                unique_by=lambda r: r[0], max_size=20))
def test_every_non_cancelled_reservation_becomes_exactly_one_stay_with_its_dates(records):
    stays = parse_reservations([{"RES_ID": rid, "RES_STATUS": status, "RES_CHECK_IN": start.isoformat(),
                                 "RES_CHECK_OUT": (start + timedelta(days=nights)).isoformat()}
                                for rid, status, start, nights in records], "m")
    expected = {f"kigo-{rid}": (start, start + timedelta(days=nights))
                for rid, status, start, nights in records if status != "CANCELLED"}
    assert {s.uid: (s.check_in, s.check_out) for s in stays} == expected


# -- diffs -----------------------------------------------------------------------------------
def test_diff_starts_from_null_and_then_reports_only_later_changes_of_that_property(kigo_standin, client):
    kigo_standin.add_property("ACC1", 101)
    kigo_standin.add_property("ACC1", 102)
    kigo_standin.add_reservation(101, 1, "2025-03-10", "2025-03-12")
    first = client.diff_reservations(101, None)
    assert [s.uid for s in first.changed] == ["kigo-1"] and first.diff_id
    assert kigo_standin.calls_to("diffPropertyCalendarReservations")[0].params == {"DIFF_ID": None}
    kigo_standin.add_reservation(101, 2, "2025-04-01", "2025-04-05", status="HOLD")
    kigo_standin.add_reservation(102, 3, "2025-04-01", "2025-04-05")
    kigo_standin.cancel_reservation(1)
    second = client.diff_reservations(101, first.diff_id)
    assert kigo_standin.calls_to("diffPropertyCalendarReservations")[1].params == {"DIFF_ID": first.diff_id}
    assert [s.uid for s in second.changed] == ["kigo-2"] and second.cancelled_uids == ["kigo-1"]
    assert second.diff_id != first.diff_id


def test_diff_e_empty_keeps_the_previous_diff_id(kigo_standin, client):
    kigo_standin.fail_next("diffPropertyCalendarReservations", "E_EMPTY")
    diff = client.diff_reservations(101, "d-41")
    assert (diff.diff_id, diff.changed, diff.cancelled_uids) == ("d-41", [], [])


def test_unknown_diff_id_is_kigo_error_not_a_missing_property(kigo_standin, client):
    failure = failure_of(client.diff_reservations, 101, "nonsense")
    assert failure.kind == "kigo_error" and "E_NOSUCH" in failure.message


# -- the read of one link --------------------------------------------------------------------
def test_sync_reads_stays_over_the_horizon_and_instant_booking(kigo_standin, client):
    kigo_standin.add_property("ACC1", 101, "Casa Azul")
    kigo_standin.add_reservation(101, 1, "2025-03-10", "2025-03-12")
    kigo_standin.add_reservation(101, 2, "2027-01-10", "2027-01-12")  # beyond 550 days
    snapshot = sync_kigo_property(client, "ACC1", 101, TODAY)
    assert [s.uid for s in snapshot.stays] == ["kigo-1"]
    assert (snapshot.instant_booking, snapshot.property_name, snapshot.prop_id) == (True, "Casa Azul", 101)
    assert snapshot.instant_booking_failure() is None
    params = kigo_standin.calls_to("listPropertyCalendarReservations")[0].params
    assert params["LIST_END_DATE"] == (TODAY + timedelta(days=550)).isoformat()


def test_sync_keeps_stays_when_instant_booking_is_off_and_names_the_failure(kigo_standin, client):
    kigo_standin.add_property("ACC1", 101, "Casa Azul", instant_booking=False)
    kigo_standin.add_reservation(101, 1, "2025-03-10", "2025-03-12")
    snapshot = sync_kigo_property(client, "ACC1", 101, TODAY)
    assert [s.uid for s in snapshot.stays] == ["kigo-1"] and snapshot.instant_booking is False
    failure = snapshot.instant_booking_failure()
    assert failure.kind == "kigo_not_instant_booking"
    assert "PROP_INSTANT_BOOK = false" in failure.message and "Casa Azul" in failure.message


def test_sync_matches_the_account_code_ignoring_case_and_spaces(kigo_standin, client):
    kigo_standin.add_property("ACC1", 101)
    assert sync_kigo_property(client, " acc1 ", 101, TODAY).prop_id == 101


def test_sync_refuses_a_property_shared_by_another_account(kigo_standin, client):
    kigo_standin.add_property("ACC2", 101)
    failure = failure_of(sync_kigo_property, client, "ACC1", 101, TODAY)
    assert failure.kind == "kigo_not_found" and "ACC2" in failure.message and "ACC1" in failure.message
    assert kigo_standin.calls_to("listPropertyCalendarReservations") == []


def test_sync_refuses_a_property_that_is_not_shared_with_us(kigo_standin, client):
    kigo_standin.add_property("ACC1", 101)
    failure = failure_of(sync_kigo_property, client, "ACC1", 555, TODAY)
    assert failure.kind == "kigo_not_found" and "555" in failure.message


def test_sync_without_an_account_code_is_kigo_not_found(kigo_standin, client):
    kigo_standin.add_property("ACC1", 101)
    assert failure_of(sync_kigo_property, client, "  ", 101, TODAY).kind == "kigo_not_found"


def test_sync_with_a_non_numeric_property_id_is_kigo_error(client):
    assert failure_of(sync_kigo_property, client, "ACC1", "abc", TODAY).kind == "kigo_error"


# -- auth ------------------------------------------------------------------------------------
def test_legacy_api_gets_basic_auth_and_channels_api_the_subscription_key(kigo_standin):
    kigo_standin.add_property("ACC1", 101)
    KigoClient(**kigo_standin.client_kwargs()).ping()
    KigoClient(**kigo_standin.client_kwargs(channels=True)).read_property(101)
    assert [(c.api, c.method, c.authorized) for c in kigo_standin.calls] == [
        ("legacy", "ping", True), ("channels", "readProperty2", True)]


@pytest.mark.parametrize("kwargs", [{"username": "kigo-user", "password": "wrong"},
                                    {"username": None}, {"subscription_key": "wrong-key"}])
def test_bad_credentials_are_kigo_auth(kigo_standin, kwargs):
    base = kigo_standin.channels_url if "subscription_key" in kwargs else kigo_standin.url
    failure = failure_of(KigoClient(base, **kwargs).ping)
    assert (failure.kind, failure.http_status) == ("kigo_auth", 401) and "ping" in failure.message


def test_forbidden_is_kigo_auth_and_not_retried(kigo_standin, client, sleeps):
    kigo_standin.fail_next("listProperties2", 403, times=5)
    failure = failure_of(client.list_properties)
    assert (failure.kind, failure.http_status) == ("kigo_auth", 403)
    assert sleeps == [] and len(kigo_standin.calls) == 1


# -- envelopes -------------------------------------------------------------------------------
def test_other_result_codes_are_kigo_error_with_kigos_words(kigo_standin, client):
    kigo_standin.add_property("ACC1", 101)
    kigo_standin.fail_next("readProperty2", "E_ALREADY", text="Something is already so.")
    failure = failure_of(client.read_property, 101)
    assert failure.kind == "kigo_error"
    assert "readProperty2" in failure.message and "E_ALREADY" in failure.message
    assert "Something is already so." in failure.message


@pytest.mark.parametrize("method, call", [
    ("readProperty2", lambda c: c.read_property(101)),
    ("listPropertyCalendarReservations", lambda c: c.list_reservations(101, TODAY, TODAY)),
    ("listProperties2", lambda c: c.list_properties())])
def test_a_null_reply_where_one_is_needed_is_kigo_error(kigo_standin, client, method, call):
    kigo_standin.add_property("ACC1", 101)
    kigo_standin.fail_next(method, "null_reply")
    failure = failure_of(call, client)
    assert failure.kind == "kigo_error" and "API_REPLY" in failure.message and method in failure.message


@pytest.mark.parametrize("kind, words", [("html", "HTML page"), ("malformed_json", "instead of JSON"),
                                         ("not_object", "JSON list"), ("no_result_code", "no API_RESULT_CODE"),
                                         ("empty_body", "empty body")])
def test_malformed_answers_are_kigo_error_saying_what_came(kigo_standin, client, kind, words):
    kigo_standin.fail_next("listProperties2", kind)
    failure = failure_of(client.list_properties)
    assert failure.kind == "kigo_error" and words in failure.message and "listProperties2" in failure.message


def test_an_answer_larger_than_the_limit_is_too_large(kigo_standin):
    for prop_id in range(50):
        kigo_standin.add_property("ACC1", prop_id, "A rather long property name " * 3)
    small = KigoClient(**kigo_standin.client_kwargs(), max_bytes=1000)
    assert failure_of(small.list_properties).kind == "too_large"


# -- HTTP failures and retries ---------------------------------------------------------------
def test_server_error_is_server_error_and_not_retried(kigo_standin, client, sleeps):
    kigo_standin.fail_next("ping", 502)
    failure = failure_of(client.ping)
    assert (failure.kind, failure.http_status) == ("server_error", 502) and sleeps == []


def test_rate_limit_is_retried_after_the_requested_delay_then_succeeds(kigo_standin, client, sleeps):
    kigo_standin.add_property("ACC1", 101)
    kigo_standin.fail_next("listProperties2", 429, times=2, retry_after=3)
    assert [p.prop_id for p in client.list_properties()] == [101]
    assert sleeps == [3.0, 3.0] and len(kigo_standin.calls_to("listProperties2")) == 3


def test_rate_limit_without_a_hint_backs_off_exponentially_then_fails(kigo_standin, client, sleeps):
    kigo_standin.fail_next("ping", 429, times=10, text="Slow down")
    failure = failure_of(client.ping)
    assert (failure.kind, failure.http_status) == ("rate_limited", 429)
    assert sleeps == [1.0, 2.0, 4.0] and "4 attempt" in failure.message
    assert len(kigo_standin.calls_to("ping")) == 4


def test_rate_limit_hint_in_the_channels_body_sets_the_wait(kigo_standin, sleeps):
    kigo_standin.fail_next("ping", 429, text="Rate limit is exceeded. Try again in 2 seconds.")
    KigoClient(**kigo_standin.client_kwargs(channels=True), sleep=sleeps.append).ping()
    assert sleeps == [2.0]


def test_retry_after_as_an_http_date_is_honoured(kigo_standin, client, sleeps):
    when = datetime.now(UTC) + timedelta(seconds=30)
    kigo_standin.fail_next("ping", 429, retry_after=format_datetime(when, usegmt=True))
    client.ping()
    assert len(sleeps) == 1 and 25 <= sleeps[0] <= 31


def test_a_long_retry_after_fails_at_once_and_passes_the_wait_on(kigo_standin, client, sleeps):
    kigo_standin.fail_next("ping", 429, retry_after=600)
    failure = failure_of(client.ping)
    assert (failure.kind, failure.retry_after) == ("rate_limited", 600.0) and sleeps == []


def test_e_conflict_is_retried_then_reported_as_kigo_error(kigo_standin, client, sleeps):
    kigo_standin.fail_next("ping", "E_CONFLICT", times=4, text="Busy with another call.")
    failure = failure_of(client.ping)
    assert failure.kind == "kigo_error" and "E_CONFLICT" in failure.message and "Busy" in failure.message
    assert sleeps == [1.0, 2.0, 4.0]


def test_http_409_conflict_is_retried_until_it_succeeds(kigo_standin, client, sleeps):
    kigo_standin.add_property("ACC1", 101)
    kigo_standin.fail_next("readProperty2", 409)
    assert client.read_property(101).prop_id == 101 and sleeps == [1.0]


# -- network failures ------------------------------------------------------------------------
def free_port() -> int:
    """A loopback port nothing listens on."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_refused_connection_is_connect_and_hides_the_subscription_key():
    client = KigoClient(f"http://127.0.0.1:{free_port()}/channels/v1", subscription_key="s3cret-key")
    failure = failure_of(client.ping)
    assert failure.kind == "connect" and "s3cret-key" not in failure.message and "ping" in failure.message


def test_a_slow_answer_is_timeout(kigo_standin):
    kigo_standin.delay_next("ping", 1.0)
    failure = failure_of(KigoClient(**kigo_standin.client_kwargs(), timeout=0.2).ping)
    assert failure.kind == "timeout"


def test_a_body_cut_off_mid_transfer_is_connect():
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(1)

    def answer_half() -> None:
        """Promise 500 bytes, send a few, hang up."""
        conn, _ = server.accept()
        conn.recv(65536)
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 500\r\n\r\n"
                     b'{"API_RESULT_CODE": "E_OK", "API_REPLY": [')
        conn.close()

    thread = threading.Thread(target=answer_half, daemon=True)
    thread.start()
    try:
        failure = failure_of(KigoClient(f"http://127.0.0.1:{server.getsockname()[1]}/api/ra/v1", "u", "p").ping)
    finally:
        thread.join(5)
        server.close()
    assert failure.kind == "connect"


def test_a_name_that_does_not_resolve_is_dns():
    # requests wraps urllib3's NameResolutionError this way; built here so no DNS query leaves the machine
    reason = urllib3.exceptions.NameResolutionError("kigo.invalid", None,
                                                    socket.gaierror(-2, "Name or service not known"))
    exc = requests.ConnectionError(urllib3.exceptions.MaxRetryError(None, "/api/ra/v1/ping", reason))
    assert classify_transport_error(exc, "ping").kind == "dns"
    assert classify_transport_error(requests.ReadTimeout("read timed out"), "ping").kind == "timeout"
    assert classify_transport_error(requests.exceptions.SSLError("bad cert"), "ping").kind == "tls"


def test_a_status_with_a_nul_or_a_lone_surrogate_leaves_only_printable_text():
    stays = parse_reservations([{"RES_ID": 7, "RES_STATUS": "CONF\x00IRMED\ud800", "RES_CHECK_IN": "2025-03-05",
                                 "RES_CHECK_OUT": "2025-03-07"}], "listPropertyCalendarReservations")
    assert [s.summary for s in stays] == ["Kigo reservation 7 (CONFIRMED)"]
