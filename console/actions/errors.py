"""The one refusal of an action: an error code of docs/api.md, a message, the field at fault and extras."""
from __future__ import annotations

import re

_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


def unstorable(value: str) -> bool:
    """Whether text holds a NUL (PostgreSQL refuses it) or a lone UTF-16 surrogate (no encoder takes it)."""
    return bool(_UNSTORABLE.search(value))


class ActionError(Exception):
    """An action refused: `code` as docs/api.md names it, `status` the HTTP answer that fits it,
    `field` the input at fault (if one), extras such as `suggested_url` kept beside them."""

    def __init__(self, code: str, message: str, *, status: int = 422, field: str | None = None,
                 **extra):
        super().__init__(message)
        self.code, self.message, self.status, self.field = code, message, status, field
        self.extra = extra

    def body(self) -> dict:
        """The error as the API's `error` object: code, message, field (when one), extras."""
        body = {"code": self.code, "message": self.message}
        if self.field is not None:
            body["field"] = self.field
        return {**body, **self.extra}


def invalid(field: str, message: str, code: str = "invalid_field") -> ActionError:
    """A 422 for one field, its message starting with the field's name."""
    return ActionError(code, f"{field}: {message}", field=field)


def not_found(what: str) -> ActionError:
    """404 for a missing object, naming it."""
    return ActionError("not_found", f"{what} not found", status=404)


def required_text(value, field: str, max_len: int) -> str:
    """A non-empty string of at most `max_len` characters, trimmed."""
    if value is None:
        raise invalid(field, "is required", "missing_field")
    if not isinstance(value, str) or not value.strip():
        raise invalid(field, "must be a non-empty string")
    if unstorable(value):
        raise invalid(field, "contains a NUL or an invalid character (a lone UTF-16 surrogate)")
    if len(value) > max_len:
        raise invalid(field, f"must be at most {max_len} characters")
    return value.strip()
