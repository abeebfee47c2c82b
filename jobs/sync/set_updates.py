"""Many rows updated with different values in one statement per batch (UPDATE ... FROM json_to_recordset)."""
from __future__ import annotations

import json
from collections.abc import Callable
from datetime import date

from sqlalchemy import JSON, String, Table, bindparam, cast, column, func

from console.extensions import db


def update_rows(table: Table, rows: list[dict], condition: Callable | None = None) -> None:
    """Set each row's values (its keys, by column name) on the row of `table` with its "id".

    PostgreSQL: one UPDATE ... FROM json_to_recordset(one JSON parameter) (20,000 one-row UPDATEs cost
    seconds of round trips and plans; a VALUES list of literals cost ~0.4 s of SQL compiling per 2,000
    rows, and arrays of JSON text as long again in psycopg's escaping). SQLite: one executemany,
    in-process and cheap.
    `condition(target_columns, new_columns)` adds a guard to the WHERE clause.
    """
    if not rows:
        return
    names = list(rows[0])
    if db.session.get_bind().dialect.name == "postgresql":
        document = json.dumps(rows, default=_json_value)
        rows_param = cast(bindparam("new_rows", document, type_=String()), JSON)  # one text, parsed once
        new = func.json_to_recordset(rows_param).table_valued(
            *(column(name, table.c[name].type) for name in names)).render_derived(
            name="new", with_types=True)
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



def _json_value(value):
    """Dates and times as the ISO text PostgreSQL reads back into the column's type."""
    if isinstance(value, date):
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")
