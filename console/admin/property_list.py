"""The property list's state in its address (filters, order, page), its window of pages, its CSV rows."""
from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime

from flask import current_app
from sqlalchemy.sql import Select

from console.extensions import db
from console.models import SOURCES
from console.queries.property_filters import HEALTHS, RISKS, property_query, with_relations
from console.queries.property_order import ATTENTION, DIRECTIONS, SORTS, ordered
from console.queries.serialize import properties_json
from jobs.rules.advice import ERROR_KINDS

PAGE_WINDOW = 2  # pages shown on each side of the current one
CSV_BATCH = 500
CSV_HEADER = ["id", "name", "city", "owner_email", "external_ref", "health", "risk", "nights_at_stake",
              "score", "last_sync_at", "links"]


def _choice(args, name: str, choices) -> str | None:
    value = args.get(name) or None
    return value if value in choices else None


@dataclass(frozen=True)
class ListState:
    """What the list shows: its filters, its order and direction, the page asked for."""

    filters: dict
    sort: str
    direction: str
    page: int

    def query(self, now: datetime) -> Select:
        """The filtered properties in the list's order."""
        interval = current_app.config["SYNC_INTERVAL_MINUTES"]
        query = property_query(now=now, interval_minutes=interval, **self.filters)
        return ordered(query, self.sort, self.direction, now=now, interval_minutes=interval)

    def args(self, **changes) -> dict:
        """The query-string arguments that give this list again (with `changes`), page left out."""
        found = {"q": self.filters["search"], "health": self.filters["health"],
                 "risk": self.filters["risk"], "source": self.filters["source"],
                 "error": self.filters["error"], "held": "1" if self.filters["held"] else None,
                 "sort": None if self.sort == ATTENTION else self.sort,
                 "dir": None if self.direction == SORTS[self.sort] else self.direction}
        found.update(changes)
        return {name: value for name, value in found.items() if value}

    def sort_args(self, column: str) -> dict:
        """The arguments of a column header's link: that order, flipped when it is the current one."""
        flipped = "asc" if self.direction == "desc" else "desc"
        direction = flipped if column == self.sort else SORTS[column]
        return self.args(sort=column, dir=direction if direction != SORTS[column] else None)


def list_state(args) -> ListState:
    """The list's state from a query string (unknown values are ignored)."""
    filters = {"health": _choice(args, "health", HEALTHS), "risk": _choice(args, "risk", RISKS),
               "source": _choice(args, "source", SOURCES), "error": _choice(args, "error", ERROR_KINDS),
               "held": args.get("held") == "1", "search": (args.get("q") or "").strip()[:200] or None}
    sort = _choice(args, "sort", SORTS) or ATTENTION
    direction = _choice(args, "dir", DIRECTIONS) or SORTS[sort]
    try:
        page = max(1, int(args.get("page") or 1))
    except ValueError:
        page = 1
    return ListState(filters, sort, direction, page)


def page_window(page: int, pages: int, around: int = PAGE_WINDOW) -> list[int | None]:
    """First, last and the pages around `page`; None where pages are left out."""
    shown = sorted({1, pages, *range(max(1, page - around), min(pages, page + around) + 1)})
    window: list[int | None] = []
    for number in shown:
        if window and number - window[-1] > 1:
            window.append(None)
        window.append(number)
    return window


def csv_rows(query: Select) -> Iterator[list]:
    """Every property of the list in its order, as the page shows it, CSV_BATCH rows per read."""
    result = db.session.execute(with_relations(query).execution_options(yield_per=CSV_BATCH))
    for batch in result.scalars().partitions():
        at_stake = {p.id: p.exposure_nights for p in batch}
        for p in properties_json(batch):
            last_sync = max((link["last_sync_at"] for link in p["links"] if link["last_sync_at"]), default="")
            links = "; ".join(" ".join(filter(None, (link["source"], link["state"], link["health"],
                                                    (link["last_error"] or {}).get("kind"))))
                              for link in p["links"])
            yield [p["id"], p["name"], p["city"], p["owner_email"], p["external_ref"], p["health"],
                   p["risk"]["level"], at_stake[p["id"]], (p["score"] or {}).get("value"), last_sync, links]
