"""Strict reading of JSON bodies and query strings: every problem is a 422 naming the field."""
from __future__ import annotations

import re
from datetime import date
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from email_validator import EmailNotValidError, validate_email
from flask import request

from console.actions.errors import invalid, required_text
from console.actions.reservations import check_stay
from console.api.errors import ApiError
from console.inputs import bad_text_field

_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}", re.ASCII)


def json_body() -> dict:
    """The request's JSON object, or a 400/422 saying why it is not one."""
    try:
        data = request.get_json(silent=True)
    except RecursionError:  # nesting deeper than the parser's stack: not a body we accept
        data = None
    if data is None:
        raise ApiError(400, "invalid_json", "the body must be a JSON object "
                       "(Content-Type: application/json)")
    if not isinstance(data, dict):
        raise ApiError(422, "invalid_body", "the body must be a JSON object")
    field = bad_text_field(data)
    if field is not None:
        raise invalid(field or "body", "contains a NUL or an invalid character (a lone UTF-16 surrogate)")
    return data


def text(data: dict, field: str, *, required: bool = False, max_len: int = 200) -> str | None:
    """A non-empty string field, trimmed."""
    if data.get(field) is None and not required:
        return None
    return required_text(data.get(field), field, max_len)


def email(data: dict, field: str) -> str:
    """A required, syntactically valid email address, lower-cased."""
    value = text(data, field, required=True, max_len=254)
    try:
        return validate_email(value, check_deliverability=False).normalized.lower()
    except EmailNotValidError as exc:
        raise invalid(field, str(exc)) from None


def boolean(data: dict, field: str, default: bool) -> bool:
    """A JSON boolean (not "true", not 1)."""
    value = data.get(field, default)
    if not isinstance(value, bool):
        raise invalid(field, "must be true or false")
    return value


def timezone_name(data: dict, field: str, default: str) -> str:
    """An IANA time zone name such as Europe/Madrid."""
    value = text(data, field, max_len=64) or default
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise invalid(field, f"unknown time zone {value!r} (use an IANA name such as "
                      "Europe/Madrid)") from None
    return value


def parse_date(value, field: str, *, required: bool = True) -> date | None:
    """A YYYY-MM-DD date."""
    if value is None or value == "":
        if required:
            raise invalid(field, "is required (YYYY-MM-DD)", "missing_field")
        return None
    # fromisoformat also takes 20300101 and 2030-W01-1: the API promises one form only.
    if not isinstance(value, str) or not _ISO_DATE.fullmatch(value):
        raise invalid(field, f"{value!r} is not a date as YYYY-MM-DD")
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise invalid(field, f"{value!r} is not a date as YYYY-MM-DD") from None


def stay_dates(check_in, check_out) -> tuple[date, date]:
    """A check-in and an exclusive check-out, at least one night apart."""
    start, end = parse_date(check_in, "check_in"), parse_date(check_out, "check_out")
    check_stay(start, end)
    return start, end


def query_int(name: str, default: int, *, minimum: int = 1, maximum: int = 10_000) -> int:
    """An integer query parameter within bounds."""
    raw = request.args.get(name)
    if raw is None or raw == "":
        return default
    if not raw.isascii() or not raw.lstrip("-").isdigit():
        raise invalid(name, "must be a whole number")
    value = int(raw)
    if not minimum <= value <= maximum:
        raise invalid(name, f"must be between {minimum} and {maximum}")
    return value


def query_choice(name: str, choices: tuple[str, ...]) -> str | None:
    """An optional query parameter from a fixed set."""
    value = request.args.get(name)
    if value in (None, ""):
        return None
    if value not in choices:
        raise invalid(name, f"must be one of {', '.join(choices)}")
    return value


def query_text(name: str, max_len: int = 200) -> str | None:
    """A free-text query parameter, trimmed and bounded."""
    value = (request.args.get(name) or "").strip()
    return value[:max_len] or None
