"""Fixtures: a real PostgreSQL and Redis (the ones named in the environment, or private ones), a fresh
database per test session, the API application, and a projector following the log in this process."""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from services.config import Settings
from support import Tour, fresh_database

ROOT = Path(__file__).resolve().parents[1]
WEB_ROLE = "methodical_app"


@pytest.fixture(scope="session")
def servers() -> Iterator[dict[str, str]]:
    """Return DATABASE_URL and REDIS_URL of running servers, starting private ones where none is named."""
    from services.embedded import start_missing

    embedded = start_missing(ROOT / "var" / "test", dict(os.environ))
    urls = {"DATABASE_URL": os.environ.get("DATABASE_URL", ""), "REDIS_URL": os.environ.get("REDIS_URL", "")}
    urls.update(embedded.env)
    yield urls
    embedded.stop()


@pytest.fixture(scope="session")
def database_url(servers: dict[str, str]) -> Iterator[str]:
    """Create a fresh database for this test session on the server and drop it afterwards."""
    with fresh_database(servers["DATABASE_URL"], "test") as url:
        yield url


@pytest.fixture(scope="session")
def settings(database_url: str, servers: dict[str, str]) -> Settings:
    """Return the settings the platform runs with in tests."""
    return Settings(
        database_url=database_url,
        redis_url=servers["REDIS_URL"],
        operator_token=f"operator-{secrets.token_hex(16)}",
        min_position_timeout=10.0,
        # The suite presents bad credentials on purpose, often; the limiter has a test of its own.
        auth_failure_limit="100000 per minute",
        signin_address_limit="100000 per minute",  # every test signs in from 127.0.0.1
        # The operator's login is the same in every run: its failures would carry over between runs within the
        # window. The limit per login has a test of its own, with its own setting.
        signin_login_limit="100000 per minute",
    )


@pytest.fixture(scope="session")
def platform(settings: Settings) -> Iterator[Any]:
    """Return the eventsourcing Application on the test database."""
    from services.applications import Platform

    app = Platform(env=settings.eventsourcing_env())
    yield app
    app.close()


@pytest.fixture(scope="session")
def engine(settings: Settings, platform: Any) -> Iterator[Any]:
    """Return the read models' engine, with their tables created and the web role's limits set (after the
    platform has made the event store's tables)."""
    from projections.base import make_engine
    from projections.registry import create_schema

    import services.applications  # noqa: F401 - its tables (files, rendered circulars, kept answers) are created too
    from services.database import secure

    engine = make_engine(settings.sqlalchemy_url(), 5)
    create_schema(engine)
    secure(engine, WEB_ROLE)
    yield engine
    engine.dispose()


@pytest.fixture(scope="session")
def web_engine(settings: Settings, engine: Any) -> Iterator[Any]:
    """Return an engine whose connections act as the web role, as gunicorn's workers do: owns nothing, and
    reads under row-level security."""
    from sqlalchemy import create_engine

    from projections.base import ping_when_readable

    web = ping_when_readable(create_engine(settings.sqlalchemy_url(), pool_size=5, max_overflow=10,
                                           connect_args={"options": f"-c role={WEB_ROLE}"}))
    yield web
    web.dispose()


@pytest.fixture(scope="session")
def projector(settings: Settings, engine: Any, platform: Any) -> Iterator[list[Any]]:
    """Run the projection runners in this process for the whole session."""
    import threading

    from projections.runner import Projector
    from services.applications import Platform

    stop = threading.Event()
    running = Projector(Platform, settings.eventsourcing_env(), engine)
    thread = threading.Thread(target=running.run_until, args=(stop,), daemon=True)
    thread.start()
    yield running
    stop.set()
    thread.join(timeout=10)


@pytest.fixture(scope="session")
def app(settings: Settings, platform: Any, web_engine: Any, projector: Any) -> Any:
    """Return the API application wired to the test database, reading as the web role."""
    from services.api import create_app

    return create_app({"TESTING": True, "SETTINGS": settings, "PLATFORM": platform, "ENGINE": web_engine,
                       "CREATE_SCHEMA": False})


@pytest.fixture
def client(app: Any) -> Any:
    """Return a test client of the API."""
    return app.test_client()


@pytest.fixture
def tour(client: Any, settings: Settings) -> Tour:
    """Return a driver that registers tenants and people through the API."""
    assert settings.operator_token
    return Tour(client, settings.operator_token)
