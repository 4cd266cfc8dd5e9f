"""The auditor's pages: the grants held, a tenant's timeline, the tenant as of a day, what changed between two
days, the chain's verification; and the head's page of granting and revoking an auditor's access.

Every read goes through the API's audit checks and read-model functions (services/api/audit.py) and is recorded
as an audit read exactly as the API records it.
"""

from __future__ import annotations

import re
from datetime import date, timedelta
from typing import Any
from uuid import UUID

from flask import Blueprint, Response, flash, g, redirect, request, url_for
from flask_babel import format_date, format_datetime
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_babel import pgettext
from sqlalchemy import select
from wtforms import DateField, HiddenField, StringField
from wtforms.validators import DataRequired, Length

from domain import policy, rules
from domain.base import DomainError, InvalidValue, NotFound, NotPermitted, day_end, day_start
from domain.days import parse_day
from projections import audit as audit_rm
from projections import circulars as circulars_rm
from projections import documents as documents_rm
from projections import people as people_rm
from projections import tenants as tenants_rm
from projections import unions as unions_rm
from projections import units as units_rm
from projections.chain import verify
from services.api.audit import _audit_actor, note_read, require_tenant_history
from services.api.common import context, runtime
from services.reminders import REMINDERS
from services.unions import DELIVERY
from services.web.forms import Form
from services.web.pages import L, listed_by, not_found, page, role_name, signed_in
from services.web.unions import _refused, _uuid, _wait, like_the_foundations, refusal_text

blp = like_the_foundations(Blueprint("web_audit", __name__, template_folder="templates"))


def aggregate_name(kind: str) -> str:
    """Return the kind of a recorded object in the page's language."""
    return {
        "Tenant": _("Organization"), "BinRegistration": _("BIN registration"), "Person": _("Person"),
        "Login": _("Login"), "Unit": _("Methodical unit"), "AnnualPlan": _("Annual work plan"),
        "MethodicalDocument": _("Methodical document"), "Union": _("Educational-methodical union"),
        "Decision": _("Union decision"), "Circular": _("Circular"), "AuditGrant": _("Audit grant"),
        "AuditRead": _("Audit read"), "IdempotentRequest": _("Repeated request"),
    }.get(kind, kind)


def _happened(verb: str) -> str:
    """Say what happened to an object, in the page's language. In the context "event" a language words it so that it
    agrees with every kind of object (Russian with a noun: "Организация: регистрация", never a participle of the
    wrong gender)."""
    return {
        "Registered": pgettext("event", "registered"), "Created": pgettext("event", "created"),
        "Added": pgettext("event", "added"), "Changed": pgettext("event", "changed"), "Left": pgettext("event", "left"),
        "Moved": pgettext("event", "moved"), "Formed": pgettext("event", "formed"),
        "Founded": pgettext("event", "founded"), "Drafted": pgettext("event", "drafted"),
        "Submitted": pgettext("event", "submitted for review"), "Revised": pgettext("event", "revised"),
        "ConclusionIssued": pgettext("event", "conclusion issued"), "Approved": pgettext("event", "approved"),
        "Rejected": pgettext("event", "rejected"), "Withdrawn": pgettext("event", "withdrawn"),
        "FileAttached": pgettext("event", "file attached"), "MemberJoined": pgettext("event", "member joined"),
        "MemberLeft": pgettext("event", "member left"), "MemberAdmitted": pgettext("event", "member admitted"),
        "LeaderChosen": pgettext("event", "leader chosen"), "MeetingHeld": pgettext("event", "meeting held"),
        "CalendarSet": pgettext("event", "calendar set"), "ChairApproved": pgettext("event", "chair approved"),
        "DecisionAdopted": pgettext("event", "decision adopted"), "Adopted": pgettext("event", "adopted"),
        "Issued": pgettext("event", "issued"), "Delivered": pgettext("event", "delivered"),
        "DeliveryFailed": pgettext("event", "delivery failed"),
        "DeliveryRetried": pgettext("event", "delivery retried"), "Acknowledged": pgettext("event", "acknowledged"),
        "Granted": pgettext("event", "granted"), "Revoked": pgettext("event", "revoked"),
        "Looked": pgettext("event", "history read"), "Noted": pgettext("event", "history read"),
        "TokenIssued": pgettext("event", "API token issued"), "TokenRevoked": pgettext("event", "API token revoked"),
        "InvitationIssued": pgettext("event", "invitation issued"),
        "InvitationAccepted": pgettext("event", "invitation accepted"),
        "PasswordSet": pgettext("event", "password set"),
        "PasswordResetIssued": pgettext("event", "password reset link issued"),
        "SignedIn": pgettext("event", "signed in"), "SignedOut": pgettext("event", "signed out"),
        "LanguageChosen": pgettext("event", "language chosen"), "LoginSet": pgettext("event", "login set"),
        "Claimed": pgettext("event", "claimed"), "Released": pgettext("event", "released"),
        "Received": pgettext("event", "received"), "Joined": pgettext("event", "joined"),
    }.get(verb, verb)


def event_words(aggregate_type: str, event_type: str) -> str:
    """Return what an event records, in words of the page's language: the object and what happened to it."""
    return f"{aggregate_name(aggregate_type)}: {_happened(event_type.rsplit('.', 1)[-1])}"


def clause_code(typed: str) -> str:
    """Return the code of a clause typed as any of the pages' languages writes it ("п. 26", "26-тармақ", "p.26",
    "26"): "p.26"; anything else as typed."""
    found = re.fullmatch(r"(?:p\.|п\.|пункт)?\s*(\d+(?:\.\d+)*)\s*(?:-?\s*тармақ)?", typed.strip(), re.IGNORECASE)
    return f"p.{found.group(1)}" if found else typed


def _history_or_404(tid: UUID) -> Any:
    """Return the auditor acting on the tenant's history; the 404 page for anyone without a grant (the API's
    check; its 403 for a person who is no auditor is a 404 here, as a page the person may not see)."""
    try:
        return require_tenant_history(tid)
    except NotPermitted:
        raise NotFound("tenant") from None


def _names(conn: Any, ids: set[UUID]) -> dict[UUID, str]:
    p = people_rm.people
    ids = {i for i in ids if i is not None}
    if not ids:
        return {}
    return {r.id: r.full_name for r in conn.execute(select(p.c.id, p.c.full_name).where(p.c.id.in_(list(ids))))}


def object_names(conn: Any, objects: set[tuple[str, UUID]]) -> dict[UUID, str]:
    """Name each recorded object (aggregate type, id) as its read model names it now: a person, a unit, a plan (its
    unit and year), a document, a union, a decision, a circular, an organization, an audit grant (its auditor).
    Sign-ins, BIN registrations and repeated requests have no name of their own (the actor says who)."""
    wanted: dict[str, list[UUID]] = {}
    for kind, oid in objects:
        wanted.setdefault(kind, []).append(oid)
    p, u, pl, gr = people_rm.people, units_rm.units, units_rm.plans, audit_rm.audit_grants
    queries = {
        "Unit": lambda ids: select(u.c.id, u.c.name).where(u.c.id.in_(ids)),
        "AnnualPlan": lambda ids: select(pl.c.id, u.c.name + ", " + pl.c.academic_year)
        .join(u, u.c.id == pl.c.unit_id).where(pl.c.id.in_(ids)),
        "MethodicalDocument": lambda ids: select(documents_rm.documents.c.id, documents_rm.documents.c.title)
        .where(documents_rm.documents.c.id.in_(ids)),
        "Union": lambda ids: select(unions_rm.unions.c.id, unions_rm.unions.c.name)
        .where(unions_rm.unions.c.id.in_(ids)),
        "Decision": lambda ids: select(unions_rm.decisions.c.id, unions_rm.decisions.c.title)
        .where(unions_rm.decisions.c.id.in_(ids)),
        "Circular": lambda ids: select(circulars_rm.circulars.c.id, circulars_rm.circulars.c.title)
        .where(circulars_rm.circulars.c.id.in_(ids)),
        "Tenant": lambda ids: select(tenants_rm.tenants.c.id, tenants_rm.tenants.c.name)
        .where(tenants_rm.tenants.c.id.in_(ids)),
        "AuditGrant": lambda ids: select(gr.c.id, p.c.full_name).join(p, p.c.id == gr.c.auditor_id)
        .where(gr.c.id.in_(ids)),
    }
    names = _names(conn, set(wanted.get("Person", ())))
    for kind, ids in wanted.items():
        if kind in queries:
            names.update({row[0]: row[1] for row in conn.execute(queries[kind](ids))})
    return names


def _tenant_name(conn: Any, tid: UUID) -> str:
    row = tenants_rm.get_tenant(conn, tid)
    return row.name if row is not None else ""


def _day(raw: str | None) -> tuple[date | None, bool]:
    """Return a YYYY-MM-DD day (as the API takes one, domain/days.py) and whether the value was unusable."""
    if not raw:
        return None, False
    try:
        return parse_day(raw), False
    except InvalidValue:
        return None, True


@blp.route(f"/{L}/audit")
@signed_in
def grants(lang: str) -> Response:
    """The grants the auditor holds, with links into each tenant's history."""
    if rules.AUDITOR not in g.person.roles:
        return not_found()
    rt = runtime()
    gr, t = audit_rm.audit_grants, tenants_rm.tenants
    with rt.engine.connect() as conn:
        rows = list(conn.execute(select(gr, t.c.name.label("tenant_name")).outerjoin(t, t.c.id == gr.c.tenant_id)
                                 .where(gr.c.auditor_id == g.person.id).order_by(gr.c.seq.desc())))
    today = rt.today()
    return page("audit/grants.html", rows=rows, today=today, yesterday=today - timedelta(days=1))


@blp.route(f"/{L}/audit/<uuid:tid>/timeline")
@signed_in
def timeline(lang: str, tid: UUID) -> Response:
    """The tenant's events in log order, 50 a page, filtered by kind, actor, clause and days."""
    actor = _history_or_404(tid)
    rt = runtime()
    args = request.args
    kind = args.get("kind", "")[:100]
    who = _uuid(args.get("actor"))
    clause = args.get("clause", "")[:50].strip()
    code = clause_code(clause)
    since, bad_from = _day(args.get("from"))
    until, bad_to = _day(args.get("to"))
    errors = {}
    if bad_from:
        errors["from"] = _("Enter a date as YYYY-MM-DD.")
    if bad_to:
        errors["to"] = _("Enter a date as YYYY-MM-DD.")
    if args.get("actor") and who is None:
        errors["actor"] = _("Choose a person from the list.")
    if since and until and until < since:
        errors["to"] = _("The end is on or after the start.")
    e = audit_rm.audit_events
    with rt.engine.connect() as conn:
        query = select(e).where(e.c.tenant_id == tid)
        if kind:
            query = query.where(e.c.aggregate_type == kind)
        if who is not None:
            query = query.where(e.c.actor_person_id == who)
        if clause:
            query = query.where(e.c.clause == code)
        if since and not errors:
            query = query.where(e.c.recorded_at >= day_start(since))
        if until and not errors:
            query = query.where(e.c.recorded_at <= day_end(until))
        found = listed_by(conn, query, e.c.position, "position")
        kinds = [r[0] for r in conn.execute(select(e.c.aggregate_type).where(e.c.tenant_id == tid).distinct()
                                            .order_by(e.c.aggregate_type))]
        actor_ids = {r[0] for r in conn.execute(select(e.c.actor_person_id).where(
            e.c.tenant_id == tid, e.c.actor_person_id.is_not(None)).distinct())}
        names = _names(conn, actor_ids)
        tenant_name = _tenant_name(conn, tid)
        subjects = object_names(conn, {(r.aggregate_type, r.aggregate_id) for r in found.rows
                                       if r.aggregate_type != "Tenant" or r.aggregate_id != tid})
    query_args = {k: v for k, v in {"kind": kind, "actor": str(who) if who else "", "clause": clause,
                                    "from": args.get("from", ""), "to": args.get("to", "")}.items() if v}
    note_read(actor, tid, "tenant events", query_args)
    # event_words() and _who() translate every word they know to say one: a page says each kind of event, and
    # each actor, once.
    said: dict[tuple[str, str], str] = {}
    whom: dict[tuple[Any, Any], dict[str, str]] = {}
    shown = [{"position": r.position, "when": format_datetime(r.recorded_at, "medium"),
              **(whom.get((r.actor_role, r.actor_person_id)) or whom.setdefault(
                  (r.actor_role, r.actor_person_id), _who(r, names))),
              "what": said.get((r.aggregate_type, r.type)) or said.setdefault(
                  (r.aggregate_type, r.type), event_words(r.aggregate_type, r.type)),
              "object": subjects.get(r.aggregate_id, ""), "clause": r.clause or ""} for r in found.rows]
    people = sorted(names.items(), key=lambda p: p[1])
    return page("audit/timeline.html", 422 if errors else 200, tid=tid, tenant_name=tenant_name, rows=shown,
                kinds=[(k, aggregate_name(k)) for k in kinds], people=people, kind=kind, who=who, clause=clause,
                since=args.get("from", ""), until=args.get("to", ""), errors=errors, found=found,
                query_args=query_args)


def _who(row: Any, names: dict[UUID, str]) -> dict[str, str]:
    """Say who recorded an event and in which role: a person, the platform operator, or the delivery service."""
    if row.actor_role == "operator":
        return {"who": _("the platform operator"), "role": ""}
    if row.actor_role == DELIVERY:
        return {"who": _("the delivery service"), "role": ""}
    if row.actor_role == REMINDERS:
        return {"who": _("the reminder service"), "role": ""}
    # A person acting in a capacity of the policy (domain/policy.py) rather than a role of the organization.
    role = {policy.UNION_CHAIR_CAPACITY: _("union chair"), policy.UNIT_LEADER_CAPACITY: _("unit leader"),
            policy.UNIT_MEMBER_CAPACITY: _("unit member"), policy.AUTHOR_CAPACITY: _("the document's author")}.get(
        row.actor_role or "") or role_name(row.actor_role or "")
    if row.actor_person_id is None:
        return {"who": _("the platform"), "role": role}
    # A person of another organization (a union's chair) is outside what the grant shows: named by role only.
    return {"who": names.get(row.actor_person_id) or _("a person of another organization"), "role": role}


def kind_word(code: str) -> str:
    """Return a kind of organization, unit or document in the page's language."""
    return {
        "school": _("school"), "tvet_college": _("TVET college"), "postsecondary_college": _("post-secondary college"),
        "university": _("university"), "district_department": _("district education department"),
        "regional_department": _("regional education department"),
        "methodical_association": _("methodical association"), "interschool_association": _("inter-school association"),
        "district_association": _("district methodical association"),
        "subject_cycle_commission": _("subject-cycle commission"), "department": _("department (chair)"),
        "intercollege_commission": _("inter-college commission"), "methodical_section": _("methodical section"),
        "methodical_council": _("methodical council"), "methodical_cabinet": _("methodical cabinet"),
        "methodical_office": _("methodical office"),
        "methodical_documentation": _("methodical documentation"), "working_curriculum": _("working curriculum"),
        "working_program": _("working program"), "lesson_plan": _("lesson plan"),
        "methodical_guidelines": _("methodical guidelines"),
    }.get(code, code)


def state_word(status: str) -> str:
    """Return the state of a document, plan or circular in the page's language."""
    from services.web.unions import status_name

    return {"draft": _("draft"), "submitted": _("under review"), "approved": _("approved"),
            "rejected": _("rejected"), "withdrawn": _("withdrawn")}.get(status) or status_name(status)


def _summary(state: dict[str, Any], auditor: str | None = None) -> dict[str, str]:
    """Return what a page says of a recorded object: its name, its state and a detail of it (an audit grant is
    named by its auditor's name, when known, else by the auditor's id)."""
    kind = state.get("type")
    name = state.get("full_name") or state.get("name") or state.get("title") or ""
    status = state_word(str(state["status"])) if state.get("status") else ""
    detail = kind_word(str(state["kind"])) if state.get("kind") else ""
    if kind == "Person":
        status = _("active") if state.get("active", True) else _("left")
        detail = ", ".join(role_name(r) for r in state.get("roles") or [])
    elif kind == "Unit":
        detail = _("%(kind)s; members: %(count)s", kind=detail, count=len(state.get("members") or {}))
    elif kind == "MethodicalDocument":
        detail = _("%(kind)s; version %(number)s", kind=detail, number=len(state.get("versions") or []))
    elif kind == "AuditGrant":
        name = auditor or str(state.get("auditor_id") or "")
        until = state.get("until")
        status = _("revoked") if state.get("revoked_at") else _(
            "until %(day)s", day=format_date(date.fromisoformat(str(until)), "short") if until else "")
    elif kind == "Circular":
        detail = str(state.get("recipient_name") or state.get("number") or "")
    return {"name": str(name), "status": status, "detail": detail}


@blp.route(f"/{L}/audit/<uuid:tid>/as-of")
@signed_in
def as_of(lang: str, tid: UUID) -> Response:
    """The whole tenant as it stood at the end of a day: its people, units, documents and their states."""
    actor = _history_or_404(tid)
    rt = runtime()
    at, bad = _day(request.args.get("at"))
    error = _("Enter a date as YYYY-MM-DD.") if bad else None
    groups: dict[str, list[dict[str, Any]]] = {}
    with rt.engine.connect() as conn:
        tenant_name = _tenant_name(conn, tid)
        found = []
        if at is not None:
            moment = day_end(at)
            # The tenant's own aggregates, and the unions it belonged to then, as the API's state read does.
            found = audit_rm.aggregates_as_of(conn, tid, moment) + audit_rm.unions_joined_by(conn, tid, moment)
        # An audit grant's state holds its auditor's id: the page names the auditor, as the timeline does.
        grants = object_names(conn, {("AuditGrant", r.aggregate_id) for r in found if r.aggregate_type == "AuditGrant"})
    for row in sorted(found, key=lambda r: (r.aggregate_type, str(r.aggregate_id))):
        if row.aggregate_type in ("AuditRead", "Login", "BinRegistration", "IdempotentRequest"):
            continue
        state = rt.platform.state_of(row.aggregate_id, row.version)
        groups.setdefault(row.aggregate_type, []).append(
            {"version": row.version, **_summary(state, grants.get(row.aggregate_id))})
    if at is not None:
        note_read(actor, tid, "tenant state", {"as_of": at})
    order = ["Tenant", "Person", "Unit", "AnnualPlan", "MethodicalDocument", "Union", "Circular", "AuditGrant"]
    shown = sorted(groups.items(), key=lambda kv: order.index(kv[0]) if kv[0] in order else len(order))
    return page("audit/as_of.html", 422 if error else 200, tid=tid, tenant_name=tenant_name, at=at,
                typed=request.args.get("at", ""), error=error,
                groups=[(aggregate_name(k), v) for k, v in shown])


@blp.route(f"/{L}/audit/<uuid:tid>/changes")
@signed_in
def changes(lang: str, tid: UUID) -> Response:
    """What changed between two days: each object's versions before and after, and its events in words."""
    actor = _history_or_404(tid)
    rt = runtime()
    start, bad_from = _day(request.args.get("from"))
    end, bad_to = _day(request.args.get("to"))
    errors = {}
    if bad_from:
        errors["from"] = _("Enter a date as YYYY-MM-DD.")
    if bad_to:
        errors["to"] = _("Enter a date as YYYY-MM-DD.")
    if start and end and end < start:
        errors["to"] = _("The end is on or after the start.")
    items: dict[UUID, dict[str, Any]] = {}
    with rt.engine.connect() as conn:
        tenant_name = _tenant_name(conn, tid)
        if start and end and not errors:
            since = day_start(start)
            rows, _cursor = audit_rm.history(conn, tenant_id=tid, after=0, limit=100_000, since=since,
                                             until=day_end(end))
            for row in rows:
                if row.aggregate_type == "AuditRead":
                    continue
                item = items.setdefault(row.aggregate_id, {"kind": aggregate_name(row.aggregate_type),
                                                           "type": row.aggregate_type,
                                                           "before": row.version - 1 or None, "events": []})
                item["after"] = row.version
                item["events"].append(_happened(row.type.rsplit(".", 1)[-1]))
            named = object_names(conn, {(item["type"], oid) for oid, item in items.items()})
            for oid, item in items.items():
                item["name"] = named.get(oid, "")
    if start and end and not errors:
        note_read(actor, tid, "tenant changes", {"from": start, "to": end})
    return page("audit/changes.html", 422 if errors else 200, tid=tid, tenant_name=tenant_name,
                items=list(items.values()), start=request.args.get("from", ""), end=request.args.get("to", ""),
                errors=errors, asked=bool(start and end and not errors))


@blp.route(f"/{L}/audit/verify")
@signed_in
def verify_chain(lang: str) -> Response:
    """Recompute the tamper-evidence chain: ok, or the first bad position."""
    try:
        actor = _audit_actor(policy.VERIFY_CHAIN)
    except NotPermitted:
        return not_found()
    report = verify(runtime().engine)
    note_read(actor, actor.tenant_id, "verify", {"ok": report["ok"]})
    return page("audit/verify.html", report=report)


# The head grants and revokes an auditor's access (the API's audit-grants)

class GrantForm(Form):
    section = HiddenField(default="grant")
    person_id = StringField(_l("Auditor's person id"), validators=[
        DataRequired(_l("Enter the auditor's person id.")), Length(max=100)])
    until = DateField(_l("Until (inclusive)"), validators=[DataRequired(_l("Enter the last day of the access."))])


@blp.route(f"/{L}/audit-grants", methods=["GET", "POST"])
@signed_in
def audit_grants(lang: str) -> Response:
    """The organization's audit grants; the head grants an auditor access until a day, and revokes it."""
    if not {rules.HEAD, rules.DEPUTY_HEAD} & set(g.person.roles):
        return not_found()
    rt = runtime()
    tid = g.person.tenant_id
    posted = request.form.get("section") if request.method == "POST" else None
    form = GrantForm(formdata=request.form if posted == "grant" else None)
    error, status = None, 200
    if posted is not None:
        try:
            actor = g.caller.acting_for(policy.REVOKE_AUDIT if posted == "revoke" else policy.GRANT_AUDIT, tid)
        except NotPermitted:
            return not_found()
        status = 422
        if posted == "revoke":
            grant_id = _uuid(request.form.get("grant_id"))
            if grant_id is None:
                return not_found()
            try:
                done = rt.platform.revoke_audit(context(actor), tid, grant_id)
            except NotFound:
                return not_found()
            except DomainError as refusal:
                error = refusal_text(refusal)
            else:
                flash(_("The grant is revoked; it stops working at once."), "success")
                return redirect(url_for("web_audit.audit_grants", lang=lang, at=done.position))
        elif posted == "grant" and form.validate():
            person_id = _uuid(form.person_id.data.strip())
            if person_id is None:
                form.person_id.errors = [_("A person id looks like 3f2b…-…: copy it from the auditor's profile.")]
            else:
                try:
                    done = rt.platform.grant_audit(context(actor), tid, person_id=person_id, until=form.until.data)
                except DomainError as refusal:
                    error = _refused(form, refusal)
                else:
                    flash(_("The auditor may read the history until %(day)s.",
                            day=format_date(form.until.data, "long")), "success")
                    return redirect(url_for("web_audit.audit_grants", lang=lang, at=done.position))
    _wait(request.args.get("at"), audit_rm.read_model)
    with rt.engine.connect() as conn:
        rows = audit_rm.grants_of(conn, tid)
        names = _names(conn, {r.auditor_id for r in rows})
    return page("audit/audit_grants.html", status, form=form, error=error, rows=rows, names=names,
                today=rt.today(), may_grant=rules.HEAD in g.person.roles)
