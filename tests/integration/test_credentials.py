"""Credentials: repeated authentication failures from one client are rate-limited."""

from __future__ import annotations

import dataclasses
import json
import secrets
import time

from support import bearer


def test_a_client_that_keeps_failing_authentication_is_rate_limited_and_others_are_not(settings, platform, engine,
                                                                                       projector):
    from services.api import create_app

    limited = dataclasses.replace(settings, auth_failure_limit="5 per minute")
    app = create_app({"SETTINGS": limited, "PLATFORM": platform, "ENGINE": engine, "CREATE_SCHEMA": False})
    client = app.test_client()
    attacker = {"REMOTE_ADDR": f"10.{secrets.randbelow(250)}.{secrets.randbelow(250)}.7"}
    statuses = [client.get("/api/v1/tenants", headers=bearer(f"guess-{i}"), environ_base=attacker).status_code
                for i in range(8)]
    assert statuses[:5] == [401] * 5
    assert statuses[5:] == [429] * 3
    refused = client.get("/api/v1/tenants", headers=bearer(settings.operator_token), environ_base=attacker)
    assert refused.status_code == 429  # even a good credential waits out the window from that address
    assert refused.mimetype == "application/problem+json" and int(refused.headers["Retry-After"]) > 0
    other = {"REMOTE_ADDR": "10.250.250.250"}
    assert client.get("/api/v1/tenants", headers=bearer(settings.operator_token), environ_base=other).status_code == 200
    print(json.dumps({"test": "auth_rate_limit", "limit": "5 per minute", "attempts": len(statuses),
                      "answered_429": statuses.count(429)}))


def test_successful_requests_do_not_count_towards_the_limit(settings, platform, engine, projector):
    from services.api import create_app

    limited = dataclasses.replace(settings, auth_failure_limit="3 per minute")
    app = create_app({"SETTINGS": limited, "PLATFORM": platform, "ENGINE": engine, "CREATE_SCHEMA": False})
    client = app.test_client()
    me = {"REMOTE_ADDR": f"10.{secrets.randbelow(250)}.{secrets.randbelow(250)}.8"}
    for _ in range(10):
        assert client.get("/api/v1/tenants", headers=bearer(settings.operator_token), environ_base=me).status_code == 200


def test_failures_counted_by_another_worker_are_seen_within_a_moment(settings, platform, engine, projector,
                                                                     monkeypatch):
    from limits.storage import RedisStorage

    from services.api import create_app
    from services.api.limits import CleanClientsRedisStorage

    monkeypatch.setattr(CleanClientsRedisStorage, "CLEAN_SECONDS", 0.3)
    limited = dataclasses.replace(settings, auth_failure_limit="3 per minute")
    # Two web worker processes: two applications, each with its own limiter, sharing the counts in Redis.
    one, other = (create_app({"SETTINGS": limited, "PLATFORM": platform, "ENGINE": engine, "CREATE_SCHEMA": False})
                  .test_client() for _ in range(2))
    client = {"REMOTE_ADDR": f"10.{secrets.randbelow(250)}.{secrets.randbelow(250)}.9"}
    good = bearer(settings.operator_token)
    reads: list[str] = []
    read = RedisStorage.get
    monkeypatch.setattr(RedisStorage, "get", lambda storage, key: reads.append(key) or read(storage, key))
    for _ in range(3):
        assert other.get("/api/v1/tenants", headers=good, environ_base=client).status_code == 200
    assert len(reads) == 1  # a client with no failure is read from Redis once, then remembered clean

    assert [one.get("/api/v1/tenants", headers=bearer(f"guess-{i}"), environ_base=client).status_code
            for i in range(4)] == [401, 401, 401, 429]
    # The other worker's memory of the client holds for a moment at most ...
    time.sleep(0.4)
    assert other.get("/api/v1/tenants", headers=good, environ_base=client).status_code == 429
    # ... and a failure it counts itself is never forgotten by it.
    another = {"REMOTE_ADDR": f"10.{secrets.randbelow(250)}.{secrets.randbelow(250)}.10"}
    assert other.get("/api/v1/tenants", headers=good, environ_base=another).status_code == 200
    assert [other.get("/api/v1/tenants", headers=bearer(f"guess-{i}"), environ_base=another).status_code
            for i in range(4)] == [401, 401, 401, 429]


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
    assert client.get("/api/v1/tenants", headers=good, environ_base=me).status_code == 429
    assert failures.shared is not None and time.monotonic() < failures._shared_down_until
    time.sleep(0.6)
    # Past the fallback's time Redis is asked again (still silent: counted in memory again, the limit still held).
    assert client.get("/api/v1/tenants", headers=good, environ_base=me).status_code == 429
    assert time.monotonic() < failures._shared_down_until
