"""The pages of educational-methodical unions (УМО): the unions of a person's organization, founding one, its
members and chair, adopting a decision, and the live delivery board of its circulars (p.22–24, p.33–35).

The pages call the same application services and read models as the API's unions blueprint, and check who may
act exactly as it does (services/api/unions.py).
"""

from __future__ import annotations

from collections import Counter
from datetime import date
from typing import Any
from uuid import UUID

from flask import Blueprint, Response, flash, g, jsonify, redirect, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import func, or_, select
from wtforms import DateField, HiddenField, RadioField, SelectField, SelectMultipleField, StringField, TextAreaField, widgets
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length

from domain import directions, policy, rules
from domain.base import DomainError, NotFound, NotPermitted
from domain.unions import ACKNOWLEDGED, CIRCULAR_STATUSES, DELIVERED, EXTERNAL_KINDS, FAILED, ISSUED, RESPONSES, Union
from projections import circulars as circulars_rm
from projections import people as people_rm
from projections import tenants as tenants_rm
from projections import unions as unions_rm
from services.api.common import context, runtime
from services.unions import COORDINATOR_ROLES, involves
from services.web.forms import Form
from services.web import i18n, pages
from services.web.pages import L, not_found, page, signed_in

blp = Blueprint("web_unions", __name__, template_folder="templates")


def like_the_foundations(bp: Blueprint) -> Blueprint:
    """Give a blueprint of pages what the foundation's pages have: the signed-in person, the CSRF check, the
    security headers, the language switch that keeps the page, and the error pages in the page's language."""
    bp.before_request(pages.identify)
    bp.after_request(pages.protect)
    bp.register_error_handler(Exception, pages.web_error)

    @bp.context_processor
    def keep_the_page() -> dict[str, Any]:
        def switch_to(language: str) -> str:
            target = url_for(request.endpoint or "web.dashboard", **{**(request.view_args or {}), "lang": language})
            return target + (f"?{request.query_string.decode()}" if request.query_string else "")
        return {"switch_to": switch_to}

    return bp


like_the_foundations(blp)
MEMBER_KINDS = (rules.TVET_COLLEGE, rules.POSTSECONDARY_COLLEGE, rules.UNIVERSITY)


def status_name(status: str) -> str:
    """Return a circular's status in the page's language."""
    return {ISSUED: _("issued"), DELIVERED: _("delivered"), ACKNOWLEDGED: _("acknowledged"),
            FAILED: _("delivery failed")}.get(status, status)


def response_name(response: str | None) -> str:
    """Return a member's response to a circular in the page's language."""
    if not response:
        return ""
    return {"noted": _("noted"), "will_adopt": _("will adopt"), "adapted": _("adapted"),
            "declined": _("declined")}.get(response, response)


def member_kind_name(kind: str) -> str:
    """Return the kind of a union's member in the page's language (p.24)."""
    return {"organization": _("education organization"), "employer": _("employer"),
            "social_partner": _("social partner")}.get(kind, kind)


def direction_text(d: directions.Direction) -> str:
    """Return a direction's text in the page's language: English label, else the Order's own (Russian) text."""
    if g.get("lang") == "en":
        return d.label_en
    if g.get("lang") == "kk":
        return getattr(d, "text_kk", None) or d.text_ru
    return d.text_ru


UNION_DIRECTIONS = [d for d in directions.DIRECTIONS if d.level == directions.UNION]


@blp.app_context_processor
def union_helpers() -> dict[str, Any]:
    """What the union templates use, the dashboard's partial included."""
    return {"status_name": status_name, "response_name": response_name, "member_kind_name": member_kind_name,
            "chaired_decisions": chaired_decisions}


def _specialty_codes(raw: str) -> list[str]:
    return [c for c in raw.replace(",", " ").split() if c]


class MultiCheckboxField(SelectMultipleField):
    widget = widgets.ListWidget(prefix_label=False)
    option_widget = widgets.CheckboxInput()


class FoundForm(Form):
    name = StringField(_l("Name of the union"), validators=[DataRequired(_l("Name the union.")), Length(max=500)])
    sector = StringField(_l("Sector"), validators=[DataRequired(_l("Name the sector.")), Length(max=300)])
    specialties = StringField(_l("Specialty codes (separated by spaces or commas)"), validators=[
        DataRequired(_l("Name at least one specialty code.")), Length(max=3300)])
    coordinator_id = SelectField(_l("Coordinating regional education department (p.22)"), validate_choice=False)


class AdmitForm(Form):
    section = HiddenField(default="organization")
    tenant_id = SelectField(_l("Education organization"), validate_choice=False)
    specialties = StringField(_l("Specialty codes (separated by spaces or commas)"), validators=[
        DataRequired(_l("Name at least one specialty code.")), Length(max=3300)])


class AdmitExternalForm(Form):
    section = HiddenField(default="external")
    name = StringField(_l("Name of the employer or social partner"), validators=[
        DataRequired(_l("Enter the name.")), Length(max=500)])
    kind = SelectField(_l("Kind of member"), validate_choice=False)
    specialties = StringField(_l("Specialty codes (separated by spaces or commas)"), validators=[
        DataRequired(_l("Name at least one specialty code.")), Length(max=3300)])


class ChairForm(Form):
    section = HiddenField(default="chair")
    person_id = SelectField(_l("Chair (a person of a member organization)"), validate_choice=False)
    council_decision_number = StringField(_l("Number of the council's decision"), validators=[
        DataRequired(_l("Enter the number of the council's decision.")), Length(max=100)])
    council_decision_date = DateField(_l("Date of the council's decision"), validators=[
        DataRequired(_l("Enter the date of the council's decision."))])


class DecisionForm(Form):
    title = StringField(_l("Title"), validators=[DataRequired(_l("Enter the title.")), Length(max=500)])
    text = TextAreaField(_l("Text of the decision"), validators=[
        DataRequired(_l("Enter the text of the decision.")), Length(max=50_000)])
    direction = RadioField(_l("Direction of work (p.33)"), validate_choice=False)
    specialties = MultiCheckboxField(_l("Specialties concerned"), validate_choice=False)


def options(pairs: list[tuple[str, str]]) -> list[SelectChoice]:
    """Return a select's options (value, label), with an empty first one that chooses nothing."""
    return [SelectChoice("", "—")] + [SelectChoice(value, label) for value, label in pairs]


def _uuid(value: str | None) -> UUID | None:
    try:
        return UUID(str(value)) if value else None
    except ValueError:
        return None


def _union_or_404(nid: UUID) -> Union:
    """Return the union if the person may know more of it than its public facts; else the 404 (as for a missing
    one), as the API's `_known_union` does."""
    # The page only reads it: the aggregate cache's own instance, not a deep copy (a thousand members' union: 5 ms).
    union = runtime().platform.load(nid, Union, "union", read_only=True)
    if not involves(union, g.person.tenant_id, g.person.id):
        raise NotFound("union")
    return union


def _sees_every_member(union: Union) -> bool:
    """The chair and the coordinator see every member's circular; a member organization its own (p.34)."""
    return union.is_chair(g.person.id) or (g.person.tenant_id == union.coordinator_id
                                           and bool(set(g.person.roles) & set(COORDINATOR_ROLES)))


def _is_coordinator(union: Union) -> bool:
    return g.person.tenant_id == union.coordinator_id and bool(set(g.person.roles) & set(COORDINATOR_ROLES))


def refusal_text(error: DomainError) -> str:
    """Say a refusal in the page's language with the clause of the Order that refuses it, as the API says it
    (services/refusals.py)."""
    return i18n.refusal(error)


def _refused(form: Form, error: DomainError, fields: dict[str, str] | None = None) -> str | None:
    """Put an Order's refusal beside its field (with the clause); return it as a form-wide message otherwise."""
    message = refusal_text(error)
    name = (fields or {}).get(error.field or "", error.field or "")
    target = getattr(form, name, None) if name else None
    if target is not None and hasattr(target, "errors"):
        target.errors = list(target.errors or []) + [message]
        return None
    return message


class _Stop(Exception):
    """A form check of this module failed; the form is shown again."""


# The list of unions and founding one (p.22, p.24)

def _my_unions(conn: Any, tenant_id: UUID, person_id: UUID, q: str) -> pages.Listing:
    """Return the page asked for of the unions the organization belongs to, coordinates or the person chairs."""
    u, m = unions_rm.unions, unions_rm.union_members
    query = select(u).where(or_(u.c.coordinator_id == tenant_id, u.c.chair["person_id"].astext == str(person_id),
                                u.c.union_id.in_(select(m.c.union_id).where(m.c.tenant_id == tenant_id))))
    if q:
        query = query.where(func.lower(u.c.name).contains(q.casefold()))  # lower() folds Cyrillic on UTF-8
    return pages.listed_by(conn, query, u.c.seq, "seq")


def _departments(conn: Any) -> list[tuple[str, str]]:
    t = tenants_rm.tenants
    rows = conn.execute(select(t.c.id, t.c.name).where(t.c.kind == rules.REGIONAL_DEPARTMENT).order_by(t.c.name))
    return [(str(r.id), r.name) for r in rows]


@blp.route(f"/{L}/unions", methods=["GET", "POST"])
@signed_in
def unions(lang: str) -> Response:
    """The unions of the person's organization; the head founds one."""
    rt = runtime()
    may_found = bool({rules.HEAD, rules.DEPUTY_HEAD} & set(g.person.roles))
    form = FoundForm(formdata=request.form if request.method == "POST" else None)
    with rt.engine.connect() as conn:
        form.coordinator_id.choices = options(_departments(conn))
    status, error = 200, None
    if request.method == "POST":
        if not may_found:
            return not_found()
        status = 422
        if form.validate():
            try:
                actor = g.caller.acting_for(policy.FOUND_UNION, None)
                coordinator = _uuid(form.coordinator_id.data)
                if coordinator is None:
                    form.coordinator_id.errors = [_("Choose the regional department that coordinates the union (p.22).")]
                    raise _Stop
                done = rt.platform.found_union(context(actor), name=form.name.data, sector=form.sector.data,
                                               specialties=_specialty_codes(form.specialties.data),
                                               coordinator_id=coordinator)
            except _Stop:
                pass
            except DomainError as refusal:
                error = _refused(form, refusal)
            else:
                flash(_("The union is founded; your organization is its first member."), "success")
                return redirect(url_for("web_unions.union", lang=lang, nid=done.aggregate.id,
                                        at=done.position))
    q = pages.search_text()
    _wait(request.args.get("at"), unions_rm.read_model)
    with rt.engine.connect() as conn:
        found = _my_unions(conn, g.person.tenant_id, g.person.id, q)
    return page("unions/list.html", status, found=found, form=form, may_found=may_found, error=error, q=q)


def _int(raw: str | None) -> int | None:
    if raw is None or not raw.isdigit() or len(raw) > 18:
        return None
    return int(raw)


def _wait(raw: str | None, read_model: Any) -> None:
    """After a command of this person, wait (bounded) until the read model shows it: POST-redirect-GET reads
    its own write, as the API's X-Min-Position does."""
    from projections.base import wait_for_position

    position = _int(raw)
    if position is None:
        return
    rt = runtime()
    try:
        wait_for_position(rt.engine, read_model, position, rt.settings.min_position_timeout)
    except DomainError:
        pass  # the page shows what the read model has; the refresh link shows the rest


# One union: members, admitting, the chair (p.24, p.35)

def _organizations(conn: Any, union: Union) -> list[tuple[str, str]]:
    t = tenants_rm.tenants
    rows = conn.execute(select(t.c.id, t.c.name).where(t.c.kind.in_(MEMBER_KINDS)).order_by(t.c.name))
    return [(str(r.id), r.name) for r in rows if union.member_for_tenant(r.id) is None]


def _chair_candidates(conn: Any, union: Union) -> list[tuple[str, str]]:
    p = people_rm.people
    tenant_ids = [m.tenant_id for m in union.members.values() if m.tenant_id is not None]
    rows = conn.execute(select(p.c.id, p.c.full_name, p.c.tenant_id).where(
        p.c.tenant_id.in_(tenant_ids), p.c.status == "active").order_by(p.c.full_name))
    names = {m.tenant_id: m.name for m in union.members.values()}
    return [(str(r.id), f"{r.full_name} — {names.get(r.tenant_id, '')}") for r in rows]


@blp.route(f"/{L}/unions/<uuid:nid>", methods=["GET", "POST"])
@signed_in
def union(lang: str, nid: UUID) -> Response:
    """A union's members and chair; its chair or coordinator admits members; the coordinator records the chair."""
    rt = runtime()
    union = _union_or_404(nid)
    may_admit = union.is_chair(g.person.id) or _is_coordinator(union)
    coordinator = _is_coordinator(union)
    posted = request.form.get("section") if request.method == "POST" else None
    admit = AdmitForm(formdata=request.form if posted == "organization" else None)
    external = AdmitExternalForm(formdata=request.form if posted == "external" else None)
    chair = ChairForm(formdata=request.form if posted == "chair" else None)
    external.kind.choices = [SelectChoice(k, member_kind_name(k)) for k in EXTERNAL_KINDS]
    with rt.engine.connect() as conn:
        admit.tenant_id.choices = options(_organizations(conn, union))
        chair.person_id.choices = options(_chair_candidates(conn, union))
    errors: dict[str, str | None] = {}
    if posted is not None:
        if posted not in ("organization", "external", "chair") or (posted == "chair" and not coordinator) or (
                posted != "chair" and not may_admit):
            return not_found()  # who may not act on the union is shown nothing more of it than a reader is
        form = {"organization": admit, "external": external, "chair": chair}[posted]
        if form.validate():
            try:
                if posted == "chair":
                    person_id = _uuid(chair.person_id.data)
                    if person_id is None:
                        chair.person_id.errors = [_("Choose the person the council approved (p.35).")]
                        raise _Stop
                    actor = g.caller.acting_for(policy.RECORD_UNION_CHAIR, None)
                    done = rt.platform.approve_chair(context(actor), nid, person_id=person_id,
                                                     number=chair.council_decision_number.data,
                                                     dated=chair.council_decision_date.data)
                    position, message = done.position, _("The chair is recorded with the council's decision.")
                else:
                    actor = g.caller.acting_for(policy.ADMIT_UNION_MEMBER, None)
                    codes = _specialty_codes(form.specialties.data)
                    if posted == "organization":
                        tenant_id = _uuid(admit.tenant_id.data)
                        if tenant_id is None:
                            admit.tenant_id.errors = [_("Choose the organization to admit.")]
                            raise _Stop
                        done = rt.platform.admit_union_member(context(actor), nid, specialties=codes,
                                                              tenant_id=tenant_id)
                    else:
                        done = rt.platform.admit_union_member(context(actor), nid, specialties=codes,
                                                              name=external.name.data, kind=external.kind.data)
                    position, message = done.position, _("The member is admitted.")
            except _Stop:
                pass
            except NotPermitted:
                return not_found()
            except DomainError as refusal:
                errors[posted] = _refused(form, refusal, {"council_decision.date": "council_decision_date",
                                                          "council_decision.number": "council_decision_number"})
            else:
                flash(message, "success")
                return redirect(url_for("web_unions.union", lang=lang, nid=nid, at=position))
    _wait(request.args.get("at"), unions_rm.read_model)
    with rt.engine.connect() as conn:
        decisions, _next = unions_rm.list_decisions(conn, nid, limit=500, after=0)
    status = 422 if posted else 200
    return page("unions/union.html", status, union=union, admit=admit, external=external, chair_form=chair,
                may_admit=may_admit, coordinator=coordinator, is_chair=union.is_chair(g.person.id),
                decisions=list(reversed(decisions)), errors=errors)


# Adopting a decision (p.33, p.34)

def _circulars_for(union: Union, codes: list[str]) -> int:
    """How many circulars a decision for these specialties issues: one per member organization concerned (p.34);
    employers and social partners have no inbox on the platform."""
    return sum(1 for m in union.members.values() if m.tenant_id is not None and m.concerned_by(codes))


@blp.route(f"/{L}/unions/<uuid:nid>/decisions/new", methods=["GET", "POST"])
@signed_in
def new_decision(lang: str, nid: UUID) -> Response:
    """The chair adopts a decision in a direction of p.33 for some specialties; the page counts its circulars."""
    rt = runtime()
    union = _union_or_404(nid)
    if not union.is_chair(g.person.id):
        return not_found()  # only the chair adopts (p.35): to others this page does not exist
    form = DecisionForm(formdata=request.form if request.method == "POST" else None,
                        specialties=list(union.specialties))
    form.direction.choices = [SelectChoice(d.code, f"{i18n.clause(d.code)} — {direction_text(d)}")
                              for d in UNION_DIRECTIONS]
    form.specialties.choices = [SelectChoice(c, c) for c in union.specialties]
    error, status = None, 200
    if request.method == "POST" and "count" not in request.form:
        status = 422
        if form.validate():
            try:
                if not form.direction.data:
                    form.direction.errors = [_("Choose the direction of p.33 the decision serves.")]
                    raise _Stop
                actor = g.caller.acting_for(policy.ADOPT_DECISION, None)
                adopted = rt.platform.adopt_decision(context(actor), nid, title=form.title.data,
                                                     text=form.text.data, direction=form.direction.data,
                                                     specialties=list(form.specialties.data or []))
            except _Stop:
                pass
            except DomainError as refusal:
                error = _refused(form, refusal)
            else:
                flash(_("The decision is adopted: %(count)s circular(s) issued.",
                        count=adopted.decision.circulars_expected), "success")
                return redirect(url_for("web_unions.decision", lang=lang, nid=nid, decid=adopted.decision.id,
                                        at=adopted.position))
    expected = _circulars_for(union, list(form.specialties.data or []))
    return page("unions/decision_new.html", status, union=union, form=form, error=error, expected=expected)


# The delivery board (p.34)

BOARD_COLUMNS = ("id", "recipient_name", "number", "status", "response", "note", "delivered_at", "acknowledged_at",
                 "error")


def _board(union: Union, decid: UUID) -> tuple[Any, list[dict[str, Any]], dict[str, int]]:
    """Return the decision, a row per member organization's circular, and the counts by status; 404 if unknown."""
    scope = None if _sees_every_member(union) else g.person.tenant_id
    with runtime().engine.connect() as conn:
        row = unions_rm.get_decision(conn, union.id, decid)
        if row is None:
            raise NotFound("decision")
        circulars = circulars_rm.of_decisions(conn, [row.id], scope, BOARD_COLUMNS)[row.id]
    # A row per member, a thousand and more: each word is translated once, each minute formatted once (a
    # translation and a date's formatting a row were 80% of the board's time).
    statuses = {s: status_name(s) for s in CIRCULAR_STATUSES}
    responses = {r: response_name(r) for r in RESPONSES} | {None: ""}
    moment = pages.minute_formatter("short")
    rows = [{"id": str(c.id), "member": c.recipient_name, "number": c.number, "status": c.status,
             "status_text": statuses.get(c.status) or status_name(c.status),
             "response": responses[c.response] if c.response in responses else response_name(c.response),
             "note": c.note or "", "delivered_at": moment(c.delivered_at), "acknowledged_at": moment(c.acknowledged_at),
             "error": c.error or ""} for c in circulars]
    counts = Counter(c.status for c in circulars)
    return row, rows, {s: counts.get(s, 0) for s in CIRCULAR_STATUSES} | {"expected": len(circulars)}


def counts_text(counts: dict[str, int]) -> str:
    """Say how far the delivery of a decision's circulars has got, in the page's language."""
    return _("Circulars: %(expected)s; delivered: %(delivered)s; acknowledged: %(acknowledged)s; failed: "
             "%(failed)s.", expected=counts["expected"], delivered=counts[DELIVERED] + counts[ACKNOWLEDGED],
             acknowledged=counts[ACKNOWLEDGED], failed=counts[FAILED])


@blp.route(f"/{L}/unions/<uuid:nid>/decisions/<uuid:decid>")
@signed_in
def decision(lang: str, nid: UUID, decid: UUID) -> Response:
    """A decision and the delivery board: each member's circular, its status and response, live."""
    union = _union_or_404(nid)
    _wait(request.args.get("at"), circulars_rm.read_model)
    row, rows, counts = _board(union, decid)
    direction = next((d for d in UNION_DIRECTIONS if d.code == row.direction), None)
    return page("unions/decision.html", union=union, decision=row, rows=rows, counts_text=counts_text(counts),
                direction=direction_text(direction) if direction else row.direction,
                is_chair=union.is_chair(g.person.id))


@blp.route(f"/{L}/unions/<uuid:nid>/decisions/<uuid:decid>/board.json")
@signed_in
def board(lang: str, nid: UUID, decid: UUID) -> Response:
    """The delivery board's rows as JSON, for the page's script to update itself."""
    union = _union_or_404(nid)
    _row, rows, counts = _board(union, decid)
    response = jsonify({"rows": rows, "counts": counts, "counts_text": counts_text(counts)})
    response.headers["Cache-Control"] = "no-store"
    return response


@blp.route(f"/{L}/unions/<uuid:nid>/decisions/<uuid:decid>/circulars/<uuid:cid>/retry", methods=["POST"])
@signed_in
def retry(lang: str, nid: UUID, decid: UUID, cid: UUID) -> Response:
    """Put a failed circular back to be delivered (the chair), through the service the API's retry route calls."""
    union = _union_or_404(nid)
    actor = g.caller.acting_for(policy.RETRY_CIRCULAR, None)
    try:
        done = runtime().platform.retry_circular(context(actor), nid, decid, cid)
    except (NotPermitted, NotFound):
        return not_found()
    except DomainError:
        status = runtime().platform.get_circular(cid).status
        flash(_("Only a failed circular is retried; this one is %(status)s.", status=status_name(status)), "error")
        return redirect(url_for("web_unions.decision", lang=lang, nid=union.id, decid=decid))
    flash(_("The circular is put back to be delivered."), "success")
    return redirect(url_for("web_unions.decision", lang=lang, nid=nid, decid=decid, at=done.position))


# The dashboard's partial: a chair's latest decisions

def chaired_decisions(limit: int = 5) -> list[dict[str, Any]]:
    """Return the latest decisions of the unions the signed-in person chairs, with delivered/acknowledged counts."""
    person = g.get("person")
    if person is None:
        return []
    u, d, c = unions_rm.unions, unions_rm.decisions, circulars_rm.circulars
    with runtime().engine.connect() as conn:
        rows = list(conn.execute(
            select(d.c.id, d.c.union_id, d.c.number, d.c.title, d.c.adopted_on, d.c.circulars_expected,
                   u.c.name.label("union_name"))
            .join(u, u.c.union_id == d.c.union_id)
            .where(u.c.chair["person_id"].astext == str(person.id))
            .order_by(d.c.seq.desc()).limit(limit)))
        counts: dict[UUID, Counter[str]] = {r.id: Counter() for r in rows}
        if rows:
            for cid, status in conn.execute(select(c.c.decision_id, c.c.status).where(
                    c.c.decision_id.in_(list(counts)))):
                counts[cid][status] += 1
    return [{"row": r, "delivered": counts[r.id][DELIVERED] + counts[r.id][ACKNOWLEDGED],
             "acknowledged": counts[r.id][ACKNOWLEDGED]} for r in rows]


@blp.app_template_filter("to_date")
def to_date(value: str | date) -> date:
    """Turn a stored YYYY-MM-DD into a date, for format_date (a date stays as it is)."""
    return value if isinstance(value, date) else date.fromisoformat(value)
