"""Many rows updated with different values in one statement per batch (UPDATE ... FROM (VALUES ...))."""
from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import Table, bindparam, column, values

from console.extensions import db


def update_rows(table: Table, rows: list[dict], condition: Callable | None = None) -> None:
    """Set each row's values (its keys, by column name) on the row of `table` with its "id".

    PostgreSQL: one UPDATE ... FROM (VALUES ...) (20,000 one-row UPDATEs cost seconds of round trips
    and plans). SQLite, which has no column list for a VALUES alias: one executemany, in-process and
    cheap. `condition(target_columns, new_columns)` adds a guard to the WHERE clause.
    """
    if not rows:
        return
    names = list(rows[0])
    if db.session.get_bind().dialect.name == "postgresql":
        new = values(*(column(name, table.c[name].type) for name in names), name="new").data(
            [tuple(row[name] for name in names) for row in rows])
        stmt = table.update().where(table.c.id == new.c.id).values(
            {name: new.c[name] for name in names if name != "id"})
        if condition is not None:
            stmt = stmt.where(condition(table.c, new.c))
        db.session.execute(stmt)
        return
    params = {name: bindparam(f"new_{name}", type_=table.c[name].type) for name in names}
    stmt = table.update().where(table.c.id == params["id"]).values(
        {name: param for name, param in params.items() if name != "id"})
    if condition is not None:
        stmt = stmt.where(condition(table.c, params))
    db.session.execute(stmt, [{f"new_{name}": value for name, value in row.items()} for row in rows])
