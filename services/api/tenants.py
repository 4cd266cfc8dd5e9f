"""Tenants: the platform operator registers organizations and authorities (p.2, p.5, p.22)."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from flask.views import MethodView
from services.api.bodies import Blueprint
from marshmallow import Schema, fields, validate

from domain import policy, rules
from domain.base import NotFound
from domain.tenants import Tenant
from projections import tenants as tenants_rm
from services.api.common import (
    PageArgs,
    PositionSchema,
    caller,
    catch_up,
    context,
    page_after,
    runtime,
    Name,
    storable,
    with_position,
)

blp = Blueprint("tenants", __name__, url_prefix="/api/v1/tenants", description="Organizations and authorities")


class TenantIn(Schema):
    """A registration: the organization's name, kind, BIN, region, authority and language."""

    name = Name(required=True, validate=validate.Length(min=1, max=500))
    kind = fields.String(required=True, validate=validate.OneOf(rules.TENANT_KINDS))
    bin = fields.String(required=True, validate=validate.Regexp(r"^[0-9]{12}$", error="A BIN is 12 digits."),
                        metadata={"description": "12-digit business identification number (its check digit valid)"})
    region = Name(required=True, validate=validate.Length(min=1, max=200))
    parent_id = fields.UUID(load_default=None, allow_none=True)
    language = fields.String(load_default="ru", validate=validate.OneOf(rules.LANGUAGES))
    email = fields.Email(load_default=None, allow_none=True, validate=storable)


class TenantOut(Schema):
    """An organization or authority."""

    id = fields.UUID()
    name = fields.String()
    kind = fields.String()
    bin = fields.String()
    region = fields.String()
    parent_id = fields.UUID(allow_none=True)
    language = fields.String()
    email = fields.String(allow_none=True)
    registered_at = fields.DateTime()


class TenantCreated(TenantOut, PositionSchema):
    """A registered tenant and the position of its registration."""


class TenantPage(Schema):
    """A page of tenants."""

    items = fields.List(fields.Nested(TenantOut))
    next_cursor = fields.String(allow_none=True)


class TenantListArgs(PageArgs):
    """Filters of the tenant list."""

    kind = fields.String(load_default=None, validate=validate.OneOf(rules.TENANT_KINDS))


def tenant_body(tenant: Tenant) -> dict[str, Any]:
    """Return the API form of a tenant aggregate."""
    return {
        "id": tenant.id,
        "name": tenant.name,
        "kind": tenant.kind,
        "bin": tenant.bin,
        "region": tenant.region,
        "parent_id": tenant.parent_id,
        "language": tenant.language,
        "email": tenant.email,
        "registered_at": tenant.created_on,
    }


@blp.route("")
class Tenants(MethodView):
    @blp.arguments(TenantListArgs, location="query")
    @blp.response(200, TenantPage)
    def get(self, args: dict[str, Any]) -> dict[str, Any]:
        """List tenants: all of them for the operator, one's own for anyone else."""
        who = caller()
        catch_up(tenants_rm.read_model)
        with runtime().engine.connect() as conn:
            items, next_cursor = tenants_rm.list_tenants(
                conn, only=who.tenant_id, limit=args["limit"], after=page_after(args), kind=args["kind"]
            )
        return {"items": items, "next_cursor": next_cursor}

    @blp.arguments(TenantIn)
    @blp.response(201, TenantCreated)
    @blp.alt_response(409, description="The BIN is already registered")
    def post(self, body: dict[str, Any]) -> dict[str, Any]:
        """Register an organization or authority (operator only)."""
        actor = caller().acting_for(policy.REGISTER_TENANT, None)
        done = runtime().platform.register_tenant(context(actor), **body)
        return with_position(tenant_body(done.aggregate), done.position)


@blp.route("/<uuid:tid>")
class OneTenant(MethodView):
    @blp.response(200, TenantOut)
    def get(self, tid: UUID) -> Any:
        """Return one tenant, to the operator or its own people."""
        who = caller()
        if not who.is_operator and not who.member_of(tid):
            raise NotFound("tenant")
        catch_up(tenants_rm.read_model)
        with runtime().engine.connect() as conn:
            row = tenants_rm.get_tenant(conn, tid)
        if row is None:
            raise NotFound("tenant")
        return row
