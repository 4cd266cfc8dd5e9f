"""People and credentials inside a tenant (p.3)."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from flask import Response
from flask.views import MethodView
from services.api.bodies import Blueprint
from marshmallow import Schema, fields, validate

from domain import policy, rules
from domain.base import NotFound
from domain.people import Person
from projections import people as people_rm
from services.api.common import (
    PageArgs,
    PositionSchema,
    caller,
    catch_up,
    context,
    page_after,
    runtime,
    Name,
    with_position,
)
from services.api.fastdump import respond

blp = Blueprint("people", __name__, url_prefix="/api/v1/tenants/<uuid:tid>/people", description="People and credentials")

Subject = Name(validate=validate.Length(min=1, max=200))


class PersonIn(Schema):
    """A new person: name, roles (p.3) and the subjects or disciplines they teach."""

    full_name = Name(required=True, validate=validate.Length(min=1, max=300))
    roles = fields.List(fields.String(validate=validate.OneOf(rules.ROLES)), required=True,
                        validate=validate.Length(min=1, max=len(rules.ROLES)))
    subjects = fields.List(Subject, load_default=list, validate=validate.Length(max=50))


class PersonPatch(Schema):
    """A change of a person's name, roles or subjects; absent fields stay as they are."""

    full_name = Name(validate=validate.Length(min=1, max=300))
    roles = fields.List(fields.String(validate=validate.OneOf(rules.ROLES)),
                        validate=validate.Length(min=1, max=len(rules.ROLES)))
    subjects = fields.List(Subject, validate=validate.Length(max=50))


class TokenOut(Schema):
    """A credential, without its secret."""

    id = fields.UUID()
    issued_at = fields.String(metadata={"format": "date-time"})
    revoked = fields.Boolean()


class PersonOut(Schema):
    """A person of a tenant."""

    id = fields.UUID()
    tenant_id = fields.UUID()
    full_name = fields.String()
    roles = fields.List(fields.String())
    subjects = fields.List(fields.String())
    status = fields.String(metadata={"description": "active, or left (history is kept)"})
    joined_at = fields.DateTime()
    left_at = fields.DateTime(allow_none=True)
    tokens = fields.List(fields.Nested(TokenOut))


class PersonChanged(PersonOut, PositionSchema):
    """A person after a command, and the position of its last event."""


class PeoplePage(Schema):
    """A page of people."""

    items = fields.List(fields.Nested(PersonOut))
    next_cursor = fields.String(allow_none=True)


class PeopleArgs(PageArgs):
    """Filters of the people list."""

    status = fields.String(load_default="active", validate=validate.OneOf(["active", "left", "all"]))
    role = fields.String(load_default=None, validate=validate.OneOf(rules.ROLES))
    subject = Name(load_default=None, validate=validate.Length(min=1, max=200))


class TokenIssued(PositionSchema):
    """A new credential: the token is shown once and cannot be read again."""

    token = fields.String(required=True)
    token_id = fields.UUID()
    person_id = fields.UUID()


def person_body(person: Person) -> dict[str, Any]:
    """Return the API form of a person aggregate."""
    return {
        "id": person.id,
        "tenant_id": person.tenant_id,
        "full_name": person.full_name,
        "roles": person.roles,
        "subjects": person.subjects,
        "status": "active" if person.active else "left",
        "joined_at": person.created_on,
        "left_at": person.left_at,
        "tokens": [
            {"id": UUID(hex=token_id), "issued_at": token["issued_at"].isoformat(), "revoked": token["revoked"]}
            for token_id, token in person.tokens.items()
        ],
    }


def _read_allowed(tid: UUID) -> None:
    who = caller()
    if who.is_operator:
        runtime().platform.get_tenant(tid)  # 404 for a tenant that does not exist
        raise policy.READ_TENANT.refused()
    who.reading(tid)


@blp.route("")
class People(MethodView):
    @blp.arguments(PeopleArgs, location="query")
    @blp.response(200, PeoplePage)
    def get(self, args: dict[str, Any], tid: UUID) -> Response:
        """List the tenant's people (active ones unless `status` says otherwise)."""
        _read_allowed(tid)
        catch_up(people_rm.read_model)
        status = None if args["status"] == "all" else args["status"]
        with runtime().engine.connect() as conn:
            items, next_cursor = people_rm.list_people(
                conn, tid, limit=args["limit"], after=page_after(args), status=status,
                role=args["role"], subject=args["subject"],
            )
        return respond(PeoplePage, {"items": items, "next_cursor": next_cursor})

    @blp.arguments(PersonIn)
    @blp.response(201, PersonChanged)
    def post(self, body: dict[str, Any], tid: UUID) -> dict[str, Any]:
        """Add a person; the operator adds a tenant's head, the head or deputy head everyone else."""
        who = caller()
        actor = who.acting_for(policy.ADD_PERSON, tid)
        if who.is_operator and rules.HEAD not in body["roles"]:
            runtime().platform.get_tenant(tid)  # 404 for a tenant that does not exist
        ctx = policy.ADD_PERSON.permit(context(actor), {policy.FOR_A_HEAD: rules.HEAD in body["roles"]})
        done = runtime().platform.add_person(ctx, tid, **body)
        return with_position(person_body(done.aggregate), done.position)


@blp.route("/<uuid:pid>")
class OnePerson(MethodView):
    @blp.response(200, PersonOut)
    def get(self, tid: UUID, pid: UUID) -> Any:
        """Return one person of the tenant, including one who has left."""
        _read_allowed(tid)
        catch_up(people_rm.read_model)
        with runtime().engine.connect() as conn:
            row = people_rm.get_person(conn, tid, pid)
        if row is None:
            raise NotFound("person")
        return row

    @blp.arguments(PersonPatch)
    @blp.response(200, PersonChanged)
    def patch(self, body: dict[str, Any], tid: UUID, pid: UUID) -> dict[str, Any]:
        """Change a person's name, roles or subjects (head or deputy head)."""
        actor = caller().acting_for(policy.CHANGE_PERSON, tid)
        done = runtime().platform.change_person(context(actor), tid, pid, **body)
        return with_position(person_body(done.aggregate), done.position)

    @blp.response(200, PersonChanged)
    def delete(self, tid: UUID, pid: UUID) -> dict[str, Any]:
        """Record that the person has left (head); the history is kept and their tokens stop working."""
        actor = caller().acting_for(policy.REMOVE_PERSON, tid)
        done = runtime().platform.remove_person(context(actor), tid, pid)
        return with_position(person_body(done.aggregate), done.position)


@blp.route("/<uuid:pid>/tokens")
class Tokens(MethodView):
    @blp.response(201, TokenIssued)
    def post(self, tid: UUID, pid: UUID) -> dict[str, Any]:
        """Issue an API token for the person (operator or head); it is shown only in this response."""
        who = caller()
        actor = who.acting_for(policy.ISSUE_TOKEN, tid)
        platform = runtime().platform
        ctx = context(actor)
        if who.is_operator:
            ctx = policy.ISSUE_TOKEN.permit(ctx, {policy.FOR_A_HEAD: rules.HEAD in platform.get_person(tid, pid).roles})
        issued = platform.issue_token(ctx, tid, pid)
        return {"token": issued.token, "token_id": issued.token_id, "person_id": pid,
                "position": str(issued.position)}


@blp.route("/<uuid:pid>/tokens/<uuid:token_id>")
class OneToken(MethodView):
    @blp.response(200, PersonChanged)
    def delete(self, tid: UUID, pid: UUID, token_id: UUID) -> dict[str, Any]:
        """Revoke a token (operator or head, or the person their own)."""
        who = caller()
        actor = who.acting_for(policy.REVOKE_TOKEN, tid)
        own = who.person is not None and who.person.id == pid
        done = runtime().platform.revoke_token(policy.REVOKE_TOKEN.permit(context(actor), {policy.SELF: own}),
                                               tid, pid, token_id)
        return with_position(person_body(done.aggregate), done.position)
