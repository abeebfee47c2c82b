"""The managers' date range: from / to dates read from a query string, presets, the old ?weeks=."""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date

from jobs.sync.rate_tally import DEFAULT_WEEKS  # the range whose rates the fleet tally counts ahead
from jobs.sync.rate_tally import last_weeks as _last_weeks

MAX_DAYS = 5 * 366  # about five years: longer ranges are refused, not silently cut
PRESETS = (("4w", "4 weeks", 4), ("quarter", "quarter", 13), ("year", "year", 52))


@dataclass(frozen=True)
class DateRange:
    """Days `first` to `last`, both included."""

    first: date
    last: date

    def args(self) -> dict[str, str]:
        """The range as query-string arguments, for every link that must keep it."""
        return {"from": self.first.isoformat(), "to": self.last.isoformat()}

    @property
    def days(self) -> int:
        """How many days the range covers."""
        return (self.last - self.first).days + 1


def last_weeks(weeks: int, today: date) -> DateRange:
    """The last `weeks` calendar weeks (Monday to Sunday), the current one included, up to today."""
    return DateRange(*_last_weeks(weeks, today))


def presets(today: date) -> list[tuple[str, str, DateRange]]:
    """(key, label, range) of each preset, as the page offers them (?preset=key)."""
    return [(key, label, last_weeks(weeks, today)) for key, label, weeks in PRESETS]


def _day(text: str | None) -> date | None:
    return date.fromisoformat(text.strip()) if text and text.strip() else None


def parse_range(args: Mapping[str, str], today: date) -> tuple[DateRange, str | None]:
    """The range asked for (?from=&to=, ?preset=, or an old ?weeks=N bookmark), or the default of the
    last 26 weeks with a message saying why the request was not followed."""
    default = last_weeks(DEFAULT_WEEKS, today)
    preset = {key: weeks for key, _label, weeks in PRESETS}.get(args.get("preset") or "")
    if preset:
        return last_weeks(preset, today), None
    if args.get("weeks") and not (args.get("from") or args.get("to")):
        try:
            weeks = int(args["weeks"])
        except ValueError:
            return default, f"“{args['weeks']}” is not a number of weeks: showing the last 26 weeks."
        if not 1 <= weeks <= MAX_DAYS // 7:
            return default, "Choose between 1 and 260 weeks: showing the last 26 weeks."
        return last_weeks(weeks, today), None
    try:
        first, last = _day(args.get("from")), _day(args.get("to"))
    except ValueError:
        return default, "Dates are written YYYY-MM-DD: showing the last 26 weeks."
    if first is None and last is None:
        return default, None
    chosen = DateRange(first or default.first, last or today)
    if chosen.last < chosen.first:
        return default, "The end date is before the start date: showing the last 26 weeks."
    if chosen.days > MAX_DAYS:
        return default, "A range can cover at most five years: showing the last 26 weeks."
    return chosen, None
