"""Benchmark: GET /scores over 20,000 properties x 30 snapshots, page by page, against a naive per-property query.

Run: .venv/bin/python bench/bench_scores.py [--properties N] [--snapshots M] [--per-page P]
Uses a throwaway SQLite database under a temporary folder (or DATABASE_URL when it names PostgreSQL: a
fresh database is created next to it and dropped afterwards). The API pass goes through the real app, its
token auth and JSON; the naive baseline asks the database once per property for its newest snapshot.
"""
from __future__ import annotations

import argparse
import os
import random
import sys
import tempfile
import time
import uuid
from datetime import datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import create_engine, insert, select, text  # noqa: E402

from bench.fleet_data import COPY_NEWEST  # noqa: E402
from config import TestConfig  # noqa: E402
from console import create_app  # noqa: E402
from console.extensions import db  # noqa: E402
from console.models import ApiToken, Owner, Property, ScoreSnapshot  # noqa: E402

T0 = datetime(2030, 1, 1)


def database_url(folder: str) -> tuple[str, callable]:
    """A fresh database URL and a function that drops it."""
    base = os.environ.get("DATABASE_URL", "")
    if not base.startswith("postgres"):
        return f"sqlite:///{folder}/bench.db", lambda: None
    name = f"csc_bench_{uuid.uuid4().hex[:8]}"
    admin = create_engine(base.replace("postgres://", "postgresql://", 1), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = admin.url.set(database=name).render_as_string(hide_password=False)

    def drop():
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    return url, drop


def load(properties: int, snapshots: int, rng: random.Random) -> None:
    """Properties, each with `snapshots` score snapshots a day apart, inserted in bulk."""
    owner = Owner(email="bench@example.com")
    db.session.add(owner)
    db.session.flush()
    db.session.execute(insert(Property), [
        {"id": i, "name": f"Flat {i}", "owner_id": owner.id, "external_ref": f"REF-{i}",
         "export_token": uuid.uuid4().hex, "risk_factors": []} for i in range(1, properties + 1)])
    rows = []
    for day in range(snapshots):
        for prop in range(1, properties + 1):
            rows.append({"property_id": prop, "score": rng.randrange(0, 101),
                         "computed_at": T0 + timedelta(days=day, seconds=prop),
                         "components": {"version": 1, "overbookings": {"points": 50.0}}})
        if len(rows) >= 50_000:
            db.session.execute(insert(ScoreSnapshot), rows)
            rows = []
    if rows:
        db.session.execute(insert(ScoreSnapshot), rows)
    # Bulk inserts fire no ORM event: copy each property's newest snapshot onto its row, as the
    # migration and the nightly job do.
    for statement in COPY_NEWEST:
        db.session.execute(text(statement))
    db.session.commit()
    # Planner statistics, as autovacuum (PostgreSQL) or a periodic ANALYZE keeps them in production:
    # without them PostgreSQL may hash the whole history instead of probing the index per property.
    db.session.execute(text("ANALYZE"))
    db.session.commit()


def api_pass(client, token: str, per_page: int, since: str | None) -> tuple[int, int]:
    """Every page of GET /scores; returns (items, pages)."""
    headers = {"Authorization": f"Bearer {token}"}
    after, items, pages = 0, 0, 0
    while after is not None:
        query = f"?per_page={per_page}&after_id={after}" + (f"&updated_since={since}" if since else "")
        body = client.get(f"/api/v1/scores{query}", headers=headers).get_json()
        items, pages, after = items + len(body["items"]), pages + 1, body["next_after_id"]
    return items, pages


def naive_pass() -> int:
    """The newest snapshot of each property, asked for one property at a time."""
    found = 0
    for prop_id in db.session.execute(select(Property.id).order_by(Property.id)).scalars():
        snap = db.session.execute(select(ScoreSnapshot).filter_by(property_id=prop_id).order_by(
            ScoreSnapshot.computed_at.desc()).limit(1)).scalar_one_or_none()
        found += snap is not None
    db.session.rollback()
    return found


def timed(fn) -> tuple[float, object]:
    start = time.perf_counter()
    result = fn()
    return (time.perf_counter() - start) * 1000, result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--properties", type=int, default=20_000)
    parser.add_argument("--snapshots", type=int, default=30)
    parser.add_argument("--per-page", type=int, default=1000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        url, drop = database_url(folder)
        try:
            app = create_app(TestConfig(env={"INSTANCE_PATH": folder, "DATABASE_URL": url}))
            with app.app_context():
                from flask_migrate import upgrade
                upgrade()
                ms, _ = timed(lambda: load(args.properties, args.snapshots, random.Random(5)))
                total = args.properties * args.snapshots
                print(f"loaded {args.properties} properties x {args.snapshots} snapshots "
                      f"({total} rows) on {db.engine.dialect.name} in {ms:.0f} ms")
                row, token = ApiToken.issue("bench", "viewer")
                db.session.add(row)
                db.session.commit()
                client = app.test_client()
                api_ms, (items, pages) = timed(lambda: api_pass(client, token, args.per_page, None))
                print(f"GET /scores, whole fleet: {items} items in {pages} pages: {api_ms:.0f} ms "
                      f"({api_ms / pages:.1f} ms a page)")
                # An incremental pull after the last nightly run: the newest tenth of the fleet moved.
                since = (T0 + timedelta(days=args.snapshots - 1, seconds=args.properties * 9 // 10)
                         ).isoformat() + "Z"
                inc_ms, (inc_items, _) = timed(lambda: api_pass(client, token, args.per_page, since))
                print(f"GET /scores?updated_since={since}: {inc_items} items: {inc_ms:.0f} ms")
                naive_ms, found = timed(naive_pass)
                print(f"naive, one query per property: {found} items: {naive_ms:.0f} ms")
                print(f"ratio naive / paged API: {naive_ms / api_ms:.1f}x")
                db.session.remove()
                db.engine.dispose()
        finally:
            drop()


if __name__ == "__main__":
    main()
