"""A member organization's inbox of union circulars, their documents and acknowledgements (p.34)."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from flask import Response
from flask.views import MethodView
from services.api.bodies import Blueprint
from marshmallow import Schema, fields, validate

from domain import policy
from domain.base import NotFound
from domain.unions import CIRCULAR_STATUSES, RESPONSES, Circular
from projections import circulars as circulars_rm
from services.api.common import PageArgs, PositionSchema, Text, caller, catch_up, context, page_after, runtime, \
    with_position
from services.api.fastdump import respond
from services.files import get_circular_document

blp = Blueprint("circulars", __name__, url_prefix="/api/v1/tenants/<uuid:tid>/circulars",
                description="Circulars of union decisions in a member organization's inbox (p.34)")


class CircularOut(Schema):
    """A circular: the union's decision brought to this organization's attention, and its answer."""

    id = fields.UUID()
    tenant_id = fields.UUID()
    union_id = fields.UUID()
    union_name = fields.String()
    decision_id = fields.UUID()
    decision_number = fields.Integer()
    number = fields.String()
    title = fields.String()
    text = fields.String()
    direction = fields.String()
    specialties = fields.List(fields.String())
    recipient_name = fields.String()
    language = fields.String()
    status = fields.String(metadata={"enum": list(CIRCULAR_STATUSES)})
    issued_on = fields.Date()
    issued_at = fields.DateTime()
    delivered_at = fields.DateTime(allow_none=True)
    document_sha256 = fields.String(allow_none=True)
    notice_sent_to = fields.String(allow_none=True)
    response = fields.String(allow_none=True)
    note = fields.String(allow_none=True)
    acknowledged_at = fields.DateTime(allow_none=True)
    acknowledged_by = fields.UUID(allow_none=True)
    error = fields.String(allow_none=True)


class CircularAcknowledged(CircularOut, PositionSchema):
    """A circular after its acknowledgement."""


class CircularPage(Schema):
    """A page of the inbox."""

    items = fields.List(fields.Nested(CircularOut))
    next_cursor = fields.String(allow_none=True)


class InboxArgs(PageArgs):
    """Filters of the inbox."""

    status = fields.String(load_default=None, validate=validate.OneOf(CIRCULAR_STATUSES))


class AcknowledgementIn(Schema):
    """The member's answer: a recommendation binds nobody, so any response is as valid as another (p.34)."""

    response = fields.String(load_default="noted", validate=validate.OneOf(RESPONSES))
    note = Text(load_default=None, allow_none=True, validate=validate.Length(max=5000))


def circular_body(circular: Circular) -> dict[str, Any]:
    """Return the API form of a circular aggregate."""
    return {
        "id": circular.id, "tenant_id": circular.tenant_id, "union_id": circular.union_id,
        "union_name": circular.union_name, "decision_id": circular.decision_id,
        "decision_number": circular.decision_number, "number": circular.number, "title": circular.title,
        "text": circular.text, "direction": circular.direction, "specialties": circular.specialties,
        "recipient_name": circular.recipient_name, "language": circular.language, "status": circular.status,
        "issued_on": circular.issued_on, "issued_at": circular.created_on, "delivered_at": circular.delivered_at,
        "document_sha256": circular.document_sha256, "response": circular.response, "note": circular.note,
        "acknowledged_at": circular.acknowledged_at, "error": circular.error,
    }


def _read_allowed(tid: UUID) -> None:
    who = caller()
    if who.is_operator:
        raise policy.READ_TENANT.refused()
    who.reading(tid)


@blp.route("")
class Inbox(MethodView):
    @blp.arguments(InboxArgs, location="query")
    @blp.response(200, CircularPage)
    def get(self, args: dict[str, Any], tid: UUID) -> Response:
        """List the circulars addressed to this organization (its people), oldest first."""
        _read_allowed(tid)
        catch_up(circulars_rm.read_model)
        with runtime().engine.connect() as conn:
            items, next_cursor = circulars_rm.list_inbox(conn, tid, limit=args["limit"], after=page_after(args),
                                                         status=args["status"])
        return respond(CircularPage, {"items": items, "next_cursor": next_cursor})


@blp.route("/<uuid:cid>")
class OneCircular(MethodView):
    @blp.response(200, CircularOut)
    def get(self, tid: UUID, cid: UUID) -> Any:
        """Return one circular of this organization: its text, decision, union, dates and answer."""
        _read_allowed(tid)
        catch_up(circulars_rm.read_model)
        with runtime().engine.connect() as conn:
            row = circulars_rm.get_circular(conn, tid, cid)
        if row is None:
            raise NotFound("circular")
        return row


@blp.route("/<uuid:cid>/document")
class Document(MethodView):
    @blp.doc(responses={"200": {"description": "The rendered circular",
                                "content": {"application/pdf": {"schema": {"type": "string", "format": "binary"}}}},
                        "404": {"description": "No such circular, or not rendered yet"}})
    def get(self, tid: UUID, cid: UUID) -> Response:
        """Return the rendered circular as a PDF (once delivered)."""
        _read_allowed(tid)
        with runtime().engine.connect() as conn:
            row = get_circular_document(conn, tid, cid)
        if row is None:
            raise NotFound("circular document")
        response = Response(bytes(row.content), mimetype=row.content_type)
        response.headers["Content-Disposition"] = f'inline; filename="{row.filename}"'
        response.headers["ETag"] = f'"{row.sha256}"'
        return response


@blp.route("/<uuid:cid>/acknowledgement")
class Acknowledgement(MethodView):
    @blp.arguments(AcknowledgementIn)
    @blp.response(200, CircularAcknowledged)
    @blp.alt_response(409, description="The circular has not reached the inbox yet")
    def post(self, body: dict[str, Any], tid: UUID, cid: UUID) -> dict[str, Any]:
        """Acknowledge the circular with a response and an optional note (head or deputy head); twice changes nothing."""
        actor = caller().acting_for(policy.ACKNOWLEDGE_CIRCULAR, tid)
        done = runtime().platform.acknowledge_circular(context(actor), tid, cid, **body)
        return with_position(circular_body(done.aggregate), done.position)
