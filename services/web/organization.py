"""The head's and deputy head's pages of the organization (people, units, their leaders, plans and meetings),
and the teacher's and leader's (my units, the plan editor, a meeting's record), p.3, p.16, p.25–p.30.

The pages call the same application services as the API blueprints (services/api/people.py, units.py,
invitations.py) with the same role checks, and read the same read models; the Order's refusals are shown
beside the field they concern, with their clause, in the page's language.
"""

from __future__ import annotations

from datetime import date
from collections.abc import Sequence
from typing import Any
from uuid import UUID, uuid4

from flask import Blueprint, Response, flash, g, redirect, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import Connection, func, select, text, union_all
from wtforms import Form as SubForm
from wtforms import (DateField, FieldList, FormField, HiddenField, SelectField, SelectMultipleField, StringField,
                     TextAreaField)
from wtforms.validators import DataRequired, Length, Optional
from wtforms.widgets import CheckboxInput, ListWidget

from domain import directions, policy, rules
from domain.base import Context, DomainError, NotFound, NotPermitted
from domain.compliance import DEFAULT_QUARTERS, findings
from domain.people import LoginTaken
from domain.plans import check_academic_year
from domain.units import UNIT_KINDS, academic_year_of, check_item
from projections import people as people_rm
from projections import tenants as tenants_rm
from projections import units as units_rm
from projections.base import PositionNotReached, wait_for_position
from services.api.common import runtime
from services.api.errors import status_of
from services.api.compliance import compliance_facts
from services.api.units import plan_statuses
from services.web import forms, i18n, mails, pages
from services.web.findings import ShownFinding, _told

blp = Blueprint("web_org", __name__, template_folder="templates")
L = pages.L
ROWS = 50  # rows of a list page
_MANAGERS = (rules.HEAD, rules.DEPUTY_HEAD)

# The foundation's hooks hold for this blueprint's pages too: language, CSRF, the signed-in person, headers,
# and its pages of refusal.
blp.before_request(pages.identify)
blp.after_request(pages.protect)
blp.register_error_handler(Exception, pages.web_error)


@blp.context_processor
def org_context() -> dict[str, Any]:
    """The language switch keeps this blueprint's page too."""
    return {"switch_to": switch_to}


def switch_to(language: str) -> str:
    """Return this page's address in another language."""
    args = {**(request.view_args or {}), "lang": language}
    target = url_for(request.endpoint or "web.dashboard", **args)
    return target + (f"?{request.query_string.decode()}" if request.query_string else "")


@blp.app_template_global()
def kind_name(kind: str) -> str:
    """Return the name of a unit kind in the page's language, as the Order calls it."""
    return {
        "methodical_association": _("Methodical association"),
        "interschool_association": _("Inter-school methodical association"),
        "district_association": _("District methodical association"),
        "subject_cycle_commission": _("Subject-cycle commission"),
        "department": _("Department"),
        "intercollege_commission": _("Inter-college subject-cycle commission"),
        "methodical_section": _("Methodical section"),
        "methodical_council": _("Methodical council"),
        "methodical_cabinet": _("Methodical cabinet"),
        "methodical_office": _("Methodical office"),
    }.get(kind, kind)


@blp.app_template_global()
def plan_status_name(status: str | None) -> str:
    """Return a plan's status in words."""
    return {"approved": _("approved"), "draft": _("draft, waiting for approval")}.get(status or "", _("no plan"))


# What every page of this module shares

def _context(actor: Any) -> Context:
    return Context(actor=actor, request_id=pages.request_id(), now=pages.now(), ids=uuid4)


def _settle(read_model: Any, position: int) -> None:
    """Wait until the read model shows a command's effect, so the page redirected to shows it too."""
    rt = runtime()
    try:
        wait_for_position(rt.engine, read_model, position, rt.settings.min_position_timeout)
    except PositionNotReached:
        pass  # the page shows it a moment later; the command itself is recorded


def _may(tenant_id: UUID, action: policy.Action) -> bool:
    try:
        g.caller.acting_for(action, tenant_id)
    except DomainError:
        return False
    return True


def _contains(column: Any, q: str) -> Any:
    # PostgreSQL's lower() on a UTF-8 database folds Cyrillic and Kazakh letters; strpos needs no escaping.
    return func.strpos(func.lower(column), func.lower(q)) > 0


# The Order's refusals in the page's language, as the API says them (services/refusals.py), the clause always kept.

def told(error: DomainError) -> str:
    """Return a refusal in the page's language, followed by its clause of the Order; a person by their name."""
    person = error.message.params.get("person")
    return i18n.refusal(error, {"person": _name_of(str(person))} if person else None)


def _name_of(person_id: str) -> str:
    try:
        wanted = UUID(person_id)
    except ValueError:
        return person_id
    with runtime().engine.connect() as conn:
        return _names(conn, {wanted}).get(wanted, person_id)


def refuse(form: Any, error: DomainError, fields: dict[str, str], default: str) -> None:
    """Put the refusal beside the form's field it concerns (the domain names it), else beside `default`."""
    name = fields.get(error.field or "", default)
    target = getattr(form, name)
    target.errors = [*(target.errors or []), told(error)]


def _storable(value: Any) -> Any:
    """Drop NUL characters from typed text: PostgreSQL cannot store them (the API refuses them, services/api)."""
    return value.replace("\x00", "") if isinstance(value, str) else value


# People (p.3)

class PersonForm(forms.Form):
    section = HiddenField(default="add")
    full_name = StringField(_l("Full name"), filters=[_storable], validators=[DataRequired(_l("Enter the full name.")),
                                                          Length(max=300)])
    # The domain refuses a role the organization has not, with its clause (p.3); the form does not pre-empt it.
    roles = SelectMultipleField(_l("Roles"), widget=ListWidget(prefix_label=False), option_widget=CheckboxInput(),
                                validators=[DataRequired(_l("Choose at least one role."))], validate_choice=False)
    subjects = StringField(_l("Subjects or disciplines taught (separated by commas)"), filters=[_storable],
                           validators=[Length(max=2000)])


class PersonEditForm(PersonForm):
    section = HiddenField(default="edit")


class InviteForm(forms.Form):
    section = HiddenField(default="invite")
    email = StringField(_l("Email (the person's login)"), filters=[_storable], validators=[Optional(), Length(max=254)])


class LeaveForm(forms.Form):
    section = HiddenField(default="leave")
    confirm = HiddenField()


def _roles_for(tenant_kind: str, head_may_be_given: bool) -> list[tuple[str, str]]:
    return [(role, pages.role_name(role)) for role in rules.ROLES
            if tenant_kind in rules.ROLE_RULES[role].kinds and (head_may_be_given or role != rules.HEAD)]


def _subjects(raw: str | None) -> list[str]:
    return [s.strip() for s in (raw or "").split(",") if s.strip()][:50]


def search_people(conn: Connection, tenant_id: UUID, q: str, status: str | None = "active") -> pages.Listing:
    """Return the page asked for of the tenant's people whose name contains `q` (any case, any alphabet)."""
    p = people_rm.people
    query = select(p).where(p.c.tenant_id == tenant_id)
    if status:
        query = query.where(p.c.status == status)
    if q:
        query = query.where(_contains(p.c.full_name, q))
    return pages.listed(conn, query.order_by(p.c.full_name, p.c.seq))


CHOICES = 150  # people a form offers at once; a subject narrows them (a university has thousands)


def _people_choices(conn: Connection, tenant_id: UUID, subject: str | None = None,
                    also: Sequence[str] = ()) -> list[tuple[str, str, list[str], list[str]]]:
    """Return the active people a form offers: those teaching the subject when one is given (any case), and
    the ones already chosen."""
    p = people_rm.people
    query = select(p.c.id, p.c.full_name, p.c.roles, p.c.subjects).where(p.c.tenant_id == tenant_id,
                                                                         p.c.status == "active")
    if subject:
        # As the domain matches a member's subject (domain/units.py teaches()): the same words, any case.
        query = query.where(text("EXISTS (SELECT 1 FROM unnest(rm_people.subjects) AS s"
                                 " WHERE lower(btrim(s)) = lower(:subject))").bindparams(subject=subject.strip()))
    rows = list(conn.execute(query.order_by(p.c.full_name).limit(CHOICES)))
    chosen = []
    for raw in also:
        try:
            chosen.append(UUID(raw))
        except ValueError:
            continue
    seen = {r.id for r in rows}
    if missing := [c for c in chosen if c not in seen][:CHOICES]:
        rows += list(conn.execute(select(p.c.id, p.c.full_name, p.c.roles, p.c.subjects).where(
            p.c.tenant_id == tenant_id, p.c.id.in_(missing))))
    return [(str(r.id), r.full_name, list(r.roles), list(r.subjects)) for r in rows]


@blp.route(f"/{L}/people", methods=["GET", "POST"])
@pages.signed_in
def people(lang: str) -> Response:
    """The organization's people: a list with a search, and (head, deputy head) the form that adds one."""
    tid = g.person.tenant_id
    g.caller.reading(tid)  # as the API's list: every active person of the tenant reads it
    may_add = _may(tid, policy.ADD_PERSON)
    form = PersonForm(formdata=request.form if request.method == "POST" else None)
    form.roles.choices = _roles_for(g.tenant.kind, rules.HEAD in g.person.roles)
    status = 200
    if request.method == "POST":
        actor = g.caller.acting_for(policy.ADD_PERSON, tid)  # 403 page for anyone else, as the API
        status = 422
        if form.validate():
            try:
                done = runtime().platform.add_person(_context(actor), tid, full_name=form.full_name.data.strip(),
                                                     roles=form.roles.data, subjects=_subjects(form.subjects.data))
            except NotPermitted as error:
                refuse(form, error, {}, "roles")
            except DomainError as error:
                refuse(form, error, {"full_name": "full_name", "roles": "roles", "subjects": "subjects"}, "full_name")
            else:
                _settle(people_rm.read_model, done.position)
                flash(_("%(name)s is added.", name=done.aggregate.full_name), "success")
                return redirect(url_for("web_org.person", lang=lang, pid=done.aggregate.id))
    q = pages.search_text()
    with runtime().engine.connect() as conn:
        found = search_people(conn, tid, q)
    return pages.page("org/people.html", status, rows=found.rows, found=found, q=q, form=form,
                      may_add=may_add)


def _person_row(tid: UUID, pid: UUID) -> Any:
    with runtime().engine.connect() as conn:
        row = people_rm.get_person(conn, tid, pid)
    if row is None:
        raise NotFound("person")
    return row


@blp.route(f"/{L}/people/<uuid:pid>", methods=["GET", "POST"])
@pages.signed_in
def person(lang: str, pid: UUID) -> Response:
    """One person: roles and subjects (head, deputy head change them), the invitation, and leaving (head)."""
    tid = g.person.tenant_id
    g.caller.reading(tid)
    row = _person_row(tid, pid)  # another tenant's person: the same 404 as a missing one
    posted = request.form.get("section") if request.method == "POST" else None
    rt = runtime()
    edit = PersonEditForm(formdata=request.form if posted == "edit" else None, full_name=row.full_name,
                          roles=list(row.roles), subjects=", ".join(row.subjects))
    edit.roles.choices = _roles_for(g.tenant.kind, rules.HEAD in g.person.roles or rules.HEAD in row.roles)
    invite = InviteForm(formdata=request.form if posted == "invite" else None)
    leave = LeaveForm()
    invited = None
    confirming = False
    status = 200
    if posted in ("edit", "invite"):
        actor = g.caller.acting_for(policy.CHANGE_PERSON if posted == "edit" else policy.INVITE_PERSON, tid)
        status = 422
        if posted == "edit" and edit.validate():
            try:
                done = rt.platform.change_person(_context(actor), tid, pid, full_name=edit.full_name.data.strip(),
                                                 roles=edit.roles.data, subjects=_subjects(edit.subjects.data))
            except DomainError as error:
                refuse(edit, error, {"full_name": "full_name", "roles": "roles", "subjects": "subjects"}, "roles")
            else:
                _settle(people_rm.read_model, done.position)
                flash(_("The changes are saved."), "success")
                return redirect(url_for("web_org.person", lang=lang, pid=pid))
        if posted == "invite" and invite.validate():
            try:
                invited = _invite(actor, tid, pid, (invite.email.data or "").strip() or None)
            except LoginTaken:
                invite.email.errors = [_("Another person already signs in with this email address.")]
            except DomainError as error:
                refuse(invite, error, {}, "email")
            else:
                status = 201
                row = _person_row(tid, pid)
    elif posted == "leave":
        actor = g.caller.acting_for(policy.REMOVE_PERSON, tid)  # as the API: the head records that a person left
        if request.form.get("confirm") != "yes":
            confirming = True  # the step that asks again before the person loses their access
        else:
            done = rt.platform.remove_person(_context(actor), tid, pid)
            _settle(people_rm.read_model, done.position)
            flash(_("%(name)s is marked as having left; their history is kept.", name=row.full_name), "success")
            return redirect(url_for("web_org.person", lang=lang, pid=pid))
    elif posted is not None:
        return pages.error_page(400, _("The request was not understood"), _("Nothing was changed. Go back and try again."))
    login = rt.platform.get_person(tid, pid).login
    with rt.engine.connect() as conn:
        units = _units_of_person(conn, tid, pid)
    return pages.page("org/person.html", status, row=row, edit=edit, invite=invite, leave=leave, invited=invited,
                      confirming=confirming, login=login, units=units, may_manage=_may(tid, policy.CHANGE_PERSON),
                      may_remove=_may(tid, policy.REMOVE_PERSON))


def _invite(actor: Any, tid: UUID, pid: UUID, email: str | None) -> dict[str, Any]:
    """Issue the invitation as the API does (services/api/invitations.py) and mail it when SMTP is set."""
    rt = runtime()
    issued = rt.platform.invite(_context(actor), tid, pid, email=email, days=rt.settings.invitation_days)
    tenant = rt.platform.get_tenant(tid)
    language = issued.person.language or tenant.language or g.lang
    base = rt.settings.public_url or request.host_url.rstrip("/")
    url = f"{base}/{language}/invitations/{issued.token}"
    mailed = False
    if rt.settings.smtp_host and issued.person.login:
        notice = mails.compose(rt.settings, to=issued.person.login, language=language, kind="invitation", url=url,
                               expires_at=issued.expires_at, full_name=issued.person.full_name, tenant=tenant.name)
        mailed = mails.send(rt.settings, notice)
    _settle(people_rm.read_model, issued.position)
    return {"url": url, "expires_at": issued.expires_at, "login": issued.person.login, "mailed": mailed}


def _units_of_person(conn: Connection, tid: UUID, pid: UUID) -> list[Any]:
    u, m = units_rm.units, units_rm.unit_members
    return list(conn.execute(select(u.c.id, u.c.name, u.c.kind).where(
        u.c.id == m.c.unit_id, m.c.person_id == pid, m.c.left_at.is_(None)).order_by(u.c.name)))


# Units (p.16, p.25–p.30)

class UnitForm(forms.Form):
    kind = SelectField(_l("Kind of unit"), validators=[DataRequired(_l("Choose the kind of unit."))],
                       validate_choice=False)
    name = StringField(_l("Name"), filters=[_storable], validators=[DataRequired(_l("Enter the unit's name.")), Length(max=300)])
    subject = StringField(_l("Subject or discipline"), filters=[_storable], validators=[Length(max=200)])
    member_ids = SelectMultipleField(_l("Members"), widget=ListWidget(prefix_label=False),
                                     option_widget=CheckboxInput(), validate_choice=False)


class MemberForm(forms.Form):
    section = HiddenField(default="add_member")
    person_id = SelectField(_l("Person"), validators=[DataRequired(_l("Choose a person."))], validate_choice=False)


class LeaderForm(forms.Form):
    section = HiddenField(default="leader")
    # The page has a member's form too: this field keeps the API's name, with an id of its own.
    person_id = SelectField(_l("Leader"), validators=[DataRequired(_l("Choose the leader among the members."))],
                            validate_choice=False, id="leader_person_id")
    starts_on = DateField(_l("The term starts on"), validators=[DataRequired(_l("Enter the date the term starts."))])


def search_units(conn: Connection, tenant_id: UUID, q: str) -> pages.Listing:
    """Return the page asked for of the units the tenant sees whose name contains `q` (any case).

    The units it formed come from the tenant's index, the cross-organization ones its people belong to from the
    members' index, as the API's list reads them (services/api/units.py): never a walk of every tenant's units.
    """
    u, m = units_rm.units, units_rm.unit_members
    cross = select(m.c.unit_id).where(m.c.member_tenant_id == tenant_id, m.c.tenant_id != tenant_id,
                                      m.c.left_at.is_(None))
    both = union_all(select(u).where(u.c.tenant_id == tenant_id), select(u).where(u.c.id.in_(cross))).subquery()
    query = select(both)
    if q:
        query = query.where(_contains(both.c.name, q))
    return pages.listed(conn, query.order_by(both.c.name, both.c.seq))


def _names(conn: Connection, ids: set[UUID]) -> dict[UUID, str]:
    if not ids:
        return {}
    p = people_rm.people
    return dict(conn.execute(select(p.c.id, p.c.full_name).where(p.c.id.in_(list(ids)))).tuples().all())


def _kinds_for(tenant_kind: str) -> list[tuple[str, str]]:
    # Every kind is offered, so that a kind the organization may not form is refused with its clause.
    fitting = [code for code, k in UNIT_KINDS.items() if tenant_kind in k.tenant_kinds]
    others = [code for code in UNIT_KINDS if code not in fitting]
    return [("", _("Choose…"))] + [(code, kind_name(code)) for code in fitting + others]


@blp.route(f"/{L}/units", methods=["GET", "POST"])
@pages.signed_in
def units(lang: str) -> Response:
    """The organization's units with kind, members, leader and term, plan status; the head forms a unit."""
    tid = g.person.tenant_id
    g.caller.reading(tid)
    rt = runtime()
    may_form = _may(tid, policy.FORM_UNIT)
    form = UnitForm(formdata=request.form if request.method == "POST" else None)
    form.kind.choices = _kinds_for(g.tenant.kind)
    subject = (form.subject.data or "").strip() if request.method == "POST" else ""
    with rt.engine.connect() as conn:
        people_choices = _people_choices(conn, tid, subject or None, request.form.getlist("member_ids"))
    form.member_ids.choices = [(pid, name) for pid, name, _r, _s in people_choices]
    status = 200
    if request.method == "POST" and request.form.get("section") == "show":
        g.caller.acting_for(policy.FORM_UNIT, tid)  # only the teachers of the subject are asked for: no command
    elif request.method == "POST":
        actor = g.caller.acting_for(policy.FORM_UNIT, tid)  # as the API
        status = 422
        if form.validate():
            try:
                member_ids = [UUID(v) for v in form.member_ids.data or []]
            except ValueError:
                form.member_ids.errors = [_("Choose the members from the list.")]
            else:
                try:
                    done = rt.platform.form_unit(_context(actor), tid, kind=form.kind.data, name=form.name.data,
                                                 subject=form.subject.data or None, member_ids=member_ids)
                except DomainError as error:
                    refuse(form, error, {"kind": "kind", "name": "name", "subject": "subject",
                                         "member_ids": "member_ids"}, "kind")
                else:
                    _settle(units_rm.read_model, done.position)
                    flash(_("The unit “%(name)s” is formed.", name=done.aggregate.name), "success")
                    return redirect(url_for("web_org.unit", lang=lang, uid=done.aggregate.id))
    q = pages.search_text()
    year = academic_year_of(runtime().today())
    with rt.engine.connect() as conn:
        found = search_units(conn, tid, q)
        rows = found.rows
        ids = [r.id for r in rows]
        members = units_rm.members_of(conn, ids) if ids else {}
        plans = plan_statuses(conn, ids, year)
        names = _names(conn, {r.leader_id for r in rows if r.leader_id})
    return pages.page("org/units.html", status, rows=rows, found=found, q=q, form=form,
                      may_form=may_form, members=members, plans=plans, names=names, year=year, today=runtime().today(),
                      filtered=bool(subject), many=len(people_choices) >= CHOICES, limit=CHOICES)


def _unit_row(conn: Connection, tid: UUID, uid: UUID) -> Any:
    row = units_rm.get_unit(conn, tid, uid)
    if row is None:
        raise NotFound("unit")
    return row


def unit_findings(conn: Connection, tenant_id: UUID, unit_id: UUID, today: date) -> list[ShownFinding]:
    """Return the compliance findings of one unit, as the dashboard tells them (services/web/findings.py)."""
    tenant = tenants_rm.get_tenant(conn, tenant_id)
    quarters = tenant.quarters if tenant is not None and tenant.quarters else [list(q) for q in DEFAULT_QUARTERS]
    facts = [f for f in compliance_facts(conn, tenant_id, today) if f.unit_id == unit_id]
    from flask_babel import format_date

    shown = []
    for finding in findings(facts, today, [tuple(q) for q in quarters]):
        what, fix = _told(finding.code, facts[0].members, UNIT_KINDS[facts[0].kind].minimum or 0)
        shown.append(ShownFinding(i18n.clause(finding.clause), finding.code, facts[0].name, what, fix,
                                  format_date(finding.since, "long")))
    return shown


def _leads(row: Any, person_id: UUID, today: date) -> bool:
    return bool(row.leader_id == person_id and row.leader_starts_on and row.leader_starts_on <= today
                < row.leader_ends_on)


@blp.route(f"/{L}/units/<uuid:uid>", methods=["GET", "POST"])
@pages.signed_in
def unit(lang: str, uid: UUID) -> Response:
    """One unit: members (add, remove), its leader, plans of the years, meetings held and its findings."""
    tid = g.person.tenant_id
    g.caller.reading(tid)
    rt = runtime()
    today = runtime().today()
    with rt.engine.connect() as conn:
        row = _unit_row(conn, tid, uid)
        members = units_rm.members_of(conn, [uid])[uid]
        people_choices = (_people_choices(conn, row.tenant_id, row.subject, request.form.getlist("person_id"))
                          if row.tenant_id == tid else [])
        member_ids = {m.person_id for m in members}
        member_names = _names(conn, member_ids)
    posted = request.form.get("section") if request.method == "POST" else None
    add = MemberForm(formdata=request.form if posted == "add_member" else None)
    add.person_id.choices = [("", _("Choose…"))] + [(pid, name) for pid, name, _r, _s in people_choices
                                                      if UUID(pid) not in member_ids]
    leader = LeaderForm(formdata=request.form if posted == "leader" else None,
                        person_id=str(row.leader_id) if row.leader_id else "", starts_on=today)
    leader.person_id.choices = [("", _("Choose…"))] + [(str(m.person_id), member_names.get(m.person_id, "?"))
                                                         for m in members]
    status = 200
    if posted is not None:
        # As the API: the action the form asks for; the service decides the unit's relations (p.14, p.30).
        actor = g.caller.acting_for({"add_member": policy.ADMIT_UNIT_MEMBER, "remove_member": policy.RELEASE_UNIT_MEMBER,
                                     "leader": policy.CHOOSE_UNIT_LEADER}.get(posted, policy.ADMIT_UNIT_MEMBER), tid)
        status = 422
        try:
            if posted == "add_member" and add.validate():
                done = rt.platform.add_member(_context(actor), tid, uid, UUID(add.person_id.data))
                message = _("The member is added.")
            elif posted == "remove_member":
                done = rt.platform.remove_member(_context(actor), tid, uid, _uuid(request.form.get("person_id")))
                message = _("The member has left the unit.")
            elif posted == "leader" and leader.validate():
                done = rt.platform.choose_leader(_context(actor), tid, uid, person_id=UUID(leader.person_id.data),
                                                 starts_on=leader.starts_on.data)
                message = _("The leader is recorded for one year.")
            else:
                done = None
        except ValueError:
            done = None
            add.person_id.errors = [_("Choose a person from the list.")]
        except NotFound:
            raise
        except DomainError as error:
            done = None
            if posted == "leader":
                refuse(leader, error, {"person_id": "person_id", "starts_on": "starts_on"}, "person_id")
            elif posted == "add_member":
                refuse(add, error, {}, "person_id")
            else:
                flash(told(error), "error")
                return redirect(url_for("web_org.unit", lang=lang, uid=uid))
        if done is not None:
            _settle(units_rm.read_model, done.position)
            flash(message, "success")
            return redirect(url_for("web_org.unit", lang=lang, uid=uid))
    with rt.engine.connect() as conn:
        leaders = units_rm.leaders_of(conn, uid)
        plans = units_rm.plans_of(conn, [uid])[uid]
        meetings, more_meetings = units_rm.list_meetings(conn, uid, limit=ROWS, after=0)
        names = _names(conn, member_ids | {x.person_id for x in leaders})
        shown = unit_findings(conn, row.tenant_id, uid, today) if row.tenant_id == tid else []
    year = academic_year_of(today)
    manages = row.tenant_id == tid and _may(tid, policy.ADMIT_UNIT_MEMBER)
    leads = _leads(row, g.person.id, today) or (row.tenant_id == tid and rules.DEPUTY_HEAD in g.person.roles)
    return pages.page("org/unit.html", status, row=row, members=members, names=names, leaders=leaders, plans=plans,
                      meetings=meetings, findings=shown, add=add, leader=leader, manages=manages, leads=leads,
                      year=year, today=today)


def _uuid(raw: str | None) -> UUID:
    try:
        return UUID(raw or "")
    except ValueError:
        raise NotFound("member") from None


# The annual plan (p.29)

class ItemForm(SubForm):
    direction = SelectField(_l("Direction"), validate_choice=False)
    title = StringField(_l("What is to be done"), filters=[_storable], validators=[Length(max=1000)])
    due = DateField(_l("Due"), validators=[Optional()])


class PlanForm(forms.Form):
    section = HiddenField(default="save")
    items = FieldList(FormField(ItemForm), min_entries=1, max_entries=300)


class AgendaForm(SubForm):
    direction = SelectField(_l("Direction"), validate_choice=False)
    title = StringField(_l("Agenda item"), filters=[_storable], validators=[Length(max=1000)])


class MeetingForm(forms.Form):
    held_on = DateField(_l("Held on"), validators=[DataRequired(_l("Enter the date the meeting was held."))])
    agenda = FieldList(FormField(AgendaForm), min_entries=1, max_entries=100)
    minutes = TextAreaField(_l("Minutes"), filters=[_storable], validators=[Length(max=100_000)])
    attendee_ids = SelectMultipleField(_l("Attended"), widget=ListWidget(prefix_label=False),
                                       option_widget=CheckboxInput(), validate_choice=False)


def direction_choices(tenant_kind: str) -> list[tuple[str, str]]:
    """Return the directions of the organization's level and of the methodical units (p.13), in the page's
    language, each with its clause as the language writes it."""
    level = directions.LEVEL_OF_TENANT_KIND[tenant_kind]
    shown = [("", _("Choose a direction…"))]
    for d in directions.directions_for(level) + directions.directions_for(directions.UNIT):
        text = d.text(g.lang)
        shown.append((d.code, f"{i18n.clause(d.code)} — {text[:110]}{'…' if len(text) > 110 else ''}"))
    return shown


def _filled(rows: list[Any], *names: str) -> list[tuple[int, dict[str, Any]]]:
    """Return the rows a person filled in (blank rows of the form are left out), with their place."""
    found = []
    for index, entry in enumerate(rows):
        values = {n: getattr(entry.form, n).data for n in names}
        if any(v not in (None, "") for v in values.values()):
            found.append((index, values))
    return found


def _blame_row(rows: list[Any], filled: list[tuple[int, dict[str, Any]]], error: DomainError, tenant_kind: str,
               bounds: tuple[date, date] | None = None) -> bool:
    """Put an item's refusal beside the row that caused it (the domain names the field, not the row); return
    False if no single row did."""
    field = (error.field or "").removeprefix("items.")
    for index, values in filled:
        if field == "due":
            bad = values.get("due") is not None and bounds is not None and not bounds[0] <= values["due"] <= bounds[1]
        elif field in ("direction", "title"):
            try:
                check_item({"direction": values.get("direction") or "", "title": values.get("title") or ""},
                           tenant_kind, ("direction", "title"))
                bad = False
            except DomainError as found:
                bad = (found.field or "").removeprefix("items.") == field
        else:
            return False
        if bad:
            sub = getattr(rows[index].form, field)
            sub.errors = [*(sub.errors or []), told(error)]
            return True
    return False


@blp.route(f"/{L}/units/<uuid:uid>/plans/<year>", methods=["GET", "POST"])
@pages.signed_in
def plan(lang: str, uid: UUID, year: str) -> Response:
    """The unit's annual plan: the leader or deputy head drafts it, the head approves it (p.29)."""
    tid = g.person.tenant_id
    g.caller.reading(tid)
    try:
        first, last = check_academic_year(year[:20])
    except DomainError:
        raise NotFound("plan") from None
    rt = runtime()
    today = runtime().today()
    with rt.engine.connect() as conn:
        row = _unit_row(conn, tid, uid)
        saved = units_rm.get_plan(conn, uid, year)
    tenant_kind = rt.platform.get_tenant(row.tenant_id).kind
    posted = request.form.get("section") if request.method == "POST" else None
    items = list(saved.items) if saved is not None else []
    form = PlanForm(formdata=request.form if posted == "save" else None,
                    data={"items": [{"direction": i.get("direction"), "title": i.get("title"),
                                     "due": date.fromisoformat(i["due"]) if i.get("due") else None} for i in items]})
    if posted != "save":
        for _blank in range(3):  # rows to add items in, without a script
            form.items.append_entry()
    choices = direction_choices(tenant_kind)
    for entry in form.items:
        entry.form.direction.choices = choices
    status = 200
    plan_error = None
    if posted == "save":
        actor = g.caller.acting_for(policy.DRAFT_PLAN, tid)
        status = 422
        if form.validate():
            filled = _filled(form.items.entries, "direction", "title", "due")
            try:
                done = rt.platform.draft_plan(_context(actor), tid, uid, academic_year=year, items=[
                    {"direction": v["direction"] or "", "title": (v["title"] or "").strip(), "due": v["due"]}
                    for _i, v in filled])
            except NotFound:
                raise
            except DomainError as error:
                if not _blame_row(form.items.entries, filled, error, tenant_kind, (first, last)):
                    plan_error = told(error)
            else:
                _settle(units_rm.read_model, done.position)
                flash(_("The plan is saved as a draft; the head approves it."), "success")
                return redirect(url_for("web_org.plan", lang=lang, uid=uid, year=year))
        while len(form.items.entries) < len(_filled(form.items.entries, "direction", "title", "due")) + 2:
            form.items.append_entry()
            form.items.entries[-1].form.direction.choices = choices
    elif posted == "approve":
        actor = g.caller.acting_for(policy.APPROVE_PLAN, tid)
        try:
            done = rt.platform.approve_plan(_context(actor), tid, uid, year)
        except NotFound:
            raise
        except DomainError as error:
            status, plan_error = status_of(error), told(error)
        else:
            _settle(units_rm.read_model, done.position)
            flash(_("The plan is approved."), "success")
            return redirect(url_for("web_org.plan", lang=lang, uid=uid, year=year))
    elif posted is not None:
        return pages.error_page(400, _("The request was not understood"), _("Nothing was changed. Go back and try again."))
    may_edit = (saved is None or saved.status != "approved") and (
        _leads(row, g.person.id, today) or (row.tenant_id == tid and rules.DEPUTY_HEAD in g.person.roles))
    may_approve = saved is not None and saved.status == "draft" and row.tenant_id == tid \
        and rules.HEAD in g.person.roles
    labels = dict(choices)
    with rt.engine.connect() as conn:
        approver = _names(conn, {saved.approved_by}) if saved is not None and saved.approved_by else {}
    return pages.page("org/plan.html", status, row=row, year=year, saved=saved, form=form, may_edit=may_edit,
                      may_approve=may_approve, plan_error=plan_error, labels=labels, first=first, last=last,
                      approver=approver)


@blp.route(f"/{L}/units/<uuid:uid>/meetings/new", methods=["GET", "POST"])
@pages.signed_in
def meeting(lang: str, uid: UUID) -> Response:
    """Record a meeting the unit held: when, the agenda with directions, the minutes, who attended."""
    tid = g.person.tenant_id
    g.caller.reading(tid)
    rt = runtime()
    with rt.engine.connect() as conn:
        row = _unit_row(conn, tid, uid)
        members = units_rm.members_of(conn, [uid])[uid]
        names = _names(conn, {m.person_id for m in members})
    tenant_kind = rt.platform.get_tenant(row.tenant_id).kind
    form = MeetingForm(formdata=request.form if request.method == "POST" else None, held_on=runtime().today())
    if request.method != "POST":
        for _blank in range(2):
            form.agenda.append_entry()
    choices = direction_choices(tenant_kind)
    for entry in form.agenda:
        entry.form.direction.choices = choices
    form.attendee_ids.choices = [(str(m.person_id), names.get(m.person_id, "?")) for m in members]
    status = 200
    agenda_error = None
    if request.method == "POST":
        actor = g.caller.acting_for(policy.HOLD_MEETING, tid)
        status = 422
        if form.validate():
            filled = _filled(form.agenda.entries, "direction", "title")
            try:
                attendees = [UUID(v) for v in form.attendee_ids.data or []]
            except ValueError:
                attendees = None
                form.attendee_ids.errors = [_("Choose the attendees from the list.")]
            if attendees is not None and not attendees:
                form.attendee_ids.errors = [_("Mark the members who attended.")]
            elif not filled:
                agenda_error = _("Write at least one agenda item.")
            elif attendees:
                try:
                    done = rt.platform.hold_meeting(_context(actor), tid, uid, held_on=form.held_on.data,
                                                    agenda=[{"direction": v["direction"] or "",
                                                             "title": (v["title"] or "").strip()}
                                                            for _i, v in filled],
                                                    minutes=form.minutes.data or "", attendee_ids=attendees)
                except NotFound:
                    raise
                except DomainError as error:
                    field = error.field or ""
                    if field in ("held_on", "attendee_ids"):
                        refuse(form, error, {"held_on": "held_on", "attendee_ids": "attendee_ids"}, "held_on")
                    elif not _blame_row(form.agenda.entries, filled, error, tenant_kind):
                        agenda_error = told(error)
                else:
                    _settle(units_rm.read_model, done.position)
                    flash(_("The meeting of %(day)s is recorded.", day=pages.format_date(form.held_on.data, "long")),
                          "success")
                    return redirect(url_for("web_org.unit", lang=lang, uid=uid))
    today = runtime().today()
    leads = _leads(row, g.person.id, today) or (row.tenant_id == tid and rules.DEPUTY_HEAD in g.person.roles)
    return pages.page("org/meeting.html", status, row=row, form=form, agenda_error=agenda_error, leads=leads)


# The dashboard's part of this module: my units; plans waiting for approval

@blp.app_template_global()
def org_dashboard() -> dict[str, Any]:
    """Return what the dashboard shows of units: the person's own units, and for the head and deputy head the
    plans waiting for approval."""
    person = g.get("person")
    if person is None:
        return {"mine": [], "waiting": None}
    u, m, p = units_rm.units, units_rm.unit_members, units_rm.plans
    today = runtime().today()
    with runtime().engine.connect() as conn:
        # From the members' index by person and the units' by tenant: no walk of every tenant's units or plans.
        member_of = select(m.c.unit_id).where(m.c.person_id == person.id, m.c.left_at.is_(None))
        leads = select(u.c.id).where(u.c.tenant_id == person.tenant_id, u.c.leader_id == person.id)
        mine = list(conn.execute(select(u).where(u.c.id.in_(member_of.union(leads))).order_by(u.c.name)
                                 .limit(ROWS)))
        waiting = None
        if set(_MANAGERS) & set(person.roles):
            waiting = list(conn.execute(
                select(p.c.unit_id, p.c.academic_year, p.c.drafted_at, u.c.name)
                .select_from(u.join(p, p.c.unit_id == u.c.id))
                .where(u.c.tenant_id == person.tenant_id, p.c.status == "draft")
                .order_by(p.c.drafted_at).limit(ROWS)))
        statuses = plan_statuses(conn, [r.id for r in mine], academic_year_of(today))
    return {"mine": [(r, _leads(r, person.id, today)) for r in mine], "waiting": waiting, "statuses": statuses,
            "year": academic_year_of(today)}
