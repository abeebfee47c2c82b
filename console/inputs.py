"""Input every route gets for free: ids that are ASCII digits within the database's range, and no
NUL or lone UTF-16 surrogate in any text (PostgreSQL refuses the one, no encoder takes the other)."""
from __future__ import annotations

from flask import Flask, abort, request
from werkzeug.routing import IntegerConverter, ValidationError

from console.actions.errors import ActionError, unstorable

ID_MAX = 2 ** 31 - 1  # PostgreSQL INTEGER, the id columns' type on every backend


class IdConverter(IntegerConverter):
    """`<int:...>` in every route: ASCII digits only (`١` is not 1) and at most ID_MAX, else 404."""

    regex = r"[0-9]{1,10}"

    def to_python(self, value: str) -> int:
        number = int(value)
        if number > ID_MAX:
            raise ValidationError()
        return number


def _holds_unstorable(value) -> bool:
    if isinstance(value, str):
        return unstorable(value)
    if isinstance(value, dict):
        return any(_holds_unstorable(k) or _holds_unstorable(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_holds_unstorable(item) for item in value)
    return False


def bad_text_field(data: dict) -> str | None:
    """The top-level field of a JSON body whose text (at any depth) is not storable, if any."""
    for key, value in data.items():
        if _holds_unstorable(key) or _holds_unstorable(value):
            return "body" if unstorable(key) else key
    return None


def register_input_rules(app: Flask) -> None:
    """Install the id converter (before any route is added) and refuse unstorable text."""
    app.url_map.converters["int"] = IdConverter

    @app.before_request
    def refuse_unstorable_text():
        for where in (request.args, request.form):
            for name, value in where.items(multi=True):
                if unstorable(name) or unstorable(value):
                    if request.path.startswith("/api/"):
                        raise ActionError("invalid_field", f"{name}: contains a NUL or an invalid "
                                          "character", field=name)
                    abort(400, "A field contains a NUL or an invalid character.")
        if any(isinstance(v, str) and unstorable(v) for v in (request.view_args or {}).values()):
            abort(404)
