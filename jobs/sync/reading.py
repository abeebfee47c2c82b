"""Read one link's external calendar into stays: the network half of a sync, no database."""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import date, datetime
from urllib.parse import urlsplit

from jobs.fetch.feed import FetchResult, FetchSettings, HostLimiter, fetch_feed
from jobs.rules.advice import describe
from jobs.rules.stays import ParsedFeed, SyncFailure


@dataclass(frozen=True)
class LinkSnapshot:
    """What a sync needs to know about a link, copied out of the database before fetching."""

    link_id: int
    property_id: int
    source: str
    url: str | None
    timezone: str
    etag: str | None = None
    last_modified: str | None = None
    content_hash: str | None = None
    reuse_unchanged: bool = True  # False while a hold waits for confirmation: re-read everything
    kigo_code: str | None = None
    kigo_property_id: int | None = None
    kigo_diff_id: str | None = None
    today: date | None = None  # the property's day: what is past and what is ahead
    due_at: datetime | None = None  # when a scheduler found it due (None: a forced or first sync)


@dataclass
class LinkReading:
    """The result of reading one link: a parsed feed, 'not modified', 'unchanged', or a failure."""

    snapshot: LinkSnapshot
    outcome: str  # "parsed" | "not_modified" | "unchanged" | "error"
    started_at: float = 0.0
    duration_ms: int = 0
    fetch: FetchResult | None = None
    parsed: ParsedFeed | None = None
    failure: SyncFailure | None = None
    extra: dict = field(default_factory=dict)  # source-specific facts (Kigo instant booking...)


def read_ical_link(snap: LinkSnapshot, settings: FetchSettings, limiter: HostLimiter,
                   today: date, horizon_days: int) -> LinkReading:
    """Fetch and parse an iCal link; classified failures are returned, never raised."""
    from jobs.ical.parse import parse_feed  # late: the parser is only needed by workers
    started = time.time()
    reading = LinkReading(snap, "error", started_at=started)
    try:
        host = urlsplit(snap.url or "").hostname or ""
        with limiter.slot(host):
            result = fetch_feed(snap.url, settings,
                                etag=snap.etag if snap.reuse_unchanged else None,
                                last_modified=snap.last_modified if snap.reuse_unchanged else None)
        reading.fetch = result
        if result.status == "not_modified":
            reading.outcome = "not_modified"
        elif snap.reuse_unchanged and snap.content_hash == result.content_hash:
            reading.outcome = "unchanged"  # same bytes as last time: nothing to parse
        else:
            reading.parsed = parse_feed(result.body, snap.source, snap.timezone, today,
                                        horizon_days=horizon_days,
                                        content_type=result.content_type)
            reading.outcome = "parsed"
    except SyncFailure as failure:
        reading.failure = failure
    except Exception as exc:  # noqa: BLE001 - one bad feed must never stop the batch
        # The parser reads every calendar it is given, event by event: a crash is our bug.
        reading.failure = SyncFailure("internal", f"Our own failure: reading this feed crashed "
                                      f"({describe(exc)}). The blocks are unchanged.")
    reading.duration_ms = int((time.time() - started) * 1000)
    return reading
