"""Defence in depth: the web's database role owns nothing, reads, appends events, and cannot change history."""

from __future__ import annotations

import json
from typing import Any
from uuid import uuid4

import psycopg
import pytest

ROLE = "methodical_app"


@pytest.fixture
def secured(servers: dict[str, str]) -> Any:
    """A fresh database migrated as the owner: tables, grants and the append-only trigger."""
    from projections.base import make_engine
    from projections.runner import migrate_read_models
    from services.applications import Platform
    from services.config import Settings
    from services.database import secure

    from datetime import datetime, timezone

    from domain.base import Actor, Context
    from support import fresh_database, valid_bin

    with fresh_database(servers["DATABASE_URL"], "roles") as url:
        settings = Settings(database_url=url, operator_token="x")
        platform = Platform(env=settings.eventsourcing_env())
        engine = make_engine(settings.sqlalchemy_url(), 2)
        migrate_read_models(platform, engine)
        secure(engine, ROLE)
        ctx = Context(Actor.operator(), "roles", datetime.now(timezone.utc), ids=uuid4)
        platform.register_tenant(ctx, name="Мектеп", kind="school", bin=valid_bin(), region="Атырау")
        yield settings
        platform.close()
        engine.dispose()


def _as_role(settings: Any) -> psycopg.Connection:
    return psycopg.connect(settings.database_url, options=f"-c role={ROLE}", autocommit=True)


REFUSED = [
    ("UPDATE methodical_events SET state = state", "update the event log"),
    ("DELETE FROM methodical_events", "delete from the event log"),
    ("TRUNCATE methodical_events", "truncate the event log"),
    ("DROP TABLE rm_people", "drop a read model"),
    ("UPDATE rm_tenants SET name = 'x'", "write a read model"),
    ("DELETE FROM rm_tracking", "move a projection's position"),
    ("CREATE TABLE mine (x int)", "create a table"),
    ("DELETE FROM audit_chain", "cut the tamper-evidence chain"),
]


@pytest.mark.parametrize("statement, what", REFUSED, ids=[w for _, w in REFUSED])
def test_the_web_role_cannot(secured: Any, statement: str, what: str) -> None:
    with _as_role(secured) as conn:
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute(statement)


def test_the_web_role_reads_and_appends_and_owns_nothing(secured: Any) -> None:
    with _as_role(secured) as conn:
        assert conn.execute("SELECT current_user").fetchone()[0] == ROLE
        assert conn.execute("SELECT count(*) FROM rm_tracking").fetchone()[0] >= 0
        assert conn.execute("SELECT count(*) FROM methodical_events").fetchone()[0] == 2
        owned = conn.execute("SELECT count(*) FROM pg_tables WHERE tableowner = %s", (ROLE,)).fetchone()[0]
        assert owned == 0
        with conn.transaction():
            conn.execute("LOCK TABLE methodical_events IN EXCLUSIVE MODE")  # eventsourcing orders appends so
            conn.execute("INSERT INTO methodical_events (originator_id, originator_version, topic, state) "
                         "VALUES (gen_random_uuid(), 1, 'test:Probe', '\\x7b7d')")
    print(json.dumps({"test": "web_role", "refused_statements": len(REFUSED), "tables_owned": owned}))
