"""Reads from a standby: the API's reads go to READ_DATABASE_URL; X-Min-Position waits there or falls back.

A real streaming standby needs a second server; here the same server is named twice (a standby that has replayed
everything), and a database of its own stands for a standby that lags (its read models never move), and a closed
port for one that is down. scripts/cluster runs the real thing.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import create_engine, event

from support import fresh_database

WEB_ROLE = "methodical_app"  # as tests/conftest.py sets it up


def _counted(engine: Any) -> list[int]:
    """Count the connections the engine hands out."""
    taken = [0]

    @event.listens_for(engine, "checkout")
    def checkout(*_: Any) -> None:
        taken[0] += 1

    return taken


def _app(settings: Any, platform: Any, web_engine: Any, standby: Any, timeout: float = 10.0) -> Any:
    from services.api import create_app

    return create_app({"TESTING": True, "SETTINGS": dataclasses.replace(settings, min_position_timeout=timeout),
                       "PLATFORM": platform, "ENGINE": web_engine, "READ_ENGINE": standby, "CREATE_SCHEMA": False})


@pytest.fixture
def same_server(settings: Any) -> Iterator[Any]:
    from projections.base import ping_when_readable

    standby = ping_when_readable(create_engine(settings.sqlalchemy_url(), pool_size=2,
                                               connect_args={"options": f"-c role={WEB_ROLE}"}))
    yield standby
    standby.dispose()


@pytest.fixture
def lagging(settings: Any, servers: dict[str, str]) -> Iterator[Any]:
    """A 'standby' whose read models stay empty: it never reaches any position."""
    from projections.base import make_engine
    from projections.registry import create_schema
    from services.config import Settings

    with fresh_database(servers["DATABASE_URL"], "standby") as url:
        standby = make_engine(Settings(database_url=url).sqlalchemy_url(), 2)
        create_schema(standby)
        yield standby
        standby.dispose()


def _school_with_head(tour: Any, client: Any) -> tuple[str, dict[str, str]]:
    school = tour.tenant()
    _, head = tour.head(school["id"])
    return school["id"], head


def test_reads_go_to_the_standby_and_commands_to_the_primary(settings: Any, platform: Any, web_engine: Any,
                                                            projector: Any, same_server: Any, tour: Any) -> None:
    client = _app(settings, platform, web_engine, same_server).test_client()
    tour.client = client
    tid, head = _school_with_head(tour, client)
    taken = _counted(same_server)
    before = taken[0]
    added = client.post(f"/api/v1/tenants/{tid}/people", json={"full_name": "Ерлан Омаров", "roles": ["teacher"]},
                        headers=head)
    assert added.status_code == 201
    assert taken[0] == before, "a command used the standby"
    listed = client.get(f"/api/v1/tenants/{tid}/people",
                        headers={**head, "X-Min-Position": added.get_json()["position"]})
    assert listed.status_code == 200
    assert "Ерлан Омаров" in [p["full_name"] for p in listed.get_json()["items"]]
    assert taken[0] > before, "the read did not use the standby"


def test_a_read_falls_back_to_the_primary_when_the_standby_lags(settings: Any, platform: Any, web_engine: Any,
                                                               projector: Any, lagging: Any, tour: Any) -> None:
    client = _app(settings, platform, web_engine, lagging, timeout=1.0).test_client()
    tour.client = client
    tid, head = _school_with_head(tour, client)
    added = client.post(f"/api/v1/tenants/{tid}/people", json={"full_name": "Гүлнар Ахметова", "roles": ["teacher"]},
                        headers=head)
    started = time.monotonic()
    listed = client.get(f"/api/v1/tenants/{tid}/people",
                        headers={**head, "X-Min-Position": added.get_json()["position"]})
    waited = time.monotonic() - started
    assert listed.status_code == 200, listed.get_json()
    assert "Гүлнар Ахметова" in [p["full_name"] for p in listed.get_json()["items"]]
    assert 0.5 <= waited < 1.0 + 0.5, "the fallback came before half the timeout or after all of it"
    # Without X-Min-Position the read stays on the (lagging) standby: its lists are simply behind.
    assert client.get(f"/api/v1/tenants/{tid}/people", headers=head).get_json()["items"] == []


def test_a_read_is_refused_when_neither_reaches_the_position(settings: Any, platform: Any, web_engine: Any,
                                                            projector: Any, lagging: Any, tour: Any) -> None:
    client = _app(settings, platform, web_engine, lagging, timeout=0.5).test_client()
    tour.client = client
    tid, head = _school_with_head(tour, client)
    far = str(10**15)
    refused = client.get(f"/api/v1/tenants/{tid}/people", headers={**head, "X-Min-Position": far})
    assert refused.status_code == 503 and refused.headers["Retry-After"]


def test_a_standby_that_does_not_answer_is_left_for_the_primary(settings: Any, platform: Any, web_engine: Any,
                                                               projector: Any, tour: Any) -> None:
    from projections.base import make_engine

    down = make_engine("postgresql+psycopg://postgres@127.0.0.1:1/postgres?connect_timeout=1", 1)
    try:
        client = _app(settings, platform, web_engine, down, timeout=5.0).test_client()
        tour.client = client
        tid, head = _school_with_head(tour, client)
        added = client.post(f"/api/v1/tenants/{tid}/people", json={"full_name": "Жанна Тұрсынова",
                                                                    "roles": ["teacher"]}, headers=head)
        started = time.monotonic()
        listed = client.get(f"/api/v1/tenants/{tid}/people",
                            headers={**head, "X-Min-Position": added.get_json()["position"]})
        assert listed.status_code == 200
        assert time.monotonic() - started < 2.5, "the read waited for a standby that does not answer"
        # Reads without a position go to the primary too while the standby is down.
        plain = client.get(f"/api/v1/tenants/{tid}/people", headers=head)
        assert plain.status_code == 200
        assert "Жанна Тұрсынова" in [p["full_name"] for p in plain.get_json()["items"]]
    finally:
        down.dispose()
