"""The Calendar Sync Console Flask application."""
from __future__ import annotations

import os
import secrets
from pathlib import Path

from flask import Flask
from sqlalchemy import event
from sqlalchemy.engine import Engine

from config import BASE_DIR, Config
from console.extensions import csrf, db, login_manager, migrate


def create_app(config: Config | type[Config] | None = None) -> Flask:
    """Build a configured app; nothing connects or starts until a request or command needs it."""
    cfg = config() if isinstance(config, type) else (config or Config())
    app = Flask(__name__, instance_path=cfg.INSTANCE_PATH,
                template_folder=str(BASE_DIR / "templates"), static_folder="static")
    app.config.from_object(cfg)
    if not app.config.get("SECRET_KEY"):
        app.config["SECRET_KEY"] = _instance_secret(app.instance_path, cfg.TESTING)
    from console.inputs import register_input_rules
    register_input_rules(app)  # first: the id converter must exist before any route
    from console.security import register_security
    register_security(app)
    register_extensions(app)
    register_blueprints(app)
    register_admin(app)
    register_cli(app)
    from console.faults import register_fault_pages
    register_fault_pages(app)
    from console.timeutil import ago, exact_utc, iso, plural
    for template_filter in (ago, exact_utc, iso, plural):
        app.add_template_filter(template_filter)
    return app


def _instance_secret(instance_path: str, testing: bool) -> str:
    """The secret key kept under instance/, generated on first use (so sessions survive restarts)."""
    if testing:
        return secrets.token_hex(32)
    path = Path(instance_path, "secret_key")
    if not path.exists():
        os.makedirs(instance_path, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(secrets.token_hex(32))
    return path.read_text().strip()


@event.listens_for(Engine, "connect")
def _sqlite_pragmas(dbapi_conn, _record):
    """WAL: web, workers and scheduler write to one SQLite file at once (the busy timeout is
    DB_TIMEOUT_SECONDS, set by config.engine_options)."""
    if type(dbapi_conn).__module__.startswith("sqlite3"):
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        # NORMAL is safe from corruption in WAL mode and spares an fsync per commit.
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.close()


def register_extensions(app: Flask) -> None:
    """Bind the extension singletons to this app."""
    if app.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite:///"):
        os.makedirs(app.instance_path, exist_ok=True)
    db.init_app(app)
    migrate.init_app(app, db, directory=str(BASE_DIR / "migrations"), render_as_batch=True)
    login_manager.init_app(app)
    csrf.init_app(app)
    from console.operations.metrics import init_metrics
    from console.signin import auth  # noqa: F401 - registers the user loader
    init_metrics(app)


def register_blueprints(app: Flask) -> None:
    """Mount the API, the login pages, health/metrics, the iCal export feed and the owner status page."""
    from console.api import api_bp
    from console.operations.endpoints import ops_bp
    from console.public.ical_feed import ical_feed_bp
    from console.signin.auth import auth_bp
    csrf.exempt(api_bp)  # token-authenticated machine clients; no cookies, no CSRF
    app.register_blueprint(api_bp)
    app.register_blueprint(auth_bp)
    app.register_blueprint(ops_bp)
    app.register_blueprint(ical_feed_bp)
    from console.public.owner_status import owner_status_bp
    app.register_blueprint(owner_status_bp)
    if app.config.get("DEMO_FEEDS"):
        from console.demo.feeds import demo_feeds_bp
        app.register_blueprint(demo_feeds_bp)


def register_admin(app: Flask) -> None:
    """Build a fresh Flask-Admin for this app (views are per app: flask-admin #910)."""
    from console.admin import build_admin
    build_admin(app)


def register_cli(app: Flask) -> None:
    """Add the `flask` commands (docs/operations.md)."""
    from console.cli.commands import register_commands
    register_commands(app)
