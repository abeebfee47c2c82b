"""Reading the audit trail: the filters the API and the console page share, keyset pages, the JSON and CSV
shapes of an entry."""
from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import Select, or_, select

from console.actions.errors import invalid
from console.extensions import db
from console.models import AuditEntry
from console.timeutil import iso

FILTERS = ("actor", "action", "property_id", "from", "to")
CSV_HEADER = ("id", "at", "actor_kind", "actor", "action", "target_kind", "target_id", "property_id",
              "details", "remote_addr")
ID_MAX = 2 ** 63 - 1


@dataclass(frozen=True)
class AuditFilters:
    """Who (`actor`: a user's e-mail or a token's name), what (`action`: a name such as "link.paused", or
    its group "link"), which property, and when (`start` included, `end` excluded)."""

    actor: str | None = None
    action: str | None = None
    property_id: int | None = None
    start: datetime | None = None
    end: datetime | None = None

    def query(self) -> Select:
        """The entries matching every filter given (no order: each reader orders by id its own way)."""
        query = select(AuditEntry)
        if self.actor:
            query = query.where(AuditEntry.actor_name == self.actor)
        if self.action:
            query = query.where(AuditEntry.action == self.action if "." in self.action else or_(
                AuditEntry.action == self.action, AuditEntry.action.startswith(f"{self.action}.")))
        if self.property_id is not None:
            query = query.where(AuditEntry.property_id == self.property_id)
        if self.start is not None:
            query = query.where(AuditEntry.at >= self.start)
        if self.end is not None:
            query = query.where(AuditEntry.at < self.end)
        return query


def parse_filters(args: Mapping[str, str]) -> AuditFilters:
    """The filters of a query string; an ActionError (422) naming the first bad one."""
    text = {name: (args.get(name) or "").strip() for name in FILTERS}
    start, end = _moment(text["from"], "from"), _moment(text["to"], "to", end=True)
    if start and end and end <= start:
        raise invalid("to", "must be after from")
    return AuditFilters(actor=text["actor"][:254] or None, action=text["action"][:40] or None,
                        property_id=whole_number(text["property_id"], "property_id"), start=start, end=end)


def whole_number(raw: str | None, field: str) -> int | None:
    """An optional id (a whole number) from a query string."""
    if not raw:
        return None
    if not (raw.isascii() and raw.isdigit()) or not 0 <= int(raw) <= ID_MAX:
        raise invalid(field, "must be a whole number")
    return int(raw)


def _moment(raw: str, field: str, *, end: bool = False) -> datetime | None:
    """A day (YYYY-MM-DD: `to` then takes the whole day) or a UTC moment (YYYY-MM-DDTHH:MM[:SS][Z])."""
    if not raw:
        return None
    try:
        if len(raw) == 10:
            day = date.fromisoformat(raw)
            return datetime.combine(day + timedelta(days=1 if end else 0), datetime.min.time())
        moment = datetime.fromisoformat(raw.replace("Z", "+00:00").replace(" ", "+"))
    except ValueError:
        raise invalid(field, "must be a date (2026-12-06) or a UTC time (2026-12-06T15:04:00Z)") from None
    if moment.utcoffset() is not None:
        moment = (moment - moment.utcoffset()).replace(tzinfo=None)
    return moment


def page_after(filters: AuditFilters, after_id: int | None, limit: int) -> tuple[list[AuditEntry], int | None]:
    """Oldest first, the entries after `after_id`, and the id to ask after next (None: no more now)."""
    query = filters.query()
    if after_id is not None:
        query = query.where(AuditEntry.id > after_id)
    rows = db.session.execute(query.order_by(AuditEntry.id).limit(limit + 1)).scalars().all()
    return rows[:limit], (rows[limit - 1].id if len(rows) > limit else None)


def page_before(filters: AuditFilters, before_id: int | None, limit: int) -> tuple[list[AuditEntry], int | None]:
    """Newest first (the console page), the entries before `before_id`, and the id to ask before next."""
    query = filters.query()
    if before_id is not None:
        query = query.where(AuditEntry.id < before_id)
    rows = db.session.execute(query.order_by(AuditEntry.id.desc()).limit(limit + 1)).scalars().all()
    return rows[:limit], (rows[limit - 1].id if len(rows) > limit else None)


def recent_for_property(property_id: int, limit: int) -> list[AuditEntry]:
    """A property's newest entries (its page's "Changes" section)."""
    return db.session.execute(select(AuditEntry).where(AuditEntry.property_id == property_id)
                              .order_by(AuditEntry.id.desc()).limit(limit)).scalars().all()


def entry_json(entry: AuditEntry) -> dict:
    """One entry as the API gives it (docs/audit.md)."""
    return {"id": entry.id, "at": iso(entry.at), "actor": {"kind": entry.actor_kind, "name": entry.actor_name},
            "action": entry.action, "target": {"kind": entry.target_kind, "id": entry.target_id},
            "property_id": entry.property_id, "details": entry.details or {}, "remote_addr": entry.remote_addr}


def csv_rows(filters: AuditFilters) -> Iterator[tuple]:
    """Every matching entry as a CSV row, newest first (read in batches: the trail may be long)."""
    rows = db.session.execute(filters.query().order_by(AuditEntry.id.desc())
                              .execution_options(yield_per=1000)).scalars()
    for entry in rows:
        yield (entry.id, iso(entry.at), entry.actor_kind, entry.actor_name, entry.action, entry.target_kind,
               entry.target_id, entry.property_id, json.dumps(entry.details or {}, sort_keys=True, ensure_ascii=False),
               entry.remote_addr)
