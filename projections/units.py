"""The units read model: units with their members, leaders, plans and meetings; and the compliance facts."""

from __future__ import annotations

from datetime import date
from typing import Any
from uuid import UUID

from sqlalchemy import (
    BigInteger, Column, Connection, Date, DateTime, Index, Table, Text, Uuid, exists, or_, select,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB

from domain.base import day_of
from domain.compliance import UnitFacts
from domain.people import Person
from domain.plans import AnnualPlan
from domain.units import UNIT_KINDS, Unit
from projections.base import ReadModel, metadata, page
from projections.rows import Rows

units = Table(
    "rm_units",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("tenant_id", Uuid, nullable=False),
    Column("seq", BigInteger, nullable=False, unique=True),
    Column("kind", Text, nullable=False),
    Column("name", Text, nullable=False),
    Column("subject", Text),
    Column("formed_at", DateTime(timezone=True), nullable=False),
    Column("member_count", BigInteger, nullable=False),
    Column("below_minimum_since", Date),
    Column("leader_id", Uuid),
    Column("leader_method", Text),
    Column("leader_starts_on", Date),
    Column("leader_ends_on", Date),
    Column("leader_gone_since", Date),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    Index("rm_units_tenant_seq", "tenant_id", "seq"),
)

unit_members = Table(
    "rm_unit_members",
    metadata,
    Column("unit_id", Uuid, primary_key=True),
    Column("person_id", Uuid, primary_key=True),
    Column("seq", BigInteger, primary_key=True),
    Column("tenant_id", Uuid, nullable=False),
    Column("member_tenant_id", Uuid, nullable=False),
    Column("joined_at", DateTime(timezone=True), nullable=False),
    Column("left_at", DateTime(timezone=True)),
    Column("left_because", Text),
    Index("rm_unit_members_member_tenant", "member_tenant_id", "unit_id"),
    Index("rm_unit_members_person", "person_id"),
)
# A tenant's people's current memberships in other organizations' units (cross-organization units, p.16, p.27).
Index("rm_unit_members_cross", unit_members.c.member_tenant_id, unit_members.c.unit_id,
      postgresql_where=(unit_members.c.member_tenant_id != unit_members.c.tenant_id) & unit_members.c.left_at.is_(None))

unit_leaders = Table(
    "rm_unit_leaders",
    metadata,
    Column("seq", BigInteger, primary_key=True),
    Column("unit_id", Uuid, nullable=False, index=True),
    Column("tenant_id", Uuid, nullable=False),
    Column("person_id", Uuid, nullable=False),
    Column("method", Text, nullable=False),
    Column("starts_on", Date, nullable=False),
    Column("ends_on", Date, nullable=False),
    Column("chosen_at", DateTime(timezone=True), nullable=False),
)

plans = Table(
    "rm_plans",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("tenant_id", Uuid, nullable=False),
    Column("unit_id", Uuid, nullable=False, index=True),
    Column("seq", BigInteger, nullable=False, unique=True),
    Column("academic_year", Text, nullable=False),
    Column("items", JSONB, nullable=False),
    Column("status", Text, nullable=False),
    Column("drafted_at", DateTime(timezone=True), nullable=False),
    Column("approved_at", DateTime(timezone=True)),
    Column("approved_by", Uuid),
)

meetings = Table(
    "rm_meetings",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("tenant_id", Uuid, nullable=False),
    Column("unit_id", Uuid, nullable=False),
    Column("seq", BigInteger, nullable=False, unique=True),
    Column("held_on", Date, nullable=False),
    Column("agenda", JSONB, nullable=False),
    Column("minutes", Text, nullable=False),
    Column("attendee_ids", ARRAY(Uuid), nullable=False),
    Column("recorded_by", Uuid),
    Index("rm_meetings_unit_held", "unit_id", "held_on"),
    Index("rm_meetings_unit_seq", "unit_id", "seq"),
)

# Version 2: the days a unit fell below its minimum are the platform's days (Kazakhstan's), not UTC's.
read_model = ReadModel("units", [units, unit_members, unit_leaders, plans, meetings], version=2)


def _recount(rows: Rows, unit_id: UUID, on: date, at: Any) -> None:
    """Recount the unit's current members; keep since-when it is below its minimum (p.16, p.26) and since-when
    its leader is no longer a member (p.30)."""
    unit = rows.get(units, unit_id)
    if unit is None:
        return
    current = rows.find(unit_members, unit_id=unit_id, left_at=None)
    count = len(current)
    since = unit["below_minimum_since"]
    if count >= UNIT_KINDS[unit["kind"]].minimum:
        since = None
    elif since is None:
        since = on
    values: dict[str, Any] = {"member_count": count, "below_minimum_since": since, "updated_at": at}
    leader = unit["leader_id"]
    if leader is not None:
        leader_here = any(member["person_id"] == leader for member in current)
        # Since the day the leader left, however many changes come after.
        values["leader_gone_since"] = None if leader_here else (unit["leader_gone_since"] or on)
    rows.change(units, unit, **values)


def _unit(rows: Rows, unit_id: UUID) -> Any:
    unit = rows.get(units, unit_id)
    if unit is None:
        raise LookupError(f"no unit {unit_id} for a unit event")
    return unit


@read_model.on(Unit.Formed)
def _formed(rows: Rows, event: Unit.Formed, position: int) -> None:
    rows.insert(units, dict(
        id=event.originator_id, tenant_id=event.tenant, seq=position, kind=event.kind, name=event.name,
        subject=event.subject, formed_at=event.timestamp, member_count=len(event.members), updated_at=event.timestamp,
    ))
    for member in event.members:
        rows.insert(unit_members, dict(
            unit_id=event.originator_id, person_id=UUID(member["person_id"]), seq=position, tenant_id=event.tenant,
            member_tenant_id=UUID(member["tenant_id"]), joined_at=event.timestamp,
        ))


@read_model.on(Unit.MemberJoined)
def _joined(rows: Rows, event: Unit.MemberJoined, position: int) -> None:
    rows.insert(unit_members, dict(
        unit_id=event.originator_id, person_id=event.person_id, seq=position,
        tenant_id=_unit(rows, event.originator_id)["tenant_id"], member_tenant_id=event.member_tenant_id,
        joined_at=event.timestamp,
    ))
    _recount(rows, event.originator_id, day_of(event.timestamp), event.timestamp)


@read_model.on(Unit.MemberLeft)
def _left(rows: Rows, event: Unit.MemberLeft, position: int) -> None:
    rows.update_where(unit_members, dict(unit_id=event.originator_id, person_id=event.person_id, left_at=None),
                      left_at=event.timestamp, left_because="left the unit")
    _recount(rows, event.originator_id, day_of(event.timestamp), event.timestamp)


@read_model.on(Person.Left)
def _person_left(rows: Rows, event: Person.Left, position: int) -> None:
    # Someone who leaves the organization leaves its units too; the units are kept and reported.
    affected = rows.update_where(unit_members, dict(person_id=event.originator_id, left_at=None),
                                 left_at=event.timestamp, left_because="left the organization")
    for unit_id in sorted({member["unit_id"] for member in affected}):
        _recount(rows, unit_id, day_of(event.timestamp), event.timestamp)


@read_model.on(Unit.LeaderChosen)
def _leader(rows: Rows, event: Unit.LeaderChosen, position: int) -> None:
    unit = _unit(rows, event.originator_id)
    rows.insert(unit_leaders, dict(
        seq=position, unit_id=event.originator_id, tenant_id=unit["tenant_id"],
        person_id=event.person_id, method=event.method, starts_on=event.starts_on, ends_on=event.ends_on,
        chosen_at=event.timestamp,
    ))
    # The leader is the one whose term starts last (of two on the same day, the later choice).
    latest = max(rows.find(unit_leaders, unit_id=event.originator_id), key=lambda r: (r["starts_on"], r["seq"]))
    rows.change(units, unit, leader_id=latest["person_id"], leader_method=latest["method"],
                leader_starts_on=latest["starts_on"], leader_ends_on=latest["ends_on"], leader_gone_since=None,
                updated_at=event.timestamp)
    _recount(rows, event.originator_id, day_of(event.timestamp), event.timestamp)


@read_model.on(Unit.MeetingHeld)
def _meeting(rows: Rows, event: Unit.MeetingHeld, position: int) -> None:
    rows.insert(meetings, dict(
        id=event.meeting_id, tenant_id=_unit(rows, event.originator_id)["tenant_id"], unit_id=event.originator_id,
        seq=position, held_on=event.held_on, agenda=event.agenda, minutes=event.minutes,
        attendee_ids=list(event.attendee_ids), recorded_by=_person(event.meta),
    ))


@read_model.on(AnnualPlan.Drafted)
def _plan_drafted(rows: Rows, event: AnnualPlan.Drafted, position: int) -> None:
    rows.insert(plans, dict(
        id=event.originator_id, tenant_id=event.tenant, unit_id=event.unit_id, seq=position,
        academic_year=event.academic_year, items=event.items, status="draft", drafted_at=event.timestamp,
    ))


@read_model.on(AnnualPlan.Revised)
def _plan_revised(rows: Rows, event: AnnualPlan.Revised, position: int) -> None:
    rows.update(plans, event.originator_id, items=event.items)


@read_model.on(AnnualPlan.Approved)
def _plan_approved(rows: Rows, event: AnnualPlan.Approved, position: int) -> None:
    rows.update(plans, event.originator_id, status="approved", approved_at=event.timestamp,
                approved_by=event.approved_by)


def _person(meta: dict[str, Any]) -> UUID | None:
    person_id = (meta.get("actor") or {}).get("person_id")
    return UUID(person_id) if person_id else None


# Queries


def _visible(tenant_id: UUID) -> Any:
    """Units the tenant owns, or in which its people are members (cross-organization units)."""
    return or_(
        units.c.tenant_id == tenant_id,
        exists().where(unit_members.c.unit_id == units.c.id, unit_members.c.member_tenant_id == tenant_id,
                       unit_members.c.left_at.is_(None)),
    )


def list_units(conn: Connection, tenant_id: UUID, *, limit: int, after: int, kind: str | None = None
               ) -> tuple[list[Any], str | None]:
    """Return a page of the units the tenant sees, and the next cursor."""
    query = select(units).where(_visible(tenant_id), units.c.seq > after).order_by(units.c.seq).limit(limit + 1)
    if kind is not None:
        query = query.where(units.c.kind == kind)
    return page(list(conn.execute(query)), limit)


def get_unit(conn: Connection, tenant_id: UUID, unit_id: UUID) -> Any | None:
    """Return one unit the tenant sees, or None."""
    return conn.execute(select(units).where(units.c.id == unit_id, _visible(tenant_id))).first()


def members_of(conn: Connection, unit_ids: list[UUID]) -> dict[UUID, list[Any]]:
    """Return the current members of each unit."""
    rows = conn.execute(
        select(unit_members).where(unit_members.c.unit_id.in_(unit_ids), unit_members.c.left_at.is_(None))
        .order_by(unit_members.c.seq)
    )
    found: dict[UUID, list[Any]] = {uid: [] for uid in unit_ids}
    for row in rows:
        found[row.unit_id].append(row)
    return found


def leaders_of(conn: Connection, unit_id: UUID) -> list[Any]:
    """Return every leader the unit has had, oldest first."""
    return list(conn.execute(select(unit_leaders).where(unit_leaders.c.unit_id == unit_id)
                             .order_by(unit_leaders.c.starts_on, unit_leaders.c.seq)))


def plans_of(conn: Connection, unit_ids: list[UUID]) -> dict[UUID, list[Any]]:
    """Return each unit's plans, newest year first."""
    found: dict[UUID, list[Any]] = {uid: [] for uid in unit_ids}
    for row in conn.execute(select(plans).where(plans.c.unit_id.in_(unit_ids))
                            .order_by(plans.c.academic_year.desc())):
        found[row.unit_id].append(row)
    return found


def get_plan(conn: Connection, unit_id: UUID, academic_year: str) -> Any | None:
    """Return the unit's plan for a year, or None."""
    return conn.execute(select(plans).where(plans.c.unit_id == unit_id,
                                            plans.c.academic_year == academic_year)).first()


def list_meetings(conn: Connection, unit_id: UUID, *, limit: int, after: int) -> tuple[list[Any], str | None]:
    """Return a page of the unit's meetings in the order they were recorded."""
    query = (select(meetings).where(meetings.c.unit_id == unit_id, meetings.c.seq > after)
             .order_by(meetings.c.seq).limit(limit + 1))
    return page(list(conn.execute(query)), limit)


def compliance_facts(conn: Connection, tenant_id: UUID) -> list[UnitFacts]:
    """Return what compliance needs to know of each unit the tenant formed."""
    rows = list(conn.execute(select(units).where(units.c.tenant_id == tenant_id).order_by(units.c.seq)))
    ids = [row.id for row in rows]
    approved: dict[UUID, set[str]] = {uid: set() for uid in ids}
    for plan in conn.execute(select(plans.c.unit_id, plans.c.academic_year)
                             .where(plans.c.unit_id.in_(ids), plans.c.status == "approved")):
        approved[plan.unit_id].add(plan.academic_year)
    held: dict[UUID, list[date]] = {uid: [] for uid in ids}
    for meeting in conn.execute(select(meetings.c.unit_id, meetings.c.held_on).where(meetings.c.unit_id.in_(ids))):
        held[meeting.unit_id].append(meeting.held_on)
    return [
        UnitFacts(
            unit_id=row.id, kind=row.kind, name=row.name, formed_on=day_of(row.formed_at), members=row.member_count,
            below_minimum_since=row.below_minimum_since, leader_id=row.leader_id, leader_ends_on=row.leader_ends_on,
            leader_is_member=row.leader_gone_since is None, leader_gone_since=row.leader_gone_since,
            approved_years=approved[row.id], meetings=held[row.id],
        )
        for row in rows
    ]


