"""A rebuild builds beside the live tables and swaps them in: while it runs, commands go on and reads of what they
wrote are answered (the live projector never waits for the rebuild); afterwards the tables equal a fresh rebuild's,
and the web role reads the swapped-in tables under their row security."""

from __future__ import annotations

import dataclasses
import threading
import time
from typing import Any

from sqlalchemy import text

from projections import bulk
from projections.base import wait_for_position
from projections.registry import READ_MODELS
from projections.runner import rebuild_read_models
from support import snapshot

TENANTS = "/api/v1/tenants"
# Reads wait this long for X-Min-Position (then 503): far less than the slowed build below.
READ_WAIT = 2.0
BUILD_DELAY = 3 * READ_WAIT


def test_a_rebuild_under_load_leaves_every_read_answered_and_ends_as_a_fresh_one(
        settings, platform, engine, web_engine, projector, tour, monkeypatch):
    from services.api import create_app

    impatient = create_app({"TESTING": True, "SETTINGS": dataclasses.replace(settings, min_position_timeout=READ_WAIT),
                            "PLATFORM": platform, "ENGINE": web_engine, "CREATE_SCHEMA": False})
    school = tour.tenant("school")
    head, head_headers = tour.head(school["id"])
    for i in range(20):
        tour.person(school["id"], head_headers, ["teacher"], ["Математика"])
    wait_for_position(engine, READ_MODELS["people"], platform.recorder.max_notification_id(), timeout=30)

    # The build phase is slowed (a pause after the log's first batch is folded): the old rebuild, holding the
    # tracking rows all along, would make every read below wait past READ_WAIT.
    real_notifications = bulk.notifications
    build_started = threading.Event()

    def slow_notifications(*args: Any, **kwargs: Any) -> Any:
        for number, batch in enumerate(real_notifications(*args, **kwargs)):
            yield batch
            if number == 0 and kwargs.get("start", 1) == 1:
                build_started.set()
                time.sleep(BUILD_DELAY)

    monkeypatch.setattr(bulk, "notifications", slow_notifications)
    stop = threading.Event()
    answered: list[int] = []
    failures: list[str] = []

    def write_and_read() -> None:
        client = impatient.test_client()
        n = 0
        while not stop.is_set():
            n += 1
            added = client.post(f"{TENANTS}/{school['id']}/people", headers=head_headers,
                                json={"full_name": f"Под нагрузкой {n}", "roles": ["teacher"]})
            if added.status_code != 201:
                failures.append(f"write {added.status_code}: {added.get_data(as_text=True)[:200]}")
                continue
            body = added.get_json()
            read = client.get(f"{TENANTS}/{school['id']}/people/{body['id']}",
                              headers={**head_headers, "X-Min-Position": str(body["position"])})
            if read.status_code != 200 or read.get_json()["full_name"] != f"Под нагрузкой {n}":
                failures.append(f"read {read.status_code}: {read.get_data(as_text=True)[:200]}")
            else:
                answered.append(int(body["position"]))
            listed = client.get(f"{TENANTS}/{school['id']}/people", headers=head_headers)
            if listed.status_code != 200:
                failures.append(f"list {listed.status_code}")

    workers = [threading.Thread(target=write_and_read, daemon=True) for _ in range(2)]
    for worker in workers:
        worker.start()
    try:
        report: dict[str, Any] = {}

        def run_rebuild() -> None:
            report["result"] = bulk.rebuild_beside(platform, engine, list(READ_MODELS.values()))

        rebuilding = threading.Thread(target=run_rebuild)
        rebuilding.start()
        assert build_started.wait(30)
        during_build = len(answered)
        rebuilding.join(timeout=120)
        assert not rebuilding.is_alive()
        answered_during = len(answered) - during_build
        time.sleep(0.5)  # a few more commands after the swap
    finally:
        stop.set()
        for worker in workers:
            worker.join(timeout=30)
    monkeypatch.undo()

    assert not failures, failures[:5]
    assert answered_during >= 5, answered_during  # reads were answered while the new tables were built
    result = report["result"]
    assert result.caught_up > 0  # commands arrived during the build and were applied to the new tables
    assert result.position >= answered[0]

    last = platform.recorder.max_notification_id()
    for read_model in READ_MODELS.values():
        wait_for_position(engine, read_model, last, timeout=30)
    after_load = snapshot(engine)
    with engine.connect() as conn:
        loaded = conn.execute(text("SELECT count(*) FROM rm_people WHERE tenant_id = :t AND full_name LIKE :n"),
                              {"t": school["id"], "n": "Под нагрузкой %"}).scalar_one()
    assert loaded == len(answered)  # every acknowledged command is in the read model, once

    rebuild_read_models(platform, engine)  # a fresh one, on a quiet log
    assert snapshot(engine) == after_load

    # The swapped-in tables keep the web role's grant and their row security: the head reads her school's
    # people through the API (the web role), and no one else's.
    client = impatient.test_client()
    listed = client.get(f"{TENANTS}/{school['id']}/people", headers=head_headers, query_string={"limit": 200})
    assert listed.status_code == 200
    with web_engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM rm_people")).scalar_one() == 0  # no scope entered: no row
        grants = conn.execute(text("SELECT has_table_privilege(current_user, 'rm_people', 'SELECT'),"
                                   " has_table_privilege(current_user, 'rm_people', 'INSERT')")).one()
    assert tuple(grants) == (True, False)
    with engine.connect() as conn:
        forced = conn.execute(text("SELECT bool_and(relrowsecurity AND relforcerowsecurity) FROM pg_class"
                                   " WHERE relname IN ('rm_people', 'rm_tenants', 'rm_audit_events')"
                                   " AND relnamespace = CAST(current_schema() AS regnamespace)")).scalar_one()
        leftover = conn.execute(text("SELECT count(*) FROM pg_namespace WHERE nspname = :s"),
                                {"s": bulk.SHADOW_SCHEMA}).scalar_one()
        trigger = conn.execute(text("SELECT count(*) FROM pg_trigger WHERE tgname = 'circulars_waiting'"
                                    " AND tgrelid = CAST('rm_circulars' AS regclass)")).scalar_one()
    assert forced and leftover == 0 and trigger == 1


def test_a_second_rebuild_while_one_runs_is_refused(platform, engine):
    with engine.connect() as guard:
        guard.execute(text("SELECT pg_advisory_lock(:k)"), {"k": bulk.REBUILD_LOCK})
        try:
            try:
                rebuild_read_models(platform, engine, ["tenants"])
            except bulk.RebuildRunning as error:
                assert "another rebuild" in str(error)
            else:
                raise AssertionError("the second rebuild ran")
        finally:
            guard.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": bulk.REBUILD_LOCK})
            guard.commit()
