"""The Alembic migrations build exactly the schema the models describe, and init-db is idempotent."""
from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
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
        db.engine.dispose()
    assert diffs == []
    assert version == "0003"
