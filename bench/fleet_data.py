"""A production-size fleet, written in bulk (COPY on PostgreSQL, executemany on SQLite), for benchmarks.

Per property: 1.5 links, `stays` reservations, `runs` sync runs per link over 120 days (a quarter older
than the 90-day retention; the evidence of an overbooking among them), `snapshots` daily score snapshots; an
overbooking every `overbooking_every` (20) properties.
"""
from __future__ import annotations

import json
import random
import uuid
from datetime import datetime, timedelta

from sqlalchemy import text

from console.models.text_keys import fold, name_key, search_key
from jobs.rules.alerts import exposure

SOURCES = ("airbnb", "vrbo", "booking", "google")
CITIES = ("Sevilla", "Madrid", "Valencia", "Málaga", "Barcelona")
# The newest snapshot of each property copied onto its row, as migration 0008 does.
COPY_NEWEST = [
    "UPDATE properties SET score_snapshot_id = (SELECT s.id FROM score_snapshots s WHERE "
    "s.property_id = properties.id ORDER BY s.computed_at DESC, s.id DESC LIMIT 1)",
    *[f"UPDATE properties SET {column} = (SELECT s.{source} FROM score_snapshots s WHERE "
      "s.id = properties.score_snapshot_id) WHERE score_snapshot_id IS NOT NULL"
      for column, source in (("score_value", "score"), ("score_components", "components"),
                             ("score_computed_at", "computed_at"))],
]


def bulk(conn, table: str, columns: tuple[str, ...], rows) -> int:
    """Write `rows` (tuples in `columns` order) into `table` through the driver; returns the count."""
    raw = conn.connection.driver_connection
    count = 0
    if conn.dialect.name == "postgresql":
        with raw.cursor() as cur, cur.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)
                count += 1
        return count
    marks = ", ".join("?" for _ in columns)
    cur, chunk = raw.cursor(), []
    for row in rows:
        chunk.append(tuple(_sqlite(v) for v in row))
        if len(chunk) >= 20_000:
            cur.executemany(f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks})", chunk)
            count, chunk = count + len(chunk), []
    if chunk:
        cur.executemany(f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks})", chunk)
        count += len(chunk)
    return count


def _sqlite(value):
    # SQLAlchemy's SQLite DateTime text form, so the ORM reads these rows as it reads its own.
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S.%f")
    return value


def build(conn, properties: int, *, stays: int = 50, runs: int = 31, snapshots: int = 30,
          now: datetime, seed: int = 7, overbooking_every: int = 20) -> dict[str, int]:
    """Load the fleet into an empty, migrated database; returns rows written per table."""
    rng = random.Random(seed)
    done: dict[str, int] = {}
    owners = (properties + 9) // 10
    done["owners"] = bulk(conn, "owners", ("id", "email", "email_key", "created_at"),
                          ((i, f"owner{i}@example.com", fold(f"owner{i}@example.com"), now)
                           for i in range(1, owners + 1)))
    links = [(i, i) for i in range(1, properties + 1)] + \
        [(properties + n, i) for n, i in enumerate(range(2, properties + 1, 2), start=1)]

    def link_rows():
        for link_id, prop in links:
            roll = rng.random()
            ok = roll > 0.05
            success = now - timedelta(minutes=5 if roll > 0.08 else 600)
            yield (link_id, prop, SOURCES[link_id % 4], f"https://feeds.example.com/{link_id}.ics",
                   "active" if roll < 0.97 else "paused", now - timedelta(days=200),
                   now - timedelta(minutes=5), success, ok, now + timedelta(minutes=10),
                   0 if ok else 2, None if ok else "timeout", "[]", 0, "[]", False)
    link_list = list(link_rows())  # first, so each property's nights at stake are known
    # A failing or stale (600-minute-old success) link leaves the property's free nights at stake, as
    # the risk pass stores it; every property has the same stays (below), so the same exposure.
    unprotected = {row[1] for row in link_list if not row[8] or now - row[7] > timedelta(minutes=60)}
    at_stake = exposure([("direct", start, start + timedelta(days=3)) for start in (
        now.date() + timedelta(days=-300 + k * 10) for k in range(stays))], now.date()).sellable_nights

    def property_rows():
        for i in range(1, properties + 1):
            name, city, ref = f"Flat {i}", CITIES[i % 5], f"REF-{i}"
            yield (i, name, (i - 1) // 10 + 1, "Europe/Madrid", True, ref, city, uuid.uuid4().hex, "none",
                   "[]", now, search_key(name, city, ref), name_key(name), at_stake if i in unprotected else 0)
    done["properties"] = bulk(
        conn, "properties", ("id", "name", "owner_id", "timezone", "instant_booking", "external_ref",
                             "city", "export_token", "risk_level", "risk_factors", "created_at",
                             "search_key", "name_key", "exposure_nights"), property_rows())
    done["calendar_links"] = bulk(
        conn, "calendar_links", ("id", "property_id", "source", "url", "state", "created_at",
                                 "last_sync_at", "last_success_at", "last_attempt_ok", "next_sync_at",
                                 "consecutive_failures", "last_error_kind", "warnings",
                                 "ignored_events", "ignored_detail", "accept_next_change"),
        link_list)
    today = now.date()

    def stay_rows():
        for prop in range(1, properties + 1):
            for k in range(stays):
                origin = "direct" if k % 10 == 0 else ("manual" if k % 25 == 1 else "external")
                start = today + timedelta(days=-300 + k * 10)
                code = {"direct": "OA-", "manual": "MB-", "external": "EX-"}[origin] + f"{prop:07d}{k:03d}"
                yield (code, prop, origin, prop if origin == "external" else None, start,
                       start + timedelta(days=3), now, now, now)
    done["reservations"] = bulk(
        conn, "reservations", ("code", "property_id", "origin", "link_id", "check_in", "check_out",
                               "created_at", "updated_at", "dates_changed_at"), stay_rows())
    span = timedelta(days=120)

    def run_rows():
        # Round by round, as syncs append them: ids follow time, so old runs are the table's first pages.
        run_id = 0
        for k in range(runs):
            for link_id, _prop in links:
                run_id += 1
                failed = rng.random() < 0.05
                started = now - span + span * (k + rng.random()) / runs
                yield (run_id, link_id, started, started + timedelta(seconds=1),
                       "error" if failed else "unchanged", "timeout" if failed else None, 0, 0, 0)
    done["sync_runs"] = bulk(conn, "sync_runs", ("id", "link_id", "started_at", "finished_at",
                                                "outcome", "error_kind", "added", "updated",
                                                "removed"), run_rows())
    components = json.dumps({"version": 1, "overbookings": {"points": 50.0},
                             "sync_success": {"points": 19.0}})
    done["score_snapshots"] = bulk(
        conn, "score_snapshots", ("property_id", "score", "components", "computed_at"),
        ((prop, rng.randrange(0, 101), components, now - timedelta(days=snapshots - day, seconds=-prop))
         for day in range(snapshots) for prop in range(1, properties + 1)))
    done["overbookings"] = bulk(
        conn, "overbookings", ("property_id", "direct_code", "external_code", "link_id", "sync_run_id",
                               "first_night", "last_night", "nights", "detected_at",
                               "counts_against_owner", "attribution", "state", "link_source"),
        ((prop, f"OA-{prop:07d}000", f"EX-{prop:07d}002", prop, prop, today, today, 1,
          now - timedelta(days=prop % 200), prop % 3 == 0, "bench", "open" if prop % 2 else "resolved",
          "airbnb") for prop in range(1, properties + 1, overbooking_every)))
    for statement in COPY_NEWEST:
        conn.execute(text(statement))
    if conn.dialect.name == "postgresql":  # ids were given: move the sequences past them
        for table in ("owners", "properties", "calendar_links", "reservations", "sync_runs",
                      "score_snapshots", "overbookings"):
            conn.execute(text(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                              f"(SELECT max(id) FROM {table}))"))
    return done
