"""The pages of a member organization's inbox of union circulars (p.34): the list, unacknowledged first; one
circular with its text, its PDF and the acknowledgement form (head or deputy head)."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from flask import Blueprint, Response, flash, g, redirect, request, url_for
from flask_babel import gettext as _
from sqlalchemy import Connection, case, select

from domain import policy, rules
from domain.base import DomainError, NotFound, NotPermitted
from domain.unions import ACKNOWLEDGED, DELIVERED, RESPONSES
from projections import circulars as circulars_rm
from projections import people as people_rm
from services import files
from services.api.common import runtime
from services.web import pages
from services.web.documents import (
    L, command_context, name_matches, refusal_text, shown, use_foundation,
)

blp = Blueprint("web_circulars", __name__, template_folder="templates")
use_foundation(blp)

ACKNOWLEDGERS = (rules.HEAD, rules.DEPUTY_HEAD)  # as the API's acknowledgement (services/api/circulars.py)
NOTE_LENGTH = 5000


def status_names() -> dict[str, str]:
    """Return the statuses of a circular in the page's language."""
    return {"issued": _("Being delivered"), "delivered": _("Not acknowledged"), "acknowledged": _("Acknowledged"),
            "failed": _("Delivery failed")}


STATUS_TONES = {"issued": "neutral", "delivered": "warning", "acknowledged": "ok", "failed": "bad"}


def response_names() -> dict[str, str]:
    """Return the member's possible answers to a recommendation (p.34)."""
    return {"noted": _("Noted"), "will_adopt": _("We will adopt it"), "adapted": _("Adopted with adaptations"),
            "declined": _("Declined")}




def _inbox_query(tenant_id: UUID, q: str) -> Any:
    c = circulars_rm.circulars
    # Unacknowledged first, the newest of each group on top.
    query = (select(c).where(c.c.tenant_id == tenant_id)
             .order_by(case((c.c.status == ACKNOWLEDGED, 1), else_=0), c.c.seq.desc()))
    if q:
        query = query.where(name_matches(c.c.title, q) | name_matches(c.c.union_name, q))
    return query


def unacknowledged(conn: Connection, limit: int) -> list[Any]:
    """Return the circulars of the person's organization that reached the inbox and are not acknowledged."""
    c = circulars_rm.circulars
    return list(conn.execute(select(c).where(c.c.tenant_id == g.person.tenant_id, c.c.status == DELIVERED)
                             .order_by(c.c.seq.desc()).limit(limit)))


@blp.route(f"/{L}/circulars")
@pages.signed_in
def inbox(lang: str) -> Response:
    """The organization's circulars: union, decision, number, date, status; unacknowledged first."""
    q = pages.search_text()
    with runtime().engine.connect() as conn:
        found = pages.listed(conn, _inbox_query(g.person.tenant_id, q))
    return pages.page("circulars/list.html", found=found, q=q,
                      status_names=status_names(), tones=STATUS_TONES)


@blp.route(f"/{L}/circulars/<uuid:cid>", methods=["GET", "POST"])
@pages.signed_in
def circular(lang: str, cid: UUID) -> Response:
    """One circular: its text, its PDF, and the acknowledgement (head or deputy head; twice changes nothing)."""
    tenant_id = g.person.tenant_id
    with runtime().engine.connect() as conn:
        row = circulars_rm.get_circular(conn, tenant_id, cid)
    if row is None:
        return pages.not_found()
    errors: dict[str, str] = {}
    typed = {"response": request.form.get("response", ""), "note": request.form.get("note", "")}
    if request.method == "POST":
        if typed["response"] not in RESPONSES:
            errors["response"] = _("Choose one of the answers.")
        if len(typed["note"]) > NOTE_LENGTH:
            errors["note"] = _("A note has at most %(count)s characters.", count=NOTE_LENGTH)
        if not errors:
            try:
                ctx = command_context(policy.ACKNOWLEDGE_CIRCULAR)
                platform = runtime().platform
                already = platform.get_circular(cid, tenant_id).status == ACKNOWLEDGED
                done = platform.acknowledge_circular(ctx, tenant_id, cid, response=typed["response"],
                                                     note=typed["note"].replace("\x00", "") or None)
            except NotFound:
                return pages.not_found()
            except DomainError as error:
                field = error.field if error.field in ("response", "note") else "form"
                if isinstance(error, NotPermitted) and error.field is None:
                    field = "form"
                errors[field] = refusal_text(error)
            else:
                if already:
                    flash(_("The circular was acknowledged already; nothing has changed."), "info")
                else:
                    shown(circulars_rm.read_model, done.position)
                    flash(_("The circular is acknowledged."), "success")
                return redirect(url_for("web_circulars.circular", lang=lang, cid=cid))
    with runtime().engine.connect() as conn:
        has_pdf = files.get_circular_document(conn, tenant_id, cid) is not None
        by = {}
        if row.acknowledged_by:
            p = people_rm.people
            by = {r.id: r.full_name for r in conn.execute(select(p.c.id, p.c.full_name)
                                                           .where(p.c.id == row.acknowledged_by))}
    may_acknowledge = bool(set(ACKNOWLEDGERS) & set(g.person.roles))
    return pages.page("circulars/circular.html", 422 if errors else 200, row=row, errors=errors, typed=typed,
                      has_pdf=has_pdf, may_acknowledge=may_acknowledge, responses=response_names(),
                      status_names=status_names(), tones=STATUS_TONES, acknowledged_by=by.get(row.acknowledged_by),
                      note_length=NOTE_LENGTH)


@blp.route(f"/{L}/circulars/<uuid:cid>/document")
@pages.signed_in
def circular_document(lang: str, cid: UUID) -> Response:
    """The rendered circular as a PDF, the same bytes the API serves, to the receiving organization's people."""
    with runtime().engine.connect() as conn:
        row = files.get_circular_document(conn, g.person.tenant_id, cid)
    if row is None:
        return pages.not_found()
    response = Response(bytes(row.content), mimetype=row.content_type)
    response.headers["Content-Disposition"] = f'inline; filename="{row.filename}"'
    response.headers["ETag"] = f'"{row.sha256}"'
    response.headers["Cache-Control"] = "private, no-store"
    return response
