
"""Alert thresholds: the value an admin stored in the console (alert_settings), else the environment's."""
from __future__ import annotations

import contextlib
from dataclasses import dataclass
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import select

from console.extensions import db
from console.models import AlertSetting


@dataclass(frozen=True)
class Threshold:
    """One setting admins may change: its config name, words, and the values it accepts."""

    name: str
    label: str
    kind: str = "int"  # int | hour (0-23, may be empty) | zone (an IANA time zone)
    minimum: int = 1
    maximum: int = 100_000


THRESHOLDS = (
    Threshold("ALERT_AFTER_FAILURES", "failed syncs in a row before a link's alert", maximum=100),
    Threshold("ALERT_REMINDER_HOURS", "hours between reminders while a link still fails", maximum=720),
    Threshold("ALERT_INCIDENT_MIN_LINKS", "links of one source failing the same way for a provider incident"),
    Threshold("ALERT_INCIDENT_MIN_PERCENT", "per cent of that source's links for a provider incident",
              maximum=100),
    Threshold("ALERT_INCIDENT_WINDOW_MINUTES", "minutes within which those failures count", maximum=1440),
    Threshold("ALERT_QUIET_START_HOUR", "default quiet hours from (recipients without their own)", "hour", 0, 23),
    Threshold("ALERT_QUIET_END_HOUR", "default quiet hours until", "hour", 0, 23),
    Threshold("ALERT_QUIET_TIMEZONE", "time zone of the default quiet hours", "zone"),
)
BY_NAME = {t.name: t for t in THRESHOLDS}


def parse(threshold: Threshold, raw: str | None):
    """The typed value of a stored or submitted text; ValueError with the reason when it is not valid."""
    raw = (raw or "").strip()
    if threshold.kind == "zone":
        try:
            ZoneInfo(raw or "UTC")
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError("is not a time zone (e.g. Europe/Madrid)") from None
        return raw or "UTC"
    if raw == "" and threshold.kind == "hour":
        return None
    try:
        value = int(raw)
    except ValueError:
        raise ValueError("must be a whole number") from None
    if not threshold.minimum <= value <= threshold.maximum:
        raise ValueError(f"must be from {threshold.minimum} to {threshold.maximum}")
    return value


def stored() -> dict[str, AlertSetting]:
    """The thresholds admins stored, by name."""
    return {row.name: row for row in db.session.execute(select(AlertSetting)).scalars() if row.name in BY_NAME}


def thresholds(config) -> dict:
    """Every threshold in force: the stored value, else the environment's."""
    values = {t.name: config.get(t.name) for t in THRESHOLDS}
    for name, row in stored().items():
        with contextlib.suppress(ValueError):  # a row the rules no longer accept: the environment's value holds
            values[name] = parse(BY_NAME[name], row.value)
    return values
