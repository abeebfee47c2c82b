"""The Alembic migrations build exactly the schema the models describe, and init-db is idempotent."""
from __future__ import annotations

from contextlib import contextmanager

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from flask import current_app
from flask_migrate import upgrade
from sqlalchemy import PrimaryKeyConstraint, UniqueConstraint, inspect, text

from config import TestConfig
from console import create_app
from console.extensions import db


def test_migrations_match_the_models_and_upgrade_twice(tmp_path):
    app = create_app(TestConfig(env={"DATABASE_URL": f"sqlite:///{tmp_path}/fresh.db",
                                     "INSTANCE_PATH": str(tmp_path)}))
    with app.app_context():
        upgrade()
        upgrade()  # a second init-db changes nothing and does not fail
        with db.engine.connect() as conn:
            diffs = compare_metadata(MigrationContext.configure(conn), db.metadata)
            version = conn.exec_driver_sql("SELECT version_num FROM alembic_version").scalar()
        head = ScriptDirectory.from_config(app.extensions["migrate"].migrate.get_config()).get_current_head()
        db.engine.dispose()
    assert diffs == []
    assert version == head and head is not None


@contextmanager
def older_database(tmp_path, revision: str):
    """Inside the app context of a new SQLite file migrated only up to `revision` (an older install)."""
    app = create_app(TestConfig(env={"DATABASE_URL": f"sqlite:///{tmp_path}/old.db",
                                     "INSTANCE_PATH": str(tmp_path)}))
    with app.app_context():
        upgrade(revision=revision)
        yield
        db.engine.dispose()


def test_0004_dates_existing_reservations_by_their_last_change(tmp_path):
    with older_database(tmp_path, "0003"):
        with db.engine.begin() as conn:
            conn.exec_driver_sql("INSERT INTO owners (id, email, created_at) VALUES (1, 'o@example.com', "
                                 "'2026-01-01 00:00:00.000000')")
            conn.exec_driver_sql(
                "INSERT INTO properties (id, name, owner_id, timezone, instant_booking, export_token, risk_level, "
                "risk_factors, created_at) VALUES (1, 'Flat', 1, 'UTC', 0, 'tok', 'none', '[]', "
                "'2026-01-01 00:00:00.000000')")
            conn.exec_driver_sql(
                "INSERT INTO reservations (id, code, property_id, origin, check_in, check_out, created_at, "
                "updated_at) VALUES (1, 'EX-AAAAAAAAAA', 1, 'external', '2026-02-01', '2026-02-04', "
                "'2026-01-02 10:00:00.000000', '2026-01-05 12:00:00.000000')")
        upgrade()
        with db.engine.connect() as conn:
            dated = conn.exec_driver_sql("SELECT dates_changed_at FROM reservations WHERE id = 1").scalar()
    assert str(dated).startswith("2026-01-05 12:00:00")


def _indexed_prefixes(table) -> list[tuple[str, ...]]:
    """The column lists an index can serve a lookup by: indexes, unique constraints, the primary key."""
    found = [tuple(c.name for c in index.columns) for index in table.indexes]
    found += [tuple(c.name for c in con.columns) for con in table.constraints
              if isinstance(con, (UniqueConstraint, PrimaryKeyConstraint))]
    return found


def test_every_foreign_key_column_is_indexed():
    """A delete of the parent row (a prune, a removed link) looks its children up by the key: without
    an index every deleted row scans the child table (9 minutes of pruning, the write lock held)."""
    import console.models  # noqa: F401 - every table in the metadata
    missing = []
    for table in db.metadata.sorted_tables:
        prefixes = _indexed_prefixes(table)
        for fk in table.foreign_key_constraints:
            columns = tuple(c.name for c in fk.columns)
            if not any(p[:len(columns)] == columns for p in prefixes):
                missing.append(f"{table.name}({', '.join(columns)})")
    assert missing == []


def test_the_migrated_database_indexes_every_foreign_key(app):
    inspector = inspect(db.engine)
    missing = []
    for name in inspector.get_table_names():
        prefixes = [tuple(i["column_names"]) for i in inspector.get_indexes(name)]
        prefixes += [tuple(u["column_names"]) for u in inspector.get_unique_constraints(name)]
        prefixes.append(tuple(inspector.get_pk_constraint(name)["constrained_columns"]))
        for fk in inspector.get_foreign_keys(name):
            columns = tuple(fk["constrained_columns"])
            if not any(p[:len(columns)] == columns for p in prefixes):
                missing.append(f"{name}({', '.join(columns)})")
    assert missing == []


def test_migration_0009_fills_the_keys_of_existing_properties(tmp_path):
    with older_database(tmp_path, "0008"):
        with db.engine.begin() as conn:
            conn.exec_driver_sql("INSERT INTO owners (id, email, created_at) VALUES (1, 'O@Example.com', "
                                 "'2026-01-01 00:00:00.000000')")
            for pid, name, city in ((1, "Ático 5", "Málaga"), (2, "Flat 43", None)):
                conn.execute(text(
                    "INSERT INTO properties (id, name, owner_id, timezone, instant_booking, export_token, "
                    "risk_level, risk_factors, created_at, city, external_ref) VALUES (:id, :name, 1, 'UTC', 0, "
                    ":tok, 'none', '[]', '2026-01-01 00:00:00.000000', :city, :ref)"),
                    {"id": pid, "name": name, "tok": f"tok{pid}", "city": city, "ref": f"REF-{pid}"})
        upgrade()
        with db.engine.connect() as conn:
            rows = conn.exec_driver_sql("SELECT search_key, name_key, exposure_nights FROM properties "
                                        "ORDER BY name_key").all()
            owner_key = conn.exec_driver_sql("SELECT email_key FROM owners").scalar()
    assert rows == [("atico 5\nmalaga\nref-1", "atico 000000000005", 0),
                    ("flat 43\n\nref-2", "flat 000000000043", 0)]
    assert owner_key == "o@example.com"


def _links_schema(conn) -> tuple[str, list[str], list[tuple]]:
    """calendar_links' CREATE statement, its index names, and the foreign keys pointing at it."""
    sql = conn.exec_driver_sql("SELECT sql FROM sqlite_master WHERE name = 'calendar_links'").scalar()
    indexes = sorted(conn.exec_driver_sql("SELECT name FROM sqlite_master WHERE type = 'index' AND "
                                          "tbl_name = 'calendar_links' AND sql IS NOT NULL").scalars())
    children = sorted((table, row[3], row[6]) for table in ("sync_runs", "reservations", "overbookings",
                                                            "notifications")
                      for row in conn.exec_driver_sql(f"PRAGMA foreign_key_list({table})")
                      if row[2] == "calendar_links")
    return sql, indexes, children


def test_0013_rebuilds_links_with_autoincrement_keeping_rows_indexes_and_foreign_keys(tmp_path):
    with older_database(tmp_path, "0012"):
        with db.engine.begin() as conn:
            conn.exec_driver_sql("INSERT INTO owners (id, email, email_key, created_at) VALUES "
                                 "(1, 'o@example.com', 'o@example.com', '2026-01-01 00:00:00.000000')")
            conn.exec_driver_sql(
                "INSERT INTO properties (id, name, owner_id, timezone, instant_booking, export_token, "
                "risk_level, risk_factors, created_at, search_key, name_key) VALUES (1, 'Flat', 1, 'UTC', 0, "
                "'tok', 'none', '[]', '2026-01-01 00:00:00.000000', 'flat', 'flat')")
            for link_id in (1, 2, 3):
                conn.exec_driver_sql(
                    "INSERT INTO calendar_links (id, property_id, source, url, state, created_at, "
                    "consecutive_failures, warnings, ignored_events, ignored_detail, accept_next_change) "
                    f"VALUES ({link_id}, 1, 'ical', 'https://example.com/{link_id}.ics', 'active', "
                    "'2026-01-01 00:00:00.000000', 0, '[]', 0, '[]', 0)")
            conn.exec_driver_sql("INSERT INTO sync_runs (id, link_id, started_at, outcome, added, updated, "
                                 "removed) VALUES (1, 3, '2026-01-02 00:00:00.000000', 'changed', 1, 0, 0)")
            conn.exec_driver_sql(
                "INSERT INTO reservations (id, code, property_id, origin, link_id, check_in, check_out, "
                "created_at, updated_at, dates_changed_at) VALUES (1, 'EX-AAAAAAAAAA', 1, 'external', 3, "
                "'2026-02-01', '2026-02-04', '2026-01-02 10:00:00.000000', '2026-01-02 10:00:00.000000', "
                "'2026-01-02 10:00:00.000000')")
            before = _links_schema(conn)
            links_before = conn.exec_driver_sql("SELECT * FROM calendar_links ORDER BY id").all()
        upgrade(revision="0013")  # the rebuild alone (later revisions add their own columns)
        with db.engine.begin() as conn:
            after = _links_schema(conn)
            assert conn.exec_driver_sql("SELECT * FROM calendar_links ORDER BY id").all() == links_before
            # the children kept their rows (no ON DELETE action fired when the old table was dropped)
            assert conn.exec_driver_sql("SELECT link_id FROM sync_runs").scalars().all() == [3]
            assert conn.exec_driver_sql("SELECT link_id FROM reservations").scalars().all() == [3]
            conn.exec_driver_sql("DELETE FROM calendar_links WHERE id = 3")  # the newest link goes
            assert conn.exec_driver_sql("SELECT count(*) FROM sync_runs").scalar() == 0  # cascade holds
            conn.exec_driver_sql(
                "INSERT INTO calendar_links (property_id, source, url, state, created_at, "
                "consecutive_failures, warnings, ignored_events, ignored_detail, accept_next_change) "
                "VALUES (1, 'ical', 'https://example.com/new.ics', 'linked', '2026-01-03 00:00:00.000000', "
                "0, '[]', 0, '[]', 0)")
            new_id = conn.exec_driver_sql("SELECT max(id) FROM calendar_links").scalar()
            foreign_keys_on = conn.exec_driver_sql("PRAGMA foreign_keys").scalar()
    assert "AUTOINCREMENT" not in before[0] and "AUTOINCREMENT" in after[0]
    assert after[1:] == before[1:] and "ix_calendar_links_failing" in after[1] and len(after[2]) == 4
    assert new_id == 4  # not 3 again
    assert foreign_keys_on == 1  # the app's connections enforce foreign keys again after a migration


def test_an_orphan_row_from_before_does_not_stop_an_upgrade(tmp_path):
    """The foreign-key check after the migrations blames them only for keys they broke."""
    with older_database(tmp_path, "0010"):
        raw = db.engine.raw_connection()
        try:
            raw.execute("PRAGMA foreign_keys=OFF")
            raw.execute("INSERT INTO sync_runs (id, link_id, started_at, outcome, added, updated, removed) "
                        "VALUES (1, 99, '2026-01-02 00:00:00.000000', 'changed', 0, 0, 0)")
            raw.commit()
            raw.execute("PRAGMA foreign_keys=ON")
        finally:
            raw.close()
        upgrade()
        with db.engine.connect() as conn:
            version = conn.exec_driver_sql("SELECT version_num FROM alembic_version").scalar()
            kept = conn.exec_driver_sql("SELECT link_id FROM sync_runs").scalars().all()
        config = current_app.extensions["migrate"].migrate.get_config()
        head = ScriptDirectory.from_config(config).get_current_head()
    assert version == head and kept == [99]
