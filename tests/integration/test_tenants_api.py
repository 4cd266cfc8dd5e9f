"""Registering and reading tenants through the HTTP API, against the real PostgreSQL."""

from __future__ import annotations

import threading
import uuid
from typing import Any

from sqlalchemy import select

from projections.tenants import tenants as rm_tenants
from support import bearer, invalid_bin, valid_bin

TENANTS = "/api/v1/tenants"


def registration(**fields: Any) -> dict[str, Any]:
    return {"name": "Мектеп №1", "kind": "school", "bin": valid_bin(), "region": "Алматы", **fields}


def after(headers: dict[str, str], position: str) -> dict[str, str]:
    return {**headers, "X-Min-Position": position}


def all_pages(client: Any, url: str, headers: dict[str, str], **params: Any) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    cursor = None
    while True:
        query = {**params, "limit": 500, **({"cursor": cursor} if cursor else {})}
        response = client.get(url, query_string=query, headers=headers)
        assert response.status_code == 200, response.get_json()
        body = response.get_json()
        items.extend(body["items"])
        cursor = body["next_cursor"]
        if cursor is None:
            return items


# Registration

def test_the_operator_registers_a_school_and_gets_its_id_and_position(client, tour):
    body = registration(name="Қарағанды облысы, №7 мектеп-гимназия", language="kk", email="school7@example.kz")
    response = client.post(TENANTS, json=body, headers=tour.operator)

    assert response.status_code == 201
    created = response.get_json()
    assert uuid.UUID(created["id"])
    assert isinstance(created["position"], str) and int(created["position"]) > 0
    assert {k: created[k] for k in ("name", "kind", "bin", "region", "language", "email")} == {
        "name": "Қарағанды облысы, №7 мектеп-гимназия", "kind": "school", "bin": body["bin"],
        "region": "Алматы", "language": "kk", "email": "school7@example.kz",
    }
    assert created["parent_id"] is None

    read = client.get(f"{TENANTS}/{created['id']}", headers=after(tour.operator, created["position"]))
    assert read.status_code == 200
    assert {k: v for k, v in read.get_json().items()} == {k: v for k, v in created.items() if k != "position"}


def test_each_registration_gets_a_later_position_than_the_one_before(tour):
    first = tour.tenant()
    second = tour.tenant()
    assert int(second["position"]) > int(first["position"])
    assert first["id"] != second["id"]


def test_a_bin_with_a_wrong_check_digit_is_refused_naming_the_field_bin(client, tour):
    response = client.post(TENANTS, json=registration(bin=invalid_bin()), headers=tour.operator)
    assert response.status_code == 422
    assert response.mimetype == "application/problem+json"
    assert "bin" in response.get_json()["errors"]


def test_a_bin_with_non_digits_is_refused_naming_the_field_bin(client, tour):
    for bad in ["97014000001X", "9701 4000001", "９７０１４０００００１３", "", "97014000001"]:
        response = client.post(TENANTS, json=registration(bin=bad), headers=tour.operator)
        assert response.status_code == 422, bad
        assert "bin" in response.get_json()["errors"], bad


def test_a_bin_sent_as_a_json_number_is_refused(client, tour):
    response = client.post(TENANTS, json=registration(bin=970140000013), headers=tour.operator)
    assert response.status_code == 422
    assert "bin" in response.get_json()["errors"]


def test_a_second_registration_of_the_same_bin_is_a_conflict(client, tour):
    first = tour.tenant()
    response = client.post(TENANTS, json=registration(bin=first["bin"], name="Another name"), headers=tour.operator)
    assert response.status_code == 409
    assert response.mimetype == "application/problem+json"
    assert first["bin"] in response.get_json()["detail"]


def test_twenty_concurrent_registrations_of_one_bin_give_exactly_one_tenant(client, tour, engine):
    app = client.application
    the_bin = valid_bin()
    start = threading.Barrier(20)
    results: list[tuple[int, dict[str, Any]]] = []
    lock = threading.Lock()

    def register(n: int) -> None:
        own_client = app.test_client()
        start.wait()
        response = own_client.post(TENANTS, json=registration(bin=the_bin, name=f"Racer {n}"), headers=tour.operator)
        with lock:
            results.append((response.status_code, response.get_json()))

    threads = [threading.Thread(target=register, args=(n,)) for n in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    statuses = sorted(status for status, _ in results)
    assert statuses == [201] + [409] * 19, results
    [winner] = [body for status, body in results if status == 201]
    assert all(body["type"] and body["status"] == 409 for status, body in results if status == 409)

    listed = all_pages(client, TENANTS, after(tour.operator, winner["position"]))
    assert [t["id"] for t in listed if t["bin"] == the_bin] == [winner["id"]]
    with engine.connect() as conn:
        assert conn.execute(select(rm_tenants.c.id).where(rm_tenants.c.bin == the_bin)).scalars().all() == [
            uuid.UUID(winner["id"])
        ]


def test_a_school_may_report_to_a_district_department(client, tour):
    district = tour.tenant("district_department")
    response = client.post(TENANTS, json=registration(parent_id=district["id"]), headers=tour.operator)
    assert response.status_code == 201
    assert response.get_json()["parent_id"] == district["id"]


def test_a_school_under_a_regional_department_is_refused_citing_p5(client, tour):
    region = tour.tenant("regional_department")
    response = client.post(TENANTS, json=registration(parent_id=region["id"]), headers=tour.operator)
    assert response.status_code == 422
    problem = response.get_json()
    assert problem["clause"] == "p.5"
    assert "parent_id" in problem["errors"]


def test_a_college_under_a_district_department_is_refused_citing_p22(client, tour):
    district = tour.tenant("district_department")
    response = client.post(TENANTS, json=registration(kind="tvet_college", parent_id=district["id"]),
                           headers=tour.operator)
    assert response.status_code == 422
    assert response.get_json()["clause"] == "p.22"


def test_a_parent_id_that_names_no_tenant_is_refused(client, tour):
    response = client.post(TENANTS, json=registration(parent_id=str(uuid.uuid4())), headers=tour.operator)
    assert response.status_code == 422
    assert "parent_id" in response.get_json()["errors"]


def test_a_parent_id_that_names_a_person_is_refused_as_no_tenant(client, tour):
    district = tour.tenant("district_department")
    head, _ = tour.head(district["id"])
    response = client.post(TENANTS, json=registration(parent_id=head["id"]), headers=tour.operator)
    assert response.status_code == 422
    assert "parent_id" in response.get_json()["errors"]


def test_a_parent_id_that_is_not_a_uuid_is_refused(client, tour):
    response = client.post(TENANTS, json=registration(parent_id="district-7"), headers=tour.operator)
    assert response.status_code == 422
    assert "parent_id" in response.get_json()["errors"]


def test_the_language_is_russian_or_kazakh_only(client, tour):
    assert tour.tenant(language="ru")["language"] == "ru"
    assert tour.tenant(language="kk")["language"] == "kk"
    assert tour.tenant()["language"] == "ru"
    for language in ["en", "kz", "RU", ""]:
        response = client.post(TENANTS, json=registration(language=language), headers=tour.operator)
        assert response.status_code == 422, language
        assert "language" in response.get_json()["errors"]


def test_an_unknown_kind_is_refused(client, tour):
    response = client.post(TENANTS, json=registration(kind="lyceum"), headers=tour.operator)
    assert response.status_code == 422
    assert "kind" in response.get_json()["errors"]


def test_missing_required_fields_are_each_named(client, tour):
    response = client.post(TENANTS, json={}, headers=tour.operator)
    assert response.status_code == 422
    assert {"name", "kind", "bin", "region"} <= set(response.get_json()["errors"])


def test_a_refused_registration_leaves_the_bin_free(client, tour):
    the_bin = valid_bin()
    refused = client.post(TENANTS, json=registration(bin=the_bin, kind="lyceum"), headers=tour.operator)
    assert refused.status_code == 422
    accepted = client.post(TENANTS, json=registration(bin=the_bin), headers=tour.operator)
    assert accepted.status_code == 201


def test_a_head_cannot_register_a_tenant(client, tour):
    school = tour.tenant()
    _, head = tour.head(school["id"])
    response = client.post(TENANTS, json=registration(), headers=head)
    assert response.status_code == 403
    assert response.mimetype == "application/problem+json"


def test_registering_without_a_token_is_unauthorized(client):
    response = client.post(TENANTS, json=registration())
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert response.mimetype == "application/problem+json"


def test_an_unknown_token_is_unauthorized_with_www_authenticate(client, tour):
    for token in ["not-a-token", f"{uuid.uuid4().hex}.guess", tour.operator["Authorization"][7:] + "x"]:
        response = client.get(TENANTS, headers=bearer(token))
        assert response.status_code == 401, token
        assert response.headers["WWW-Authenticate"].startswith("Bearer")
    basic = client.get(TENANTS, headers={"Authorization": "Basic b3BlcmF0b3I6cGFzcw=="})
    assert basic.status_code == 401


# Reading

def test_the_operator_lists_every_tenant(client, tour):
    mine = [tour.tenant("school"), tour.tenant("university"), tour.tenant("regional_department")]
    listed = all_pages(client, TENANTS, after(tour.operator, mine[-1]["position"]))
    ids = [t["id"] for t in listed]
    assert {t["id"] for t in mine} <= set(ids)
    assert len(ids) == len(set(ids))


def test_the_tenant_list_filters_by_kind(client, tour):
    university = tour.tenant("university")
    listed = all_pages(client, TENANTS, after(tour.operator, university["position"]), kind="university")
    assert university["id"] in [t["id"] for t in listed]
    assert {t["kind"] for t in listed} == {"university"}


def test_a_head_lists_only_their_own_tenant(client, tour):
    own = tour.tenant()
    tour.tenant()
    _, head = tour.head(own["id"])
    response = client.get(TENANTS, headers=after(head, own["position"]))
    assert response.status_code == 200
    body = response.get_json()
    assert [t["id"] for t in body["items"]] == [own["id"]]
    assert body["next_cursor"] is None


def test_the_operator_and_members_read_one_tenant(client, tour):
    school = tour.tenant(name="Шымкент, №3 мектеп")
    _, head = tour.head(school["id"])
    for headers in (tour.operator, head):
        response = client.get(f"{TENANTS}/{school['id']}", headers=after(headers, school["position"]))
        assert response.status_code == 200
        assert response.get_json()["name"] == "Шымкент, №3 мектеп"


def test_another_tenants_person_gets_not_found_exactly_as_for_a_missing_tenant(client, tour):
    school = tour.tenant()
    other = tour.tenant()
    _, outsider = tour.head(other["id"])
    foreign = client.get(f"{TENANTS}/{school['id']}", headers=after(outsider, school["position"]))
    missing = client.get(f"{TENANTS}/{uuid.uuid4()}", headers=outsider)
    assert foreign.status_code == missing.status_code == 404
    assert foreign.get_json() == missing.get_json()


def test_the_operator_gets_not_found_for_a_tenant_that_does_not_exist(client, tour):
    response = client.get(f"{TENANTS}/{uuid.uuid4()}", headers=tour.operator)
    assert response.status_code == 404
    assert response.mimetype == "application/problem+json"


def test_the_tenant_list_pages_without_repeats(client, tour):
    made = [tour.tenant("postsecondary_college") for _ in range(3)]
    seen: list[str] = []
    cursor = None
    headers = after(tour.operator, made[-1]["position"])
    for _ in range(10):
        query = {"limit": 2, "kind": "postsecondary_college", **({"cursor": cursor} if cursor else {})}
        body = client.get(TENANTS, query_string=query, headers=headers).get_json()
        assert len(body["items"]) <= 2
        seen.extend(t["id"] for t in body["items"])
        cursor = body["next_cursor"]
        if cursor is None:
            break
    assert len(seen) == len(set(seen))
    assert {t["id"] for t in made} <= set(seen)


def test_a_list_without_a_limit_gives_pages_of_fifty(client, tour):
    last = tour.tenant()
    while len(all_pages(client, TENANTS, after(tour.operator, last["position"]))) <= 50:
        last = tour.tenant()
    body = client.get(TENANTS, headers=after(tour.operator, last["position"])).get_json()
    assert len(body["items"]) == 50
    assert body["next_cursor"]
