"""Methodical documents and their approval routes (p.18 – p.21): drafts, files, routes, conclusions, approval."""

from __future__ import annotations

import base64
import hashlib
import logging
from typing import Any
from urllib.parse import quote
from uuid import UUID

from flask import Response, request
from flask.views import MethodView
from services.api.bodies import Blueprint
from marshmallow import Schema, fields, validate

from domain import policy
from domain.base import InvalidValue, NotFound
from domain.documents import (
    DOCUMENT_KINDS, MAX_ATTACHMENT_BYTES, MEDIA_TYPES, STATUSES, SUBMITTED, MethodicalDocument,
)
from projections import documents as documents_rm
from projections import units as units_rm
from projections.base import wait_for_position
from services import files
from services.api.common import (
    PageArgs, PositionSchema, Name, Text, caller, catch_up, context, page_after, runtime, storable, with_position,
)
from services.api.fastdump import respond

log = logging.getLogger(__name__)

blp = Blueprint("documents", __name__, url_prefix="/api/v1/tenants/<uuid:tid>/documents",
                description="Methodical documents and their approval routes (p.18 – p.21)")

class DocumentIn(Schema):
    """A new document (version 1): its kind (domain §4), title, body and the unit it belongs to."""

    kind = fields.String(required=True, validate=validate.OneOf(list(DOCUMENT_KINDS)))
    title = Name(required=True, validate=validate.Length(min=1, max=1000))
    body = Text(required=True, validate=validate.Length(max=1_000_000))
    unit_id = fields.UUID(load_default=None, allow_none=True, metadata={
        "description": "The developing unit (required for methodical_documentation and working_curriculum, "
                       "whose author is a unit through its leader, p.18, p.19); for teachers' documents, "
                       "optionally the unit they work in."})


class SubmissionIn(Schema):
    """The route: the reviewing units of the organization, in the order they conclude."""

    route = fields.List(fields.UUID(), required=True, validate=validate.Length(min=1, max=50))


class ConclusionIn(Schema):
    """A reviewing unit's conclusion on the current version."""

    unit_id = fields.UUID(required=True)
    positive = fields.Boolean(required=True)
    remarks = Text(load_default="", validate=validate.Length(max=100_000))


class RevisionIn(Schema):
    """A new version: its body, and which files of the current version it keeps (default: all)."""

    body = Text(required=True, validate=validate.Length(max=1_000_000))
    attachment_ids = fields.List(fields.UUID(), load_default=None, allow_none=True,
                                 validate=validate.Length(max=50))


class RejectionIn(Schema):
    """Why the approving role rejects the document."""

    reason = Text(required=True, validate=validate.Length(min=1, max=100_000))


class WithdrawalIn(Schema):
    """Why the author withdraws the document (optional)."""

    reason = Text(load_default="", validate=validate.Length(max=100_000))


class FileArgs(Schema):
    """The name of a file sent as the raw request body."""

    filename = Name(load_default=None, validate=validate.Length(min=1, max=255))


class AttachmentOut(Schema):
    id = fields.UUID()
    filename = fields.String()
    media_type = fields.String(metadata={"description": "What the content is (checked by content, not name)"})
    size = fields.Integer()
    sha256 = fields.String(metadata={"description": "Hex SHA-256 of the bytes"})


class ConclusionOut(Schema):
    unit_id = fields.UUID()
    step = fields.Integer(metadata={"description": "1-based position on the route"})
    version = fields.Integer(metadata={"description": "The version it was given on"})
    content_hash = fields.String(metadata={"description": "The content hash of that version"})
    positive = fields.Boolean()
    remarks = fields.String()
    given_by = fields.UUID(allow_none=True)
    given_at = fields.DateTime()
    counts = fields.Boolean(metadata={"description": "True when given on the current version"})


class StepOut(Schema):
    step = fields.Integer()
    unit_id = fields.UUID()
    conclusion = fields.Nested(ConclusionOut, allow_none=True,
                               metadata={"description": "The unit's conclusion on the current version, if any"})


class VersionOut(Schema):
    version = fields.Integer()
    body = fields.String()
    content_hash = fields.String(metadata={"description": "SHA-256 over the body and the files' hashes (ADR 010)"})
    attachments = fields.List(fields.Nested(AttachmentOut))
    created_at = fields.DateTime()


class DocumentSummary(Schema):
    """A document in a list: its status, version and route with each step's conclusion."""

    id = fields.UUID()
    tenant_id = fields.UUID()
    kind = fields.String()
    clause = fields.String(metadata={"description": "The clause of Order 583 that governs the kind"})
    approver_roles = fields.List(fields.String())
    title = fields.String()
    author_id = fields.UUID(allow_none=True)
    unit_id = fields.UUID(allow_none=True)
    status = fields.String(metadata={"description": "draft, submitted, approved, rejected or withdrawn"})
    version = fields.Integer()
    content_hash = fields.String()
    route = fields.List(fields.Nested(StepOut))
    awaiting = fields.String(allow_none=True, metadata={
        "description": "Whose move it is: review (by awaiting_unit_id), approval, or revision (after a "
                       "negative conclusion); null unless submitted"})
    awaiting_unit_id = fields.UUID(allow_none=True)
    decided_at = fields.DateTime(allow_none=True)
    decided_by = fields.UUID(allow_none=True)
    reason = fields.String(allow_none=True, metadata={"description": "Why it was rejected or withdrawn"})


class DocumentOut(DocumentSummary):
    """A document with its current body and files, every version, and every conclusion ever given."""

    body = fields.String()
    attachments = fields.List(fields.Nested(AttachmentOut))
    versions = fields.List(fields.Nested(VersionOut))
    conclusions = fields.List(fields.Nested(ConclusionOut))


class DocumentChanged(DocumentOut, PositionSchema):
    """A document after a command."""


class FileAttached(DocumentChanged):
    """A document after a file was attached, and that file."""

    attachment = fields.Nested(AttachmentOut)


class DocumentPage(Schema):
    items = fields.List(fields.Nested(DocumentSummary))
    next_cursor = fields.String(allow_none=True)


class DocumentListArgs(PageArgs):
    kind = fields.String(load_default=None, validate=validate.OneOf(list(DOCUMENT_KINDS)))
    status = fields.String(load_default=None, validate=validate.OneOf(list(STATUSES)))
    unit_id = fields.UUID(load_default=None, metadata={
        "description": "Documents the unit develops or has on its route"})
    author_id = fields.UUID(load_default=None)
    waiting_for = fields.String(load_default=None, validate=validate.OneOf(["me"]), metadata={
        "description": "'me': the documents whose next move is the caller's: a review by a unit they lead, an "
                       "approval in their role, a revision of their own after a negative conclusion"})


def _route(route: list[UUID], given: list[dict[str, Any]], version: int) -> list[dict[str, Any]]:
    current = {c["unit_id"]: c for c in given if c["version"] == version}
    return [{"step": i + 1, "unit_id": unit_id, "conclusion": current.get(unit_id)} for i, unit_id in
            enumerate(route)]


def _awaiting(route: list[UUID], given: list[dict[str, Any]], version: int, status: str
              ) -> tuple[str | None, UUID | None]:
    if status != SUBMITTED:
        return None, None
    current = {c["unit_id"]: c["positive"] for c in given if c["version"] == version}
    for unit_id in route:
        if current.get(unit_id) is not True:
            return (documents_rm.REVISION if unit_id in current else documents_rm.REVIEW), unit_id
    return documents_rm.APPROVAL, None


def document_body(doc: MethodicalDocument) -> dict[str, Any]:
    """Return the API form of a document aggregate (after a command)."""
    given = [{**c, "step": c["step"] + 1, "counts": c["version"] == doc.current_version} for c in doc.conclusions]
    awaiting, awaiting_unit = _awaiting(doc.route, given, doc.current_version, doc.status)
    current = doc.current
    return {
        "id": doc.id, "tenant_id": doc.tenant, "kind": doc.kind, "clause": doc.rules.clause,
        "approver_roles": list(doc.rules.approvers), "title": doc.title, "author_id": doc.author_id,
        "unit_id": doc.unit_id, "status": doc.status, "version": doc.current_version,
        "content_hash": current["content_hash"], "route": _route(doc.route, given, doc.current_version),
        "awaiting": awaiting, "awaiting_unit_id": awaiting_unit,
        "decided_at": doc.decided_at, "decided_by": doc.decided_by, "reason": doc.reason,
        "body": current["body"], "attachments": current["attachments"], "versions": doc.versions,
        "conclusions": given,
    }


def _conclusion_rows(rows: list[Any], version: int) -> list[dict[str, Any]]:
    return [{**row._mapping, "step": row.step + 1, "counts": row.version == version} for row in rows]


def _summary(row: Any, given: list[dict[str, Any]]) -> dict[str, Any]:
    kind = DOCUMENT_KINDS[row.kind]
    return {**row._mapping, "approver_roles": list(kind.approvers),
            "route": _route(list(row.route), given, row.version)}


def _actor(tid: UUID, action: policy.Action) -> Any:
    return caller().acting_for(action, tid)


def _councils(tenant_id: UUID) -> list[UUID]:
    """Return the organization's methodical councils, as of every event recorded so far (p.19)."""
    rt = runtime()
    head = rt.platform.recorder.max_notification_id() or 0
    wait_for_position(rt.engine, units_rm.read_model, head, rt.settings.min_position_timeout)
    with rt.engine.connect() as conn:
        return documents_rm.councils_of(conn, tenant_id)


@blp.route("")
class Documents(MethodView):
    @blp.arguments(DocumentListArgs, location="query")
    @blp.response(200, DocumentPage)
    def get(self, args: dict[str, Any], tid: UUID) -> Response:
        """List the organization's documents, filtered by kind, status, unit, author, or waiting for the caller."""
        caller().reading(tid)
        catch_up(documents_rm.read_model)
        waiting = None
        if args["waiting_for"] == "me":
            catch_up(units_rm.read_model)
            person = caller().person
            assert person is not None  # reading() has refused the operator
            waiting = (person.id, list(person.roles), runtime().today())
        with runtime().engine.connect() as conn:
            rows, next_cursor = documents_rm.list_documents(
                conn, tid, limit=args["limit"], after=page_after(args), kind=args["kind"], status=args["status"],
                unit_id=args["unit_id"], author_id=args["author_id"], waiting_for=waiting)
            given = documents_rm.conclusions_of(conn, [row.id for row in rows])
        items = [_summary(row, _conclusion_rows(given[row.id], row.version)) for row in rows]
        return respond(DocumentPage, {"items": items, "next_cursor": next_cursor})

    @blp.arguments(DocumentIn)
    @blp.response(201, DocumentChanged)
    def post(self, body: dict[str, Any], tid: UUID) -> dict[str, Any]:
        """Draft a document, version 1: a teacher (p.20, p.21), or a unit through its leader (p.18, p.19)."""
        done = runtime().platform.draft_document(context(_actor(tid, policy.DRAFT_DOCUMENT)), tid, **body)
        return with_position(document_body(done.aggregate), done.position)


@blp.route("/<uuid:did>")
class OneDocument(MethodView):
    @blp.response(200, DocumentOut)
    def get(self, tid: UUID, did: UUID) -> dict[str, Any]:
        """Return a document with its versions, its route and each step's conclusion."""
        caller().reading(tid)
        catch_up(documents_rm.read_model)
        with runtime().engine.connect() as conn:
            row = documents_rm.get_document(conn, tid, did)
            if row is None:
                raise NotFound("document")
            version_rows = documents_rm.versions_of(conn, did)
            given = _conclusion_rows(documents_rm.conclusions_of(conn, [did])[did], row.version)
        current = version_rows[-1]
        return {**_summary(row, given), "body": current.body, "attachments": current.attachments,
                "versions": version_rows, "conclusions": given}


@blp.route("/<uuid:did>/submission")
class Submission(MethodView):
    @blp.arguments(SubmissionIn)
    @blp.response(200, DocumentChanged)
    def post(self, body: dict[str, Any], tid: UUID, did: UUID) -> dict[str, Any]:
        """Submit the document along its route of reviewing units, checked against its kind's clause."""
        actor = _actor(tid, policy.SUBMIT_DOCUMENT)
        done = runtime().platform.submit_document(context(actor), tid, did, route=body["route"],
                                                  councils=_councils)
        return with_position(document_body(done.aggregate), done.position)


@blp.route("/<uuid:did>/conclusions")
class Conclusions(MethodView):
    @blp.arguments(ConclusionIn)
    @blp.response(201, DocumentChanged)
    def post(self, body: dict[str, Any], tid: UUID, did: UUID) -> dict[str, Any]:
        """Give a reviewing unit's conclusion on the current version (its leader or chair), in route order."""
        actor = _actor(tid, policy.CONCLUDE_ON_DOCUMENT)
        done = runtime().platform.conclude_on_document(context(actor), tid, did, **body)
        return with_position(document_body(done.aggregate), done.position)


@blp.route("/<uuid:did>/revisions")
class Revisions(MethodView):
    @blp.arguments(RevisionIn)
    @blp.response(201, DocumentChanged)
    def post(self, body: dict[str, Any], tid: UUID, did: UUID) -> dict[str, Any]:
        """Make a new version (the author); conclusions on earlier versions no longer count."""
        done = runtime().platform.revise_document(context(_actor(tid, policy.REVISE_DOCUMENT)), tid, did, **body)
        return with_position(document_body(done.aggregate), done.position)


@blp.route("/<uuid:did>/approval")
class Approval(MethodView):
    @blp.response(200, DocumentChanged)
    def post(self, tid: UUID, did: UUID) -> dict[str, Any]:
        """Approve the document: the role its kind's clause names, once every step concluded positively."""
        done = runtime().platform.approve_document(context(_actor(tid, policy.DECIDE_ON_DOCUMENT)), tid, did)
        return with_position(document_body(done.aggregate), done.position)


@blp.route("/<uuid:did>/rejection")
class Rejection(MethodView):
    @blp.arguments(RejectionIn)
    @blp.response(200, DocumentChanged)
    def post(self, body: dict[str, Any], tid: UUID, did: UUID) -> dict[str, Any]:
        """Reject the document with a reason (the approving role); it ends there."""
        done = runtime().platform.reject_document(context(_actor(tid, policy.DECIDE_ON_DOCUMENT)), tid, did, **body)
        return with_position(document_body(done.aggregate), done.position)


@blp.route("/<uuid:did>/withdrawal")
class Withdrawal(MethodView):
    @blp.arguments(WithdrawalIn)
    @blp.response(200, DocumentChanged)
    def post(self, body: dict[str, Any], tid: UUID, did: UUID) -> dict[str, Any]:
        """Withdraw the document before approval (its author)."""
        done = runtime().platform.withdraw_document(context(_actor(tid, policy.WITHDRAW_DOCUMENT)), tid, did, **body)
        return with_position(document_body(done.aggregate), done.position)


_UPLOAD = {
    "required": True,
    "description": f"The file's bytes as the whole body (any Content-Type; name it with ?filename=), or "
                   f"multipart/form-data with a part named 'file'. PDF, DOCX or ODT by content; at most "
                   f"{MAX_ATTACHMENT_BYTES} bytes (413 beyond).",
    "content": {"application/octet-stream": {"schema": {"type": "string", "format": "binary"}},
                "multipart/form-data": {"schema": {"type": "object", "properties": {
                    "file": {"type": "string", "format": "binary"}}}}},
}


@blp.route("/<uuid:did>/attachments")
class Attachments(MethodView):
    # The app's JSON-only body check lets this view through: its body is a file (services/api/__init__.py).
    takes_file = True

    @blp.arguments(FileArgs, location="query")
    @blp.response(201, FileAttached)
    @blp.doc(requestBody=_UPLOAD)
    @blp.alt_response(413, description="The file is larger than 20 MB")
    @blp.alt_response(415, description="The content is not a PDF, DOCX or ODT document")
    def post(self, args: dict[str, Any], tid: UUID, did: UUID) -> dict[str, Any]:
        """Attach a file (the author): to a draft's current version, or, once submitted, as a new version."""
        actor = _actor(tid, policy.ATTACH_FILE)
        # This view alone takes bodies up to the file limit (plus multipart framing); the app's stays 1 MB.
        request.max_content_length = MAX_ATTACHMENT_BYTES + (64_000 if request.mimetype.startswith("multipart/")
                                                             else 0)
        filename = args["filename"]
        if request.mimetype == "multipart/form-data":
            upload = request.files.get("file")
            if upload is None:
                raise InvalidValue("Send the file in a part named 'file'.", field="file")
            data = upload.read(MAX_ATTACHMENT_BYTES + 1)
            filename = filename or upload.filename
            if filename:
                storable(filename)
        else:
            data = request.get_data(cache=False)
        if len(data) > MAX_ATTACHMENT_BYTES:
            raise InvalidValue("A file is at most %(bytes)s bytes.", field="file", bytes=MAX_ATTACHMENT_BYTES)
        if not filename:
            raise InvalidValue("Name the file with ?filename=.", field="filename")
        engine = runtime().engine
        done = runtime().platform.attach_file(
            context(actor), tid, did, filename=filename, data=data,
            store=lambda tenant_id, content: files.store(engine, tenant_id, content))
        doc = done.aggregate
        return with_position({**document_body(doc), "attachment": doc.current["attachments"][-1]}, done.position)


@blp.route("/<uuid:did>/attachments/<uuid:aid>")
class OneAttachment(MethodView):
    @blp.doc(responses={"200": {
        "description": "The file's original bytes; Repr-Digest and X-Content-SHA256 carry its SHA-256",
        "content": {media_type: {"schema": {"type": "string", "format": "binary"}} for media_type in MEDIA_TYPES},
    }})
    @blp.alt_response(404, description="No such document or file")
    def get(self, tid: UUID, did: UUID, aid: UUID) -> Response:
        """Download a file of a document (members of the organization): the bytes exactly as attached."""
        caller().reading(tid)
        catch_up(documents_rm.read_model)
        rt = runtime()
        with rt.engine.connect() as conn:
            row = documents_rm.get_attachment(conn, tid, did, aid)
        if row is None:
            raise NotFound("file")
        data = files.fetch(rt.engine, tid, row.sha256)
        if data is None or hashlib.sha256(data).hexdigest() != row.sha256:
            log.error("document file %s (%s) is missing or altered in the file store", aid, row.sha256)
            raise RuntimeError("document file missing or altered")
        digest = base64.b64encode(bytes.fromhex(row.sha256)).decode()
        ascii_name = row.filename.encode("ascii", "replace").decode().replace('"', "'").replace("?", "_")
        response = Response(data, status=200, mimetype=row.media_type)
        response.headers["Content-Disposition"] = (
            f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(row.filename, safe='')}")
        response.headers["Repr-Digest"] = f"sha-256=:{digest}:"
        response.headers["X-Content-SHA256"] = row.sha256
        response.headers["ETag"] = f'"{row.sha256}"'
        response.headers["Cache-Control"] = "private, no-store"
        return response
