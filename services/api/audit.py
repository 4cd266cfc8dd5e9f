"""Audit: grants, the decision history, states as of a moment, export, and the tamper-evidence chain."""

from __future__ import annotations

import json
from datetime import timezone
from typing import Any
from uuid import UUID

from flask import Response
from flask.views import MethodView
from services.api.bodies import Blueprint
from marshmallow import Schema, fields, validate
from sqlalchemy import select

from domain import policy
from domain.base import Actor, InvalidValue, NotFound, day_end, day_start
from domain.unions import Union
from projections import audit as audit_rm
from projections.base import page
from projections.chain import Chainer, chain_head, list_checkpoints, verify
from services import metrics
from services.api.common import (
    Day, Moment, PageArgs, PositionSchema, caller, catch_up, context, page_after, runtime, with_position,
)
from services.api.fastdump import respond
from services.audit import export_tenant, may_read_tenant_history
from services.unions import involves

UNION_CHAIR = policy.UNION_CHAIR_CAPACITY  # the capacity a union's chair reads its history in (p.35)

grants_blp = Blueprint("audit-grants", __name__, url_prefix="/api/v1/tenants/<uuid:tid>/audit-grants",
                       description="Who may read a tenant's decision history")
blp = Blueprint("audit", __name__, url_prefix="/api/v1/audit", description="Replaying the decision history")


class GrantIn(Schema):
    person_id = fields.UUID(required=True, metadata={"description": "A person in the auditor role"})
    until = Day(required=True)


class GrantOut(Schema):
    id = fields.UUID()
    tenant_id = fields.UUID(allow_none=True)
    person_id = fields.UUID()
    until = fields.Date()
    granted_at = fields.DateTime(allow_none=True)
    revoked_at = fields.DateTime(allow_none=True)


class GrantChanged(GrantOut, PositionSchema):
    """A grant after a command."""


class GrantList(Schema):
    items = fields.List(fields.Nested(GrantOut))


class ActorOut(Schema):
    person_id = fields.UUID(allow_none=True)
    role = fields.String(allow_none=True)


class EventOut(Schema):
    """One decision of the history."""

    position = fields.Integer()
    aggregate_id = fields.UUID()
    aggregate_type = fields.String()
    version = fields.Integer()
    type = fields.String()
    recorded_at = fields.DateTime()
    actor = fields.Nested(ActorOut)
    clause = fields.String(allow_none=True)
    request_id = fields.String(allow_none=True)
    tenant_id = fields.UUID(allow_none=True)
    union_id = fields.UUID(allow_none=True)
    data = fields.Dict()


class EventPage(Schema):
    items = fields.List(fields.Nested(EventOut))
    next_cursor = fields.String(allow_none=True)


class HistoryArgs(PageArgs):
    aggregate_id = fields.UUID(load_default=None)
    type = fields.String(load_default=None, validate=validate.Length(max=200))
    since = Moment(load_default=None, default_timezone=timezone.utc)
    until = Moment(load_default=None, default_timezone=timezone.utc)


class StateArgs(PageArgs):
    """The version or moment of the state; `limit` and `cursor` page the events that built it."""

    version = fields.Integer(load_default=None, validate=validate.Range(min=1))
    as_of = Moment(load_default=None, default_timezone=timezone.utc)


class AggregateStateOut(Schema):
    aggregate_id = fields.UUID()
    version = fields.Integer()
    state = fields.Dict()
    events = fields.List(fields.Nested(EventOut), metadata={
        "description": "The events that built the state, in version order: a page of them (limit, cursor)"})
    next_cursor = fields.String(allow_none=True, metadata={"description": "Continues the events (as cursor)"})


class TenantStateArgs(Schema):
    as_of = Day(required=True)


class TenantStateOut(Schema):
    as_of = fields.Date()
    position = fields.Integer(allow_none=True)
    aggregates = fields.List(fields.Dict())


class ChangesArgs(Schema):
    from_ = Day(required=True, data_key="from")
    to = Day(required=True)


class ChangeOut(Schema):
    aggregate_id = fields.UUID()
    aggregate_type = fields.String()
    before_version = fields.Integer(allow_none=True)
    after_version = fields.Integer()
    events = fields.List(fields.String())


class ChangesOut(Schema):
    items = fields.List(fields.Nested(ChangeOut))


class VerifyOut(Schema):
    ok = fields.Boolean()
    events_checked = fields.Integer()
    first_bad_position = fields.Integer(allow_none=True)
    problem = fields.String(allow_none=True)
    chain_head = fields.String()
    last_position = fields.Integer()
    checkpoints_verified = fields.Integer()


class CheckpointOut(Schema):
    position = fields.Integer()
    head = fields.String()
    created_at = fields.String()
    signature = fields.String(allow_none=True)
    public_key = fields.String(allow_none=True)


class CheckpointList(Schema):
    items = fields.List(fields.Nested(CheckpointOut))
    chain = fields.Dict(allow_none=True)


def grant_body(grant: Any) -> dict[str, Any]:
    """Return the API form of a grant aggregate."""
    return {"id": grant.id, "tenant_id": grant.tenant, "person_id": grant.auditor_id, "until": grant.until,
            "granted_at": grant.created_on, "revoked_at": grant.revoked_at}


def event_body(row: Any) -> dict[str, Any]:
    """Return the API form of an indexed event."""
    return {**row._mapping, "actor": {"person_id": row.actor_person_id, "role": row.actor_role}}


@grants_blp.route("")
class Grants(MethodView):
    @grants_blp.response(200, GrantList)
    def get(self, tid: UUID) -> dict[str, Any]:
        """List the tenant's audit grants (head or deputy head)."""
        caller().acting_for(policy.LIST_AUDIT_GRANTS, tid)
        catch_up(audit_rm.read_model)
        with runtime().engine.connect() as conn:
            rows = audit_rm.grants_of(conn, tid)
        return {"items": [{**r._mapping, "person_id": r.auditor_id} for r in rows]}

    @grants_blp.arguments(GrantIn)
    @grants_blp.response(201, GrantChanged)
    def post(self, body: dict[str, Any], tid: UUID) -> dict[str, Any]:
        """Grant an auditor read access to this tenant's history until a day (head)."""
        actor = caller().acting_for(policy.GRANT_AUDIT, tid)
        done = runtime().platform.grant_audit(context(actor), tid, **body)
        return with_position(grant_body(done.aggregate), done.position)


@grants_blp.route("/<uuid:gid>")
class OneGrant(MethodView):
    @grants_blp.response(200, GrantChanged)
    def delete(self, tid: UUID, gid: UUID) -> dict[str, Any]:
        """Revoke a grant (head); it stops working at once."""
        actor = caller().acting_for(policy.REVOKE_AUDIT, tid)
        done = runtime().platform.revoke_audit(context(actor), tid, gid)
        return with_position(grant_body(done.aggregate), done.position)


def _audit_actor(action: policy.Action) -> Any:
    """Return the operator or the auditor as the actor of an audit read (the grant is checked by the caller)."""
    return caller().acting_for(action, None)


def require_tenant_history(tid: UUID, conn: Any = None) -> Any:
    """Return the actor if they may read the tenant's history; 404 for anyone else (as if it did not exist).

    `conn`: the request's open connection to read the grant through (else one of its own).
    """
    who = caller()
    actor = _audit_actor(policy.READ_TENANT_HISTORY)  # 403 for who is neither the operator nor an auditor
    rt = runtime()
    catch_up(audit_rm.read_model)  # grants are read from the audit read model
    today = rt.today()
    person_id = who.person.id if who.person else None
    if conn is not None:
        allowed = may_read_tenant_history(conn, who.roles, person_id, tid, today)
    else:
        with rt.engine.connect() as own:
            allowed = may_read_tenant_history(own, who.roles, person_id, tid, today)
    if not allowed:
        raise NotFound("tenant")
    return actor


def _history_page(args: dict[str, Any], **scope: UUID) -> dict[str, Any]:
    """Return a page of a tenant's or union's history, filtered as the query asks."""
    catch_up(audit_rm.read_model)
    with runtime().engine.connect() as conn:
        rows, next_cursor = audit_rm.history(
            conn, **scope, after=page_after(args), limit=args["limit"], aggregate_id=args["aggregate_id"],
            type_=args["type"], since=args["since"], until=args["until"])
    return {"items": [event_body(r) for r in rows], "next_cursor": next_cursor}


def note_read(actor: Any, tid: UUID | None, what: str, query: dict[str, Any], union_id: UUID | None = None) -> None:
    """Record an audit read (who read what of which tenant or union) as an event."""
    runtime().platform.note_audit_read(context(actor), tenant_id=tid, union_id=union_id, what=what, query=query)


@blp.route("/tenants/<uuid:tid>/events")
class TenantEvents(MethodView):
    @blp.arguments(HistoryArgs, location="query")
    @blp.response(200, EventPage)
    def get(self, args: dict[str, Any], tid: UUID) -> Response:
        """The tenant's events in log order, with who, when and under which clause (auditor with a grant, operator)."""
        actor = require_tenant_history(tid)
        page = _history_page(args, tenant_id=tid)
        note_read(actor, tid, "tenant events", {k: v for k, v in args.items() if v is not None})
        return respond(EventPage, page)


union_grants_blp = Blueprint("union-audit-grants", __name__, url_prefix="/api/v1/unions/<uuid:uid>/audit-grants",
                             description="Who may read a union's decision history")


@union_grants_blp.route("")
class UnionGrants(MethodView):
    @union_grants_blp.arguments(GrantIn)
    @union_grants_blp.response(201, GrantChanged)
    def post(self, body: dict[str, Any], uid: UUID) -> dict[str, Any]:
        """Grant an auditor read access to the union's history (head or deputy head of its coordinator, p.22)."""
        who = caller()
        actor = who.acting_for(policy.GRANT_UNION_AUDIT, who.tenant_id)
        if not involves(runtime().platform.get_union(uid), who.tenant_id, actor.person_id):
            raise NotFound("union")  # an outsider's organization: as a missing union (api.md, Conventions)
        done = runtime().platform.grant_union_audit(context(actor), uid, **body)
        return with_position(grant_body(done.aggregate), done.position)


def require_union_history(uid: UUID) -> Any:
    """Return the actor if they may read the union's history: operator, its chair, an auditor with a grant."""
    who = caller()
    rt = runtime()
    union = rt.platform.load(uid, Union, "union")
    if who.is_operator:
        return _audit_actor(policy.READ_UNION_HISTORY)
    if policy.AUDITOR in who.roles:
        catch_up(audit_rm.read_model)
        with rt.engine.connect() as conn:
            if audit_rm.grant_allows(conn, who.person.id, rt.today(), union_id=uid):
                return Actor(role=policy.AUDITOR, person_id=who.person.id, tenant_id=who.tenant_id,
                             roles=tuple(who.roles))
        raise NotFound("union")
    if union.is_chair(who.person.id):
        return Actor(role=UNION_CHAIR, person_id=who.person.id, tenant_id=who.tenant_id, roles=tuple(who.roles))
    if not involves(union, who.tenant_id, who.person.id):
        raise NotFound("union")  # an outsider's organization: as a missing union (api.md, Conventions)
    raise policy.READ_UNION_HISTORY.refused()


@blp.route("/unions/<uuid:uid>/events")
class UnionEvents(MethodView):
    @blp.arguments(HistoryArgs, location="query")
    @blp.response(200, EventPage)
    def get(self, args: dict[str, Any], uid: UUID) -> Response:
        """The union's events in log order (its chair, an auditor with a grant, the operator)."""
        actor = require_union_history(uid)
        page = _history_page(args, union_id=uid)
        note_read(actor, None, "union events", {k: v for k, v in args.items() if v is not None}, union_id=uid)
        return respond(EventPage, page)


@blp.route("/aggregates/<uuid:aid>")
class AggregateState(MethodView):
    @blp.arguments(StateArgs, location="query")
    @blp.response(200, AggregateStateOut)
    def get(self, args: dict[str, Any], aid: UUID) -> dict[str, Any]:
        """An aggregate's state as of a version or a moment, and the events that built it."""
        # Refused by role before the aggregate is looked up, so the refusal tells nothing of whether it exists.
        _audit_actor(policy.READ_TENANT_HISTORY)
        catch_up(audit_rm.read_model)
        rt = runtime()
        # One connection for the whole read: each costs a checkout and entering the caller's scope.
        with rt.engine.connect() as conn:
            scope = audit_rm.aggregate_scope(conn, aid)
            if scope is None or (scope.tenant_id is None and scope.union_id is None):
                raise NotFound("aggregate")
            try:
                # A tenant's aggregate under the tenant's grant; a union's (decision, union) under the union's.
                if scope.tenant_id is not None:
                    actor = require_tenant_history(scope.tenant_id, conn)
                else:
                    actor = require_union_history(scope.union_id)
            except NotFound:
                raise NotFound("aggregate") from None  # without a grant: as a missing aggregate (api.md, Conventions)
            version = args["version"]
            if args["as_of"] is not None:
                version = audit_rm.version_at(conn, aid, args["as_of"])
                if version is None:
                    raise NotFound("aggregate as of that moment")
            state = rt.platform.state_of(aid, version)
            version = state["version"]
            events, next_cursor = _events_up_to(conn, aid, version, after=page_after(args), limit=args["limit"])
        note_read(actor, scope.tenant_id, "aggregate state", {"aggregate_id": aid, "version": version},
                  union_id=scope.union_id)
        return {"aggregate_id": aid, "version": version, "state": state,
                "events": [event_body(e) for e in events], "next_cursor": next_cursor}


def _events_up_to(conn: Any, aggregate_id: UUID, version: int, after: int, limit: int) -> tuple[list[Any], str | None]:
    """Return a page of the aggregate's indexed events up to a version, in order, and the next cursor.

    Only that page is read: an aggregate may have many thousands of events (a person changed 10,000 times).
    """
    # One aggregate's log order is its version order: the cursor is the version, read along the index on both.
    events = audit_rm.audit_events
    rows = list(conn.execute(
        select(events).where(events.c.aggregate_id == aggregate_id, events.c.version <= version,
                             events.c.version > after).order_by(events.c.version).limit(limit + 1)))
    return page(rows, limit, key="version")


@blp.route("/tenants/<uuid:tid>/state")
class TenantState(MethodView):
    @blp.arguments(TenantStateArgs, location="query")
    @blp.response(200, TenantStateOut)
    def get(self, args: dict[str, Any], tid: UUID) -> dict[str, Any]:
        """The whole tenant as it stood at the end of a day: every aggregate's state then."""
        actor = require_tenant_history(tid)
        catch_up(audit_rm.read_model)
        rt = runtime()
        moment = day_end(args["as_of"])
        with rt.engine.connect() as conn:
            # The tenant's own aggregates, and the unions it belonged to then (their memberships).
            found = audit_rm.aggregates_as_of(conn, tid, moment) + audit_rm.unions_joined_by(conn, tid, moment)
        states = []
        for row in sorted(found, key=lambda r: (r.aggregate_type, str(r.aggregate_id))):
            if row.aggregate_type == "AuditRead":
                continue
            states.append({"aggregate_id": str(row.aggregate_id), "version": row.version,
                           **rt.platform.state_of(row.aggregate_id, row.version)})
        note_read(actor, tid, "tenant state", {"as_of": args["as_of"]})
        return {"as_of": args["as_of"], "aggregates": states}


@blp.route("/tenants/<uuid:tid>/changes")
class TenantChanges(MethodView):
    @blp.arguments(ChangesArgs, location="query")
    @blp.response(200, ChangesOut)
    def get(self, args: dict[str, Any], tid: UUID) -> dict[str, Any]:
        """What changed between two days: each aggregate's versions before and after, and its events."""
        if args["to"] < args["from_"]:
            raise InvalidValue("'to' is on or after 'from'.", field="to")
        actor = require_tenant_history(tid)
        catch_up(audit_rm.read_model)
        start = day_start(args["from_"])
        with runtime().engine.connect() as conn:
            rows, _ = audit_rm.history(conn, tenant_id=tid, after=0, limit=100_000, since=start,
                                       until=day_end(args["to"]))
        changes: dict[UUID, dict[str, Any]] = {}
        for row in rows:
            if row.aggregate_type == "AuditRead":
                continue
            change = changes.setdefault(row.aggregate_id, {
                "aggregate_id": row.aggregate_id, "aggregate_type": row.aggregate_type,
                "before_version": row.version - 1 or None, "after_version": row.version, "events": []})
            change["after_version"] = row.version
            change["events"].append(row.type)
        note_read(actor, tid, "tenant changes", {"from": args["from_"], "to": args["to"]})
        return {"items": list(changes.values())}


@blp.route("/tenants/<uuid:tid>/export")
class TenantExport(MethodView):
    @blp.response(200, description="JSON Lines of the tenant's stored events; the manifest in Export-Manifest")
    def get(self, tid: UUID) -> Response:
        """Export the tenant's history as JSON Lines; the manifest (count, positions, SHA-256, chain head) is a header."""
        actor = require_tenant_history(tid)
        catch_up(audit_rm.read_model)
        body, manifest = export_tenant(runtime().engine, tid)
        note_read(actor, tid, "export", {"count": manifest["count"]})
        response = Response(body, mimetype="application/x-ndjson")
        response.headers["Export-Manifest"] = json.dumps(manifest)
        response.headers["Content-Disposition"] = f'attachment; filename="tenant-{tid}.jsonl"'
        return response


@blp.route("/verify")
class Verify(MethodView):
    @blp.response(200, VerifyOut)
    def get(self) -> dict[str, Any]:
        """Recompute the tamper-evidence chain; name the first bad position, if any (operator, auditor)."""
        actor = _audit_actor(policy.VERIFY_CHAIN)
        report = verify(runtime().engine)
        metrics.chain_verified(report)
        # An auditor's read is recorded in their own organization's history; the operator's in no tenant's.
        note_read(actor, actor.tenant_id, "verify", {"ok": report["ok"]})
        return report


@blp.route("/checkpoints")
class Checkpoints(MethodView):
    @blp.response(200, CheckpointList)
    def get(self) -> dict[str, Any]:
        """The chain's checkpoints (signed when a key is configured), for safekeeping outside the platform."""
        _audit_actor(policy.VERIFY_CHAIN)
        with runtime().engine.connect() as conn:
            return {"items": list_checkpoints(conn), "chain": chain_head(conn)}

    @blp.response(201, CheckpointOut)
    def post(self) -> dict[str, Any]:
        """Record a checkpoint at the chain's head now (operator)."""
        caller().acting_for(policy.RECORD_CHECKPOINT, None)
        rt = runtime()
        with rt.engine.begin() as conn:
            try:
                return Chainer(rt.settings.signing_key()).checkpoint(conn)
            except ValueError:
                raise InvalidValue("The chain is empty: nothing to checkpoint yet.") from None


