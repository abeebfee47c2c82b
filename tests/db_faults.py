"""A database that refuses every connection for a while, made from outside as an operator's fault would
be: SQLite held under an exclusive lock by another connection, PostgreSQL refusing connections to the
database (ALLOW_CONNECTIONS false) with its open sessions ended (pg_terminate_backend)."""
from __future__ import annotations

import sqlite3
from contextlib import contextmanager
from urllib.parse import urlsplit, urlunsplit

from sqlalchemy import create_engine, text


@contextmanager
def database_refusing(url: str):
    """While inside, the database at `url` answers no one (reads included)."""
    if url.startswith("sqlite:///"):
        with _sqlite_locked(url[len("sqlite:///"):]):
            yield
    else:
        with _postgres_refusing(url):
            yield


@contextmanager
def _sqlite_locked(path: str):
    # Exclusive locking mode keeps even WAL readers out (they need the shared WAL index).
    conn = sqlite3.connect(path, isolation_level=None, timeout=5)
    conn.execute("PRAGMA locking_mode=EXCLUSIVE")
    conn.execute("BEGIN EXCLUSIVE")
    try:
        yield
    finally:
        conn.execute("ROLLBACK")
        conn.close()


def postgres_admin(url: str):
    """An autocommit engine on the server's `postgres` database (not the one being refused)."""
    parts = urlsplit(url)
    return create_engine(urlunsplit(parts._replace(path="/postgres")), isolation_level="AUTOCOMMIT")


@contextmanager
def _postgres_refusing(url: str):
    name = urlsplit(url).path.lstrip("/")
    admin = postgres_admin(url)
    with admin.connect() as conn:
        conn.execute(text(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS false'))
        conn.execute(text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                          "WHERE datname = :name AND pid <> pg_backend_pid()"), {"name": name})
    try:
        yield
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS true'))
        admin.dispose()
