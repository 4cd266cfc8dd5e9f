"""The pages of methodical documents (p.18 – p.21): the list, a new draft with its files, and one document with
its versions, route and conclusions, and the forms that move it along (submit, revise, conclude, approve,
reject, withdraw). Also what the circulars' and the operator's pages share with these: the foundation's hooks,
lists of 50 rows with a name search, refusals shown beside their field with the clause."""

from __future__ import annotations

import base64
import hashlib
import logging
from collections.abc import Sequence
from typing import Any
from urllib.parse import quote
from uuid import UUID, uuid4

from flask import Blueprint, Response, flash, g, redirect, request, url_for
from flask_babel import format_decimal
from flask_babel import gettext as _
from sqlalchemy import Connection, Select, func, select
from werkzeug.exceptions import RequestEntityTooLarge

from domain import policy, rules
from domain.base import Context, DomainError, NotFound
from domain.documents import (
    BY_UNIT, DOCUMENT_KINDS, DRAFT, FINAL, MAX_ATTACHMENT_BYTES, STATUSES, SUBMITTED,
)
from projections import documents as documents_rm
from projections import people as people_rm
from projections import units as units_rm
from projections.base import PositionNotReached, ReadModel, wait_for_position
from services import files
from services.api.common import runtime
from services.auth import Caller
from services.web import i18n, pages
from services.web.pages import listed, search_text

log = logging.getLogger(__name__)

blp = Blueprint("web_docs", __name__, template_folder="templates")
L = pages.L
ROUTE_STEPS = 5  # the route form offers this many ordered steps; more are rare and can follow a revision


# What every page of these blueprints shares with the foundation's

def use_foundation(bp: Blueprint) -> None:
    """Give a blueprint the foundation's hooks: language, CSRF, the signed-in person, headers, error pages."""
    bp.before_request(pages.identify)
    bp.after_request(pages.protect)
    bp.register_error_handler(Exception, _error)
    bp.context_processor(lambda: {"switch_to": switch_to, "file_size": file_size})


def _error(error: Exception) -> Response:
    # A file beyond the upload limit is refused before any form is read: say so, not "not understood".
    if isinstance(error, RequestEntityTooLarge):
        return pages.error_page(413, _("The file is too large"), _("A file is at most 20 MB."))
    return pages.web_error(error)


def file_size(size: int) -> str:
    """Return a file's size in the page's language."""
    if size < 1024:
        return _("%(count)s bytes", count=size)
    return _("%(size)s KB", size=format_decimal(round(size / 1024, 1)))


def switch_to(language: str) -> str:
    """Return this page's address in another language (the foundation's switch knows its own pages only)."""
    args = dict(request.view_args or {})
    if request.endpoint and "lang" in args:
        args["lang"] = language
        target = url_for(request.endpoint, **args)
    else:
        target = url_for("web.dashboard", lang=language)
    return target + (f"?{request.query_string.decode()}" if request.query_string else "")


def command_context(action: policy.Action) -> Context:
    """Return the context of a command by the signed-in person, asking the policy as the API's route does."""
    actor = Caller(g.person).acting_for(action, g.person.tenant_id)
    return Context(actor=actor, request_id=pages.request_id(), now=pages.now(), ids=uuid4)


# The policy's action of each move the document's page offers (as the API's routes ask them).
MOVES = {"submit": policy.SUBMIT_DOCUMENT, "conclude": policy.CONCLUDE_ON_DOCUMENT, "revise": policy.REVISE_DOCUMENT,
         "approve": policy.DECIDE_ON_DOCUMENT, "reject": policy.DECIDE_ON_DOCUMENT,
         "withdraw": policy.WITHDRAW_DOCUMENT, "attach": policy.ATTACH_FILE}


def shown(read_model: ReadModel, position: int) -> None:
    """Wait until the read model shows a command's effect, so the page redirected to shows it too."""
    rt = runtime()
    try:
        wait_for_position(rt.engine, read_model, position, rt.settings.min_position_timeout)
    except PositionNotReached:
        log.warning("read model %s did not reach %s before the redirect", read_model.name, position)


def name_matches(column: Any, q: str) -> Any:
    """Return the condition 'the column contains q', case folded by PostgreSQL (Cyrillic and Kazakh too)."""
    # strpos, not LIKE: a % or _ typed in the box is a character to find, not a wildcard.
    return func.strpos(func.lower(column), func.lower(q)) > 0


def refusal_text(error: DomainError) -> str:
    """Return a refusal in the page's language, as the API says it (services/refusals.py), with the clause of the
    Order that refuses it."""
    return i18n.refusal(error)


def clause_name(clause: str) -> str:
    """Return a clause of the Order as the page's language writes it."""
    return _("clause %(clause)s of the Rules", clause=clause.removeprefix("p."))


# Names in the page's language

def kind_names() -> dict[str, str]:
    """Return the kinds of document, as the Rules name them."""
    return {
        "methodical_documentation": _("Educational-methodical documentation"),
        "working_curriculum": _("Working curriculum"),
        "working_program": _("Working curriculum program"),
        "lesson_plan": _("Lesson plan"),
        "methodical_guidelines": _("Methodical guidelines and recommendations"),
    }


def status_names() -> dict[str, str]:
    """Return the statuses of a document."""
    return {"draft": _("Draft"), "submitted": _("Under review"), "approved": _("Approved"),
            "rejected": _("Rejected"), "withdrawn": _("Withdrawn")}


STATUS_TONES = {"draft": "neutral", "submitted": "warning", "approved": "ok", "rejected": "bad", "withdrawn": "neutral"}


def unit_kind_name(kind: str) -> str:
    """Return a kind of methodical unit."""
    return {
        "methodical_association": _("methodical association"),
        "interschool_association": _("interschool methodical association"),
        "district_association": _("district methodical association"),
        "subject_cycle_commission": _("subject-cycle commission"),
        "department": _("department"),
        "intercollege_commission": _("intercollege subject-cycle commission"),
        "methodical_section": _("methodical section"),
        "methodical_council": _("methodical council"),
        "methodical_cabinet": _("methodical cabinet"),
        "methodical_office": _("methodical office"),
    }.get(kind, kind)




# Queries of these pages (over the documents read model's tables)

def _documents_query(tenant_id: UUID, q: str, status: str | None, waiting: bool) -> Select[Any]:
    d = documents_rm.documents
    query = select(d).where(d.c.tenant_id == tenant_id).order_by(d.c.seq.desc())
    if q:
        query = query.where(name_matches(d.c.title, q))
    if status:
        query = query.where(d.c.status == status)
    if waiting:
        person = g.person
        query = query.where(documents_rm._waiting_for(tenant_id, person.id, list(person.roles), runtime().today()))
    return query


def names_of_units(conn: Connection, unit_ids: set[UUID]) -> dict[UUID, Any]:
    """Return the units by id (name, kind, leader)."""
    if not unit_ids:
        return {}
    u = units_rm.units
    return {row.id: row for row in conn.execute(select(u).where(u.c.id.in_(list(unit_ids))))}


def names_of_people(conn: Connection, tenant_id: UUID, person_ids: set[UUID]) -> dict[UUID, str]:
    """Return the full names of the tenant's people by id."""
    if not person_ids:
        return {}
    p = people_rm.people
    return {row.id: row.full_name for row in conn.execute(
        select(p.c.id, p.c.full_name).where(p.c.tenant_id == tenant_id, p.c.id.in_(list(person_ids))))}


def who_acts(doc: Any, units: dict[UUID, Any], people: dict[UUID, str]) -> str:
    """Say whose move it is on a document."""
    if doc.awaiting == documents_rm.REVIEW:
        unit = units.get(doc.awaiting_unit_id)
        return _("The conclusion of %(name)s", name=unit.name if unit else "—")
    if doc.awaiting == documents_rm.APPROVAL:
        approvers = DOCUMENT_KINDS[doc.kind].approvers
        return _("Approval by: %(roles)s", roles=", ".join(pages.role_name(r) for r in approvers))
    if doc.awaiting == documents_rm.REVISION:
        return _("A revision by the author, %(name)s", name=people.get(doc.author_id, "—"))
    return "—"


def waiting_for_me(conn: Connection, limit: int = 10) -> list[Any]:
    """Return the documents whose next move is the signed-in person's: a conclusion, an approval or a revision."""
    return list(conn.execute(_documents_query(g.person.tenant_id, "", None, True).limit(limit)))


# The pages

@blp.route(f"/{L}/documents")
@pages.signed_in
def document_list(lang: str) -> Response:
    """The organization's documents: kind, title, status, version and whose move it is; search and filters."""
    tenant_id = g.person.tenant_id
    q = search_text()
    status = request.args.get("status") if request.args.get("status") in STATUSES else None
    waiting = request.args.get("waiting") == "me"
    with runtime().engine.connect() as conn:
        found = listed(conn, _documents_query(tenant_id, q, status, waiting))
        units = names_of_units(conn, {r.awaiting_unit_id for r in found.rows if r.awaiting_unit_id})
        people = names_of_people(conn, tenant_id, {r.author_id for r in found.rows if r.author_id})
    rows = [{"row": r, "who": who_acts(r, units, people)} for r in found.rows]
    return pages.page("docs/list.html", found=found, rows=rows, q=q, status=status, waiting=waiting,
                      statuses=STATUSES, kinds=kind_names(), status_names=status_names(), tones=STATUS_TONES)


def _own_units(conn: Connection) -> list[Any]:
    u = units_rm.units
    return list(conn.execute(select(u).where(u.c.tenant_id == g.person.tenant_id).order_by(u.c.name)))


def _upload_limit() -> None:
    # The new-document and attach forms carry up to 20 MB of files (and the form's fields), beyond the app's 1 MB
    # for other bodies; more files are attached one request at a time.
    if request.method == "POST" and request.endpoint in ("web_docs.new_document", "web_docs.document"):
        request.max_content_length = MAX_ATTACHMENT_BYTES + 1_100_000


blp.before_request(_upload_limit)
use_foundation(blp)


def _uploads() -> list[Any]:
    return [f for f in request.files.getlist("file") if f and f.filename]


def _attach(ctx: Context, document_id: UUID, upload: Any) -> int:
    data = upload.read(MAX_ATTACHMENT_BYTES + 1)
    if len(data) > MAX_ATTACHMENT_BYTES:
        raise_file("A file is at most 20 MB.")
    engine = runtime().engine
    done = runtime().platform.attach_file(
        ctx, g.person.tenant_id, document_id, filename=upload.filename[:255], data=data,
        store=lambda tenant_id, content: files.store(engine, tenant_id, content))
    return done.position


def raise_file(detail: str) -> None:
    """Refuse a file with the words the domain uses for it."""
    from domain.base import InvalidValue

    raise InvalidValue(detail, field="file")


@blp.route(f"/{L}/documents/new", methods=["GET", "POST"])
@pages.signed_in
def new_document(lang: str) -> Response:
    """Draft a document, version 1, with its files: a teacher (p.20, p.21) or a unit's leader (p.18, p.19)."""
    with runtime().engine.connect() as conn:
        units = _own_units(conn)
    typed = {"kind": request.form.get("kind", ""), "title": request.form.get("title", ""),
             "body": request.form.get("body", ""), "unit_id": request.form.get("unit_id", "")}
    errors: dict[str, str] = {}
    if request.method == "POST":
        if typed["kind"] not in DOCUMENT_KINDS:
            errors["kind"] = _("Choose the kind of document.")
        if not typed["title"].strip():
            errors["title"] = _("Enter the title.")
        elif len(typed["title"]) > 1000:
            errors["title"] = _("A title has at most 1000 characters.")
        if len(typed["body"]) > 1_000_000:
            errors["body"] = _("The text is too long (at most a million characters); attach it as a file.")
        unit_id = _uuid(typed["unit_id"])
        if typed["unit_id"] and unit_id is None:
            errors["unit_id"] = _("Choose a unit of your organization.")
        uploads = _uploads()
        if not errors:
            platform = runtime().platform
            try:
                done = platform.draft_document(command_context(policy.DRAFT_DOCUMENT), g.person.tenant_id,
                                               kind=typed["kind"], title=typed["title"],
                                               body=_storable(typed["body"]), unit_id=unit_id)
            except DomainError as error:
                errors[_field(error, ("kind", "title", "body", "unit_id"), "kind")] = refusal_text(error)
            else:
                position = done.position
                document_id = done.aggregate.id
                failed = []
                for upload in uploads:
                    try:
                        position = _attach(command_context(policy.ATTACH_FILE), document_id, upload)
                    except DomainError as error:
                        failed.append(f"{upload.filename}: {refusal_text(error)}")
                shown(documents_rm.read_model, position)
                flash(_("The draft is saved."), "success")
                for problem in failed:
                    flash(_("A file was not attached: %(problem)s", problem=problem), "error")
                return redirect(url_for("web_docs.document", lang=lang, did=document_id))
    status = 422 if errors else 200
    return pages.page("docs/new.html", status, typed=typed, errors=errors, units=units, kinds=kind_names(),
                      by_unit=[k for k, v in DOCUMENT_KINDS.items() if v.developed_by == BY_UNIT],
                      unit_kind_name=unit_kind_name)


def _uuid(raw: str | None) -> UUID | None:
    try:
        return UUID(raw) if raw else None
    except ValueError:
        return None


def _storable(text: str) -> str:
    # PostgreSQL stores no NUL; a browser sends none unless forged.
    return text.replace("\x00", "")


def _field(error: DomainError, fields: Sequence[str], default: str) -> str:
    return error.field if error.field in fields else default


ACTIONS = ("submit", "conclude", "revise", "approve", "reject", "withdraw", "attach")


@blp.route(f"/{L}/documents/<uuid:did>", methods=["GET", "POST"])
@pages.signed_in
def document(lang: str, did: UUID) -> Response:
    """One document: versions, route, conclusions; and the forms of the moves the person may make."""
    tenant_id = g.person.tenant_id
    action = request.form.get("action") if request.method == "POST" else None
    errors: dict[str, str] = {}
    if action is not None:
        if action not in ACTIONS:
            return pages.error_page(400, _("The request was not understood"),
                                    _("Nothing was changed. Go back and try again."))
        with runtime().engine.connect() as conn:
            if documents_rm.get_document(conn, tenant_id, did) is None:
                return pages.not_found()
        try:
            position, message = _act(action, did)
        except DomainError as error:
            if isinstance(error, NotFound):
                return pages.not_found()
            fields = {"submit": ("route",), "conclude": ("unit_id", "positive", "remarks"),
                      "revise": ("body", "attachment_ids"), "reject": ("reason",), "withdraw": ("reason",),
                      "attach": ("file",)}.get(action, ())
            errors[f"{action}.{_field(error, fields, 'form')}"] = refusal_text(error)
        else:
            shown(documents_rm.read_model, position)
            flash(message, "success")
            return redirect(url_for("web_docs.document", lang=lang, did=did))
    return _document_page(did, errors, 422 if errors else 200)


class FormProblem(DomainError):
    """A form sent without what its move needs (checked here, before the command)."""


def _act(action: str, did: UUID) -> tuple[int, str]:
    platform = runtime().platform
    tenant_id = g.person.tenant_id
    ctx = command_context(MOVES.get(action, policy.READ_TENANT))
    form = request.form
    if action == "submit":
        route = [r for r in form.getlist("route") if r]
        ids = [_uuid(r) for r in route]
        if not ids:
            raise FormProblem(_("Choose the reviewing units, in the order they conclude."), field="route")
        if any(i is None for i in ids):
            raise FormProblem(_("Choose a unit of your organization."), field="route")
        from services.api.documents import _councils

        done = platform.submit_document(ctx, tenant_id, did, route=ids, councils=_councils)
        return done.position, _("The document is submitted along its route.")
    if action == "conclude":
        unit_id = _uuid(form.get("unit_id"))
        if unit_id is None:
            raise FormProblem(_("Choose the unit whose conclusion this is."), field="unit_id")
        if form.get("positive") not in ("yes", "no"):
            raise FormProblem(_("Choose whether the conclusion is positive or negative."), field="positive")
        done = platform.conclude_on_document(ctx, tenant_id, did, unit_id=unit_id,
                                             positive=form.get("positive") == "yes",
                                             remarks=_storable(form.get("remarks", ""))[:100_000])
        return done.position, _("The conclusion is recorded.")
    if action == "revise":
        body = _storable(form.get("body", ""))
        if len(body) > 1_000_000:
            raise FormProblem(_("The text is too long (at most a million characters); attach it as a file."),
                              field="body")
        keep = [k for k in (_uuid(a) for a in form.getlist("attachment_ids")) if k is not None]
        done = platform.revise_document(ctx, tenant_id, did, body=body, attachment_ids=keep)
        return done.position, _("A new version is saved; conclusions on earlier versions no longer count.")
    if action == "approve":
        done = platform.approve_document(ctx, tenant_id, did)
        return done.position, _("The document is approved.")
    if action == "reject":
        reason = _storable(form.get("reason", "")).strip()
        if not reason:
            raise FormProblem(_("State the reason."), field="reason")
        done = platform.reject_document(ctx, tenant_id, did, reason=reason[:100_000])
        return done.position, _("The document is rejected.")
    if action == "withdraw":
        done = platform.withdraw_document(ctx, tenant_id, did, reason=_storable(form.get("reason", ""))[:100_000])
        return done.position, _("The document is withdrawn.")
    uploads = _uploads()
    if not uploads:
        raise FormProblem(_("Choose a file to attach."), field="file")
    position = 0
    for upload in uploads:
        position = _attach(ctx, did, upload)
    return position, _("The file is attached.")


def _document_page(did: UUID, errors: dict[str, str], status: int) -> Response:
    tenant_id = g.person.tenant_id
    person = g.person
    with runtime().engine.connect() as conn:
        doc = documents_rm.get_document(conn, tenant_id, did)
        if doc is None:
            return pages.not_found()
        versions = documents_rm.versions_of(conn, did)
        given = documents_rm.conclusions_of(conn, [did])[did]
        own_units = _own_units(conn)
        units = names_of_units(conn, set(doc.route) | {c.unit_id for c in given} | (
            {doc.unit_id} if doc.unit_id else set()))
        people = names_of_people(conn, tenant_id, {c.given_by for c in given if c.given_by} | (
            {doc.author_id} if doc.author_id else set()) | ({doc.decided_by} if doc.decided_by else set()))
    today = runtime().today()
    current = {c.unit_id: c for c in given if c.version == doc.version}
    route = [{"step": i + 1, "unit": units.get(u), "unit_id": u, "conclusion": current.get(u)}
             for i, u in enumerate(doc.route)]
    kind = DOCUMENT_KINDS[doc.kind]
    is_author = doc.author_id == person.id or (
        kind.developed_by == BY_UNIT and doc.unit_id in units and _leads(units[doc.unit_id], person.id, today))
    # The forms a person is offered are those the services would accept from them; a refusal of a form sent
    # anyway is still the services' (and shown beside it).
    speaks = [r["unit"] for r in route if r["unit"] is not None and r["conclusion"] is None
              and _leads(r["unit"], person.id, today)]
    may_approve = bool(set(kind.approvers) & set(person.roles)) and doc.author_id != person.id
    kept = versions[-1].attachments
    return pages.page(
        "docs/document.html", status, doc=doc, versions=versions, given=given, route=route, units=units,
        people=people, own_units=own_units, kind_name=kind_names()[doc.kind], kind=kind,
        status_names=status_names(), tones=STATUS_TONES, errors=errors, form=request.form,
        is_author=is_author, speaks=speaks, may_approve=may_approve, open=doc.status not in FINAL,
        draft=doc.status == DRAFT, submitted=doc.status == SUBMITTED, kept=kept, steps=range(ROUTE_STEPS),
        unit_kind_name=unit_kind_name, approvers=", ".join(pages.role_name(r) for r in kind.approvers),
        clause=clause_name(kind.clause), waiting=who_acts(doc, units, people),
        action=request.form.get("action"),
    )


def _leads(unit: Any, person_id: UUID, today: Any) -> bool:
    return (unit.leader_id == person_id and unit.leader_starts_on is not None and unit.leader_starts_on <= today
            and (unit.leader_ends_on is None or unit.leader_ends_on > today))


@blp.route(f"/{L}/documents/<uuid:did>/files/<uuid:aid>")
@pages.signed_in
def attachment(lang: str, did: UUID, aid: UUID) -> Response:
    """Download a file of a document of the person's organization: the bytes exactly as attached."""
    tenant_id = g.person.tenant_id
    rt = runtime()
    with rt.engine.connect() as conn:
        row = documents_rm.get_attachment(conn, tenant_id, did, aid)
    if row is None:
        return pages.not_found()
    data = files.fetch(rt.engine, tenant_id, row.sha256)
    if data is None or hashlib.sha256(data).hexdigest() != row.sha256:
        log.error("document file %s (%s) is missing or altered in the file store", aid, row.sha256)
        raise RuntimeError("document file missing or altered")
    ascii_name = row.filename.encode("ascii", "replace").decode().replace('"', "'").replace("?", "_")
    response = Response(data, status=200, mimetype=row.media_type)
    response.headers["Content-Disposition"] = (
        f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(row.filename, safe='')}")
    response.headers["Repr-Digest"] = f"sha-256=:{base64.b64encode(bytes.fromhex(row.sha256)).decode()}:"
    response.headers["Cache-Control"] = "private, no-store"
    return response


def register(app: Any) -> None:
    """Add the pages of documents, of circulars and of the operator to the application."""
    from services.web import circulars, operator

    for bp in (blp, circulars.blp, operator.blp):
        app.register_blueprint(bp)


# The dashboard's part (templates/docs/_dashboard.html, included by the foundation's dashboard)

@blp.app_context_processor
def dashboard_parts() -> dict[str, Any]:
    """Offer the dashboard the documents waiting for the person and the circulars not yet acknowledged."""
    return {"docs_dashboard": docs_dashboard}


def docs_dashboard() -> dict[str, Any]:
    """Return what the dashboard shows of documents and circulars for the signed-in person."""
    from services.web.circulars import unacknowledged

    if g.get("person") is None:
        return {"documents": [], "circulars": None}
    with runtime().engine.connect() as conn:
        waiting = waiting_for_me(conn)
        units = names_of_units(conn, {r.awaiting_unit_id for r in waiting if r.awaiting_unit_id})
        people = names_of_people(conn, g.person.tenant_id, {r.author_id for r in waiting if r.author_id})
        circulars = (unacknowledged(conn, 10) if {rules.HEAD, rules.DEPUTY_HEAD} & set(g.person.roles)
                     else None)
    return {"documents": [{"row": r, "who": who_acts(r, units, people)} for r in waiting],
            "circulars": circulars, "kinds": kind_names()}

