"""The bulk rebuild (one pass, the read models' handlers applied to rows in memory, loaded with COPY) leaves exactly
the rows the same handlers wrote as SQL in the live projector; the chain it links in bulk verifies."""

from __future__ import annotations

import gc
import random
import sys
from datetime import datetime, timezone
from pathlib import Path
from typing import Any
from uuid import uuid4

from sqlalchemy import text

from domain.base import Actor, Context
from projections.base import wait_for_position
from projections.bulk import notifications
from projections.chain import EVENTS_TABLE
from projections.rows import MemoryRows
from projections.runner import READ_MODELS, rebuild_read_models
from support import snapshot, valid_bin

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "scripts"))

from benchmarks import country  # noqa: E402


def small_region(seed: int) -> country.TenantSpec:
    """A region with a district of two schools, a college of each kind and a university."""
    rng = random.Random(seed)
    used: set[str] = set()

    def spec(key: str, kind: str, size: float = 0.3) -> country.TenantSpec:
        return country.TenantSpec(f"{key}{seed}", kind, f"{kind} {key} {seed}", country._bin(rng, used), "Абай облысы",
                                  "kk", size)

    region = spec("r", "regional_department", 1.0)
    district = spec("d", "district_department", 1.0)
    district.children = [spec("s1", "school", 0.4), spec("s2", "school", 0.3)]
    region.children = [district, spec("c1", "tvet_college"), spec("c2", "postsecondary_college"),
                       spec("u1", "university")]
    return region


def build_small_region(platform: Any) -> tuple[int, country.Builder]:
    """Record a small region (with a random seed) through the platform; return the seed and its builder."""
    seed = random.randrange(1 << 30)
    builder = country.Builder(platform, random.Random(seed))
    restore = country._seed_ids(random.Random(seed))
    try:
        builder.region(small_region(seed))
    finally:
        restore()
    return seed, builder


def test_the_bulk_rebuild_gives_every_table_the_rows_of_the_live_projector(platform, engine, projector):
    seed, builder = build_small_region(platform)
    country.build_unions(platform, 0.02, seed, builder.orgs, builder.regions, engine)
    last = platform.recorder.max_notification_id()
    for read_model in READ_MODELS.values():
        wait_for_position(engine, read_model, last, timeout=120)
    live = snapshot(engine)
    assert live["rm_audit_events"] and live["rm_documents"] and live["rm_circulars"] and live["rm_unit_members"]

    replayed = rebuild_read_models(platform, engine)

    assert set(replayed) == set(READ_MODELS)
    rebuilt = snapshot(engine)
    for name in live:
        assert rebuilt[name] == live[name], name
    with engine.connect() as conn:
        assert all(rm.position(conn) >= last for rm in READ_MODELS.values())


def test_the_bulk_rebuild_frees_what_it_folded_and_leaves_the_cyclic_collector_as_it_was(platform, engine,
                                                                                           monkeypatch):
    """The fold runs with the cyclic collector paused (its full passes over the folded rows cost a third of a large
    rebuild), so the rows must be freed by reference counting alone, and before the collector resumes (its first
    pass would walk all of them): nothing the rebuild made is left for the collector to find afterwards. And the
    collector is left as the caller had it."""
    build_small_region(platform)
    gc.collect()
    # The stores still held when the collector resumes: its first pass would walk every row they hold (all young).
    held_at_resume = []
    enable = gc.enable

    def resume() -> None:
        held_at_resume.append([o for o in gc.get_objects(generation=0) if isinstance(o, MemoryRows)])
        enable()

    monkeypatch.setattr(gc, "enable", resume)

    rebuild_read_models(platform, engine)
    monkeypatch.undo()

    assert gc.isenabled()
    left = gc.collect()  # objects only the cyclic collector could free
    with engine.connect() as conn:
        rows = sum(conn.execute(text(f"SELECT count(*) FROM {table.name}")).scalar_one()
                   for read_model in READ_MODELS.values() for table in read_model.tables)
    assert rows > 500
    assert left < rows / 10, (left, rows)
    assert held_at_resume == [[]]
    gc.disable()
    try:
        rebuild_read_models(platform, engine)
        assert not gc.isenabled()
    finally:
        gc.enable()


def test_a_generated_country_rebuilt_in_bulk_equals_the_per_event_rebuild_and_its_chain_verifies(servers,
                                                                                                  monkeypatch):
    """In a fresh database owned by a role that is not a superuser (so the read models' forced row security applies
    to it): the generator's events (written by COPY) rebuilt per event and in bulk give the same rows; the tables'
    row security is forced again afterwards; the chain linked in bulk verifies; the busiest head's token works."""
    import psycopg

    from projections.base import make_engine, rebuild
    from projections.chain import verify
    from projections.runner import stored_events
    from services.applications import Platform
    from services.config import Settings

    name = f"test_country_{random.randrange(1 << 40):x}"
    admin = _conninfo(servers["DATABASE_URL"], "postgres")
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE ROLE "{name}" LOGIN')
        conn.execute(f'CREATE DATABASE "{name}" OWNER "{name}"')
    with psycopg.connect(_conninfo(servers["DATABASE_URL"], name), autocommit=True) as conn:
        conn.execute(f'GRANT ALL ON SCHEMA public TO "{name}"')
    url = _conninfo(servers["DATABASE_URL"], name, user=name)
    monkeypatch.setenv("DATABASE_WEB_ROLE", "")  # this owner creates no roles
    settings = Settings.from_env({"DATABASE_URL": url})
    app = Platform(env={**settings.eventsourcing_env(), "POSTGRES_POOL_SIZE": "1"})
    engine = make_engine(settings.sqlalchemy_url(), 1)
    try:
        result = country.generate(url, scale=0.001, processes=1, seed=7)
        assert result["events"] > 1000
        assert app.person_for_token(result["busiest"]["head_token"]) is not None
        assert verify(engine)["ok"]
        bulk = snapshot(engine)
        for read_model in READ_MODELS.values():
            rebuild(engine, read_model, stored_events(app), app.name)
        assert snapshot(engine) == bulk
        rebuild_read_models(app, engine)
        assert snapshot(engine) == bulk
        with engine.connect() as conn:
            forced = dict(conn.execute(text("SELECT relname, relforcerowsecurity FROM pg_class"
                                            " WHERE relname IN ('rm_people', 'rm_audit_events')")).all())
        assert forced == {"rm_people": True, "rm_audit_events": True}
    finally:
        app.close()
        engine.dispose()
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            conn.execute(f'DROP ROLE IF EXISTS "{name}"')


def _conninfo(url: str, dbname: str, **extra: str) -> str:
    from psycopg.conninfo import conninfo_to_dict, make_conninfo

    return make_conninfo(**{**conninfo_to_dict(url), "dbname": dbname, **extra})


def test_the_log_is_read_in_order_up_to_a_position_across_gaps_in_its_ids(platform, engine):
    """The rebuild's reader asks for a lower bound only and stops at `stop` itself: across the gaps rolled-back
    appends leave in the ids, with `stop` inside a batch, on a gap, and past the log's end."""
    ctx = Context(Actor.operator(), uuid4().hex, datetime.now(timezone.utc), ids=uuid4)
    tenant = platform.register_tenant(ctx, name="Мектеп", kind="school", bin=valid_bin(), region="Абай облысы",
                                      language="kk").aggregate
    positions = []
    for i in range(6):
        with engine.begin() as conn:  # ids a rolled-back append would have taken
            conn.execute(text(f"SELECT nextval('{EVENTS_TABLE}_notification_id_seq') FROM generate_series(1, 3)"))
        person = platform.add_person(ctx, tenant.id, full_name=f"Мұғалім {i}", roles=["teacher"], subjects=[])
        positions.append(person.position)
    assert all(b - a > 1 for a, b in zip(positions, positions[1:]))

    def read(stop: int | None) -> list[list[int]]:
        return [[n.id for n in batch] for batch in notifications(platform, batch=2, stop=stop, start=positions[0])]

    assert read(positions[4]) == [positions[0:2], positions[2:4], positions[4:5]]
    assert read(positions[3] + 2) == [positions[0:2], positions[2:4]]  # a stop on a gap
    assert read(positions[0]) == [positions[0:1]]
    assert read(positions[0] - 1) == []
    assert read(None) == [positions[0:2], positions[2:4], positions[4:6]]
    assert read(positions[5] + 100) == read(None)
