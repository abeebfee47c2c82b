"""The Alembic migrations build exactly the schema the models describe, and init-db is idempotent."""
from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from flask_migrate import upgrade

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


def test_0004_dates_existing_reservations_by_their_last_change(tmp_path):
    app = create_app(TestConfig(env={"DATABASE_URL": f"sqlite:///{tmp_path}/old.db",
                                     "INSTANCE_PATH": str(tmp_path)}))
    with app.app_context():
        upgrade(revision="0003")
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
        db.engine.dispose()
    assert str(dated).startswith("2026-01-05 12:00:00")
