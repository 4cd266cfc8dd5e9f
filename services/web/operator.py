"""The platform operator's pages: the organizations and authorities (list, search, register one, p.2, p.5), and
one tenant's heads (add the first head, invite them to sign in). The operator signs in through the foundation's
sign-in page (login "operator", the operator token as the password; its sessions are events, ADR 021)."""

from __future__ import annotations

import functools
import logging
from typing import Any, Callable
from uuid import UUID, uuid4

from flask import Blueprint, Response, flash, g, redirect, request, url_for
from flask_babel import gettext as _
from sqlalchemy import select

from domain import policy, rules
from domain.base import Context, DomainError, NotFound
from projections import people as people_rm
from projections import tenants as tenants_rm
from services.api.common import runtime
from services.auth import Caller
from services.web import mails, pages
from services.web.documents import L, name_matches, refusal_text, shown, use_foundation
from services.web.pages import listed, search_text
from services.web.i18n import LANGUAGES

log = logging.getLogger(__name__)

blp = Blueprint("web_operator", __name__, template_folder="templates")
use_foundation(blp)



def kind_names() -> dict[str, str]:
    """Return the kinds of tenant in the page's language."""
    return {
        "school": _("School"), "tvet_college": _("College (technical and vocational education)"),
        "postsecondary_college": _("College (post-secondary education)"), "university": _("University"),
        "district_department": _("District education department"),
        "regional_department": _("Regional education department"),
    }


def language_names() -> dict[str, str]:
    """Return the languages an organization works in."""
    return {"ru": _("Russian"), "kk": _("Kazakh")}




# The operator's session: the foundation's sign-in (login "operator", the operator token as password) marks it

def operator_only(view: Callable[..., Any]) -> Callable[..., Any]:
    """Let only the signed-in operator see the page; send anyone else to the sign-in page."""

    @functools.wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        if not g.get("operator"):
            flash(_("Sign in as the platform operator to continue."), "info")
            return redirect(url_for("web.login", lang=g.lang,
                                    next=request.path if request.method == "GET" else None))
        return view(*args, **kwargs)

    return wrapper


def _context() -> Context:
    return Context(actor=Caller().acting_for(policy.REGISTER_TENANT, None), request_id=pages.request_id(),
                   now=pages.now(), ids=uuid4)


# Tenants

def _authorities(conn: Any) -> list[Any]:
    t = tenants_rm.tenants
    return list(conn.execute(select(t.c.tenant_id, t.c.name, t.c.kind).where(t.c.kind.in_(rules.AUTHORITY_KINDS))
                             .order_by(t.c.name)))


@blp.route(f"/{L}/tenants", methods=["GET", "POST"])
@operator_only
def tenants(lang: str) -> Response:
    """The organizations and authorities: search by name or BIN, and register one (p.2, p.5)."""
    fields = ("name", "kind", "bin", "region", "parent_id", "language", "email")
    typed = {f: request.form.get(f, "").strip() for f in fields}
    if not typed["language"]:
        typed["language"] = "ru"
    errors: dict[str, str] = {}
    if request.method == "POST":
        errors = _check_tenant(typed)
        if not errors:
            try:
                done = runtime().platform.register_tenant(
                    _context(), name=typed["name"], kind=typed["kind"], bin=typed["bin"], region=typed["region"],
                    parent_id=UUID(typed["parent_id"]) if typed["parent_id"] else None, language=typed["language"],
                    email=typed["email"] or None)
            except DomainError as error:
                field = error.field if error.field in fields else ("parent_id" if isinstance(error, NotFound)
                                                                     else "name")
                errors[field] = refusal_text(error)
            else:
                shown(tenants_rm.read_model, done.position)
                flash(_("%(name)s is registered.", name=done.aggregate.name), "success")
                return redirect(url_for("web_operator.tenant", lang=lang, tid=done.aggregate.id))
    q = search_text()
    t = tenants_rm.tenants
    query = select(t).order_by(t.c.seq.desc())
    if q:
        query = query.where(name_matches(t.c.name, q) | (t.c.bin == q))
    with runtime().engine.connect() as conn:
        found = listed(conn, query)
        authorities = _authorities(conn)
    return pages.page("operator/tenants.html", 422 if errors else 200, found=found, q=q,
                      typed=typed, errors=errors, kinds=kind_names(), tenant_languages=language_names(),
                      authorities=authorities)


def _check_tenant(typed: dict[str, str]) -> dict[str, str]:
    errors = {}
    if not typed["name"]:
        errors["name"] = _("Enter the name.")
    elif len(typed["name"]) > 500:
        errors["name"] = _("A name has at most %(count)s characters.", count=500)
    if typed["kind"] not in rules.TENANT_KINDS:
        errors["kind"] = _("Choose the kind.")
    if not (len(typed["bin"]) == 12 and typed["bin"].isascii() and typed["bin"].isdigit()):
        errors["bin"] = _("A BIN is exactly 12 digits.")
    if not typed["region"]:
        errors["region"] = _("Enter the region.")
    elif len(typed["region"]) > 200:
        errors["region"] = _("A name has at most %(count)s characters.", count=200)
    if typed["parent_id"]:
        try:
            UUID(typed["parent_id"])
        except ValueError:
            errors["parent_id"] = _("Choose an authority from the list.")
    if typed["language"] not in rules.LANGUAGES:
        errors["language"] = _("Choose the language.")
    if typed["email"] and ("@" not in typed["email"] or len(typed["email"]) > 254 or " " in typed["email"]):
        errors["email"] = _("Enter an email address, like name@school.kz.")
    for name, value in typed.items():
        if "\x00" in value:
            errors[name] = _("The text contains a character that cannot be kept.")
    return errors


@blp.route(f"/{L}/tenants/<uuid:tid>", methods=["GET", "POST"])
@operator_only
def tenant(lang: str, tid: UUID) -> Response:
    """One tenant: its registration and heads; add the first head and invite them to sign in."""
    rt = runtime()
    with rt.engine.connect() as conn:
        row = tenants_rm.get_tenant(conn, tid)
    if row is None:
        return pages.not_found()
    section = request.form.get("section") if request.method == "POST" else None
    typed = {f: request.form.get(f, "").strip() for f in ("full_name", "person_id", "email", "language")}
    errors: dict[str, str] = {}
    if section == "head":
        if not typed["full_name"]:
            errors["full_name"] = _("Enter the full name.")
        elif len(typed["full_name"]) > 300 or "\x00" in typed["full_name"]:
            errors["full_name"] = _("A name has at most %(count)s characters.", count=300)
        if not errors:
            try:
                done = rt.platform.add_person(_context(), tid, full_name=typed["full_name"], roles=[rules.HEAD],
                                              subjects=[])
            except DomainError as error:
                errors["full_name"] = refusal_text(error)
            else:
                shown(people_rm.read_model, done.position)
                flash(_("%(name)s is added as the head.", name=typed["full_name"]), "success")
                return redirect(url_for("web_operator.tenant", lang=lang, tid=tid))
    elif section == "invite":
        person_id = None
        try:
            person_id = UUID(typed["person_id"])
            if rules.HEAD not in rt.platform.get_person(tid, person_id).roles:
                raise NotFound("person")
        except (ValueError, NotFound):
            errors["person_id"] = _("The operator invites a head of this organization; the head invites the others.")
        language = typed["language"] if typed["language"] in LANGUAGES else None
        if not errors and person_id is not None:
            try:
                issued = rt.platform.invite(_context(), tid, person_id, email=typed["email"] or None,
                                            days=rt.settings.invitation_days)
            except DomainError as error:
                errors["email"] = refusal_text(error)
            else:
                language = language or issued.person.language or row.language or "ru"
                base = rt.settings.public_url or request.host_url.rstrip("/")
                url = f"{base}/{language}/invitations/{issued.token}"
                mailed = False
                if rt.settings.smtp_host and issued.person.login:
                    notice = mails.compose(rt.settings, to=issued.person.login, language=language,
                                           kind="invitation", url=url, expires_at=issued.expires_at,
                                           full_name=issued.person.full_name, tenant=row.name)
                    mailed = mails.send(rt.settings, notice)
                shown(people_rm.read_model, issued.position)
                flash(_("The invitation link for %(login)s (works once, for %(days)s days): %(url)s",
                        login=issued.person.login, days=rt.settings.invitation_days, url=url), "invitation")
                if mailed:
                    flash(_("The invitation is emailed to %(login)s.", login=issued.person.login), "success")
                return redirect(url_for("web_operator.tenant", lang=lang, tid=tid))
    p = people_rm.people
    with rt.engine.connect() as conn:
        heads = list(conn.execute(select(p).where(p.c.tenant_id == tid, p.c.roles.any_() == rules.HEAD)
                                  .order_by(p.c.seq)))
        parent = tenants_rm.get_tenant(conn, row.parent_id) if row.parent_id else None
    logins = {h.id: rt.platform.get_person(tid, h.id).login for h in heads}
    return pages.page("operator/tenant.html", 422 if errors else 200, row=row, heads=heads, logins=logins,
                      parent=parent, typed=typed, errors=errors, kinds=kind_names(), tenant_languages=language_names(),
                      all_languages=LANGUAGES)
