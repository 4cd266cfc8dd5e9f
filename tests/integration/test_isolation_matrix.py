"""Tenant isolation matrix: every route the service answers, for every role of tenant A, against the objects of
tenant B and of a union A does not belong to (api.md, Conventions: "Anything belonging to another tenant, or that
the caller may not know exists: 404, exactly as for a missing id"; architecture.md, "Tenancy and access").

How to read the table (ROUTES): each (path, method) with path parameters names, for each parameter, which of B's
objects fills it (a key of World.b), who may ever do this action (`may`, by role), a plausible valid body (so that
no request is refused for its body before the ownership check), and for reads the owner whose credential reads the
same object with 200 (the control that proves every 404 is about isolation, not about a missing object).

Each request is sent three ways where the path allows it:
  * foreign: every parameter filled with B's objects (B's tenant, B's union);
  * own-tenant: the caller's own {tid} with B's objects below it (/tenants/A/people/{B's person});
  * own-union: A's own union with B's decision, member or circular below it.
and each is compared with the same request where B's ids are replaced by fresh random ids (missing objects).

The rule for 403 (decided here): a foreign object answers 404. 403 is accepted only when the caller's roles can
never do this action anywhere (none of them is in the route's `may`) AND the answer is the very same (status,
detail, clause, field names) as for a missing id, so that it reveals nothing. Anything else is a leak, as is a 2xx,
a 5xx, a body that is not problem+json, or any id, BIN, name, title or text of B anywhere in the body or headers.
"""

from __future__ import annotations

import json
import re
import secrets
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

import pytest
from support import Tour, platform_today
from unions_support import WELDING, delivery, ok, smtp  # noqa: F401 - fixtures

from domain import rules
from domain.units import academic_year_of

API = "/api/v1"
T = f"{API}/tenants"
PROBLEM = "application/problem+json"
PDF_BYTES = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\n%%EOF\n"
PARAM = re.compile(r"<(?:[^:<>]+:)?([^<>]+)>")
COMMANDS = ("POST", "PUT", "PATCH", "DELETE")
PEOPLE_ROLES = tuple(r for r in rules.ROLES if r != rules.AUDITOR)  # auditors act on nothing (services/api)


def _today() -> date:
    return platform_today()


# The world: A (the callers) and B (the foreign objects)

@dataclass
class World:
    """Tenant A's people (the callers) and tenant B's objects (the targets)."""

    # A's callers: name -> (their tenant, their roles, their Authorization header)
    callers: dict[str, tuple[str, tuple[str, ...], dict[str, str]]] = field(default_factory=dict)
    a: dict[str, str] = field(default_factory=dict)
    b: dict[str, Any] = field(default_factory=dict)
    owners: dict[str, dict[str, str]] = field(default_factory=dict)  # B's credentials, for the controls
    secrets: set[str] = field(default_factory=set)  # every id, BIN and text of B
    private: set[str] = field(default_factory=set)  # the same less a union's public facts (api.md, Unions)


def build(client: Any, tour: Tour, deliver: Any) -> World:
    """Build A and B through the API, deliver B's circulars, and wait until every read model has caught up."""
    w = World()

    def post(path: str, headers: dict[str, str], body: Any = None, status: int = 201) -> Any:
        return ok(client.post(path, headers=headers, json=body), status)

    tag = f"bpriv{secrets.token_hex(4)}"  # in every private text of B
    pub = f"bpub{secrets.token_hex(4)}"  # in the texts of B that a union's public facts show to anyone
    today = _today()
    yesterday = (today - timedelta(days=1)).isoformat()

    # Tenant A: a region with an auditor (no grant on B), a district, a school with every school role, a college
    # with an industrial-training master, and A's own union (the college's head chairs it).
    a_region = tour.tenant("regional_department", name="A облысы")
    a_district = tour.tenant("district_department", name="A ауданы", parent_id=a_region["id"])
    a_school = tour.tenant("school", name="A мектебі", parent_id=a_district["id"])
    a_college = tour.tenant("tvet_college", name="A колледжі", parent_id=a_region["id"])
    w.a.update(region=a_region["id"], district=a_district["id"], school=a_school["id"], college=a_college["id"])
    _, region_head = tour.head(a_region["id"], "A region head")
    w.callers["region head"] = (a_region["id"], (rules.HEAD,), region_head)
    _, h = tour.person(a_region["id"], region_head, [rules.AUDITOR], full_name="A region auditor")
    w.callers["region auditor"] = (a_region["id"], (rules.AUDITOR,), h)
    _, h = tour.head(a_district["id"], "A district head")
    w.callers["district head"] = (a_district["id"], (rules.HEAD,), h)
    _, school_head = tour.head(a_school["id"], "A school head")
    w.callers["school head"] = (a_school["id"], (rules.HEAD,), school_head)
    for role in (rules.DEPUTY_HEAD, rules.METHODIST, rules.TEACHER, rules.CLASS_TEACHER, rules.PRESCHOOL_EDUCATOR,
                 rules.LIBRARIAN, rules.AUDITOR):
        _, h = tour.person(a_school["id"], school_head, [role], ["Математика"], full_name=f"A school {role}")
        w.callers[f"school {role}"] = (a_school["id"], (role,), h)
    college_head_person, college_head = tour.head(a_college["id"], "A college head")
    w.callers["college head (A's union chair)"] = (a_college["id"], (rules.HEAD,), college_head)
    _, h = tour.person(a_college["id"], college_head, [rules.INDUSTRIAL_TRAINING_MASTER], ["Дәнекерлеу"],
                       full_name="A college master")
    w.callers["college industrial_training_master"] = (a_college["id"], (rules.INDUSTRIAL_TRAINING_MASTER,), h)
    a_union = post(f"{API}/unions", college_head, {"name": "A union", "sector": "A", "specialties": [WELDING],
                                                      "coordinator_id": a_region["id"]})
    post(f"{API}/unions/{a_union['id']}/chair", region_head, {
        "person_id": college_head_person["id"], "council_decision": {"number": "1", "date": "2025-09-01"}}, 200)
    w.a["union"] = a_union["id"]

    # Tenant B: a region, a district, a school with everything the API creates, and a union of two colleges.
    b = w.b
    b_region = tour.tenant("regional_department", name=f"B облысы {pub}")
    b_district = tour.tenant("district_department", name=f"B ауданы {tag}", parent_id=b_region["id"])
    b_school = tour.tenant("school", name=f"B мектебі {tag}", parent_id=b_district["id"],
                           email=f"school-{tag}@b.example.kz")
    c1 = tour.tenant("tvet_college", name=f"B колледжі 1 {pub}", parent_id=b_region["id"],
                     email=f"c1-{tag}@b.example.kz")
    c2 = tour.tenant("tvet_college", name=f"B колледжі 2 {pub}", parent_id=b_region["id"])
    b.update(region=b_region["id"], district=b_district["id"], school=b_school["id"], college1=c1["id"],
             college2=c2["id"])
    w.secrets.update(t["bin"] for t in (b_region, b_district, b_school, c1, c2))
    head_person, head = tour.head(b_school["id"], f"B head {tag}")
    deputy, deputy_h = tour.person(b_school["id"], head, [rules.DEPUTY_HEAD], full_name=f"B deputy {tag}")
    subject = f"Математика {tag}"
    teachers = [tour.person(b_school["id"], head, [rules.TEACHER], [subject], full_name=f"B teacher {i} {tag}")
                for i in range(3)]
    auditor, auditor_h = tour.person(b_school["id"], head, [rules.AUDITOR], full_name=f"B auditor {tag}")
    issued = post(f"{T}/{b_school['id']}/people/{head_person['id']}/tokens", head)
    b.update(head=head_person["id"], deputy=deputy["id"], teacher=teachers[0][0]["id"],
             leader=teachers[2][0]["id"], auditor=auditor["id"], token=issued["token_id"])
    w.secrets.add(issued["token"])
    w.owners.update(head=head, auditor=auditor_h)

    unit = post(f"{T}/{b_school['id']}/units", head, {
        "kind": "methodical_association", "name": f"B МО {tag}", "subject": subject,
        "member_ids": [p["id"] for p, _ in teachers]})
    post(f"{T}/{b_school['id']}/units/{unit['id']}/leaders", head,
             {"person_id": teachers[2][0]["id"], "starts_on": yesterday})
    year = academic_year_of(today)
    post(f"{T}/{b_school['id']}/units/{unit['id']}/plans", deputy_h, {
        "academic_year": year, "items": [{"direction": "p.7.3", "title": f"B plan item {tag}", "due": None}]})
    post(f"{T}/{b_school['id']}/units/{unit['id']}/meetings", deputy_h, {
        "held_on": today.isoformat(), "agenda": [{"direction": "p.7.3", "title": f"B agenda {tag}"}],
        "minutes": f"B minutes {tag}", "attendee_ids": [teachers[0][0]["id"]]})
    council = post(f"{T}/{b_school['id']}/units", head, {
        "kind": "methodical_council", "name": f"B кеңес {tag}", "subject": None,
        "member_ids": [teachers[1][0]["id"], deputy["id"]]})
    post(f"{T}/{b_school['id']}/units/{council['id']}/leaders", head,
             {"person_id": teachers[1][0]["id"], "starts_on": yesterday})
    b.update(unit=unit["id"], council=council["id"], year=year)

    teacher_h = teachers[0][1]
    doc = post(f"{T}/{b_school['id']}/documents", teacher_h, {
        "kind": "working_program", "title": f"B program {tag}", "body": f"B body {tag}", "unit_id": None})
    attached = ok(client.post(f"{T}/{b_school['id']}/documents/{doc['id']}/attachments",
                              query_string={"filename": f"b-{tag}.pdf"}, data=PDF_BYTES,
                              headers={**teacher_h, "Content-Type": "application/octet-stream"}), 201)
    post(f"{T}/{b_school['id']}/documents/{doc['id']}/submission", teacher_h, {"route": [council["id"]]}, 200)
    grant = post(f"{T}/{b_school['id']}/audit-grants", head,
                     {"person_id": auditor["id"], "until": (today + timedelta(days=30)).isoformat()})
    b.update(document=doc["id"], attachment=attached["attachment"]["id"], grant=grant["id"])
    w.secrets.add(attached["attachment"]["sha256"])

    # B's union: college 1 founds it, B's region coordinates, college 2 joins; a decision reaches both.
    _, region_h = tour.head(b_region["id"], f"B region head {tag}")
    region_auditor, _ = tour.person(b_region["id"], region_h, [rules.AUDITOR], full_name=f"B region auditor {tag}")
    chair_person, chair = tour.head(c1["id"], f"B chair {pub}")
    _, c2_head = tour.head(c2["id"], f"B college 2 head {tag}")
    union = post(f"{API}/unions", chair, {"name": f"B union {pub}", "sector": f"B sector {pub}",
                                             "specialties": [WELDING], "coordinator_id": b_region["id"]})
    member = post(f"{API}/unions/{union['id']}/members", region_h,
                      {"tenant_id": c2["id"], "specialties": [WELDING]})
    post(f"{API}/unions/{union['id']}/chair", region_h, {
        "person_id": chair_person["id"], "council_decision": {"number": f"N-{pub}", "date": "2025-09-01"}}, 200)
    union_grant = post(f"{API}/unions/{union['id']}/audit-grants", region_h,
                           {"person_id": region_auditor["id"], "until": (today + timedelta(days=30)).isoformat()})
    adopted = post(f"{API}/unions/{union['id']}/decisions", chair, {
        "title": f"B decision {tag}", "text": f"B decision text {tag}", "direction": "p.33.4",
        "specialties": [WELDING]})
    deliver.run(adopted["position"])
    circular = {c["tenant_id"]: c["id"] for c in adopted["circulars"]}
    b.update(union=union["id"], member=member["member_id"], chair=chair_person["id"], decision=adopted["id"],
             circular1=circular[c1["id"]], circular2=circular[c2["id"]],
             # What waits for college1's head: its circular, as her notifications name it (ADR 023).
             notification1=f"circular:{circular[c1['id']]}", union_grant=union_grant["id"],
             region_auditor=region_auditor["id"])
    w.owners.update(chair=chair, college2=c2_head)

    # What must never appear in an answer to A: every id of B (also as hex, as tokens carry it), every text.
    public_ids = {b["union"], b["member"], b["chair"], b["region"], b["college1"], b["college2"]}
    for value in b.values():
        if isinstance(value, str) and _is_uuid(value):
            w.secrets.update({value, uuid.UUID(value).hex})
    w.secrets.update({tag, pub})
    w.private = {s for s in w.secrets if s != pub and s not in public_ids and
                 s not in {uuid.UUID(i).hex for i in public_ids}}

    # Every read model has caught up with everything B did, so a 404 below is isolation, not lag.
    from projections.base import wait_for_position
    from projections.runner import READ_MODELS

    rt = client.application.extensions["methodical"]
    head_position = rt.platform.recorder.max_notification_id()
    for read_model in READ_MODELS.values():
        wait_for_position(rt.engine, read_model, head_position, 20)
    return w


def _is_uuid(value: str) -> bool:
    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return True


# The table: every route with path parameters, how B's objects fill them, and who may ever act

@dataclass(frozen=True)
class Route:
    fill: dict[str, str] | list[dict[str, str]]  # parameter -> key of World.b (a list: several fillings)
    may: tuple[str, ...]  # the roles that may ever do this, somewhere
    body: Callable[[World], Any] | None = None  # a plausible valid JSON body
    query: dict[str, str] | None = None
    data: bytes | None = None  # a raw body (a file) instead of JSON
    owner: str | None = None  # for reads: B's credential (World.owners) that reads the same object with 200

    def fillings(self) -> list[dict[str, str]]:
        return self.fill if isinstance(self.fill, list) else [self.fill]


ANY = rules.ROLES
FUTURE = (_today() + timedelta(days=30)).isoformat()
SCHOOL = {"tid": "school"}
PERSON = {"tid": "school", "pid": "teacher"}
UNIT = {"tid": "school", "uid": "unit"}
DOC = {"tid": "school", "did": "document"}
CIRCULAR = {"tid": "college1", "cid": "circular1"}
UNION = {"uid": "union"}
MANAGERS = (rules.HEAD, rules.DEPUTY_HEAD)
QUARTERS = [["09-01", "10-31"], ["11-08", "12-28"], ["01-08", "03-19"], ["03-30", "05-25"]]

ROUTES: dict[tuple[str, str], Route] = {
    # Tenants and people (p.3)
    ("/api/v1/tenants/{tid}", "GET"): Route(SCHOOL, ANY, owner="head"),
    ("/api/v1/tenants/{tid}/people", "GET"): Route(SCHOOL, ANY, owner="head"),
    ("/api/v1/tenants/{tid}/people", "POST"): Route(
        SCHOOL, MANAGERS, lambda w: {"full_name": "Жаңа мұғалім", "roles": ["teacher"], "subjects": []}),
    ("/api/v1/tenants/{tid}/people/{pid}", "GET"): Route(PERSON, ANY, owner="head"),
    ("/api/v1/tenants/{tid}/people/{pid}", "PATCH"): Route(PERSON, MANAGERS, lambda w: {"subjects": ["Физика"]}),
    ("/api/v1/tenants/{tid}/people/{pid}", "DELETE"): Route(PERSON, (rules.HEAD,)),
    ("/api/v1/tenants/{tid}/people/{pid}/tokens", "POST"): Route(PERSON, (rules.HEAD,)),
    # Anyone revokes their own token, but {pid} here is never the caller: another's token is the head's to revoke.
    ("/api/v1/tenants/{tid}/people/{pid}/tokens/{token_id}", "DELETE"): Route(
        {"tid": "school", "pid": "head", "token_id": "token"}, (rules.HEAD,)),
    # The calendar and compliance (p.25)
    ("/api/v1/tenants/{tid}/people/{pid}/invitations", "POST"): Route(
        PERSON, MANAGERS, lambda w: {"email": f"invited-{secrets.token_hex(4)}@a.kz"}),
    ("/api/v1/tenants/{tid}/calendar", "GET"): Route(SCHOOL, ANY, owner="head"),
    ("/api/v1/tenants/{tid}/calendar", "PUT"): Route(SCHOOL, MANAGERS, lambda w: {"quarters": QUARTERS}),
    # When the platform reminds (p.29, p.30, p.34: ADR 023)
    ("/api/v1/tenants/{tid}/reminders", "GET"): Route(SCHOOL, ANY, owner="head"),
    ("/api/v1/tenants/{tid}/reminders", "PUT"): Route(SCHOOL, MANAGERS, lambda w: {
        "time_zone": "Asia/Almaty", "plan_due": "09-20", "document_days": 7, "circular_days": 5}),
    ("/api/v1/tenants/{tid}/compliance", "GET"): Route(
        SCHOOL, (rules.HEAD, rules.DEPUTY_HEAD, rules.METHODIST, rules.AUDITOR), owner="head"),
    # Units, leaders, plans, meetings (p.10-p.17, p.25-p.32)
    ("/api/v1/tenants/{tid}/units", "GET"): Route(SCHOOL, ANY, owner="head"),
    ("/api/v1/tenants/{tid}/units", "POST"): Route(SCHOOL, MANAGERS, lambda w: {
        "kind": "methodical_council", "name": "Кеңес", "subject": None, "member_ids": [w.b["teacher"]]}),
    ("/api/v1/tenants/{tid}/units/{uid}", "GET"): Route(UNIT, ANY, owner="head"),
    ("/api/v1/tenants/{tid}/units/{uid}/members", "POST"): Route(
        UNIT, MANAGERS, lambda w: {"person_id": w.b["deputy"]}),
    ("/api/v1/tenants/{tid}/units/{uid}/members/{pid}", "DELETE"): Route(
        {"tid": "school", "uid": "unit", "pid": "teacher"}, MANAGERS),
    ("/api/v1/tenants/{tid}/units/{uid}/leaders", "GET"): Route(UNIT, ANY, owner="head"),
    ("/api/v1/tenants/{tid}/units/{uid}/leaders", "POST"): Route(
        UNIT, MANAGERS, lambda w: {"person_id": w.b["teacher"], "starts_on": _today().isoformat()}),
    ("/api/v1/tenants/{tid}/units/{uid}/plans", "GET"): Route(UNIT, ANY, owner="head"),
    # A unit's leader (any teaching role) or the deputy head drafts a plan (p.29).
    ("/api/v1/tenants/{tid}/units/{uid}/plans", "POST"): Route(UNIT, PEOPLE_ROLES, lambda w: {
        "academic_year": w.b["year"], "items": [{"direction": "p.7.3", "title": "Семинар", "due": None}]}),
    ("/api/v1/tenants/{tid}/units/{uid}/plans/{academic_year}", "GET"): Route(
        {"tid": "school", "uid": "unit", "academic_year": "year"}, ANY, owner="head"),
    ("/api/v1/tenants/{tid}/units/{uid}/plans/{academic_year}/approval", "POST"): Route(
        {"tid": "school", "uid": "unit", "academic_year": "year"}, (rules.HEAD,)),
    ("/api/v1/tenants/{tid}/units/{uid}/meetings", "GET"): Route(UNIT, ANY, owner="head"),
    ("/api/v1/tenants/{tid}/units/{uid}/meetings", "POST"): Route(UNIT, PEOPLE_ROLES, lambda w: {
        "held_on": _today().isoformat(), "agenda": [{"direction": "p.7.3", "title": "Күн тәртібі"}],
        "minutes": "", "attendee_ids": [w.b["teacher"]]}),
    # Methodical documents (p.18-p.21): authors are teachers or units' leaders, approvers heads and deputies.
    ("/api/v1/tenants/{tid}/documents", "GET"): Route(SCHOOL, ANY, owner="head"),
    ("/api/v1/tenants/{tid}/documents", "POST"): Route(SCHOOL, PEOPLE_ROLES, lambda w: {
        "kind": "working_program", "title": "Бағдарлама", "body": "Мазмұны", "unit_id": None}),
    ("/api/v1/tenants/{tid}/documents/{did}", "GET"): Route(DOC, ANY, owner="head"),
    ("/api/v1/tenants/{tid}/documents/{did}/submission", "POST"): Route(
        DOC, PEOPLE_ROLES, lambda w: {"route": [w.b["council"]]}),
    ("/api/v1/tenants/{tid}/documents/{did}/conclusions", "POST"): Route(
        DOC, PEOPLE_ROLES, lambda w: {"unit_id": w.b["council"], "positive": True, "remarks": "Ұсынылады"}),
    ("/api/v1/tenants/{tid}/documents/{did}/revisions", "POST"): Route(
        DOC, PEOPLE_ROLES, lambda w: {"body": "Екінші нұсқа"}),
    ("/api/v1/tenants/{tid}/documents/{did}/approval", "POST"): Route(DOC, PEOPLE_ROLES),
    ("/api/v1/tenants/{tid}/documents/{did}/rejection", "POST"): Route(
        DOC, PEOPLE_ROLES, lambda w: {"reason": "Қайта қараңыз"}),
    ("/api/v1/tenants/{tid}/documents/{did}/withdrawal", "POST"): Route(DOC, PEOPLE_ROLES, lambda w: {"reason": ""}),
    ("/api/v1/tenants/{tid}/documents/{did}/attachments", "POST"): Route(
        DOC, PEOPLE_ROLES, query={"filename": "file.pdf"}, data=PDF_BYTES),
    ("/api/v1/tenants/{tid}/documents/{did}/attachments/{aid}", "GET"): Route(
        {"tid": "school", "did": "document", "aid": "attachment"}, ANY, owner="head"),
    # Audit grants of a tenant (head grants and revokes; head and deputy list)
    ("/api/v1/tenants/{tid}/audit-grants", "GET"): Route(SCHOOL, MANAGERS, owner="head"),
    ("/api/v1/tenants/{tid}/audit-grants", "POST"): Route(
        SCHOOL, (rules.HEAD,), lambda w: {"person_id": w.b["auditor"], "until": FUTURE}),
    ("/api/v1/tenants/{tid}/audit-grants/{gid}", "DELETE"): Route({"tid": "school", "gid": "grant"}, (rules.HEAD,)),
    # The caller's own notifications: another's is missing (ADR 023)
    ("/api/v1/me/notifications/{nid}/read", "POST"): Route(
        {"nid": "notification1"}, tuple(r for r in ANY if r != rules.AUDITOR)),
    # A member organization's inbox of circulars (p.34)
    ("/api/v1/tenants/{tid}/circulars", "GET"): Route({"tid": "college1"}, ANY, owner="chair"),
    ("/api/v1/tenants/{tid}/circulars/{cid}", "GET"): Route(CIRCULAR, ANY, owner="chair"),
    ("/api/v1/tenants/{tid}/circulars/{cid}/document", "GET"): Route(CIRCULAR, ANY, owner="chair"),
    ("/api/v1/tenants/{tid}/circulars/{cid}/acknowledgement", "POST"): Route(
        CIRCULAR, MANAGERS, lambda w: {"response": "noted", "note": "Танысты"}),
    # A union's members, chair, decisions, circulars and audit grants (p.22-p.24, p.33-p.35): its chair may be a
    # person in any role of a member organization, its coordinator acts through head, deputy head or methodist.
    ("/api/v1/unions/{uid}/members", "POST"): Route(UNION, PEOPLE_ROLES, lambda w: {
        "name": "ТОО Жұмыс беруші", "kind": "employer", "specialties": [WELDING]}),
    ("/api/v1/unions/{uid}/members/{mid}", "DELETE"): Route({"uid": "union", "mid": "member"}, PEOPLE_ROLES),
    ("/api/v1/unions/{uid}/chair", "POST"): Route(UNION, (rules.HEAD, rules.DEPUTY_HEAD, rules.METHODIST), lambda w: {
        "person_id": w.b["chair"], "council_decision": {"number": "2", "date": "2025-09-02"}}),
    ("/api/v1/unions/{uid}/decisions", "GET"): Route(UNION, ANY, owner="chair"),
    ("/api/v1/unions/{uid}/decisions", "POST"): Route(UNION, PEOPLE_ROLES, lambda w: {
        "title": "Шешім", "text": "Мәтін", "direction": "p.33.4", "specialties": [WELDING]}),
    ("/api/v1/unions/{uid}/decisions/{did}", "GET"): Route({"uid": "union", "did": "decision"}, ANY, owner="chair"),
    ("/api/v1/unions/{uid}/decisions/{did}/circulars/{cid}/retry", "POST"): Route(
        {"uid": "union", "did": "decision", "cid": "circular2"}, PEOPLE_ROLES),
    ("/api/v1/unions/{uid}/audit-grants", "POST"): Route(
        UNION, MANAGERS, lambda w: {"person_id": w.b["region_auditor"], "until": FUTURE}),
    # The decision history (auditors with a grant; a union's also its chair)
    ("/api/v1/audit/tenants/{tid}/events", "GET"): Route(SCHOOL, (rules.AUDITOR,), owner="auditor"),
    ("/api/v1/audit/tenants/{tid}/state", "GET"): Route(
        SCHOOL, (rules.AUDITOR,), query={"as_of": _today().isoformat()}, owner="auditor"),
    ("/api/v1/audit/tenants/{tid}/changes", "GET"): Route(
        SCHOOL, (rules.AUDITOR,), query={"from": "2020-01-01", "to": _today().isoformat()}, owner="auditor"),
    ("/api/v1/audit/tenants/{tid}/export", "GET"): Route(SCHOOL, (rules.AUDITOR,), owner="auditor"),
    ("/api/v1/audit/unions/{uid}/events", "GET"): Route(UNION, ANY, owner="chair"),
    ("/api/v1/audit/aggregates/{aid}", "GET"): Route(
        [{"aid": key} for key in ("school", "teacher", "unit", "document", "grant")], (rules.AUDITOR,),
        owner="auditor"),
}

# Routes without a foreign object to point at; each still must not show B's private data to A (checked below).
NOT_TENANT_SCOPED: dict[tuple[str, str], str] = {
    ("/api/v1/tenants", "GET"): "lists the caller's own tenant (all of them for the operator only)",
    ("/api/v1/tenants", "POST"): "registers a tenant: the platform operator's alone",
    ("/api/v1/unions", "GET"): "unions' public facts, for any authenticated person (api.md, Unions)",
    ("/api/v1/unions", "POST"): "founds a union of the caller's own organization",
    ("/api/v1/unions/{uid}", "GET"): "a union's public facts, for any authenticated person (api.md, Unions)",
    ("/api/v1/catalogue/directions", "GET"): "the Order's catalogue of directions, the same for everyone",
    ("/api/v1/health", "GET"): "the service's own health, without a credential",
    ("/api/v1/health/live", "GET"): "the process answers: liveness, without a credential",
    ("/api/v1/health/ready", "GET"): "the database, Redis and the read models' lag: readiness, without a credential",
    ("/api/v1/me/notifications", "GET"): "the caller's own notifications, found by the credential's person",
    ("/api/v1/me/notifications/read", "POST"): "marks the caller's own notifications read",
    ("/api/v1/me/mail", "GET"): "the caller's own choice of emails",
    ("/api/v1/me/mail", "PUT"): "sets the caller's own choice of emails",
    ("/api/v1/mail/failed", "GET"): "emails given up on, across tenants: the platform operator's alone",
    ("/api/v1/openapi.json", "GET"): "the API's description, without a credential",
    ("/api/v1/audit/verify", "GET"): "recomputes the whole log's chain; names positions, no tenant's data",
    ("/api/v1/audit/checkpoints", "GET"): "the chain's checkpoints: positions and hashes, no tenant's data",
    ("/api/v1/audit/checkpoints", "POST"): "records a checkpoint: the platform operator's alone",
}
# Of those, the commands are not sent (they would change the world for everyone, or need the operator).
NOT_SENT = {("/api/v1/tenants", "POST"), ("/api/v1/unions", "POST"), ("/api/v1/audit/checkpoints", "POST")}


def served_routes(app: Any) -> set[tuple[str, str]]:
    # Swagger UI's page and files show the OpenAPI document to people; they hold no tenant's data and are no
    # operation of the document (services/api/docs.py).
    return {(PARAM.sub(r"{\1}", rule.rule), method) for rule in app.url_map.iter_rules()
            if rule.rule.startswith(API) and not rule.endpoint.startswith("swagger-ui.")
            for method in rule.methods - {"HEAD", "OPTIONS"}}


# Sending and judging

@dataclass
class Figures:
    requests: int = 0
    cells: int = 0  # requests for B's objects (each also sent for missing ids)
    leaks: list[str] = field(default_factory=list)
    statuses: dict[int, int] = field(default_factory=dict)

    def count(self, status: int) -> None:
        self.requests += 1
        self.statuses[status] = self.statuses.get(status, 0) + 1


def send(client: Any, method: str, path: str, route: Route, w: World, headers: dict[str, str]) -> Any:
    kwargs: dict[str, Any] = {"method": method, "headers": dict(headers), "query_string": route.query}
    if route.data is not None:
        kwargs["data"] = route.data
        kwargs["headers"]["Content-Type"] = "application/octet-stream"
    elif route.body is not None:
        kwargs["json"] = route.body(w)
    return client.open(path, **kwargs)


def shape(response: Any) -> tuple[Any, ...]:
    """What a refusal says: status, detail, clause and the names of the fields it blames."""
    try:
        body = json.loads(response.get_data(as_text=True))
    except ValueError:
        return response.status_code, None
    return (response.status_code, body.get("detail"), body.get("clause"), tuple(sorted(body.get("errors") or {})))


def found_in(response: Any, needles: set[str]) -> list[str]:
    text = response.get_data(as_text=True) + "\n" + "\n".join(f"{k}: {v}" for k, v in response.headers.items())
    lowered = text.lower()
    return sorted(n for n in needles if n.lower() in lowered)


def judge(response: Any, missing: Any, roles: tuple[str, ...], route: Route, w: World) -> str | None:
    """Return why this answer leaks, or None when it is as for a missing object."""
    status = response.status_code
    if status >= 500:
        return f"{status} (a server error)"
    if response.mimetype != PROBLEM:
        return f"{status} {response.mimetype}, not a problem"
    seen = found_in(response, w.secrets)
    if seen:
        return f"{status} shows B's {seen}"
    if status == 404:
        if shape(response) != shape(missing):
            return f"404 unlike a missing id's: {shape(response)} vs {shape(missing)}"
        return None
    if status == 403:
        if set(roles) & set(route.may):
            return f"403, but {roles} may do this somewhere: expected 404 ({shape(response)[1]})"
        if shape(response) != shape(missing):
            return f"403 unlike a missing id's: {shape(response)} vs {shape(missing)}"
        return None
    return f"{status} {shape(response)}, not 404"


def variants(path: str, filling: dict[str, str], w: World, caller_tenant: str) -> list[tuple[str, dict[str, str]]]:
    """Return (variant, parameter values) for a path: B's objects, and B's objects under the caller's own tenant
    or A's own union where the path has one more object below it."""
    values = {name: str(w.b[key]) for name, key in filling.items()}
    found = [("foreign", values)]
    ids_below = [n for n in filling if n not in ("tid", "academic_year")]
    if path.startswith(f"{T}/{{tid}}/") and ids_below:
        found.append(("own-tenant", {**values, "tid": caller_tenant}))
    if path.startswith(f"{API}/unions/{{uid}}/") and len(ids_below) > 1:
        found.append(("own-union", {**values, "uid": w.a["union"]}))
    return found


def fill(path: str, values: dict[str, str]) -> str:
    return re.sub(r"{([^{}]+)}", lambda m: values[m.group(1)], path)


def missing_values(values: dict[str, str], w: World) -> dict[str, str]:
    """The same values with every one of B's ids replaced by a fresh random id."""
    b_ids = {str(v) for v in w.b.values()}
    def missing(value: str) -> str:
        kind, _, rest = value.rpartition(":")  # a notification's key: its kind, then its subject's id
        if value in b_ids and _is_uuid(rest):
            return f"{kind}:{uuid.uuid4()}" if kind else str(uuid.uuid4())
        return value

    return {k: missing(v) for k, v in values.items()}


# The tests

@pytest.fixture(scope="module")
def world(app: Any, settings: Any, delivery: Any) -> World:  # noqa: F811 - the fixture from unions_support
    return build(app.test_client(), Tour(app.test_client(), settings.operator_token), delivery)


def test_every_route_is_in_the_matrix_or_declared_not_tenant_scoped(app: Any, client: Any) -> None:
    served = served_routes(app)
    documented = {(path, method.upper()) for path, item in client.get(f"{API}/openapi.json").get_json()["paths"]
                  .items() for method in item if method in ("get", "post", "put", "patch", "delete")}
    assert documented == served, f"served, not documented: {served - documented}; " \
                                 f"documented, not served: {documented - served}"
    both = set(ROUTES) & set(NOT_TENANT_SCOPED)
    assert not both, f"in the matrix and declared not tenant-scoped: {sorted(both)}"
    absent = sorted(served - set(ROUTES) - set(NOT_TENANT_SCOPED))
    assert not absent, f"routes in neither the matrix nor the not-tenant-scoped list: {absent}"
    stale = sorted((set(ROUTES) | set(NOT_TENANT_SCOPED)) - served)
    assert not stale, f"declared but not served: {stale}"
    for (path, method), route in ROUTES.items():
        params = set(re.findall(r"{([^{}]+)}", path))
        for filling in route.fillings():
            assert set(filling) == params, f"{method} {path}: fills {sorted(filling)}, has {sorted(params)}"
        assert method == "GET" or route.owner is None, f"{method} {path}: a control only for reads"
    for path, method in NOT_TENANT_SCOPED:
        params = re.findall(r"{([^{}]+)}", path)
        assert params in ([], ["uid"]), f"{method} {path} has path parameters: it belongs in the matrix"
    print(json.dumps({"test": "isolation coverage", "routes": len({p for p, _ in served}),
                      "methods": len(served), "in_matrix": len(ROUTES), "not_tenant_scoped": len(NOT_TENANT_SCOPED)}))


def test_the_owners_read_every_object_the_matrix_points_at(app: Any, world: World) -> None:
    """The control: B's own people read each of B's objects, so each 404 to A is isolation, not absence."""
    client = app.test_client()
    reads = 0
    for (path, method), route in ROUTES.items():
        if method != "GET":
            continue
        assert route.owner, f"GET {path}: name the owner whose credential reads it"
        for filling in route.fillings():
            values = {name: str(world.b[key]) for name, key in filling.items()}
            response = client.get(fill(path, values), headers=world.owners[route.owner], query_string=route.query)
            reads += 1
            assert response.status_code == 200, (path, values, response.get_data(as_text=True)[:300])
    print(json.dumps({"test": "isolation controls", "reads": reads}))


def test_no_caller_of_a_reaches_any_object_of_b_on_any_route(app: Any, world: World) -> None:
    client = app.test_client()
    figures = Figures()
    started = time.monotonic()
    for (path, method), route in ROUTES.items():
        for name, (tenant_id, roles, headers) in world.callers.items():
            for filling in route.fillings():
                for variant, values in variants(path, filling, world, tenant_id):
                    response = send(client, method, fill(path, values), route, world, headers)
                    missing = send(client, method, fill(path, missing_values(values, world)), route, world, headers)
                    figures.count(response.status_code)
                    figures.requests += 1  # the same request for missing ids
                    figures.cells += 1
                    why = judge(response, missing, roles, route, world)
                    if why:
                        figures.leaks.append(f"{method} {path} [{variant}] as {name}: {why}")
    print(json.dumps({
        "test": "isolation matrix", "routes": len({p for p, _ in ROUTES}), "methods": len(ROUTES),
        "callers": len(world.callers), "cells": figures.cells, "requests": figures.requests,
        "statuses": figures.statuses, "leaks": len(figures.leaks),
        "seconds": round(time.monotonic() - started, 1)}))
    assert not figures.leaks, "\n".join(figures.leaks)


def test_routes_without_a_foreign_object_show_nothing_private_of_b(app: Any, world: World) -> None:
    client = app.test_client()
    figures = Figures()
    for (path, method) in sorted(NOT_TENANT_SCOPED):
        if (path, method) in NOT_SENT:
            continue
        fillings = [{"uid": world.b["union"]}, {"uid": world.a["union"]}] if "{uid}" in path else [{}]
        for name, (_, _, headers) in world.callers.items():
            for values in fillings:
                response = client.open(fill(path, values), method=method, headers=headers)
                figures.count(response.status_code)
                if response.status_code >= 500:
                    figures.leaks.append(f"{method} {path} as {name}: {response.status_code}")
                seen = found_in(response, world.private)
                if seen:
                    figures.leaks.append(f"{method} {path} as {name}: shows B's {seen}")
    print(json.dumps({"test": "isolation of unscoped routes", "methods": len(NOT_TENANT_SCOPED) - len(NOT_SENT),
                      "callers": len(world.callers), "requests": figures.requests, "statuses": figures.statuses,
                      "leaks": len(figures.leaks)}))
    assert not figures.leaks, "\n".join(figures.leaks)
