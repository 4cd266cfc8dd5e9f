"""Unions through the HTTP API: founding, members, the chair, who sees decisions (p.22–24, p.33–35)."""

from __future__ import annotations

from typing import Any

import pytest

from unions_support import ELECTRICS, UNIONS, WELDING, UnionScenario, ok


@pytest.fixture
def scenario(client: Any, tour: Any) -> UnionScenario:
    return UnionScenario(client, tour)


def test_any_authenticated_person_reads_a_unions_public_facts(client, tour, scenario):
    school = tour.tenant("school")
    _, stranger = tour.head(school["id"])
    union = ok(client.get(f"{UNIONS}/{scenario.id}", headers={**stranger, "X-Min-Position": scenario.chair_body["position"]}))
    assert (union["name"], union["sector"], union["specialties"]) == (
        "Дәнекерлеу және электр техникасы ОӘБ", "Өнеркәсіп", [WELDING, ELECTRICS])
    assert union["chair"]["full_name"] == "Әсел Құрманғазиева"
    assert union["chair"]["council_decision"] == {"number": "12", "date": "2025-09-01"}
    kinds = [(m["name"], m["kind"], m["specialties"]) for m in union["members"]]
    assert kinds == [(scenario.a["name"], "organization", [WELDING, ELECTRICS]), (scenario.b["name"], "organization", [WELDING]),
                     (scenario.c["name"], "organization", [ELECTRICS]), ("ТОО «Қазэнергомонтаж»", "employer", [WELDING])]
    page = ok(client.get(UNIONS, query_string={"specialty": ELECTRICS, "limit": 500}, headers=stranger))
    assert scenario.id in [u["id"] for u in page["items"]]
    assert client.get(UNIONS).status_code == 401


def test_founding_is_refused_to_a_school_and_with_a_coordinator_that_is_not_a_regional_department(client, tour, scenario):
    school = tour.tenant("school")
    _, school_head = tour.head(school["id"])
    body = {"name": "U", "sector": "S", "specialties": [WELDING], "coordinator_id": scenario.department["id"]}
    refused = client.post(UNIONS, json=body, headers=school_head)
    assert (refused.status_code, refused.get_json()["clause"]) == (422, "p.22")
    refused = client.post(UNIONS, json={**body, "coordinator_id": scenario.b["id"]}, headers=scenario.a_head)
    assert (refused.status_code, refused.get_json()["clause"], list(refused.get_json()["errors"])) == (
        422, "p.22", ["coordinator_id"])
    assert client.post(UNIONS, json=body, headers=tour.operator).status_code == 403


def test_members_are_admitted_by_the_chair_or_coordinator_for_the_unions_specialties(client, tour, scenario):
    other = tour.tenant("postsecondary_college", parent_id=scenario.department["id"])
    url = f"{UNIONS}/{scenario.id}/members"
    assert client.post(url, json={"tenant_id": other["id"], "specialties": [WELDING]},
                       headers=scenario.b_head).status_code == 403
    refused = client.post(url, json={"tenant_id": other["id"], "specialties": ["0000000"]}, headers=scenario.chair)
    assert (refused.status_code, refused.get_json()["clause"]) == (422, "p.24")
    admitted = ok(client.post(url, json={"tenant_id": other["id"], "specialties": [WELDING]}, headers=scenario.chair), 201)
    assert admitted["member_id"] == other["id"]
    assert client.post(url, json={"tenant_id": other["id"], "specialties": [WELDING]},
                       headers=scenario.chair).status_code == 409
    assert client.post(url, json={"name": "NGO", "kind": "club", "specialties": [WELDING]},
                       headers=scenario.chair).status_code == 422


def test_a_member_head_withdraws_its_organization_and_only_the_chair_removes_others(client, scenario):
    url = f"{UNIONS}/{scenario.id}/members"
    assert client.delete(f"{url}/{scenario.c['id']}", headers=scenario.b_head).status_code == 403
    withdrawn = ok(client.delete(f"{url}/{scenario.b['id']}", headers=scenario.b_head))
    assert scenario.b["id"] not in [m["id"] for m in withdrawn["members"]]
    assert client.delete(f"{url}/{scenario.b['id']}", headers=scenario.chair).status_code == 404
    adopted = scenario.adopt()
    assert adopted["circulars_expected"] == 1  # only the founder is left for welding


def test_the_chair_is_approved_by_the_coordinator_and_must_come_from_a_member_organization(client, tour, scenario):
    outsider = tour.tenant("tvet_college", parent_id=scenario.department["id"])
    person, _ = tour.head(outsider["id"])
    url = f"{UNIONS}/{scenario.id}/chair"
    body = {"person_id": person["id"], "council_decision": {"number": "3", "date": "2025-10-01"}}
    assert client.post(url, json=body, headers=scenario.a_head).status_code == 403
    refused = client.post(url, json=body, headers=scenario.coordinator)
    assert (refused.status_code, refused.get_json()["clause"]) == (422, "p.35")
    assert client.post(url, json={"person_id": person["id"]}, headers=scenario.coordinator).status_code == 422


def test_only_the_chair_adopts_and_the_direction_must_be_one_of_p33(client, scenario):
    url = f"{UNIONS}/{scenario.id}/decisions"
    body = {"title": "T", "text": "X", "direction": "p.33.4", "specialties": [WELDING]}
    assert client.post(url, json=body, headers=scenario.b_head).status_code == 403
    refused = client.post(url, json={**body, "direction": "p.8.2"}, headers=scenario.chair)
    assert (refused.status_code, refused.get_json()["clause"]) == (422, "p.33")
    assert client.post(url, json={**body, "specialties": []}, headers=scenario.chair).status_code == 422


def test_decisions_are_404_to_non_members_and_listed_for_members_with_positions(client, tour, scenario):
    adopted = scenario.adopt()
    school = tour.tenant("school")
    _, stranger = tour.head(school["id"])
    assert client.get(f"{UNIONS}/{scenario.id}/decisions", headers=stranger).status_code == 404
    assert client.get(f"{UNIONS}/{scenario.id}/decisions/{adopted['id']}", headers=stranger).status_code == 404
    page = ok(client.get(f"{UNIONS}/{scenario.id}/decisions",
                         headers={**scenario.c_head, "X-Min-Position": adopted["position"]}))
    [decision] = page["items"]
    assert (decision["title"], decision["direction"], decision["circulars_expected"]) == (
        adopted["title"], "p.33.4", 2)
    assert decision["circulars"] == []  # C joined for electrics: it has no circular of this decision
    coordinator_view = scenario.decision(adopted["id"], scenario.coordinator)
    assert [c["status"] for c in coordinator_view["circulars"]] == ["issued", "issued"]


def test_the_openapi_document_lists_the_union_paths(client):
    paths = client.get("/api/v1/openapi.json").get_json()["paths"]
    for path in ("/api/v1/unions", "/api/v1/unions/{uid}/members", "/api/v1/unions/{uid}/chair",
                 "/api/v1/unions/{uid}/decisions/{did}", "/api/v1/tenants/{tid}/circulars/{cid}/document",
                 "/api/v1/tenants/{tid}/circulars/{cid}/acknowledgement"):
        assert path in paths


def test_the_union_list_shows_every_change_after_a_page_was_read(client, tour, scenario):
    def listed(position: str) -> dict[str, Any]:
        page = ok(client.get(UNIONS, query_string={"limit": 500},
                             headers={**scenario.chair, "X-Min-Position": position}))
        return next(u for u in page["items"] if u["id"] == scenario.id)

    before = listed(scenario.chair_body["position"])
    assert listed(scenario.chair_body["position"]) == before  # the same page again
    other = tour.tenant("postsecondary_college", parent_id=scenario.department["id"])
    admitted = ok(client.post(f"{UNIONS}/{scenario.id}/members", json={"tenant_id": other["id"], "specialties": [WELDING]},
                              headers=scenario.chair), 201)
    assert [m["id"] for m in listed(admitted["position"])["members"]] == [m["id"] for m in before["members"]] + [other["id"]]
    withdrawn = ok(client.delete(f"{UNIONS}/{scenario.id}/members/{scenario.b['id']}", headers=scenario.b_head))
    assert scenario.b["id"] not in [m["id"] for m in listed(withdrawn["position"])["members"]]
