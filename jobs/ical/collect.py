"""What reading one feed gathers: stays, ignored events and unreadable events, before they become a ParsedFeed."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any
from zoneinfo import ZoneInfo

from jobs.ical.budget import WorkBudget
from jobs.rules.stays import IgnoredEvent, Stay, UnreadableEvent

# The reason of a blocking event whose nights cannot be read (its stored block is kept).
UNREADABLE_PREFIX = "cannot be read: "
UNREADABLE_KEPT = "the block already stored for it, if any, is kept unchanged"


@dataclass
class FeedReading:
    """Stays, ignored and unreadable events gathered while reading one feed, and its work budget."""

    zone: ZoneInfo
    today: date
    horizon_end: date
    budget: WorkBudget
    singles: dict[tuple[str, date], Stay] = field(default_factory=dict)
    instances: dict[str, Stay] = field(default_factory=dict)
    ignored: dict[tuple[str, str, str], IgnoredEvent] = field(default_factory=dict)
    unreadable: dict[str, None] = field(default_factory=dict)  # block UIDs to keep, in the order met
    unreadable_events: list[UnreadableEvent] = field(default_factory=list)

    def in_window(self, check_in: date, check_out: date) -> bool:
        """Whether a stay overlaps [today, horizon end)."""
        return check_out > self.today and check_in < self.horizon_end

    def ignore(self, key: str, summary: str | None, reason: str, uid: str = "",
               nights: tuple[date, date] | None = None) -> None:
        """Record an ignored event once (a repeating one once per series and reason)."""
        check_in, check_out = nights or (None, None)
        self.ignored.setdefault((key, summary or "", reason),
                                IgnoredEvent(summary or "", reason, uid, check_in, check_out))

    def cannot_read(self, uid: str, summary: str | None, why: str, line: int, detail: str = "") -> None:
        """A blocking event (or instance `uid#date`) whose nights cannot be read: listed, its block kept."""
        series = uid.rpartition("#")[0] or uid
        where = f" (the event starts at line {line})" if line else ""
        self.unreadable_events.append(UnreadableEvent(series, summary or "", line, f"{why[:1].upper()}{why[1:]}"
                                                      f"{where}.", detail))
        if uid:
            self.unreadable[uid] = None
            self.ignore(uid, summary, f"{UNREADABLE_PREFIX}{why}; {UNREADABLE_KEPT}", series)
        else:  # without a UID nothing tells which stored block it was
            self.ignore(f"@{line}", summary, why)

    def keep(self, table: dict[Any, Stay], key: Any, stay: Stay) -> None:
        """Keep one stay per key; of duplicates, the longest (blocking more is the safe side)."""
        if key not in table or stay.check_out > table[key].check_out:
            table[key] = stay
