"""Educational-methodical unions (УМО): founding, members, the chair, decisions (p.22–24, p.33–35)."""

from __future__ import annotations

import threading
from collections import Counter, OrderedDict
from typing import Any
from uuid import UUID

from flask import Response, current_app
from flask.views import MethodView
from services.api.bodies import Blueprint
from marshmallow import Schema, ValidationError, fields, validate, validates_schema
from sqlalchemy import text

from domain import policy
from domain.base import NotFound
from domain.unions import ACKNOWLEDGED, CIRCULAR_STATUSES, EXTERNAL_KINDS, Union
from projections import circulars as circulars_rm
from projections import unions as unions_rm
from services.api.common import (
    Day, PageArgs, PositionSchema, Name, Text, caller, catch_up, context, page_after, runtime, with_position,
)
from services.api.fastdump import respond
from services.unions import COORDINATOR_ROLES, involves

blp = Blueprint("unions", __name__, url_prefix="/api/v1/unions",
                description="Educational-methodical unions, their decisions and circulars (p.22–24, p.33–35)")

Specialty = Name(validate=validate.Length(min=1, max=32), metadata={"description": "A specialty code"})
Specialties = fields.List(Specialty, required=True, validate=validate.Length(min=1, max=100))


class UnionIn(Schema):
    """A new union: its name, sector, group of specialties and coordinating regional department (p.22, p.24)."""

    name = Name(required=True, validate=validate.Length(min=1, max=500))
    sector = Name(required=True, validate=validate.Length(min=1, max=300))
    specialties = Specialties
    coordinator_id = fields.UUID(required=True, metadata={"description": "The regional department tenant (p.22)"})


class UnionMemberIn(Schema):
    """An organization of the platform (`tenant_id`), or an employer or social partner (`name`, `kind`) (p.24)."""

    tenant_id = fields.UUID(load_default=None, allow_none=True)
    name = Name(load_default=None, allow_none=True, validate=validate.Length(min=1, max=500))
    kind = fields.String(load_default=None, allow_none=True, validate=validate.OneOf(EXTERNAL_KINDS))
    specialties = Specialties

    @validates_schema
    def one_kind_of_member(self, data: dict[str, Any], **kwargs: Any) -> None:
        if data.get("tenant_id") is None and (not data.get("name") or not data.get("kind")):
            raise ValidationError("Send `tenant_id`, or `name` and `kind` for an external member.", "tenant_id")
        if data.get("tenant_id") is not None and (data.get("name") or data.get("kind")):
            raise ValidationError("Send either `tenant_id` or `name` and `kind`, not both.", "tenant_id")


class CouncilDecision(Schema):
    """The educational-methodical council's decision that approved the chair (p.35)."""

    number = Name(required=True, validate=validate.Length(min=1, max=100))
    date = Day(required=True)


class UnionChairIn(Schema):
    """The chair the council approved: a person of a member organization (p.35)."""

    person_id = fields.UUID(required=True)
    council_decision = fields.Nested(CouncilDecision, required=True)


class UnionDecisionIn(Schema):
    """A decision: title, text, the direction of p.33 it serves, the specialties concerned (p.34)."""

    title = Name(required=True, validate=validate.Length(min=1, max=500))
    text = Text(required=True, validate=validate.Length(min=1, max=50_000))
    # Checked by the domain (422 with clause p.33 for a direction outside p.33); the pattern documents its form.
    direction = fields.String(required=True, metadata={"description": 'A direction of p.33, e.g. "p.33.4"',
                                                       "pattern": r"^p\.[0-9]+(\.[0-9]+)*$"})
    specialties = Specialties


class UnionMemberOut(Schema):
    """A member organization, employer or social partner."""

    id = fields.UUID()
    tenant_id = fields.UUID(allow_none=True)
    kind = fields.String(metadata={"description": "organization, employer or social_partner"})
    name = fields.String()
    specialties = fields.List(fields.String())
    admitted_at = fields.DateTime()


class CouncilDecisionOut(Schema):
    """The council decision's number and date (YYYY-MM-DD)."""

    number = fields.String()
    date = fields.String(metadata={"format": "date"})


class UnionChairOut(Schema):
    """The chair and the council decision that approved them (p.35)."""

    person_id = fields.UUID()
    tenant_id = fields.UUID()
    full_name = fields.String()
    council_decision = fields.Nested(CouncilDecisionOut)


class UnionOut(Schema):
    """A union's public facts."""

    id = fields.UUID()
    name = fields.String()
    sector = fields.String()
    specialties = fields.List(fields.String())
    coordinator_id = fields.UUID()
    chair = fields.Nested(UnionChairOut, allow_none=True)
    members = fields.List(fields.Nested(UnionMemberOut))
    founded_at = fields.DateTime()


class UnionChanged(UnionOut, PositionSchema):
    """A union after a command."""

    member_id = fields.UUID(metadata={"description": "The member a command admitted"})


class UnionPage(Schema):
    """A page of unions."""

    items = fields.List(fields.Nested(UnionOut))
    next_cursor = fields.String(allow_none=True)


class UnionArgs(PageArgs):
    """Filters of the union list."""

    specialty = Name(load_default=None, validate=validate.Length(min=1, max=32))


class MemberCircular(Schema):
    """A member organization's circular of a decision, and its status."""

    id = fields.UUID()
    member_id = fields.UUID()
    tenant_id = fields.UUID()
    member_name = fields.String(attribute="recipient_name")
    number = fields.String()
    status = fields.String(metadata={"enum": list(CIRCULAR_STATUSES)})


class CircularStatus(MemberCircular):
    """One member organization's circular of a decision: its status and response."""

    delivered_at = fields.DateTime(allow_none=True)
    response = fields.String(allow_none=True)
    note = fields.String(allow_none=True)
    acknowledged_at = fields.DateTime(allow_none=True)
    error = fields.String(allow_none=True)


class Acknowledgements(Schema):
    """How many circulars of a decision are in each state, and who has not acknowledged."""

    expected = fields.Integer()
    issued = fields.Integer()
    delivered = fields.Integer()
    acknowledged = fields.Integer()
    failed = fields.Integer()
    not_acknowledged = fields.List(fields.Nested(MemberCircular))


class UnionDecisionOut(Schema):
    """A union's decision and, per member organization, its circular."""

    id = fields.UUID()
    union_id = fields.UUID()
    number = fields.Integer()
    title = fields.String()
    text = fields.String()
    direction = fields.String()
    specialties = fields.List(fields.String())
    circulars_expected = fields.Integer()
    adopted_by = fields.UUID(allow_none=True)
    adopted_on = fields.Date()
    adopted_at = fields.DateTime()
    circulars = fields.List(fields.Nested(CircularStatus))
    acknowledgements = fields.Nested(Acknowledgements)


class UnionDecisionAdopted(PositionSchema):
    """An adopted decision: the circulars it issued are recorded and will be delivered."""

    id = fields.UUID()
    union_id = fields.UUID()
    number = fields.Integer()
    title = fields.String()
    direction = fields.String()
    specialties = fields.List(fields.String())
    circulars_expected = fields.Integer()
    circulars = fields.List(fields.Nested(MemberCircular))


class UnionDecisionPage(Schema):
    """A page of decisions."""

    items = fields.List(fields.Nested(UnionDecisionOut))
    next_cursor = fields.String(allow_none=True)


class CircularRetried(CircularStatus, PositionSchema):
    """A circular put back to be delivered."""


def union_body(union: Union) -> dict[str, Any]:
    """Return the API form of a union aggregate."""
    return {
        "id": union.id, "name": union.name, "sector": union.sector, "specialties": union.specialties,
        "coordinator_id": union.coordinator_id, "chair": union.chair, "founded_at": union.created_on,
        "members": [{"id": m.member_id, "tenant_id": m.tenant_id, "kind": m.kind, "name": m.name,
                     "specialties": list(m.specialties)} for m in union.members.values()],
    }


def _reader_scope(union: Union) -> UUID | None:
    """Return whose circulars the caller sees in the union's decisions (None: every member's); 404 for others.

    The chair, the coordinator and the operator see every member's; a member organization's people their own.
    """
    who = caller()
    if who.is_operator:
        return None
    person = who.person
    assert person is not None
    if union.is_chair(person.id) or (person.tenant_id == union.coordinator_id
                                     and set(person.roles) & set(COORDINATOR_ROLES)):
        return None
    if union.member_for_tenant(person.tenant_id) is not None:
        return person.tenant_id
    raise NotFound("union")


def _known_union(uid: UUID) -> None:
    """Refuse a command on a union the caller's organization neither belongs to nor coordinates: 404, as for a
    missing union (api.md, Conventions), before any check of who may act in it (which would tell it exists)."""
    who = caller()
    if who.is_operator:
        return
    assert who.person is not None
    if not involves(runtime().platform.get_union(uid), who.tenant_id, who.person.id):
        raise NotFound("union")


def _decision_body(row: Any, circulars: list[Any]) -> dict[str, Any]:
    counts = Counter(c.status for c in circulars)
    return {
        **row._asdict(),
        "circulars": circulars,
        "acknowledgements": {
            "expected": len(circulars), **{s: counts.get(s, 0) for s in CIRCULAR_STATUSES},
            "not_acknowledged": [c for c in circulars if c.status != ACKNOWLEDGED],
        },
    }


# A page of the union list is the same for every caller (public facts) and large (every union with all its
# members): PostgreSQL digests the rows the page would show, as this caller sees them, and a page whose rows have
# not changed since this process last serialised it is answered with the same bytes. A few pages are kept.
_PAGES: OrderedDict[tuple[Any, ...], bytes] = OrderedDict()
_PAGES_KEPT = 16
_pages_lock = threading.Lock()
_DIGEST = """
SELECT md5(coalesce(string_agg(listed::text || ARRAY(SELECT m::text FROM rm_union_members AS m
                                                    WHERE m.union_id = listed.id ORDER BY m.seq)::text,
                               '|' ORDER BY listed.seq), ''))
FROM (SELECT * FROM rm_unions WHERE seq > :after {specialty} ORDER BY seq LIMIT :rows) AS listed
"""
_DIGESTS = {by_specialty: text(_DIGEST.format(specialty="AND :specialty = ANY (specialties)" if by_specialty else ""))
            for by_specialty in (False, True)}


def _kept(key: tuple[Any, ...]) -> bytes | None:
    with _pages_lock:
        body = _PAGES.get(key)
        if body is not None:
            _PAGES.move_to_end(key)
        return body


def _keep(key: tuple[Any, ...], body: bytes) -> None:
    with _pages_lock:
        _PAGES[key] = body
        while len(_PAGES) > _PAGES_KEPT:
            _PAGES.popitem(last=False)


@blp.route("")
class Unions(MethodView):
    @blp.arguments(UnionArgs, location="query")
    @blp.response(200, UnionPage)
    def get(self, args: dict[str, Any]) -> Response:
        """List unions and their public facts (any authenticated person)."""
        catch_up(unions_rm.read_model)
        after, specialty = page_after(args), args["specialty"]
        with runtime().engine.connect() as conn:
            digest = conn.execute(_DIGESTS[specialty is not None],
                                  {"after": after, "rows": args["limit"] + 1, "specialty": specialty}).scalar_one()
            key = (args["limit"], after, specialty, digest)
            body = _kept(key)
            if body is None:
                items, next_cursor = unions_rm.list_unions(conn, limit=args["limit"], after=after,
                                                           specialty=specialty)
        if body is not None:
            return current_app.response_class(body, mimetype=current_app.json.mimetype)
        response = respond(UnionPage, {"items": items, "next_cursor": next_cursor})
        _keep(key, response.get_data())
        return response

    @blp.arguments(UnionIn)
    @blp.response(201, UnionChanged)
    def post(self, body: dict[str, Any]) -> dict[str, Any]:
        """Found a union: the head of a college or university, or a regional department (p.22, p.24)."""
        actor = caller().acting_for(policy.FOUND_UNION, None)
        done = runtime().platform.found_union(context(actor), **body)
        return with_position(union_body(done.aggregate), done.position)


@blp.route("/<uuid:uid>")
class OneUnion(MethodView):
    @blp.response(200, UnionOut)
    def get(self, uid: UUID) -> Any:
        """Return a union's public facts: name, sector, specialties, chair, members (any authenticated person)."""
        catch_up(unions_rm.read_model)
        with runtime().engine.connect() as conn:
            row = unions_rm.get_union(conn, uid)
        if row is None:
            raise NotFound("union")
        return row


@blp.route("/<uuid:uid>/members")
class Members(MethodView):
    @blp.arguments(UnionMemberIn)
    @blp.response(201, UnionChanged)
    def post(self, body: dict[str, Any], uid: UUID) -> dict[str, Any]:
        """Admit a member organization, employer or social partner (the chair or the coordinator, p.24)."""
        actor = caller().acting_for(policy.ADMIT_UNION_MEMBER, None)
        _known_union(uid)
        admitted = runtime().platform.admit_union_member(context(actor), uid, **body)
        return with_position({**union_body(admitted.union), "member_id": admitted.member.member_id},
                             admitted.position)


@blp.route("/<uuid:uid>/members/<uuid:mid>")
class OneMember(MethodView):
    @blp.response(200, UnionChanged)
    def delete(self, uid: UUID, mid: UUID) -> dict[str, Any]:
        """Remove a member (the chair), or withdraw one's organization (its head) (p.24)."""
        actor = caller().acting_for(policy.REMOVE_UNION_MEMBER, None)
        _known_union(uid)
        done = runtime().platform.remove_union_member(context(actor), uid, mid)
        return with_position(union_body(done.aggregate), done.position)


@blp.route("/<uuid:uid>/chair")
class Chair(MethodView):
    @blp.arguments(UnionChairIn)
    @blp.response(200, UnionChanged)
    def post(self, body: dict[str, Any], uid: UUID) -> dict[str, Any]:
        """Record the chair approved by the council's decision, its number and date (the coordinator, p.35)."""
        actor = caller().acting_for(policy.RECORD_UNION_CHAIR, None)
        _known_union(uid)
        council = body["council_decision"]
        done = runtime().platform.approve_chair(context(actor), uid, person_id=body["person_id"],
                                                number=council["number"], dated=council["date"])
        return with_position(union_body(done.aggregate), done.position)


@blp.route("/<uuid:uid>/decisions")
class Decisions(MethodView):
    @blp.arguments(PageArgs, location="query")
    @blp.response(200, UnionDecisionPage)
    def get(self, args: dict[str, Any], uid: UUID) -> Response:
        """List the union's decisions with each member's circular (members see their own; 404 for others)."""
        scope = _reader_scope(runtime().platform.get_union(uid))
        catch_up(unions_rm.read_model)
        catch_up(circulars_rm.read_model)
        with runtime().engine.connect() as conn:
            rows, next_cursor = unions_rm.list_decisions(conn, uid, limit=args["limit"], after=page_after(args))
            of = circulars_rm.of_decisions(conn, [r.id for r in rows], scope)
        return respond(UnionDecisionPage, {"items": [_decision_body(r, of[r.id]) for r in rows],
                                           "next_cursor": next_cursor})

    @blp.arguments(UnionDecisionIn)
    @blp.response(201, UnionDecisionAdopted)
    def post(self, body: dict[str, Any], uid: UUID) -> dict[str, Any]:
        """Adopt a decision (the chair, p.35): one circular per member organization of its specialties (p.34)."""
        actor = caller().acting_for(policy.ADOPT_DECISION, None)
        _known_union(uid)
        adopted = runtime().platform.adopt_decision(context(actor), uid, **body)
        decision = adopted.decision
        return with_position({
            "id": decision.id, "union_id": decision.union_id, "number": decision.number, "title": decision.title,
            "direction": decision.direction, "specialties": decision.specialties,
            "circulars_expected": decision.circulars_expected,
            "circulars": [{"id": c.id, "member_id": c.member_id, "tenant_id": c.tenant_id,
                           "recipient_name": c.recipient_name, "number": c.number, "status": c.status}
                          for c in adopted.circulars],
        }, adopted.position)


@blp.route("/<uuid:uid>/decisions/<uuid:did>")
class OneDecision(MethodView):
    @blp.response(200, UnionDecisionOut)
    def get(self, uid: UUID, did: UUID) -> dict[str, Any]:
        """Return a decision with each member's circular status and response (members see their own)."""
        scope = _reader_scope(runtime().platform.get_union(uid))
        catch_up(unions_rm.read_model)
        catch_up(circulars_rm.read_model)
        with runtime().engine.connect() as conn:
            row = unions_rm.get_decision(conn, uid, did)
            if row is None:
                raise NotFound("decision")
            of = circulars_rm.of_decisions(conn, [row.id], scope)
        return _decision_body(row, of[row.id])


@blp.route("/<uuid:uid>/decisions/<uuid:did>/circulars/<uuid:cid>/retry")
class RetryCircular(MethodView):
    @blp.response(200, CircularRetried)
    def post(self, uid: UUID, did: UUID, cid: UUID) -> dict[str, Any]:
        """Put a failed circular back to be delivered (the union's chair or the platform operator)."""
        who = caller()
        actor = who.acting_for(policy.RETRY_CIRCULAR, None)
        if not who.is_operator:
            _reader_scope(runtime().platform.get_union(uid))  # 404 for who may not know the union's decisions
        done = runtime().platform.retry_circular(context(actor), uid, did, cid)
        c = done.aggregate
        return with_position({"id": c.id, "member_id": c.member_id, "tenant_id": c.tenant_id,
                              "recipient_name": c.recipient_name, "number": c.number, "status": c.status,
                              "error": c.error}, done.position)

