"""The API's conventions: problem+json errors, body limits, positions, request ids, the OpenAPI document."""

from __future__ import annotations

import dataclasses
import json
import re
import time
import uuid
from typing import Any

import pytest

from support import bearer, valid_bin

TENANTS = "/api/v1/tenants"
PROBLEM = "application/problem+json"


def registration(**fields: Any) -> dict[str, Any]:
    return {"name": "Колледж №2", "kind": "tvet_college", "bin": valid_bin(), "region": "Астана", **fields}


def assert_problem(response: Any, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.get_data(as_text=True)[:500]
    assert response.mimetype == PROBLEM
    body = json.loads(response.get_data(as_text=True))
    assert isinstance(body["type"], str) and body["type"]
    assert isinstance(body["title"], str) and body["title"]
    assert body["status"] == status
    assert isinstance(body["detail"], str) and body["detail"]
    return body


def raw_post(client: Any, headers: dict[str, str], data: bytes, content_type: str = "application/json",
             path: str = TENANTS) -> Any:
    return client.post(path, data=data, headers={**headers, "Content-Type": content_type})


# Every error is a problem

def test_every_kind_of_error_answers_as_problem_json(client, tour):
    school = tour.tenant("school")
    _, head = tour.head(school["id"])
    cases = [
        (401, lambda: client.get(TENANTS)),
        (401, lambda: client.get(TENANTS, headers=bearer("wrong"))),
        (403, lambda: client.post(TENANTS, json=registration(), headers=head)),
        (404, lambda: client.get(f"{TENANTS}/{uuid.uuid4()}", headers=tour.operator)),
        (404, lambda: client.get("/api/v1/no-such-thing", headers=tour.operator)),
        (404, lambda: client.get(f"{TENANTS}/not-a-uuid", headers=tour.operator)),
        (405, lambda: client.put(TENANTS, json={}, headers=tour.operator)),
        (409, lambda: client.post(TENANTS, json=registration(bin=school["bin"]), headers=tour.operator)),
        (415, lambda: raw_post(client, tour.operator, b"name=x", "text/plain")),
        (400, lambda: raw_post(client, tour.operator, b"{not json")),
        (422, lambda: client.post(TENANTS, json=registration(kind="lyceum"), headers=tour.operator)),
        (413, lambda: raw_post(client, tour.operator, b" " * 1_000_001)),
    ]
    for status, request in cases:
        assert_problem(request(), status)


def test_malformed_json_is_a_bad_request(client, tour):
    for data in [b"{", b'{"name": }', b"{'name': 'single quotes'}", b'{"a": 1,}', b"NaN-ish"]:
        assert_problem(raw_post(client, tour.operator, data), 400)


def test_a_json_body_that_is_not_an_object_is_refused_not_crashed(client, tour):
    for data in [b"[]", b"42", b'"text"', b"null"]:
        response = raw_post(client, tour.operator, data)
        assert response.status_code in (400, 422), data
        assert response.mimetype == PROBLEM


def test_a_body_that_is_not_json_is_an_unsupported_media_type(client, tour):
    body = json.dumps(registration()).encode()
    for content_type in ["text/plain", "application/x-www-form-urlencoded", "application/xml"]:
        assert_problem(raw_post(client, tour.operator, body, content_type), 415)


def test_json_in_another_charset_is_an_unsupported_media_type(client, tour):
    body = json.dumps(registration()).encode("utf-16")
    assert_problem(raw_post(client, tour.operator, body, "application/json; charset=utf-16"), 415)


def test_a_body_over_the_size_limit_is_refused_and_nothing_is_registered(client, tour, settings):
    assert settings.max_body_bytes == 1_000_000
    the_bin = valid_bin()
    padded = registration(bin=the_bin, region="x" * settings.max_body_bytes)
    assert_problem(client.post(TENANTS, json=padded, headers=tour.operator), 413)
    # The same BIN is still free: the oversized request changed nothing.
    assert client.post(TENANTS, json=registration(bin=the_bin), headers=tour.operator).status_code == 201


def test_a_body_just_under_the_limit_is_read(client, tour, settings):
    body = json.dumps(registration(kind="lyceum")).encode()
    body = body[:-1] + b"," + b'"note": "' + b"x" * (settings.max_body_bytes - len(body) - 20) + b'"}'
    assert len(body) <= settings.max_body_bytes
    response = raw_post(client, tour.operator, body)
    assert response.status_code == 422  # read and validated, not refused for its size


@pytest.mark.parametrize("shape", ["list", "object"])
def test_json_nested_a_thousand_deep_is_a_client_error_not_a_crash(client, tour, shape):
    if shape == "list":
        deep = b"[" * 1000 + b"]" * 1000
    else:
        deep = b'{"a":' * 1000 + b"1" + b"}" * 1000
    body = b'{"name": ' + deep + b', "kind": "school", "bin": "970140000013", "region": "Almaty"}'
    for data in (body, deep):
        response = raw_post(client, tour.operator, data)
        assert 400 <= response.status_code < 500, response.status_code
        assert response.mimetype == PROBLEM


def test_invalid_utf8_is_a_bad_request(client, tour):
    good = json.dumps(registration(name="Мектеп"), ensure_ascii=False).encode("utf-8")
    for bad in [good.replace("Мектеп".encode(), b"\xff\xfe\xfa"), b'{"name": "\xc3\x28"}', b"\x80"]:
        assert_problem(raw_post(client, tour.operator, bad), 400)


def test_an_unknown_route_is_a_not_found_problem(client, tour):
    assert_problem(client.get("/api/v1/nothing/here", headers=tour.operator), 404)
    assert_problem(client.get("/api/v2/tenants", headers=tour.operator), 404)


def test_a_wrong_method_is_a_method_not_allowed_problem_that_names_the_allowed_ones(client, tour):
    response = client.delete(TENANTS, headers=tour.operator)
    assert_problem(response, 405)
    assert {"GET", "POST"} <= {m.strip() for m in response.headers["Allow"].split(",")}


def test_unknown_fields_are_refused_by_name(client, tour):
    response = client.post(TENANTS, json=registration(owner="me"), headers=tour.operator)
    body = assert_problem(response, 422)
    assert "owner" in body["errors"]


# Positions

def test_a_read_with_the_position_of_a_write_sees_that_write(client, tour):
    school = tour.tenant("school")
    head, headers = tour.head(school["id"])
    added = client.post(f"{TENANTS}/{school['id']}/people", json={"full_name": "Жаңа мұғалім", "roles": ["teacher"]},
                        headers=headers).get_json()
    listed = client.get(f"{TENANTS}/{school['id']}/people",
                        headers={**headers, "X-Min-Position": added["position"]}).get_json()
    assert [p["id"] for p in listed["items"]] == [head["id"], added["id"]]
    renamed = client.patch(f"{TENANTS}/{school['id']}/people/{added['id']}", json={"subjects": ["Музыка"]},
                           headers=headers).get_json()
    read = client.get(f"{TENANTS}/{school['id']}/people/{added['id']}",
                      headers={**headers, "X-Min-Position": renamed["position"]}).get_json()
    assert read["subjects"] == ["Музыка"]


@pytest.mark.parametrize("position", ["abc", "-1", "1.5", "0x10", "1e3", "12 34", "9" * 40])
def test_a_garbage_min_position_is_refused_as_a_problem(client, tour, position):
    response = client.get(TENANTS, headers={**tour.operator, "X-Min-Position": position})
    assert response.status_code in (400, 422)
    assert_problem(response, response.status_code)


def test_a_position_the_read_model_does_not_reach_in_time_is_503_with_retry_after(settings, platform, engine,
                                                                                  projector, tour):
    from services.api import create_app

    quick = create_app({"SETTINGS": dataclasses.replace(settings, min_position_timeout=0.3),
                        "PLATFORM": platform, "ENGINE": engine})
    far = str((platform.recorder.max_notification_id() or 0) + 1_000_000)
    started = time.monotonic()
    response = quick.test_client().get(TENANTS, headers={**tour.operator, "X-Min-Position": far})
    elapsed = time.monotonic() - started

    assert_problem(response, 503)
    assert int(response.headers["Retry-After"]) >= 1
    assert 0.3 <= elapsed < 5


# The OpenAPI document

def test_the_openapi_document_needs_no_credential_and_lists_every_route(client, app):
    response = client.get("/api/v1/openapi.json")
    assert response.status_code == 200
    document = response.get_json()
    assert document["openapi"].startswith("3.")
    paths = document["paths"]

    # Swagger UI's page and files (/api/v1/docs/) show the document; they are not operations of it.
    routes = [rule for rule in app.url_map.iter_rules()
              if rule.rule.startswith("/api/v1") and not rule.endpoint.startswith("swagger-ui.")]
    assert routes
    for rule in routes:
        path = re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", r"{\1}", rule.rule)
        if path == "/api/v1/openapi.json" and path not in paths:
            continue
        assert path in paths, f"{path} is served but not documented"
        for method in rule.methods - {"HEAD", "OPTIONS"}:
            assert method.lower() in paths[path], f"{method} {path} is served but not documented"


def test_the_openapi_document_documents_no_route_that_is_not_served(client, app):
    served = {
        (re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", r"{\1}", rule.rule), method.lower())
        for rule in app.url_map.iter_rules() for method in rule.methods - {"HEAD", "OPTIONS"}
    }
    paths = client.get("/api/v1/openapi.json").get_json()["paths"]
    for path, item in paths.items():
        for method in item:
            if method in ("get", "post", "put", "patch", "delete"):
                assert (path, method) in served, f"{method.upper()} {path} is documented but not served"


# Request ids

def test_the_request_id_sent_is_echoed(client, tour):
    response = client.get(TENANTS, headers={**tour.operator, "X-Request-Id": "conv-echo-1"})
    assert response.headers["X-Request-Id"] == "conv-echo-1"
    refused = client.get(TENANTS, headers={"X-Request-Id": "conv-echo-401"})
    assert refused.status_code == 401
    assert refused.headers["X-Request-Id"] == "conv-echo-401"


def test_a_request_without_a_usable_id_gets_a_fresh_one(client, tour):
    first = client.get(TENANTS, headers=tour.operator).headers["X-Request-Id"]
    second = client.get(TENANTS, headers={**tour.operator, "X-Request-Id": "bad id\twith spaces"}).headers[
        "X-Request-Id"]
    assert first and second and first != second
    assert second != "bad id\twith spaces"


def test_events_written_by_commands_carry_the_request_id_sent(client, tour, platform):
    created = client.post(TENANTS, json=registration(kind="school"),
                          headers={**tour.operator, "X-Request-Id": "conv-register-7"}).get_json()
    [registered] = platform.events.get(uuid.UUID(created["id"]))
    assert registered.meta["request_id"] == "conv-register-7"
    assert registered.meta["tenant_id"] == created["id"]
    assert registered.meta["actor"] == {"person_id": None, "role": "operator"}

    head, headers = tour.head(created["id"])
    person = client.post(f"{TENANTS}/{created['id']}/people", json={"full_name": "Мұғалім", "roles": ["teacher"]},
                         headers={**headers, "X-Request-Id": "conv-add-8"}).get_json()
    client.patch(f"{TENANTS}/{created['id']}/people/{person['id']}", json={"subjects": ["Тарих"]},
                 headers={**headers, "X-Request-Id": "conv-change-9"})
    client.delete(f"{TENANTS}/{created['id']}/people/{person['id']}",
                  headers={**headers, "X-Request-Id": "conv-leave-10"})

    events = list(platform.events.get(uuid.UUID(person["id"])))
    assert [type(e).__name__ for e in events] == ["Joined", "Changed", "Left"]
    assert [e.meta["request_id"] for e in events] == ["conv-add-8", "conv-change-9", "conv-leave-10"]
    assert all(e.meta["actor"] == {"person_id": head["id"], "role": "head"} for e in events)
    assert all(e.meta["tenant_id"] == created["id"] for e in events)
    assert [e.meta["clause"] for e in events][:2] == ["p.3", "p.3"]
    assert platform.repository.get(uuid.UUID(person["id"])).active is False


def test_the_openapi_document_says_which_routes_need_a_token_as_the_service_enforces(client, tour):
    document = client.get("/api/v1/openapi.json").get_json()
    assert {"bearer": []} in document["security"]
    open_paths = {"/api/v1/openapi.json", "/api/v1/health", "/api/v1/health/live", "/api/v1/health/ready"}
    for path, item in document["paths"].items():
        for method, operation in item.items():
            if method not in ("get", "post", "put", "patch", "delete"):
                continue
            documented_open = operation.get("security", document["security"]) == []
            assert documented_open == (path in open_paths), f"{method.upper()} {path}"
    assert client.get("/api/v1/health").status_code == 200
    assert client.get("/api/v1/openapi.json").status_code == 200


@pytest.mark.parametrize("method, path, status", [
    ("post", "/api/v1/tenants", "201"),
    ("post", "/api/v1/tenants/{tid}/people", "201"),
    ("post", "/api/v1/tenants/{tid}/people/{pid}/tokens", "201"),
    ("patch", "/api/v1/tenants/{tid}/people/{pid}", "200"),
    ("delete", "/api/v1/tenants/{tid}/people/{pid}", "200"),
    ("get", "/api/v1/tenants/{tid}/people", "200"),
])
def test_the_openapi_document_names_the_success_status_each_command_returns(client, method, path, status):
    operation = client.get("/api/v1/openapi.json").get_json()["paths"][path][method]
    assert status in operation["responses"]


# Text PostgreSQL cannot store, or UTF-8 cannot encode

UNSTORABLE = {"nul": "a\u0000b", "lone surrogate": "a\ud800b"}


def _json(body: dict[str, Any]) -> bytes:
    return json.dumps(body).encode()  # ensure_ascii: NUL and surrogates travel as \u escapes, as any client sends them


@pytest.mark.parametrize("text", UNSTORABLE.values(), ids=UNSTORABLE.keys())
@pytest.mark.parametrize("field", ["name", "region", "email"])
def test_a_tenant_field_with_unstorable_text_is_refused_naming_it(client, tour, text, field):
    value = f"school@exam{text}ple.kz" if field == "email" else text
    response = raw_post(client, tour.operator, _json(registration(**{field: value})))
    body = assert_problem(response, 422)
    assert field in body["errors"]


@pytest.mark.parametrize("text", UNSTORABLE.values(), ids=UNSTORABLE.keys())
def test_a_person_with_unstorable_text_is_refused_and_the_read_side_keeps_working(client, tour, text):
    school = tour.tenant("school")
    head, headers = tour.head(school["id"])
    people = f"{TENANTS}/{school['id']}/people"
    for field, body in [("full_name", {"full_name": text, "roles": ["teacher"]}),
                        ("subjects", {"full_name": "Ok", "roles": ["teacher"], "subjects": ["Физика", text]})]:
        response = raw_post(client, headers, _json(body), path=people)
        problem = assert_problem(response, 422)
        assert any(key == field or key.startswith(field + ".") for key in problem["errors"]), problem
    patch = client.patch(f"{people}/{head['id']}", data=_json({"subjects": [text]}),
                         headers={**headers, "Content-Type": "application/json"})
    assert_problem(patch, 422)

    # Nothing unstorable reached the log: the projector still follows it.
    added = client.post(people, json={"full_name": "Дұрыс есім", "roles": ["teacher"]}, headers=headers).get_json()
    read = client.get(f"{people}/{added['id']}", headers={**headers, "X-Min-Position": added["position"]})
    assert read.status_code == 200


def test_a_list_filter_with_a_nul_is_refused_not_crashed(client, tour):
    school = tour.tenant("school")
    _, headers = tour.head(school["id"])
    response = client.get(f"{TENANTS}/{school['id']}/people", query_string={"subject": "a\u0000b"}, headers=headers)
    body = assert_problem(response, 422)
    assert "subject" in body["errors"]


def test_an_unknown_field_whose_name_is_a_lone_surrogate_is_named_back_escaped(client, tour):
    response = raw_post(client, tour.operator, _json({**registration(), "\ud800": 1}))
    body = assert_problem(response, 422)
    assert "\ud800" in body["errors"]
    assert b"\\ud800" in response.data
