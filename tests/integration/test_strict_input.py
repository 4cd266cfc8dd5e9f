"""Input read one way by every reader: JSON bodies without duplicate keys, oversized or non-finite numbers; dates
in ISO 8601's extended form within what they can mean; names without hidden characters. Each walked over every
route of the OpenAPI document, so a new route or field is covered by itself."""

from __future__ import annotations

import json
import uuid
from datetime import timedelta
from typing import Any

import pytest

from test_bad_input import _resolve, filled
from support import platform_today

HUGE = "9" * 5001


def _json_commands(document: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    found = []
    for path, item in document["paths"].items():
        for method, operation in item.items():
            content = (operation.get("requestBody") or {}).get("content", {}) if isinstance(operation, dict) else {}
            if "application/json" in content:
                found.append((method.upper(), path, content["application/json"]["schema"]))
    return found


BAD_BODIES = {
    "a 5,001-digit integer": '{"positive": %s}' % HUGE,
    "a 5,001-digit negative integer in a list": '{"items": [-%s]}' % HUGE,
    "a float past the double range": '{"limit": 1e999}',
    "NaN": '{"positive": NaN}',
    "Infinity": '{"positive": -Infinity}',
    "a duplicated key": '{"full_name": "Ерлан", "full_name": "Erlan"}',
    "a duplicated key in a nested object": '{"council_decision": {"number": "1", "number": "2"}}',
}


def test_every_json_route_refuses_unreadable_bodies_with_400_and_stores_nothing(client, tour, platform):
    tenant = tour.tenant("tvet_college")
    _, head = tour.head(tenant["id"])
    document = client.get("/api/v1/openapi.json").get_json()
    before = platform.recorder.max_notification_id()
    commands = _json_commands(document)
    wrong: list[str] = []
    for method, path, _ in commands:
        url = filled(path, tenant["id"])
        for what, raw in BAD_BODIES.items():
            for who in (head, tour.operator):
                response = client.open(url, method=method, data=raw.encode(),
                                       headers={**who, "Content-Type": "application/json"})
                if response.status_code != 400 or response.mimetype != "application/problem+json":
                    wrong.append(f"{method} {path} with {what}: {response.status_code} "
                                 f"{response.get_data(as_text=True)[:160]}")
    print(json.dumps({"test": "unreadable_bodies", "commands": len(commands), "bodies": len(BAD_BODIES),
                      "failures": len(wrong)}))
    assert not wrong, "\n".join(wrong[:30])
    assert len(commands) >= 20
    assert platform.recorder.max_notification_id() == before


def test_a_duplicated_key_is_named_in_the_refusal(client, tour):
    response = client.post("/api/v1/tenants", data='{"name": "A", "name": "B"}',
                           headers={**tour.operator, "Content-Type": "application/json"})
    assert response.status_code == 400
    assert "'name' appears more than once" in response.get_json()["detail"]


def test_a_huge_number_in_a_conclusion_is_refused_and_no_conclusion_is_recorded(client, tour):
    school = tour.tenant("tvet_college")
    _, head = tour.head(school["id"])
    url = f"/api/v1/tenants/{school['id']}/documents/{uuid.uuid4()}/conclusions"
    response = client.post(url, data='{"unit_id": "%s", "positive": %s}' % (uuid.uuid4(), HUGE),
                           headers={**head, "Content-Type": "application/json"})
    assert response.status_code == 400
    assert "more than 19 digits" in response.get_json()["detail"]


# Dates: every date and time a command or a query takes, walked from the document

def _date_fields(document: dict[str, Any], schema: dict[str, Any], depth: int = 0) -> list[tuple[str, Any, str]]:
    """Return (field name, body builder, format) for each date or date-time in a request schema."""
    found: list[tuple[str, Any, str]] = []
    schema = _resolve(document, schema)
    for name, prop in (schema.get("properties") or {}).items():
        prop = _resolve(document, prop)
        if prop.get("readOnly"):
            continue
        if prop.get("format") in ("date", "date-time"):
            found.append((name, lambda v, n=name: {n: v}, prop["format"]))
        elif prop.get("type") == "array" and depth < 3:
            for inner, build, kind in _date_fields(document, prop.get("items") or {}, depth + 1):
                found.append((inner, lambda v, n=name, b=build: {n: [b(v)]}, kind))
        elif (prop.get("type") == "object" or "properties" in prop) and depth < 3:
            for inner, build, kind in _date_fields(document, prop, depth + 1):
                found.append((inner, lambda v, n=name, b=build: {n: b(v)}, kind))
    return found


OUT_OF_FORM = {
    "date": ["9999-12-31", "0001-01-01", "20260901", "2026-W36-2", "2026-9-1", "1999-12-31"],
    "date-time": ["9999-12-31T00:00:00Z", "0001-01-01T00:00:00+00:00", "20260901T083000Z", "2026-09-01"],
}


def test_every_date_of_every_command_and_query_refuses_compact_forms_and_impossible_years_naming_it(
        client, tour, platform):
    tenant = tour.tenant("tvet_college")
    _, head = tour.head(tenant["id"])
    document = client.get("/api/v1/openapi.json").get_json()
    before = platform.recorder.max_notification_id()
    wrong: list[str] = []
    tried = 0
    for method, path, schema in _json_commands(document):
        for name, build, kind in _date_fields(document, schema):
            for value in OUT_OF_FORM[kind]:
                tried += 1
                response = client.open(filled(path, tenant["id"]), method=method, json=build(value), headers=head)
                errors = (response.get_json() or {}).get("errors") or {}
                if response.status_code != 422 or not any(key.split(".")[-1] == name for key in errors):
                    wrong.append(f"{method} {path} {name}={value}: {response.status_code} "
                                 f"{response.get_data(as_text=True)[:160]}")
    for path, item in document["paths"].items():
        for method, operation in item.items():
            if method != "get":
                continue
            for parameter in operation.get("parameters", []):
                schema = _resolve(document, parameter.get("schema") or {})
                if parameter.get("in") != "query" or schema.get("format") not in ("date", "date-time"):
                    continue
                for value in OUT_OF_FORM[schema["format"]]:
                    tried += 1
                    response = client.get(filled(path, tenant["id"]), query_string={parameter["name"]: value},
                                          headers=tour.operator)
                    errors = (response.get_json() or {}).get("errors") or {}
                    if response.status_code != 422 or parameter["name"] not in errors:
                        wrong.append(f"GET {path} ?{parameter['name']}={value}: {response.status_code} "
                                     f"{response.get_data(as_text=True)[:160]}")
    print(json.dumps({"test": "dates_in_form_and_range", "values_tried": tried, "failures": len(wrong)}))
    assert not wrong, "\n".join(wrong[:30])
    assert tried >= 40
    assert platform.recorder.max_notification_id() == before


@pytest.mark.parametrize("starts_on", ["9999-12-31", "2099-12-31", "2001-09-01"])
def test_a_leader_term_far_from_today_is_refused_naming_starts_on(client, tour, starts_on):
    school = tour.tenant("school")
    _, head = tour.head(school["id"])
    teachers = [tour.person(school["id"], head, ["teacher"], ["Математика"])[0]["id"] for _ in range(3)]
    unit = client.post(f"/api/v1/tenants/{school['id']}/units", headers=head, json={
        "kind": "methodical_association", "name": "МО математики", "subject": "Математика",
        "member_ids": teachers}).get_json()
    url = f"/api/v1/tenants/{school['id']}/units/{unit['id']}/leaders"
    response = client.post(url, headers=head, json={"person_id": teachers[0], "starts_on": starts_on})
    assert response.status_code == 422, response.get_json()
    assert list(response.get_json()["errors"]) == ["starts_on"]
    assert client.get(f"/api/v1/tenants/{school['id']}/units/{unit['id']}",
                      headers={**head, "X-Min-Position": unit["position"]}).get_json()["leader"] is None
    today = platform_today().isoformat()
    assert client.post(url, headers=head, json={"person_id": teachers[0], "starts_on": today}).status_code == 201


def test_a_grant_past_five_years_is_refused_naming_until(client, tour):
    school = tour.tenant("school")
    _, head = tour.head(school["id"])
    auditor, _ = tour.person(school["id"], head, ["auditor"], [])
    url = f"/api/v1/tenants/{school['id']}/audit-grants"
    far = (platform_today() + timedelta(days=6 * 366)).isoformat()
    response = client.post(url, headers=head, json={"person_id": auditor["id"], "until": far})
    assert response.status_code == 422 and list(response.get_json()["errors"]) == ["until"]


def test_a_plan_for_a_year_long_past_is_refused_citing_p29(client, tour):
    school = tour.tenant("school")
    _, head = tour.head(school["id"])
    _, deputy = tour.person(school["id"], head, ["deputy_head"])
    teachers = [tour.person(school["id"], head, ["teacher"], ["Химия"])[0]["id"] for _ in range(3)]
    unit = client.post(f"/api/v1/tenants/{school['id']}/units", headers=head, json={
        "kind": "methodical_association", "name": "МО химии", "subject": "Химия", "member_ids": teachers}).get_json()
    response = client.post(f"/api/v1/tenants/{school['id']}/units/{unit['id']}/plans", headers=deputy, json={
        "academic_year": "2001-2002", "items": [{"direction": "p.13.1", "title": "Семинар"}]})
    assert response.status_code == 422, response.get_json()
    assert response.get_json()["clause"] == "p.29" and list(response.get_json()["errors"]) == ["academic_year"]


# Names and texts: hidden characters refused, Kazakh and Russian kept exactly as sent

def test_names_with_hidden_characters_are_refused_and_kazakh_text_is_kept_exactly(client, tour):
    school = tour.tenant("school")
    _, head = tour.head(school["id"])
    url = f"/api/v1/tenants/{school['id']}/people"
    for disguised in ("Ахметова\u202eавонрим", "Ах\u200bметова", "Ерлан\u0007", "\u001b[2JЕрлан"):
        response = client.post(url, headers=head, json={"full_name": disguised, "roles": ["teacher"]})
        assert response.status_code == 422 and list(response.get_json()["errors"]) == ["full_name"], disguised
    exact = "Гүлнар Әбілқасымқызы Іңкәрова (Қазақ тілі)"
    created = client.post(url, headers=head, json={"full_name": exact, "roles": ["teacher"]})
    assert created.status_code == 201
    read = client.get(f"{url}/{created.get_json()['id']}", headers={**head, "X-Min-Position": created.get_json()["position"]})
    assert read.get_json()["full_name"] == exact
