"""Idempotency-Key: a retried command is answered as the first time and carried out once, whatever the
interleaving; the same key with another request is refused; a lost answer is reported, not repeated."""

from __future__ import annotations

import json
import threading
import uuid
from typing import Any

from sqlalchemy import text
from support import Tour, valid_bin
from unions_support import wait_until

from domain.requests import IdempotentRequest


def _people_named(engine: Any, name: str) -> int:
    with engine.connect() as conn:
        return conn.execute(text("SELECT count(*) FROM methodical_events WHERE topic LIKE '%Person.Joined'"
                                 " AND convert_from(state, 'UTF8') LIKE :name"), {"name": f"%{name}%"}).scalar_one()


def _records_of(engine: Any, request_id: uuid.UUID) -> int:
    with engine.connect() as conn:
        return conn.execute(text("SELECT count(*) FROM methodical_events WHERE originator_id = :id"),
                            {"id": request_id}).scalar_one()


def test_a_retry_is_answered_as_the_first_time_and_carried_out_once(client, tour: Tour, engine):
    school = tour.tenant("school")
    head_person, head = tour.head(school["id"])
    name = f"Қайталанған Мұғалім {uuid.uuid4().hex[:6]}"
    url = f"/api/v1/tenants/{school['id']}/people"
    body = {"full_name": name, "roles": ["teacher"], "subjects": ["Физика"]}
    key = {"Idempotency-Key": f"add-{uuid.uuid4()}"}
    first = client.post(url, json=body, headers={**head, **key})
    again = client.post(url, json=body, headers={**head, **key})
    assert first.status_code == again.status_code == 201
    assert again.get_data() == first.get_data()
    assert again.headers.get("Idempotent-Replayed") == "true" and "Idempotent-Replayed" not in first.headers
    assert _people_named(engine, name) == 1
    # The record is an event of the tenant, with the command's actor and request, and no clause.
    record_id = IdempotentRequest.id_for(uuid.UUID(head_person["id"]).hex, key["Idempotency-Key"])
    assert _records_of(engine, record_id) == 1
    # Without the key, or with another one, the same body is a new command.
    assert client.post(url, json=body, headers=head).status_code == 201
    assert _people_named(engine, name) == 2


def test_the_same_key_with_another_request_is_refused_and_a_refused_command_records_nothing(client, tour: Tour, engine):
    school = tour.tenant("school")
    _, head = tour.head(school["id"])
    url = f"/api/v1/tenants/{school['id']}/people"
    key = {"Idempotency-Key": "k-1"}
    refused = client.post(url, json={"full_name": "X", "roles": ["no-such-role"]}, headers={**head, **key})
    assert refused.status_code == 422
    # Nothing was carried out, so the key is still free for a corrected request.
    name = f"Түзетілген {uuid.uuid4().hex[:6]}"
    done = client.post(url, json={"full_name": name, "roles": ["teacher"], "subjects": ["Тарих"]},
                       headers={**head, **key})
    assert done.status_code == 201
    other = client.post(url, json={"full_name": name + " 2", "roles": ["teacher"], "subjects": ["Тарих"]},
                        headers={**head, **key})
    assert other.status_code == 422
    problem = other.get_json()
    assert other.content_type == "application/problem+json" and "Idempotency-Key" in problem["errors"]
    assert _people_named(engine, name + " 2") == 0


def test_keys_are_the_callers_own(client, tour: Tour, engine):
    name = f"Екі мектеп {uuid.uuid4().hex[:6]}"
    for _ in range(2):
        school = tour.tenant("school")
        _, head = tour.head(school["id"])
        response = client.post(f"/api/v1/tenants/{school['id']}/people", headers={**head, "Idempotency-Key": "same"},
                               json={"full_name": name, "roles": ["teacher"], "subjects": ["Химия"]})
        assert response.status_code == 201 and "Idempotent-Replayed" not in response.headers
    assert _people_named(engine, name) == 2


def test_a_command_whose_answer_was_lost_is_reported_not_repeated(client, tour: Tour, engine):
    body = {"name": "Жоғалған жауап мектебі", "kind": "school", "bin": valid_bin(), "region": "Almaty"}
    key = {"Idempotency-Key": f"register-{uuid.uuid4()}"}
    first = client.post("/api/v1/tenants", json=body, headers={**tour.operator, **key})
    assert first.status_code == 201
    with engine.begin() as conn:  # the answer was never kept (the connection was cut, say)
        conn.execute(text("DELETE FROM idempotent_responses WHERE id = :id"),
                     {"id": IdempotentRequest.id_for("operator", key["Idempotency-Key"])})
    retry = client.post("/api/v1/tenants", json=body, headers={**tour.operator, **key})
    assert retry.status_code == 409
    assert "carried out" in retry.get_json()["detail"]
    # It names what the command recorded, for the client to read instead of the answer it lost.
    assert retry.get_json()["carried_out"] == {"id": first.get_json()["id"], "kind": "Tenant"}
    assert wait_until(lambda: client.get(f"/api/v1/tenants/{first.get_json()['id']}",
                                         headers=tour.operator).status_code == 200)  # once projected
    with engine.connect() as conn:
        registered = conn.execute(text("SELECT count(*) FROM methodical_events WHERE topic LIKE '%Tenant.Registered'"
                                       " AND convert_from(state, 'UTF8') LIKE :bin"),
                                  {"bin": f"%{body['bin']}%"}).scalar_one()
    assert registered == 1


def test_concurrent_requests_with_one_key_carry_the_command_out_once(app, tour: Tour, engine):
    school = tour.tenant("school")
    _, head = tour.head(school["id"])
    name = f"Параллель {uuid.uuid4().hex[:6]}"
    body = {"full_name": name, "roles": ["teacher"], "subjects": ["Биология"]}
    headers = {**head, "Idempotency-Key": f"race-{uuid.uuid4()}"}
    statuses: list[int] = []
    bodies: list[bytes] = []
    start = threading.Barrier(8)

    def send() -> None:
        with app.test_client() as own:
            start.wait()
            response = own.post(f"/api/v1/tenants/{school['id']}/people", json=body, headers=headers)
            statuses.append(response.status_code)
            if response.status_code == 201:
                bodies.append(response.get_data())

    threads = [threading.Thread(target=send) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert _people_named(engine, name) == 1
    # Each answer is the command's (first or replayed), or 409 while the first was being carried out.
    assert set(statuses) <= {201, 409} and 201 in statuses
    assert len(set(bodies)) == 1
    print(json.dumps({"test": "idempotency_race", "requests": 8, "carried_out": 1,
                      "answers": {str(s): statuses.count(s) for s in sorted(set(statuses))}}))


def test_a_malformed_key_is_refused(client, tour: Tour):
    school = tour.tenant("school")
    _, head = tour.head(school["id"])
    for bad in ("x" * 201, "ключ", " padded "):
        response = client.post(f"/api/v1/tenants/{school['id']}/people", json={"full_name": "Y", "roles": ["teacher"]},
                               headers={**head, "Idempotency-Key": bad})
        assert response.status_code == 422, bad
        assert "Idempotency-Key" in response.get_json()["errors"]
