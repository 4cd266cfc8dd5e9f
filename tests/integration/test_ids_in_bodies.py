"""Ids a client names in a request body (a coordinator, a member organization, a chair, an auditor) that belong
to another tenant: refused exactly as a missing id is, so the answer never tells whether another tenant's
object exists or what kind it is (api.md, Conventions)."""

from __future__ import annotations

import json
import uuid
from datetime import timedelta
from typing import Any

import pytest

from support import platform_today, valid_bin
from unions_support import UNIONS, WELDING, UnionScenario


@pytest.fixture
def scenario(client: Any, tour: Any) -> UnionScenario:
    return UnionScenario(client, tour)


def _answer(response: Any) -> tuple[Any, ...]:
    body = response.get_json()
    return response.status_code, body.get("detail"), body.get("clause"), sorted(body.get("errors") or {})


def _same_for_foreign_and_missing(client: Any, url: str, headers: dict[str, str], body: dict[str, Any],
                                  field: str, foreign: str, text_of_foreign: list[str]) -> tuple[Any, ...]:
    named = client.post(url, json={**body, field: foreign}, headers=headers)
    missing = client.post(url, json={**body, field: str(uuid.uuid4())}, headers=headers)
    assert 400 <= named.status_code < 500, named.get_json()
    assert _answer(named) == _answer(missing)
    for text in text_of_foreign:
        assert text not in named.get_data(as_text=True)
    return _answer(named)


def test_a_coordinator_id_of_anothers_school_is_refused_as_a_missing_one(client, tour, scenario):
    school = tour.tenant("school", name="Сырттағы мектеп")
    body = {"name": "U", "sector": "S", "specialties": [WELDING]}
    status, _, clause, fields = _same_for_foreign_and_missing(
        client, UNIONS, scenario.a_head, body, "coordinator_id", school["id"], ["Сырттағы мектеп", "school"])
    assert (status, clause, fields) == (422, "p.22", ["coordinator_id"])


def test_a_member_tenant_id_of_a_department_is_refused_as_a_missing_one(client, tour, scenario):
    district = tour.tenant("district_department", name="Басқа аудандық бөлім")
    status, _, clause, fields = _same_for_foreign_and_missing(
        client, f"{UNIONS}/{scenario.id}/members", scenario.coordinator, {"specialties": [WELDING]}, "tenant_id",
        district["id"], ["Басқа аудандық бөлім", "district_department"])
    assert (status, clause, fields) == (422, "p.24", ["tenant_id"])


def test_a_chair_person_id_of_a_non_member_is_refused_as_a_missing_one(client, tour, scenario):
    outsider = tour.tenant("tvet_college", parent_id=scenario.department["id"])
    person, _ = tour.head(outsider["id"], "Бөгде Адам")
    body = {"council_decision": {"number": "3", "date": "2025-10-01"}}
    status, _, clause, fields = _same_for_foreign_and_missing(
        client, f"{UNIONS}/{scenario.id}/chair", scenario.coordinator, body, "person_id", person["id"], ["Бөгде Адам"])
    assert (status, clause, fields) == (422, "p.35", ["person_id"])


def test_an_audit_grant_to_anothers_non_auditor_is_refused_as_to_a_missing_person(client, tour):
    school = tour.tenant("school")
    _, head = tour.head(school["id"])
    other = tour.tenant("school")
    _, other_head = tour.head(other["id"])
    teacher, _ = tour.person(other["id"], other_head, ["teacher"], ["Тарих"], full_name="Бөтен Мұғалім")
    until = (platform_today() + timedelta(days=30)).isoformat()
    status, _, _, fields = _same_for_foreign_and_missing(
        client, f"/api/v1/tenants/{school['id']}/audit-grants", head, {"until": until}, "person_id", teacher["id"],
        ["Бөтен Мұғалім"])
    assert (status, fields) == (422, ["person_id"])


# Every id-bearing field of every command, walked from the OpenAPI document

API = "/api/v1"


def _id_fields(document: dict[str, Any]) -> set[tuple[str, str, str]]:
    """Return (method, path, field) for each id (format uuid) a command's JSON body may carry."""

    def walk(schema: dict[str, Any], prefix: str, depth: int = 0) -> list[str]:
        while "$ref" in schema:
            schema = document["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]]
        if schema.get("readOnly"):
            return []
        if schema.get("format") == "uuid":
            return [prefix]
        if schema.get("type") == "array" and depth < 4:
            return walk(schema.get("items") or {}, prefix + "[]", depth + 1)
        found = []
        for name, prop in (schema.get("properties") or {}).items():
            found += walk(prop, f"{prefix}.{name}" if prefix else name, depth + 1)
        return found

    fields = set()
    for path, item in document["paths"].items():
        for method, operation in item.items():
            content = (operation.get("requestBody") or {}).get("content", {}) if isinstance(operation, dict) else {}
            if "application/json" in content:
                fields |= {(method.upper(), path, f) for f in walk(content["application/json"]["schema"], "")}
    return fields


class World:
    """College A of a union's region with its people, units, a council, documents at each stage; college F of
    another region and a school of another district, each with people, a unit and a document with a file."""

    def __init__(self, client: Any, tour: Any):
        self.client, self.tour = client, tour
        self.union = UnionScenario(client, tour)
        self.a = self.union.a
        self.head = self.union.a_head
        today = platform_today().isoformat()
        tid = self.a["id"]
        self.teachers = [tour.person(tid, self.head, ["teacher"], ["Дәнекерлеу"], full_name=f"Мұғалім {i}")
                         for i in range(4)]
        self.auditor, _ = tour.person(tid, self.head, ["auditor"], [], full_name="Аудитор")
        ids = [p["id"] for p, _ in self.teachers]
        self.unit = self._ok(f"{API}/tenants/{tid}/units", self.head, {
            "kind": "subject_cycle_commission", "name": "ПЦК дәнекерлеу", "subject": "Дәнекерлеу",
            "member_ids": ids[:3]}, 201)["id"]
        self._ok(f"{API}/tenants/{tid}/units/{self.unit}/leaders", self.head,
                 {"person_id": ids[0], "starts_on": today}, 201)
        self.leader = self.teachers[0][1]
        self.council = self._ok(f"{API}/tenants/{tid}/units", self.head, {
            "kind": "methodical_council", "name": "Әдістемелік кеңес", "member_ids": ids[1:3]}, 201)["id"]
        self._ok(f"{API}/tenants/{tid}/units/{self.council}/leaders", self.head,
                 {"person_id": ids[1], "starts_on": today}, 201)
        self.author = self.teachers[3][1]
        self.draft = self._document(tid, self.author)
        self.submitted = self._document(tid, self.author)
        self._ok(f"{API}/tenants/{tid}/documents/{self.submitted}/submission", self.author,
                 {"route": [self.unit, self.council]})
        # Elsewhere: a college of another region, a school of another district.
        other_region = tour.tenant("regional_department", name="Басқа облыстың басқармасы", region="Шымкент")
        self.f = tour.tenant("tvet_college", name="Бөгде колледж", parent_id=other_region["id"], region="Шымкент")
        district = tour.tenant("district_department", name="Бөгде аудандық бөлім", region="Шымкент")
        school = tour.tenant("school", name="Бөгде мектеп", parent_id=district["id"], region="Шымкент")
        f_head_person, f_head = tour.head(self.f["id"], "Бөгде Басшы")
        f_people = [tour.person(self.f["id"], f_head, ["teacher"], ["Дәнекерлеу"], full_name=f"Бөгде Мұғалім {i}")
                    for i in range(3)]
        f_auditor, _ = tour.person(self.f["id"], f_head, ["auditor"], [], full_name="Бөгде Аудитор")
        s_head_person, s_head = tour.head(school["id"], "Мектеп Басшысы")
        s_teacher, _ = tour.person(school["id"], s_head, ["teacher"], ["Тарих"], full_name="Мектеп Мұғалімі")
        f_unit = self._ok(f"{API}/tenants/{self.f['id']}/units", f_head, {
            "kind": "subject_cycle_commission", "name": "Бөгде ПЦК", "subject": "Дәнекерлеу",
            "member_ids": [p["id"] for p, _ in f_people]}, 201)["id"]
        f_doc = self._document(self.f["id"], f_people[0][1])
        f_file = client.post(f"{API}/tenants/{self.f['id']}/documents/{f_doc}/attachments",
                             query_string={"filename": "f.pdf"}, data=b"%PDF-1.4\n%%EOF\n",
                             headers={**f_people[0][1], "Content-Type": "application/pdf"})
        assert f_file.status_code == 201, f_file.get_json()
        self.foreign = {
            "another region's college": self.f["id"], "its head": f_head_person["id"],
            "its teacher": f_people[0][0]["id"], "its auditor": f_auditor["id"], "its unit": f_unit,
            "its document": f_doc, "its file": f_file.get_json()["id"], "its department": other_region["id"],
            "another district's school": school["id"], "that school's head": s_head_person["id"],
            "that school's teacher": s_teacher["id"], "the district department": district["id"],
        }

    def _ok(self, url: str, headers: dict[str, str], body: dict[str, Any], status: int = 200) -> dict[str, Any]:
        response = self.client.post(url, headers=headers, json=body)
        assert response.status_code == status, (url, response.get_json())
        return response.get_json()

    def _document(self, tid: str, by: dict[str, str]) -> str:
        return self._ok(f"{API}/tenants/{tid}/documents", by, {
            "kind": "working_program", "title": "Дәнекерлеу негіздері", "body": "Мазмұны"}, 201)["id"]


def _recipes(w: World) -> dict[tuple[str, str, str], tuple[str, dict[str, str], Any]]:
    """For each id field: the URL, the caller and a body builder that puts the id where the field is."""
    tid, union = w.a["id"], w.union.id
    today = platform_today().isoformat()
    members = [p["id"] for p, _ in w.teachers[:2]]
    return {
        ("POST", "/api/v1/tenants", "parent_id"): (f"{API}/tenants", w.tour.operator, lambda x: {
            "name": "Жаңа мектеп", "kind": "school", "bin": valid_bin(), "region": "Алматы", "parent_id": x}),
        ("POST", "/api/v1/tenants/{tid}/units", "member_ids[]"): (f"{API}/tenants/{tid}/units", w.head, lambda x: {
            "kind": "subject_cycle_commission", "name": "ПЦК", "subject": "Дәнекерлеу", "member_ids": [*members, x]}),
        ("POST", "/api/v1/tenants/{tid}/units/{uid}/members", "person_id"): (
            f"{API}/tenants/{tid}/units/{w.unit}/members", w.head, lambda x: {"person_id": x}),
        ("POST", "/api/v1/tenants/{tid}/units/{uid}/leaders", "person_id"): (
            f"{API}/tenants/{tid}/units/{w.unit}/leaders", w.head, lambda x: {"person_id": x, "starts_on": today}),
        ("POST", "/api/v1/tenants/{tid}/units/{uid}/meetings", "attendee_ids[]"): (
            f"{API}/tenants/{tid}/units/{w.unit}/meetings", w.leader, lambda x: {
                "held_on": today, "agenda": [{"direction": "p.13.1", "title": "Жоспар"}], "attendee_ids": [x]}),
        ("POST", "/api/v1/tenants/{tid}/audit-grants", "person_id"): (
            f"{API}/tenants/{tid}/audit-grants", w.head, lambda x: {
                "person_id": x, "until": (platform_today() + timedelta(days=30)).isoformat()}),
        ("POST", "/api/v1/unions/{uid}/audit-grants", "person_id"): (
            f"{API}/unions/{union}/audit-grants", w.union.coordinator, lambda x: {
                "person_id": x, "until": (platform_today() + timedelta(days=30)).isoformat()}),
        ("POST", "/api/v1/unions", "coordinator_id"): (f"{API}/unions", w.head, lambda x: {
            "name": "Жаңа ОӘБ", "sector": "Өнеркәсіп", "specialties": [WELDING], "coordinator_id": x}),
        ("POST", "/api/v1/unions/{uid}/members", "tenant_id"): (
            f"{API}/unions/{union}/members", w.union.coordinator, lambda x: {"tenant_id": x, "specialties": [WELDING]}),
        ("POST", "/api/v1/unions/{uid}/chair", "person_id"): (
            f"{API}/unions/{union}/chair", w.union.coordinator, lambda x: {
                "person_id": x, "council_decision": {"number": "7", "date": today}}),
        ("POST", "/api/v1/tenants/{tid}/documents", "unit_id"): (f"{API}/tenants/{tid}/documents", w.author, lambda x: {
            "kind": "working_program", "title": "Т", "body": "Б", "unit_id": x}),
        ("POST", "/api/v1/tenants/{tid}/documents/{did}/submission", "route[]"): (
            f"{API}/tenants/{tid}/documents/{w.draft}/submission", w.author, lambda x: {"route": [x, w.council]}),
        ("POST", "/api/v1/tenants/{tid}/documents/{did}/conclusions", "unit_id"): (
            f"{API}/tenants/{tid}/documents/{w.submitted}/conclusions", w.leader, lambda x: {
                "unit_id": x, "positive": True, "remarks": ""}),
        ("POST", "/api/v1/tenants/{tid}/documents/{did}/revisions", "attachment_ids[]"): (
            f"{API}/tenants/{tid}/documents/{w.draft}/revisions", w.author, lambda x: {
                "body": "Жаңа", "attachment_ids": [x]}),
    }


def _normalized(response: Any, named: str) -> tuple[Any, ...]:
    body = response.get_json() or {}
    detail = (body.get("detail") or "").replace(named, "<id>")
    return response.status_code, detail, body.get("clause"), sorted(body.get("errors") or {})


# The operator sees every tenant: for `parent_id` no tenant is foreign, only ids of other kinds of object.
_TENANTS_ARE_VISIBLE = {("POST", "/api/v1/tenants", "parent_id")}
# A head (or a union's coordinator) grants history to an auditor of any organization: an outside auditor is the
# point of a grant (domain §1: auditors stand outside the organizations), so another tenant's auditor is no
# foreign id there.
_AUDITORS_ARE_GRANTED = {("POST", "/api/v1/tenants/{tid}/audit-grants", "person_id"),
                         ("POST", "/api/v1/unions/{uid}/audit-grants", "person_id")}


def test_every_id_field_of_every_command_answers_a_foreign_id_exactly_as_a_missing_one(client, tour, platform):
    world = World(client, tour)
    recipes = _recipes(world)
    document = client.get("/api/v1/openapi.json").get_json()
    assert _id_fields(document) == set(recipes), "an id field without a case here (or a case for none)"
    before = platform.recorder.max_notification_id()
    leaks: list[str] = []
    tried = 0
    for key, (url, headers, build) in sorted(recipes.items()):
        missing_id = str(uuid.uuid4())
        missing = client.post(url, headers=headers, json=build(missing_id))
        expected = _normalized(missing, missing_id)
        field = key[2].split("[")[0].split(".")[0]
        assert 400 <= missing.status_code < 500 and (missing.status_code == 404 or any(
            k.split(".")[0] == field for k in expected[3])), (key, missing.get_json())
        for what, foreign in world.foreign.items():
            if key in _TENANTS_ARE_VISIBLE and what in ("another region's college", "its department",
                                                        "another district's school", "the district department"):
                continue
            if key in _AUDITORS_ARE_GRANTED and what == "its auditor":
                continue
            tried += 1
            answer = client.post(url, headers=headers, json=build(foreign))
            text = answer.get_data(as_text=True)
            if _normalized(answer, foreign) != expected or any(
                    name in text for name in ("Бөгде", "Мектеп", "Шымкент")):
                leaks.append(f"{key} with {what}: {answer.status_code} {text[:200]} (missing: {expected})")
    print(json.dumps({"test": "foreign_ids_in_bodies", "fields": len(recipes), "ids_tried": tried,
                      "leaks": len(leaks)}))
    assert not leaks, "\n".join(leaks)
    assert platform.recorder.max_notification_id() == before  # nothing was stored


def test_a_coordinator_cannot_admit_a_school_or_another_regions_college_nor_name_their_people_chair(client, tour):
    world = World(client, tour)
    union = world.union
    for foreign in (world.foreign["another district's school"], world.foreign["another region's college"]):
        refused = client.post(f"{UNIONS}/{union.id}/members", headers=union.coordinator,
                              json={"tenant_id": foreign, "specialties": [WELDING]})
        assert refused.status_code == 422 and refused.get_json()["clause"] == "p.24", refused.get_json()
    chair = client.post(f"{UNIONS}/{union.id}/chair", headers=union.coordinator, json={
        "person_id": world.foreign["that school's teacher"], "council_decision": {"number": "8", "date": "2026-09-01"}})
    assert chair.status_code == 422 and chair.get_json()["clause"] == "p.35"
    assert "Мектеп Мұғалімі" not in chair.get_data(as_text=True)
    # A school of the region is not of the sector either (p.22, p.24), even for the union's own chair.
    local_school = tour.tenant("school", parent_id=None, region=union.department["region"])
    refused = client.post(f"{UNIONS}/{union.id}/members", headers=union.chair,
                          json={"tenant_id": local_school["id"], "specialties": [WELDING]})
    assert refused.status_code == 422 and refused.get_json()["clause"] == "p.24"
