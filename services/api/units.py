"""Methodical units, their members, leaders, annual plans and meetings (p.10–p.17, p.25–p.32, p.36)."""

from __future__ import annotations

import functools
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from typing import Any
from uuid import UUID

from flask import Response
from flask.views import MethodView
from services.api.bodies import Blueprint
from marshmallow import Schema, fields, validate
from sqlalchemy import Connection, Integer, Select, any_, bindparam, func, select, union_all

from domain import policy
from domain.base import NotFound
from domain.plans import AnnualPlan
from domain.units import ELECTED, APPOINTED, UNIT_KINDS, Unit, academic_year_of
from projections import units as units_rm
from projections.base import page
from services.api.common import (
    Day, PageArgs, PositionSchema, Name, Text, caller, catch_up, context, page_after, runtime, with_position,
)
from services.api.fastdump import respond

blp = Blueprint("units", __name__, url_prefix="/api/v1/tenants/<uuid:tid>/units",
                description="Methodical units: associations, commissions, departments, councils")

class UnitIn(Schema):
    """A unit to form: its kind (domain §2), name, subject where the kind needs one, and members."""

    kind = fields.String(required=True, validate=validate.OneOf(list(UNIT_KINDS)))
    name = Name(required=True, validate=validate.Length(min=1, max=300))
    subject = Name(load_default=None, allow_none=True, validate=validate.Length(max=200))
    member_ids = fields.List(fields.UUID(), load_default=list, validate=validate.Length(max=500))


class MemberIn(Schema):
    """A person to admit."""

    person_id = fields.UUID(required=True)


class LeaderIn(Schema):
    """An election's or appointment's result: who leads, from when (the term ends a year later, p.30)."""

    person_id = fields.UUID(required=True)
    starts_on = Day(required=True)
    method = fields.String(load_default=None, validate=validate.OneOf([ELECTED, APPOINTED]))


class ItemIn(Schema):
    """A plan item: the direction it serves (e.g. p.7.3), what, and by when."""

    direction = fields.String(required=True, validate=validate.Length(min=3, max=20))
    title = Name(required=True, validate=validate.Length(min=1, max=1000))
    due = Day(load_default=None, allow_none=True)


class PlanIn(Schema):
    """An annual work plan (p.29)."""

    academic_year = fields.String(required=True, validate=validate.Regexp(r"^\d{4}-\d{4}$"))
    items = fields.List(fields.Nested(ItemIn), required=True, validate=validate.Length(min=1, max=300))


class AgendaItemIn(Schema):
    """A meeting's agenda item and the direction it serves."""

    direction = fields.String(required=True, validate=validate.Length(min=3, max=20))
    title = Name(required=True, validate=validate.Length(min=1, max=1000))


class MeetingIn(Schema):
    """A meeting held: when, the agenda, the minutes, who attended (members only)."""

    held_on = Day(required=True)
    agenda = fields.List(fields.Nested(AgendaItemIn), required=True, validate=validate.Length(min=1, max=100))
    minutes = Text(load_default="", validate=validate.Length(max=100_000))
    attendee_ids = fields.List(fields.UUID(), required=True, validate=validate.Length(min=1, max=500))


class MemberOut(Schema):
    person_id = fields.UUID()
    tenant_id = fields.UUID(metadata={"description": "The member's own organization"})
    joined_at = fields.DateTime(allow_none=True)


class LeaderOut(Schema):
    person_id = fields.UUID()
    method = fields.String()
    starts_on = fields.Date()
    ends_on = fields.Date()
    term_active = fields.Boolean()


class PlanStatusOut(Schema):
    academic_year = fields.String()
    status = fields.String(metadata={"description": "none, draft or approved"})


class UnitOut(Schema):
    """A unit with its members, current leader and term, and this year's plan status."""

    id = fields.UUID()
    tenant_id = fields.UUID()
    kind = fields.String()
    name = fields.String()
    subject = fields.String(allow_none=True)
    formed_at = fields.DateTime()
    member_count = fields.Integer()
    members = fields.List(fields.Nested(MemberOut))
    leader = fields.Nested(LeaderOut, allow_none=True)
    plan = fields.Nested(PlanStatusOut, allow_none=True)
    below_minimum_since = fields.Date(allow_none=True)


class UnitChanged(UnitOut, PositionSchema):
    """A unit after a command."""


class UnitPage(Schema):
    items = fields.List(fields.Nested(UnitOut))
    next_cursor = fields.String(allow_none=True)


class UnitListArgs(PageArgs):
    kind = fields.String(load_default=None, validate=validate.OneOf(list(UNIT_KINDS)))


class LeaderHistoryOut(Schema):
    items = fields.List(fields.Nested(LeaderOut))


class ItemOut(Schema):
    direction = fields.String()
    title = fields.String()
    due = fields.String(allow_none=True)


class PlanOut(Schema):
    id = fields.UUID()
    unit_id = fields.UUID()
    academic_year = fields.String()
    items = fields.List(fields.Nested(ItemOut))
    status = fields.String()
    approved_at = fields.DateTime(allow_none=True)
    approved_by = fields.UUID(allow_none=True)


class PlanChanged(PlanOut, PositionSchema):
    """A plan after a command."""


class PlanPage(Schema):
    items = fields.List(fields.Nested(PlanOut))


class MeetingOut(Schema):
    id = fields.UUID()
    unit_id = fields.UUID()
    held_on = fields.Date()
    agenda = fields.List(fields.Nested(AgendaItemIn))
    minutes = fields.String()
    attendee_ids = fields.List(fields.UUID())


class MeetingRecorded(MeetingOut, PositionSchema):
    """A recorded meeting."""


class MeetingPage(Schema):
    items = fields.List(fields.Nested(MeetingOut))
    next_cursor = fields.String(allow_none=True)


def _leader_body(person_id: Any, method: str, starts_on: date, ends_on: date) -> dict[str, Any]:
    today = runtime().today()
    return {"person_id": person_id, "method": method, "starts_on": starts_on, "ends_on": ends_on,
            "term_active": starts_on <= today < ends_on}


def unit_body(unit: Unit) -> dict[str, Any]:
    """Return the API form of a unit aggregate (after a command)."""
    leader = unit.current_leader(runtime().today()) or (unit.leaders[-1] if unit.leaders else None)
    return {
        "id": unit.id, "tenant_id": unit.tenant, "kind": unit.kind, "name": unit.name, "subject": unit.subject,
        "formed_at": unit.created_on, "member_count": len(unit.members),
        "members": [{"person_id": UUID(hex=pid), "tenant_id": tenant, "joined_at": unit.joined_at(pid)}
                    for pid, tenant in unit.members.items()],
        "leader": _leader_body(leader["person_id"], leader["method"], leader["starts_on"], leader["ends_on"])
        if leader else None,
        "plan": None,
        "below_minimum_since": None,
    }


def _row_body(row: Any, members: list[Any], year: str, plan_status: str | None) -> dict[str, Any]:
    return {
        **row._mapping,
        "members": [{"person_id": m.person_id, "tenant_id": m.member_tenant_id, "joined_at": m.joined_at}
                    for m in members],
        "leader": _leader_body(row.leader_id, row.leader_method, row.leader_starts_on, row.leader_ends_on)
        if row.leader_id else None,
        "plan": {"academic_year": year, "status": plan_status or "none"},
    }


def plan_statuses(conn: Connection, unit_ids: list[UUID], academic_year: str) -> dict[UUID, str]:
    """Return the status of each unit's plan for the academic year (units without one are left out).

    Only the two columns of that year's plans are read, not every plan with its items."""
    p = units_rm.plans
    return dict(conn.execute(select(p.c.unit_id, p.c.status).where(
        p.c.unit_id.in_(unit_ids), p.c.academic_year == academic_year)).tuples().all()) if unit_ids else {}


def plan_body(plan: AnnualPlan) -> dict[str, Any]:
    """Return the API form of a plan aggregate."""
    return {"id": plan.id, "unit_id": plan.unit_id, "academic_year": plan.academic_year, "items": plan.items,
            "status": "approved" if plan.approved else "draft", "approved_at": plan.approved_at,
            "approved_by": plan.approved_by}


def _actor(tid: UUID, action: policy.Action) -> Any:
    return caller().acting_for(action, tid)


def list_units(conn: Connection, tenant_id: UUID, *, limit: int, after: int, kind: str | None = None
               ) -> tuple[list[Any], str | None]:
    """Return a page of the units the tenant sees (those it formed, and the cross-organization units its people
    are members of), and the next cursor."""
    params = {"tenant_id": tenant_id, "after": after, "rows": limit + 1, "kind": kind}
    return page(list(conn.execute(_units_page(kind is not None), params)), limit)


@functools.cache
def _units_page(by_kind: bool) -> Select[Any]:
    """The statement of a page of units (built once; its parameters: tenant_id, after, rows, kind).

    The tenant's own units come from an index range scan on (tenant_id, seq) that stops at the page's end; the
    others from its people's current memberships in other organizations' units (a partial index holds only
    those), collected once into an array (`ARRAY(SELECT ...)`, evaluated before the scan) and fetched by id.
    Never a walk of every tenant's units in seq order testing each for a membership.
    """
    u, m = units_rm.units, units_rm.unit_members
    tenant_id, after = bindparam("tenant_id", type_=u.c.tenant_id.type), bindparam("after", type_=u.c.seq.type)
    rows = bindparam("rows", type_=Integer)
    cross_ids = select(m.c.unit_id).where(
        m.c.member_tenant_id == tenant_id, m.c.member_tenant_id != m.c.tenant_id, m.c.left_at.is_(None))
    own = select(u).where(u.c.tenant_id == tenant_id, u.c.seq > after)
    cross = select(u).where(u.c.id == any_(func.array(cross_ids.scalar_subquery())), u.c.tenant_id != tenant_id,
                            u.c.seq > after)
    if by_kind:
        kind = bindparam("kind", type_=u.c.kind.type)
        own, cross = own.where(u.c.kind == kind), cross.where(u.c.kind == kind)
    parts = [q.order_by(u.c.seq).limit(rows).subquery() for q in (own, cross)]
    both = union_all(select(parts[0]), select(parts[1])).subquery()
    return select(both).order_by(both.c.seq).limit(rows)


@contextmanager
def _reading_unit(tid: UUID, uid: UUID) -> Iterator[Connection]:
    """Open a read of a unit the tenant sees (404 otherwise), once its read model has caught up."""
    caller().reading(tid)
    catch_up(units_rm.read_model)
    with runtime().engine.connect() as conn:
        if units_rm.get_unit(conn, tid, uid) is None:
            raise NotFound("unit")
        yield conn


@blp.route("")
class Units(MethodView):
    @blp.arguments(UnitListArgs, location="query")
    @blp.response(200, UnitPage)
    def get(self, args: dict[str, Any], tid: UUID) -> Response:
        """List the units the organization formed and the cross-organization units its people belong to."""
        caller().reading(tid)
        catch_up(units_rm.read_model)
        with runtime().engine.connect() as conn:
            rows, next_cursor = list_units(conn, tid, limit=args["limit"], after=page_after(args), kind=args["kind"])
            ids = [row.id for row in rows]
            members = units_rm.members_of(conn, ids)
            year = academic_year_of(runtime().today())
            plans = plan_statuses(conn, ids, year)
        return respond(UnitPage, {"items": [_row_body(r, members[r.id], year, plans.get(r.id)) for r in rows],
                                  "next_cursor": next_cursor})

    @blp.arguments(UnitIn)
    @blp.response(201, UnitChanged)
    def post(self, body: dict[str, Any], tid: UUID) -> dict[str, Any]:
        """Form a unit (head or deputy head; the department for inter-school and district associations)."""
        actor = caller().acting_for(policy.FORM_UNIT, tid)
        done = runtime().platform.form_unit(context(actor), tid, **body)
        return with_position(unit_body(done.aggregate), done.position)


@blp.route("/<uuid:uid>")
class OneUnit(MethodView):
    @blp.response(200, UnitOut)
    def get(self, tid: UUID, uid: UUID) -> dict[str, Any]:
        """Return a unit with its members, current leader and term, and this year's plan status."""
        caller().reading(tid)
        catch_up(units_rm.read_model)
        with runtime().engine.connect() as conn:
            row = units_rm.get_unit(conn, tid, uid)
            if row is None:
                raise NotFound("unit")
            year = academic_year_of(runtime().today())
            return _row_body(row, units_rm.members_of(conn, [uid])[uid], year,
                             plan_statuses(conn, [uid], year).get(uid))


@blp.route("/<uuid:uid>/members")
class Members(MethodView):
    @blp.arguments(MemberIn)
    @blp.response(201, UnitChanged)
    def post(self, body: dict[str, Any], tid: UUID, uid: UUID) -> dict[str, Any]:
        """Admit a member (head or deputy head of the unit's organization)."""
        actor = _actor(tid, policy.ADMIT_UNIT_MEMBER)
        done = runtime().platform.add_member(context(actor), tid, uid, body["person_id"])
        return with_position(unit_body(done.aggregate), done.position)


@blp.route("/<uuid:uid>/members/<uuid:pid>")
class OneMember(MethodView):
    @blp.response(200, UnitChanged)
    def delete(self, tid: UUID, uid: UUID, pid: UUID) -> dict[str, Any]:
        """Let a member leave; a unit below its minimum is kept and reported (p.16, p.26)."""
        done = runtime().platform.remove_member(context(_actor(tid, policy.RELEASE_UNIT_MEMBER)), tid, uid, pid)
        return with_position(unit_body(done.aggregate), done.position)


@blp.route("/<uuid:uid>/leaders")
class Leaders(MethodView):
    @blp.response(200, LeaderHistoryOut)
    def get(self, tid: UUID, uid: UUID) -> dict[str, Any]:
        """Return every leader the unit has had (p.30)."""
        with _reading_unit(tid, uid) as conn:
            rows = units_rm.leaders_of(conn, uid)
        return {"items": [_leader_body(r.person_id, r.method, r.starts_on, r.ends_on) for r in rows]}

    @blp.arguments(LeaderIn)
    @blp.response(201, UnitChanged)
    def post(self, body: dict[str, Any], tid: UUID, uid: UUID) -> dict[str, Any]:
        """Record an elected or appointed leader; the term is one year (p.30)."""
        done = runtime().platform.choose_leader(context(_actor(tid, policy.CHOOSE_UNIT_LEADER)), tid, uid, **body)
        return with_position(unit_body(done.aggregate), done.position)


@blp.route("/<uuid:uid>/plans")
class Plans(MethodView):
    @blp.response(200, PlanPage)
    def get(self, tid: UUID, uid: UUID) -> dict[str, Any]:
        """Return the unit's annual plans, newest year first."""
        with _reading_unit(tid, uid) as conn:
            return {"items": units_rm.plans_of(conn, [uid])[uid]}

    @blp.arguments(PlanIn)
    @blp.response(201, PlanChanged)
    def post(self, body: dict[str, Any], tid: UUID, uid: UUID) -> dict[str, Any]:
        """Draft the annual plan for an academic year (the unit's leader or the deputy head, p.29)."""
        done = runtime().platform.draft_plan(context(_actor(tid, policy.DRAFT_PLAN)), tid, uid, **body)
        return with_position(plan_body(done.aggregate), done.position)


@blp.route("/<uuid:uid>/plans/<string:academic_year>")
class OnePlan(MethodView):
    @blp.response(200, PlanOut)
    def get(self, tid: UUID, uid: UUID, academic_year: str) -> Any:
        """Return the unit's plan for one academic year."""
        with _reading_unit(tid, uid) as conn:
            plan = units_rm.get_plan(conn, uid, academic_year)
        if plan is None:
            raise NotFound("plan")
        return plan


@blp.route("/<uuid:uid>/plans/<string:academic_year>/approval")
class PlanApproval(MethodView):
    @blp.response(200, PlanChanged)
    def post(self, tid: UUID, uid: UUID, academic_year: str) -> dict[str, Any]:
        """Approve the annual plan: the head of the organization, once (p.29)."""
        done = runtime().platform.approve_plan(context(_actor(tid, policy.APPROVE_PLAN)), tid, uid, academic_year)
        return with_position(plan_body(done.aggregate), done.position)


@blp.route("/<uuid:uid>/meetings")
class Meetings(MethodView):
    @blp.arguments(PageArgs, location="query")
    @blp.response(200, MeetingPage)
    def get(self, args: dict[str, Any], tid: UUID, uid: UUID) -> Response:
        """List the unit's meetings."""
        with _reading_unit(tid, uid) as conn:
            items, next_cursor = units_rm.list_meetings(conn, uid, limit=args["limit"], after=page_after(args))
        return respond(MeetingPage, {"items": items, "next_cursor": next_cursor})

    @blp.arguments(MeetingIn)
    @blp.response(201, MeetingRecorded)
    def post(self, body: dict[str, Any], tid: UUID, uid: UUID) -> dict[str, Any]:
        """Record a meeting (the unit's leader or the deputy head; attendees are members)."""
        done = runtime().platform.hold_meeting(context(_actor(tid, policy.HOLD_MEETING)), tid, uid, **body)
        return with_position({"unit_id": done.aggregate.id, **done.aggregate.last_meeting}, done.position)
