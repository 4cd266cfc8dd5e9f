"""Compliance findings of an organization's units, and the academic calendar they are counted by."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import Schema, fields, validate

from domain import rules
from domain.compliance import DEFAULT_QUARTERS, findings
from projections import tenants as tenants_rm
from projections import units as units_rm
from services.api.audit import require_tenant_history
from services.api.common import PositionSchema, caller, catch_up, context, runtime, with_position

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


class FindingsOut(Schema):
    as_of = fields.Date()
    items = fields.List(fields.Nested(FindingOut))


Quarter = fields.List(fields.String(validate=validate.Regexp(r"^\d{2}-\d{2}$")), validate=validate.Length(equal=2))


class CalendarIn(Schema):
    """The academic quarters, each [start, end] as MM-DD, September first."""

    quarters = fields.List(Quarter, required=True, validate=validate.Length(equal=4))


class CalendarOut(Schema):
    quarters = fields.List(fields.List(fields.String()))
    default = fields.Boolean()


class CalendarChanged(CalendarOut, PositionSchema):
    """The calendar after it was set."""


def _quarters(tid: UUID) -> tuple[list[list[str]], bool]:
    # The caller has been checked to be a person of this tenant, so it exists: a row the read model has not
    # reached yet has no calendar set yet either (one set later comes with a position to wait for).
    with runtime().engine.connect() as conn:
        tenant = tenants_rm.get_tenant(conn, tid)
    if tenant is not None and tenant.quarters:
        return tenant.quarters, False
    return [list(q) for q in DEFAULT_QUARTERS], True


@blp.route("/compliance")
class Compliance(MethodView):
    @blp.response(200, FindingsOut)
    def get(self, tid: UUID) -> dict[str, Any]:
        """Report the units that fall short of the Rules today, with clause and since-when."""
        who = caller()
        if who.person is not None and rules.AUDITOR in who.roles:
            # An auditor reads compliance under the tenant's audit grant, as they read its history.
            actor = require_tenant_history(tid)
            runtime().platform.note_audit_read(context(actor), tenant_id=tid, union_id=None, what="compliance",
                                               query={})
        else:
            who.acting_as(tid, rules.HEAD, rules.DEPUTY_HEAD, rules.METHODIST)
        catch_up(units_rm.read_model)
        catch_up(tenants_rm.read_model)  # the calendar the quarters are counted by (p.25)
        today = runtime().clock().date()
        quarters, _ = _quarters(tid)
        with runtime().engine.connect() as conn:
            facts = units_rm.compliance_facts(conn, tid)
        return {"as_of": today, "items": findings(facts, today, [tuple(q) for q in quarters])}


@blp.route("/calendar")
class Calendar(MethodView):
    @blp.response(200, CalendarOut)
    def get(self, tid: UUID) -> dict[str, Any]:
        """Return the academic quarters meetings are counted by (p.25)."""
        caller().reading(tid)
        catch_up(tenants_rm.read_model)
        quarters, default = _quarters(tid)
        return {"quarters": quarters, "default": default}

    @blp.arguments(CalendarIn)
    @blp.response(200, CalendarChanged)
    def put(self, body: dict[str, Any], tid: UUID) -> dict[str, Any]:
        """Set the organization's academic quarters (head or deputy head)."""
        actor = caller().acting_as(tid, rules.HEAD, rules.DEPUTY_HEAD)
        done = runtime().platform.set_calendar(context(actor), tid, body["quarters"])
        return with_position({"quarters": done.aggregate.quarters, "default": False}, done.position)
