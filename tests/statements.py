"""Counting the SQL statements a piece of code sends (SQLAlchemy's before_cursor_execute)."""
from __future__ import annotations

from contextlib import contextmanager

from sqlalchemy import event

from console.extensions import db


class Statements(list):
    """The statements sent, in order; `writes` are the INSERT, UPDATE and DELETE ones."""

    @property
    def writes(self) -> list[str]:
        return [s for s in self if s.lstrip().split(None, 1)[0].upper() in ("INSERT", "UPDATE", "DELETE")]


@contextmanager
def counted():
    """with counted() as statements: ... -> every statement sent to db.engine meanwhile."""
    seen = Statements()

    def record(conn, cursor, statement, params, context, executemany):
        seen.append(statement)
    event.listen(db.engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(db.engine, "before_cursor_execute", record)
