"""Read a Kigo link into stays (the Kigo half of a sync) and keep its Instant Booking facts."""
from __future__ import annotations

import json
import time
from datetime import date

from jobs.kigo.account import kigo_client, sync_kigo_property
from jobs.rules.stays import ParsedFeed, SyncFailure
from jobs.sync.reading import LinkReading, LinkSnapshot


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
