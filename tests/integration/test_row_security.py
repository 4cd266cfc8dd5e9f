"""Defence in depth, row-level security: the web role sees read-model rows only within the scope its
transaction entered (projections/security.py), nothing without one, and a pooled connection never carries one
request's scope into the next."""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest
from sqlalchemy import create_engine, text
from support import Tour, bearer, platform_today

from projections import security
from projections.base import metadata, wait_for_position
from projections.runner import READ_MODELS, rebuild_read_model
from services.config import Settings

SCOPE_SETTINGS = ("methodical.all", "methodical.caller", "methodical.tenants", "methodical.unions",
                  "methodical.chaired")


@pytest.fixture
def world(tour: Tour, engine: Any) -> dict[str, Any]:
    """Two schools under two districts, each with a head and a teacher; every read model caught up."""
    made: dict[str, Any] = {}
    for name in ("a", "b"):
        district = tour.tenant("district_department")
        school = tour.tenant("school", parent_id=district["id"])
        head, head_auth = tour.head(school["id"])
        teacher, _ = tour.person(school["id"], head_auth, ["teacher"], ["Математика"])
        made[name] = {"district": district["id"], "school": school["id"], "head": head["id"],
                      "head_auth": head_auth, "teacher": teacher["id"]}
    with engine.connect() as conn:
        position = conn.execute(text("SELECT coalesce(max(notification_id), 0) FROM methodical_events")).scalar_one()
    for read_model in READ_MODELS.values():
        wait_for_position(engine, read_model, position, 20)
    return made


@pytest.fixture
def single_web_connection(settings: Settings) -> Any:
    """An engine of the web role with exactly one pooled connection, so consecutive transactions share it."""
    web = create_engine(settings.sqlalchemy_url(), pool_size=1, max_overflow=0,
                        connect_args={"options": "-c role=methodical_app"})
    yield web
    web.dispose()


def _protected_tables(conn: Any) -> dict[str, tuple[bool, bool]]:
    rows = conn.execute(text(
        "SELECT relname, relrowsecurity, relforcerowsecurity FROM pg_class"
        " WHERE relname = ANY(:names) AND relkind = 'r'"), {"names": list(security.POLICIES)})
    return {row.relname: (row.relrowsecurity, row.relforcerowsecurity) for row in rows}


def test_every_table_with_tenant_data_is_under_forced_row_level_security(engine: Any, world: Any) -> None:
    keyed = {table.name for table in metadata.tables.values()
             if {"tenant_id", "union_id"} & set(table.columns.keys())}
    assert keyed, "no table with tenant data found"
    missing = sorted(keyed - set(security.POLICIES))
    assert missing == [], f"tables with tenant data and no policy: {missing}"
    with engine.connect() as conn:
        flags = _protected_tables(conn)
    assert set(flags) == set(security.POLICIES)
    assert all(enabled and forced for enabled, forced in flags.values()), flags


def test_without_a_scope_the_web_role_sees_no_row_of_any_table(engine: Any, web_engine: Any, world: Any) -> None:
    seen_by_owner, seen_by_web = {}, {}
    for table in security.POLICIES:
        with engine.connect() as conn:
            seen_by_owner[table] = conn.execute(text(f"SELECT count(*) FROM {table}")).scalar_one()
        with web_engine.connect() as conn:
            seen_by_web[table] = conn.execute(text(f"SELECT count(*) FROM {table}")).scalar_one()
    # The control: the tables are not empty, so the zeros below are the policy's doing.
    assert seen_by_owner["rm_people"] >= 4 and seen_by_owner["rm_tenants"] >= 4
    assert seen_by_web == {table: 0 for table in security.POLICIES}
    print(json.dumps({"test": "row_security_without_scope", "tables": len(security.POLICIES),
                      "rows_owner": sum(seen_by_owner.values()), "rows_web": sum(seen_by_web.values())}))


def test_a_scope_shows_its_own_part_of_the_hierarchy_and_nothing_of_another(web_engine: Any, world: Any) -> None:
    a, b = world["a"], world["b"]
    with web_engine.begin() as conn:
        security.enter(conn, uuid.UUID(a["head"]), uuid.UUID(a["school"]), False, platform_today())
        tenants = {str(t) for t in conn.execute(text("SELECT id FROM rm_tenants")).scalars()}
        people = {str(p) for p in conn.execute(text("SELECT id FROM rm_people")).scalars()}
    # The school and the district above it (whose cross-organization units its teachers may join, p.27).
    assert tenants == {a["school"], a["district"]}
    assert {a["head"], a["teacher"]} <= people
    assert not {b["head"], b["teacher"]} & people
    with web_engine.begin() as conn:
        security.enter(conn, None, None, True, platform_today())  # the operator
        tenants = {str(t) for t in conn.execute(text("SELECT id FROM rm_tenants")).scalars()}
    assert {a["school"], a["district"], b["school"], b["district"]} <= tenants


def test_a_department_sees_the_organizations_below_it(web_engine: Any, world: Any, tour: Tour) -> None:
    a, b = world["a"], world["b"]
    person, _ = tour.head(a["district"])
    with web_engine.begin() as conn:
        security.enter(conn, uuid.UUID(person["id"]), uuid.UUID(a["district"]), False, platform_today())
        tenants = {str(t) for t in conn.execute(text("SELECT id FROM rm_tenants")).scalars()}
    assert a["school"] in tenants and b["school"] not in tenants


def test_a_pooled_connection_never_carries_a_scope_into_the_next_transaction(
        single_web_connection: Any, world: Any) -> None:
    a = world["a"]
    with single_web_connection.begin() as conn:
        first_backend = conn.execute(text("SELECT pg_backend_pid()")).scalar_one()
        security.enter(conn, uuid.UUID(a["head"]), uuid.UUID(a["school"]), False, platform_today())
        assert conn.execute(text("SELECT count(*) FROM rm_people")).scalar_one() >= 2
    # Committed: the next transaction on the same connection has no scope.
    with single_web_connection.connect() as conn:
        assert conn.execute(text("SELECT pg_backend_pid()")).scalar_one() == first_backend
        assert conn.execute(text("SELECT count(*) FROM rm_people")).scalar_one() == 0
        settings = [conn.execute(text("SELECT current_setting(:name, true)"), {"name": name}).scalar()
                    for name in SCOPE_SETTINGS]
    assert all(value in (None, "") for value in settings), settings
    # Rolled back: no scope either.
    with single_web_connection.connect() as conn:
        security.enter(conn, uuid.UUID(a["head"]), uuid.UUID(a["school"]), False, platform_today())
        conn.rollback()
        assert conn.execute(text("SELECT count(*) FROM rm_people")).scalar_one() == 0


def test_requests_enter_their_callers_scope_and_leave_nothing_behind(
        client: Any, web_engine: Any, world: Any) -> None:
    a, b = world["a"], world["b"]
    response = client.get(f"/api/v1/tenants/{a['school']}/people", headers=a["head_auth"])
    assert response.status_code == 200
    assert {p["id"] for p in response.get_json()["items"]} >= {a["head"], a["teacher"]}
    # Another tenant's list answers 404, and the web role's pool, used outside a request, sees nothing.
    assert client.get(f"/api/v1/tenants/{b['school']}/people", headers=a["head_auth"]).status_code == 404
    with web_engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM rm_people")).scalar_one() == 0
    assert client.get(f"/api/v1/tenants/{b['school']}/people",
                      headers=bearer("not-a-token")).status_code == 401


def test_a_rebuilt_read_model_is_under_its_policies_again(engine: Any, platform: Any, world: Any) -> None:
    rebuild_read_model(platform, engine, "people")
    with engine.connect() as conn:
        flags = _protected_tables(conn)
        policies = set(conn.execute(text(
            "SELECT policyname FROM pg_policies WHERE tablename = 'rm_people'")).scalars())
    assert flags["rm_people"] == (True, True)
    assert policies == {"owner_all", "scoped"}
