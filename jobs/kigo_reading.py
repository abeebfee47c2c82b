"""Read a Kigo link into stays (the Kigo half of a sync) and keep its Instant Booking facts.

Retries are bounded so a sync worker is never parked on Kigo: at most KIGO_MAX_RETRIES extra
attempts per API call, each wait at most KIGO_MAX_RETRY_WAIT_SECONDS (a longer Retry-After ends the
call at once as `rate_limited`, and the link's next sync honours it). Worst case per call:
max_retries x max_wait seconds of waiting, plus the request time limits.
"""
from __future__ import annotations

import json
import time
from datetime import date

from jobs.kigo import KigoClient, sync_kigo_property
from jobs.link_reading import LinkReading, LinkSnapshot
from jobs.stays import ParsedFeed, SyncFailure

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


def read_kigo_link(snap: LinkSnapshot, config, today: date, horizon_days: int) -> LinkReading:
    """Read the link's Kigo property; Instant Booking off is a failure that still carries stays."""
    started = time.time()
    reading = LinkReading(snap, "error", started_at=started)
    try:
        shot = sync_kigo_property(kigo_client(config), snap.kigo_code or "",
                                  snap.kigo_property_id or 0, today, horizon_days)
        reading.parsed = ParsedFeed(stays=list(shot.stays), events_total=len(shot.stays))
        reading.outcome = "parsed"
        reading.extra = {"instant_booking": shot.instant_booking,
                         "instant_booking_raw": shot.instant_booking_raw}
        # The reservations are real bookings whatever the setting: blocking them protects the owner.
        # Dropping them would invite overbookings; so they are applied and the link is failing
        # until Instant Booking is on.
        reading.failure = shot.instant_booking_failure()
    except SyncFailure as failure:
        reading.failure = failure
    except Exception as exc:  # noqa: BLE001 - one bad account must never stop the batch
        reading.failure = SyncFailure("kigo_error", f"the Kigo reply could not be used: {exc!r}")
    reading.duration_ms = int((time.time() - started) * 1000)
    return reading


def store_kigo_facts(link, reading: LinkReading) -> None:
    """Keep the raw Instant Booking value so staff can check what Kigo said."""
    raw = reading.extra.get("instant_booking_raw")
    link.kigo_instant_booking_raw = json.dumps(raw)[:64]
