"""The reads staff and syncs make of a Kigo account: its shared properties, and one Kigo link's stays.

Retries are bounded so a sync worker is never parked on Kigo: at most KIGO_MAX_RETRIES extra
attempts per API call, each wait at most KIGO_MAX_RETRY_WAIT_SECONDS (a longer Retry-After ends the
call at once as `rate_limited`, and the link's next sync honours it). Worst case per call:
max_retries x max_wait seconds of waiting, plus the request time limits.
"""
from __future__ import annotations

from datetime import date, timedelta

from jobs.kigo.client import KigoClient
from jobs.kigo.replies import KigoProperty, KigoSnapshot, kigo_id, same_account
from jobs.rules.stays import SyncFailure

MAX_RETRIES = 2  # 429/409/E_CONFLICT: three attempts in all
RETRY_BACKOFF_SECONDS = 1.0  # 1 s, then 2 s when Kigo gives no Retry-After
MAX_RETRY_WAIT_SECONDS = 10.0  # a longer wait is the scheduler's job, not a blocked worker's


def kigo_client(config, max_retry_wait: float | None = None) -> KigoClient:
    """A Kigo client from KIGO_API_URL / KIGO_API_USERNAME / KIGO_API_PASSWORD, with bounded retries.

    KIGO_API_SUBSCRIPTION_KEY, when set, selects the channels API form (key instead of Basic auth);
    `max_retry_wait` tightens the wait for callers a person is waiting on (web requests)."""
    wait = float(config.get("KIGO_MAX_RETRY_WAIT_SECONDS", MAX_RETRY_WAIT_SECONDS))
    return KigoClient(config["KIGO_API_URL"], username=config.get("KIGO_API_USERNAME"),
                      password=config.get("KIGO_API_PASSWORD"),
                      subscription_key=config.get("KIGO_API_SUBSCRIPTION_KEY") or None,
                      timeout=config["FETCH_TIMEOUT_SECONDS"],
                      max_retries=int(config.get("KIGO_MAX_RETRIES", MAX_RETRIES)),
                      backoff=float(config.get("KIGO_RETRY_BACKOFF_SECONDS", RETRY_BACKOFF_SECONDS)),
                      max_retry_wait=wait if max_retry_wait is None else min(wait, max_retry_wait))


def list_account_properties(client: KigoClient, kigo_code: str) -> list[KigoProperty]:
    """The properties the Kigo account `kigo_code` (its PROP_PROVIDER.RA_ID) shares with us, for staff to pick."""
    return [prop for prop in client.list_properties() if same_account(kigo_code or "", prop)]


def sync_kigo_property(client: KigoClient, kigo_code: str, prop_id: int, today: date,
                       horizon_days: int = 550) -> KigoSnapshot:
    """Read one Kigo link: the property must be shared by account `kigo_code`; stays over [today, today+horizon]."""
    prop_id = kigo_id(prop_id, "The Kigo property id")
    code = (kigo_code or "").strip()
    if not code:
        raise SyncFailure("kigo_not_found", "This link has no Kigo account code")
    prop = next((p for p in client.list_properties() if p.prop_id == prop_id), None)
    if prop is None:
        raise SyncFailure("kigo_not_found", f"Kigo property {prop_id} is not shared with us: it is not among "
                                            f"the properties Kigo lists for our account")
    if not same_account(code, prop):
        raise SyncFailure("kigo_not_found", f"Kigo property {prop_id} is shared by Kigo account "
                                            f"{prop.account_code or '(none)'}, not by account {code}")
    info = client.read_property(prop_id)
    stays = client.list_reservations(prop_id, today, today + timedelta(days=horizon_days))
    return KigoSnapshot(stays=stays, instant_booking=info.instant_booking,
                        instant_booking_raw=info.instant_booking_raw,
                        property_name=info.name or prop.name, prop_id=prop_id)
