"""Compliance findings of an organization's units, and the academic calendar they are counted by."""

from __future__ import annotations

import functools
from datetime import date
from typing import Any
from uuid import UUID

from flask import Response
from flask.views import MethodView
from services.api.bodies import Blueprint
from marshmallow import Schema, fields, validate
from sqlalchemy import Connection, Select, bindparam, case, func, literal, select

from domain import policy, rules
from domain.base import day_of
from domain.compliance import DEFAULT_QUARTERS, UnitFacts, findings, looks_back_to, rules_checked
from domain.units import UNIT_KINDS, academic_year_of
from projections import tenants as tenants_rm
from projections import units as units_rm
from services.api.audit import note_read, require_tenant_history
from services.api.common import PositionSchema, caller, catch_up, context, runtime, with_position
from services.api.fastdump import respond

blp = Blueprint("compliance", __name__, url_prefix="/api/v1/tenants/<uuid:tid>",
                description="Compliance with the Rules, and the academic calendar")


class FindingOut(Schema):
    """One way a unit falls short of the Rules."""

    clause = fields.String()
    code = fields.String(metadata={"description": "below_minimum, no_leader, leader_term_expired, "
                                                  "no_approved_plan, no_meeting_in_quarter, too_few_meetings"})
    unit_id = fields.UUID()
    message = fields.String()
    since = fields.Date()


class RuleCheckedOut(Schema):
    """A rule the findings were computed by, and the kinds of the tenant's units it was checked on."""

    clause = fields.String()
    code = fields.String()
    rule = fields.String()
    unit_kinds = fields.List(fields.String())


class FindingsOut(Schema):
    as_of = fields.Date()
    items = fields.List(fields.Nested(FindingOut))
    checked = fields.List(fields.Nested(RuleCheckedOut), metadata={
        "description": "The rules checked, per kind of the tenant's units (p.29 asks plans of associations only)"})


Quarter = fields.List(fields.String(validate=validate.Regexp(r"^\d{2}-\d{2}$")), validate=validate.Length(equal=2))


class CalendarIn(Schema):
    """The academic quarters, each [start, end] as MM-DD, September first."""

    quarters = fields.List(Quarter, required=True, validate=validate.Length(equal=4))


class CalendarOut(Schema):
    quarters = fields.List(fields.List(fields.String()))
    default = fields.Boolean()


class CalendarChanged(CalendarOut, PositionSchema):
    """The calendar after it was set."""


def _quarters(conn: Connection, tid: UUID) -> tuple[list[list[str]], bool]:
    # The caller has been checked to be a person of this tenant, so it exists: a row the read model has not
    # reached yet has no calendar set yet either (one set later comes with a position to wait for).
    tenant = tenants_rm.get_tenant(conn, tid)
    if tenant is not None and tenant.quarters:
        return tenant.quarters, False
    return [list(q) for q in DEFAULT_QUARTERS], True


_PLANNING = [code for code, kind in UNIT_KINDS.items() if kind.plans_yearly]
_MEETING = [code for code, kind in UNIT_KINDS.items() if kind.meets]


def compliance_facts(conn: Connection, tenant_id: UUID, today: date) -> list[UnitFacts]:
    """Return what compliance needs to know of each unit the tenant formed, as of today, in one statement.

    Per unit, PostgreSQL answers whether this academic year's plan is approved and lists the days of the
    meetings held since the last academic year began (looks_back_to: no finding looks further back), each
    from an index on the unit; only for the kinds the Rules expect plans or meetings of. No other plan or
    meeting of the tenant is read.
    """
    year = academic_year_of(today)
    params = {"tenant_id": tenant_id, "year": year, "since": looks_back_to(today)}
    return [
        UnitFacts(unit_id=unit_id, kind=kind, name=name, formed_on=day_of(formed_at), members=members,
                  below_minimum_since=below_since, leader_id=leader_id, leader_ends_on=leader_ends_on,
                  leader_is_member=leader_gone_since is None, leader_gone_since=leader_gone_since,
                  approved_years={year} if approved else set(), meetings=list(held or ()))
        for (unit_id, kind, name, formed_at, members, below_since, leader_id, leader_ends_on, leader_gone_since,
             approved, held) in conn.execute(_facts(), params)
    ]


@functools.cache
def _facts() -> Select[Any]:
    """The statement of compliance_facts (built once; its parameters: tenant_id, year, since)."""
    u, p, m = units_rm.units, units_rm.plans, units_rm.meetings
    tenant_id = bindparam("tenant_id", type_=u.c.tenant_id.type)
    # A scalar subquery with LIMIT 1 is probed per unit through the plans' unit_id index (an EXISTS could be
    # planned as a hash of every plan in the table).
    approved = func.coalesce(
        select(literal(True)).where(p.c.unit_id == u.c.id, p.c.tenant_id == tenant_id, p.c.status == "approved",
                                    p.c.academic_year == bindparam("year", type_=p.c.academic_year.type))
        .limit(1).scalar_subquery(),
        False)
    held = (select(m.c.held_on)
            .where(m.c.unit_id == u.c.id, m.c.tenant_id == tenant_id,
                   m.c.held_on >= bindparam("since", type_=m.c.held_on.type))
            .order_by(m.c.held_on).scalar_subquery())
    return (
        select(u.c.id, u.c.kind, u.c.name, u.c.formed_at, u.c.member_count, u.c.below_minimum_since,
               u.c.leader_id, u.c.leader_ends_on, u.c.leader_gone_since,
               case((u.c.kind.in_(_PLANNING), approved), else_=literal(False)).label("approved"),
               case((u.c.kind.in_(_MEETING), func.array(held)), else_=None).label("held"))
        .where(u.c.tenant_id == tenant_id)
        .order_by(u.c.seq)
    )


@blp.route("/compliance")
class Compliance(MethodView):
    @blp.response(200, FindingsOut)
    def get(self, tid: UUID) -> Response:
        """Report the units that fall short of the Rules today, with clause and since-when."""
        who = caller()
        if who.person is not None and rules.AUDITOR in who.roles:
            # An auditor reads compliance under the tenant's audit grant, as they read its history.
            actor = require_tenant_history(tid)
            note_read(actor, tid, "compliance", {})
        else:
            who.acting_for(policy.READ_COMPLIANCE, tid)
        catch_up(units_rm.read_model)
        catch_up(tenants_rm.read_model)  # the calendar the quarters are counted by (p.25)
        today = runtime().today()
        with runtime().engine.connect() as conn:
            quarters, _ = _quarters(conn, tid)
            facts = compliance_facts(conn, tid, today)
        return respond(FindingsOut, {"as_of": today, "items": findings(facts, today, [tuple(q) for q in quarters]),
                                     "checked": rules_checked(f.kind for f in facts)})


@blp.route("/calendar")
class Calendar(MethodView):
    @blp.response(200, CalendarOut)
    def get(self, tid: UUID) -> dict[str, Any]:
        """Return the academic quarters meetings are counted by (p.25)."""
        caller().reading(tid)
        catch_up(tenants_rm.read_model)
        with runtime().engine.connect() as conn:
            quarters, default = _quarters(conn, tid)
        return {"quarters": quarters, "default": default}

    @blp.arguments(CalendarIn)
    @blp.response(200, CalendarChanged)
    def put(self, body: dict[str, Any], tid: UUID) -> dict[str, Any]:
        """Set the organization's academic quarters (head or deputy head)."""
        actor = caller().acting_for(policy.SET_CALENDAR, tid)
        done = runtime().platform.set_calendar(context(actor), tid, body["quarters"])
        return with_position({"quarters": done.aggregate.quarters, "default": False}, done.position)
