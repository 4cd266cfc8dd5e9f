"""Ids a client names in a request body (a coordinator, a member organization, a chair, an auditor) that belong
to another tenant: refused exactly as a missing id is, so the answer never tells whether another tenant's
object exists or what kind it is (api.md, Conventions)."""

from __future__ import annotations

import uuid
from datetime import date, timedelta
from typing import Any

import pytest

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
    until = (date.today() + timedelta(days=30)).isoformat()
    status, _, _, fields = _same_for_foreign_and_missing(
        client, f"/api/v1/tenants/{school['id']}/audit-grants", head, {"until": until}, "person_id", teacher["id"],
        ["Бөтен Мұғалім"])
    assert (status, fields) == (422, ["person_id"])
