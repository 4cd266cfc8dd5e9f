"""Credentials: repeated authentication failures from one client are rate-limited."""

from __future__ import annotations

import dataclasses
import json
import secrets
import time

from support import bearer


def _limited_client(settings, platform, engine, limit):
    from services.api import create_app

    limited = dataclasses.replace(settings, auth_failure_limit=limit)
    return create_app({"SETTINGS": limited, "PLATFORM": platform, "ENGINE": engine, "CREATE_SCHEMA": False})


def _address(last: int) -> dict[str, str]:
    return {"REMOTE_ADDR": f"10.{secrets.randbelow(250)}.{secrets.randbelow(250)}.{last}"}


def test_a_client_that_keeps_failing_authentication_is_rate_limited_and_valid_credentials_are_not(
        settings, platform, engine, projector):
    client = _limited_client(settings, platform, engine, "5 per minute").test_client()
    school_nat = _address(7)
    statuses = [client.get("/api/v1/tenants", headers=bearer(f"guess-{i}"), environ_base=school_nat).status_code
                for i in range(8)]
    assert statuses[:5] == [401] * 5
    assert statuses[5:] == [429] * 3
    refused = client.get("/api/v1/tenants", headers=bearer("guess-again"), environ_base=school_nat)
    assert refused.mimetype == "application/problem+json" and int(refused.headers["Retry-After"]) > 0
    # One device behind the school's address does not lock out its colleagues: a valid credential goes through.
    valid = client.get("/api/v1/tenants", headers=bearer(settings.operator_token), environ_base=school_nat)
    assert valid.status_code == 200
    print(json.dumps({"test": "auth_rate_limit", "limit": "5 per minute", "attempts": len(statuses),
                      "answered_429": statuses.count(429)}))


def test_failures_are_counted_per_credential_across_addresses_and_its_owner_still_gets_in(
        settings, platform, engine, projector, tour):
    school = tour.tenant("school")
    _, head = tour.head(school["id"])
    person_hex = head["Authorization"].split()[1].split(".")[0]
    client = _limited_client(settings, platform, engine, "3 per minute").test_client()
    # Someone tries secrets for the head's token from ever new addresses: the identifier's count stops them.
    statuses = [client.get("/api/v1/tenants", headers=bearer(f"{person_hex}.guess{i}"),
                           environ_base=_address(11)).status_code for i in range(5)]
    assert statuses == [401, 401, 401, 429, 429]
    # The head's own token is not locked out by them.
    assert client.get("/api/v1/tenants", headers=head, environ_base=_address(12)).status_code == 200


def test_successful_requests_do_not_count_towards_the_limit(settings, platform, engine, projector):
    from services.api import create_app

    limited = dataclasses.replace(settings, auth_failure_limit="3 per minute")
    app = create_app({"SETTINGS": limited, "PLATFORM": platform, "ENGINE": engine, "CREATE_SCHEMA": False})
    client = app.test_client()
    me = {"REMOTE_ADDR": f"10.{secrets.randbelow(250)}.{secrets.randbelow(250)}.8"}
    for _ in range(10):
        assert client.get("/api/v1/tenants", headers=bearer(settings.operator_token), environ_base=me).status_code == 200


def test_failures_counted_by_one_worker_are_seen_by_another(settings, platform, engine, projector):
    # Two web worker processes: two applications, each with its own limiter, sharing the counts in Redis.
    one, other = (_limited_client(settings, platform, engine, "3 per minute").test_client() for _ in range(2))
    client = _address(9)
    assert [one.get("/api/v1/tenants", headers=bearer(f"guess-{i}"), environ_base=client).status_code
            for i in range(3)] == [401, 401, 401]
    assert other.get("/api/v1/tenants", headers=bearer("guess-3"), environ_base=client).status_code == 429
    assert other.get("/api/v1/tenants", headers=bearer(settings.operator_token), environ_base=client).status_code == 200


def test_without_redis_each_worker_counts_in_memory_and_asks_redis_again_later(settings, platform, engine, projector,
                                                                               monkeypatch):
    from support import free_port

    from services.api import create_app
    from services.api.limits import FailedAuthentications

    monkeypatch.setattr(FailedAuthentications, "FALLBACK_SECONDS", 0.5)
    # A Redis URL nothing answers at: the limit still holds (counted in this worker), and nothing fails with 500.
    limited = dataclasses.replace(settings, auth_failure_limit="3 per minute",
                                  redis_url=f"redis://127.0.0.1:{free_port()}/0")
    app = create_app({"SETTINGS": limited, "PLATFORM": platform, "ENGINE": engine, "CREATE_SCHEMA": False})
    failures = app.extensions["methodical_auth_failures"]
    client = app.test_client()
    me = {"REMOTE_ADDR": f"10.{secrets.randbelow(250)}.{secrets.randbelow(250)}.10"}
    good = bearer(settings.operator_token)
    assert client.get("/api/v1/tenants", headers=good, environ_base=me).status_code == 200
    assert [client.get("/api/v1/tenants", headers=bearer(f"guess-{i}"), environ_base=me).status_code
            for i in range(4)] == [401, 401, 401, 429]
    assert client.get("/api/v1/tenants", headers=good, environ_base=me).status_code == 200
    assert failures.shared is not None and time.monotonic() < failures._shared_down_until
    time.sleep(0.6)
    # Past the fallback's time Redis is asked again (still silent: counted in memory again, the limit still held).
    assert client.get("/api/v1/tenants", headers=bearer("guess-again"), environ_base=me).status_code == 429
    assert time.monotonic() < failures._shared_down_until
