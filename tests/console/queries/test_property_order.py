"""The orders people open most are walks down an index (no sort of the fleet), and the risk rank the
property list sorts by is the database's own reading of risk_level, whoever wrote it."""
from __future__ import annotations

from sqlalchemy import false, select, text, update

from console.extensions import db
from console.models import CalendarLink, Property
from console.queries.property_filters import property_query
from console.queries.property_order import ATTENTION, ordered
from console.timeutil import utcnow
from jobs.rules.risk import LEVELS


def plan(statement) -> str:
    """The database's plan for `statement`; on PostgreSQL with sorting priced out, so that an index
    which can give the order is taken whatever the table's size."""
    sql = str(statement.compile(db.engine, compile_kwargs={"literal_binds": True}))
    with db.engine.connect() as conn:
        if conn.dialect.name == "postgresql":
            conn.execute(text("SET enable_sort = off"))
            return "\n".join(row[0] for row in conn.execute(text("EXPLAIN " + sql)))
        return "\n".join(row[-1] for row in conn.execute(text("EXPLAIN QUERY PLAN " + sql)))


def _sorts(found: str) -> bool:
    return "TEMP B-TREE FOR ORDER BY" in found or any(
        line.strip().lstrip("-> ").startswith(("Sort", "Incremental Sort")) for line in found.splitlines())


def test_the_property_lists_first_page_reads_the_attention_index(make_property):
    for n in range(3):
        make_property(f"Flat {n}")
    first_page = ordered(property_query(now=utcnow(), interval_minutes=15), ATTENTION, "desc",
                         now=utcnow(), interval_minutes=15).with_only_columns(Property.id).limit(50)
    found = plan(first_page)
    assert "ix_properties_attention" in found and not _sorts(found), found


def test_the_dashboards_failing_links_read_the_failing_index(make_property):
    failing = (select(CalendarLink.id).where(CalendarLink.last_attempt_ok == false())
               .order_by(CalendarLink.consecutive_failures.desc(), CalendarLink.id.desc()).limit(25))
    found = plan(failing)
    assert "ix_calendar_links_failing" in found and not _sorts(found), found


def test_the_risk_rank_follows_the_level_through_the_orm_and_bulk_updates(make_property):
    props = [make_property(f"Flat {level}", risk_level=level) for level in LEVELS]
    db.session.expire_all()
    assert [p.risk_rank for p in props] == list(range(len(LEVELS)))
    props[0].risk_level = "high"
    db.session.commit()
    db.session.execute(update(Property).where(Property.id == props[3].id).values(risk_level="none"))
    db.session.commit()
    db.session.expire_all()
    assert [p.risk_rank for p in props] == [3, 1, 2, 0]
    ranked = ordered(property_query(now=utcnow(), interval_minutes=15), "risk", "desc",
                     now=utcnow(), interval_minutes=15)
    assert [p.name for p in db.session.execute(ranked).scalars()] == [
        "Flat none", "Flat medium", "Flat low", "Flat high"]
