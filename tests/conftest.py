"""Shared fixtures: one real database and one real Redis per test session, a fresh app per test."""
from __future__ import annotations

import os
import uuid
from urllib.parse import urlsplit, urlunsplit

import psutil
import pytest
import redis as redis_lib
from sqlalchemy import create_engine, text

from config import TestConfig
from console import create_app
from console.extensions import db as _db
from jobs import embedded_redis
from tests.kigo_standin import kigo_standin  # noqa: F401 - fixture for every test module

# A database of our own on a shared Redis (by pid, so parallel runs on one machine do not collide).
TEST_REDIS_DB = int(os.environ.get("TEST_REDIS_DB", 1 + os.getpid() % 15))
LEFTOVER_GRACE_SECONDS = 5  # children that are already stopping get this long to exit


def _postgres_database(url: str) -> tuple[str, callable]:
    """Create a throwaway database next to the given one; return its URL and a dropper."""
    name = f"csc_test_{uuid.uuid4().hex[:10]}"
    admin = create_engine(url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    parts = urlsplit(url)
    new_url = urlunsplit(parts._replace(path=f"/{name}"))

    def drop():
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
    return new_url, drop


@pytest.fixture(scope="session")
def backends(tmp_path_factory):
    """The session's database URL and Redis URL/socket; PostgreSQL and Redis when the env names them."""
    instance = tmp_path_factory.mktemp("instance")
    env = {"INSTANCE_PATH": str(instance)}
    drop = None
    base_db = os.environ.get("DATABASE_URL")
    if base_db and base_db.startswith("postgres"):
        env["DATABASE_URL"], drop = _postgres_database(base_db.replace("postgres://",
                                                                        "postgresql://", 1))
    else:
        env["DATABASE_URL"] = f"sqlite:///{instance}/test.db"
    sock = None
    if os.environ.get("REDIS_URL"):
        parts = urlsplit(os.environ["REDIS_URL"])
        env["REDIS_URL"] = urlunsplit(parts._replace(path=f"/{TEST_REDIS_DB}"))
    else:
        sock = embedded_redis.ensure_running(str(instance), owned=True)
    # One schema per session, built by the real migrations (so they are tested on each backend).
    app = create_app(TestConfig(env=env))
    with app.app_context():
        from flask_migrate import upgrade
        upgrade()
        _db.engine.dispose()
    yield env
    if sock:
        embedded_redis.shutdown(sock)
    if drop:
        drop()


def _clean(app) -> None:
    """Empty every table and the test Redis database: each test starts from nothing."""
    with app.app_context():
        tables = [t for t in reversed(_db.metadata.sorted_tables)]
        with _db.engine.begin() as conn:
            if conn.dialect.name == "postgresql":
                names = ", ".join(f'"{t.name}"' for t in tables)
                conn.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
            else:
                for table in tables:
                    conn.execute(table.delete())
                # ids start again at 1, as RESTART IDENTITY does on PostgreSQL (AUTOINCREMENT tables)
                if conn.exec_driver_sql("SELECT 1 FROM sqlite_master WHERE name = 'sqlite_sequence'").first():
                    conn.exec_driver_sql("DELETE FROM sqlite_sequence")
        from jobs.broker import redis_connection
        redis_connection(app).flushdb()


@pytest.fixture
def app(backends):
    """A fresh app on the session's database and Redis, emptied before the test."""
    application = create_app(TestConfig(env=dict(backends)))
    _clean(application)
    with application.app_context():
        yield application
        _db.session.remove()
    with application.app_context():
        _db.engine.dispose()
    for key in ("csc_redis", "csc_redis_worker"):
        conn = application.extensions.get(key)
        if conn is not None:
            conn.close()


@pytest.fixture
def db(app):
    """The database extension, inside the app context."""
    return _db


@pytest.fixture
def client(app):
    """The Flask test client."""
    return app.test_client()


@pytest.fixture
def runner(app):
    """The Flask CLI runner."""
    return app.test_cli_runner()


@pytest.fixture
def redis_conn(app) -> redis_lib.Redis:
    """The app's real Redis connection."""
    from jobs.broker import redis_connection
    return redis_connection(app)


def pytest_sessionfinish(session, exitstatus):
    """Fail the run when a process the tests started (web, worker, scheduler, browser...) outlives
    them: "nothing left behind" is part of the product, not only of .ci/run."""
    try:
        children = psutil.Process().children(recursive=True)
    except psutil.Error:
        return
    # wait_procs also reaps children that exited but were never waited for (not a leak).
    _gone, alive = psutil.wait_procs(children, timeout=LEFTOVER_GRACE_SECONDS)
    if not alive:
        return
    lines = []
    for proc in alive:
        try:
            lines.append(f"pid {proc.pid}: {' '.join(proc.cmdline()) or proc.name()}")
        except psutil.Error:
            lines.append(f"pid {proc.pid}: (exited while being listed)")
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    if reporter is not None:
        reporter.write_line("")  # the progress line is not ended yet
        reporter.write_sep("=", f"{len(alive)} process(es) left behind by the tests", red=True)
        for line in lines:
            reporter.write_line(line)
    else:
        print(f"{len(alive)} process(es) left behind by the tests:", *lines, sep="\n")
    if session.exitstatus == pytest.ExitCode.OK:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


from tests.factories import *  # noqa: E402,F401,F403 - factory fixtures
