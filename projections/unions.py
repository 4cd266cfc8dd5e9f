"""The unions read model: each union's public facts and members, and its decisions (p.22–24, p.33–35)."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from sqlalchemy import BigInteger, Column, Connection, Date, DateTime, Index, Integer, Table, Text, Uuid, select
from sqlalchemy.dialects.postgresql import ARRAY, JSONB

from domain.base import day_of
from domain.unions import Decision, Union
from projections.base import ReadModel, metadata, page
from projections.rows import Rows

unions = Table(
    "rm_unions",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("union_id", Uuid, nullable=False, unique=True),
    Column("seq", BigInteger, nullable=False, unique=True),
    Column("name", Text, nullable=False),
    Column("sector", Text, nullable=False),
    Column("specialties", ARRAY(Text), nullable=False),
    Column("coordinator_id", Uuid, nullable=False),
    Column("chair", JSONB),
    Column("founded_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)

union_members = Table(
    "rm_union_members",
    metadata,
    Column("union_id", Uuid, primary_key=True),
    Column("id", Uuid, primary_key=True),
    Column("seq", BigInteger, nullable=False),
    Column("tenant_id", Uuid, index=True),
    Column("kind", Text, nullable=False),
    Column("name", Text, nullable=False),
    Column("specialties", ARRAY(Text), nullable=False),
    Column("admitted_at", DateTime(timezone=True), nullable=False),
)

decisions = Table(
    "rm_union_decisions",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("union_id", Uuid, nullable=False),
    Column("seq", BigInteger, nullable=False, unique=True),
    Column("number", Integer, nullable=False),
    Column("title", Text, nullable=False),
    Column("text", Text, nullable=False),
    Column("direction", Text, nullable=False),
    Column("specialties", ARRAY(Text), nullable=False),
    Column("circulars_expected", Integer, nullable=False),
    Column("adopted_by", Uuid),
    Column("adopted_on", Date, nullable=False),
    Column("adopted_at", DateTime(timezone=True), nullable=False),
    Index("rm_union_decisions_union_seq", "union_id", "seq"),
)

# Version 2: a decision's day of adoption is the platform's day (Kazakhstan's), not UTC's.
read_model = ReadModel("unions", [unions, union_members, decisions], version=2)


@read_model.on(Union.Founded)
def _founded(rows: Rows, event: Union.Founded, position: int) -> None:
    rows.insert(unions, dict(
        id=event.originator_id, union_id=event.originator_id, seq=position, name=event.name, sector=event.sector,
        specialties=list(event.specialties), coordinator_id=event.coordinator_id, chair=None,
        founded_at=event.timestamp, updated_at=event.timestamp,
    ))


@read_model.on(Union.MemberAdmitted)
def _admitted(rows: Rows, event: Union.MemberAdmitted, position: int) -> None:
    rows.insert(union_members, dict(
        union_id=event.originator_id, id=event.member_id, seq=position, tenant_id=event.member_tenant_id,
        kind=event.kind, name=event.name, specialties=list(event.specialties), admitted_at=event.timestamp,
    ))
    _touch(rows, event)


@read_model.on(Union.MemberLeft)
def _left(rows: Rows, event: Union.MemberLeft, position: int) -> None:
    key = (event.originator_id, event.member_id)
    member = rows.get(union_members, key)
    rows.delete(union_members, key)
    union = rows.get(unions, event.originator_id)
    chair = union["chair"] if union is not None else None
    # A chair from the organization that left chairs no more (p.34).
    if member and member["tenant_id"] and chair and chair.get("tenant_id") == str(member["tenant_id"]):
        rows.update(unions, event.originator_id, chair=None)
    _touch(rows, event)


@read_model.on(Union.ChairApproved)
def _chair(rows: Rows, event: Union.ChairApproved, position: int) -> None:
    chair = {
        "person_id": str(event.person_id),
        "tenant_id": str(event.person_tenant_id),
        "full_name": event.full_name,
        "council_decision": {"number": event.council_decision_number,
                             "date": event.council_decision_date.isoformat()},
        "approved_at": event.timestamp.isoformat(),
    }
    rows.update(unions, event.originator_id, chair=chair)
    _touch(rows, event)


@read_model.on(Decision.Adopted)
def _adopted(rows: Rows, event: Decision.Adopted, position: int) -> None:
    actor = event.meta.get("actor") or {}
    rows.insert(decisions, dict(
        id=event.originator_id, union_id=event.union_id, seq=position, number=event.number, title=event.title,
        text=event.text, direction=event.direction, specialties=list(event.specialties),
        circulars_expected=event.circulars_expected,
        adopted_by=UUID(actor["person_id"]) if actor.get("person_id") else None,
        adopted_on=day_of(event.timestamp), adopted_at=event.timestamp,
    ))


def _touch(rows: Rows, event: Any) -> None:
    rows.update(unions, event.originator_id, updated_at=event.timestamp)


def _with_members(conn: Connection, rows: list[Any]) -> list[dict[str, Any]]:
    ids = [row.id for row in rows]
    members: dict[UUID, list[dict[str, Any]]] = {i: [] for i in ids}
    if ids:
        query = select(union_members).where(union_members.c.union_id.in_(ids)).order_by(union_members.c.seq)
        for m in conn.execute(query):
            members[m.union_id].append({"id": m.id, "tenant_id": m.tenant_id, "kind": m.kind, "name": m.name,
                                        "specialties": list(m.specialties), "admitted_at": m.admitted_at})
    return [{**row._asdict(), "members": members[row.id]} for row in rows]


def list_unions(conn: Connection, *, limit: int, after: int, specialty: str | None = None
                ) -> tuple[list[dict[str, Any]], str | None]:
    """Return a page of unions with their members (public facts), and the next cursor."""
    query = select(unions).where(unions.c.seq > after).order_by(unions.c.seq).limit(limit + 1)
    if specialty is not None:
        query = query.where(unions.c.specialties.any_() == specialty)
    rows, next_cursor = page(list(conn.execute(query)), limit)
    return _with_members(conn, rows), next_cursor


def get_union(conn: Connection, union_id: UUID) -> dict[str, Any] | None:
    """Return one union's public facts with its members, or None."""
    row = conn.execute(select(unions).where(unions.c.union_id == union_id)).first()
    return _with_members(conn, [row])[0] if row else None


def list_decisions(conn: Connection, union_id: UUID, *, limit: int, after: int) -> tuple[list[Any], str | None]:
    """Return a page of the union's decisions, oldest first, and the next cursor."""
    query = (select(decisions).where(decisions.c.union_id == union_id, decisions.c.seq > after)
             .order_by(decisions.c.seq).limit(limit + 1))
    return page(list(conn.execute(query)), limit)


def get_decision(conn: Connection, union_id: UUID, decision_id: UUID) -> Any | None:
    """Return one decision of the union, or None."""
    return conn.execute(select(decisions).where(decisions.c.union_id == union_id,
                                                decisions.c.id == decision_id)).first()
