"""`methodical backup` takes one snapshot while commands go on; `methodical restore` puts it into an empty database
with every event acknowledged before the backup began, the read models rebuilt and the chain valid; a database that
holds anything is refused in one line."""

from __future__ import annotations

import dataclasses
import json
import threading
from datetime import datetime, timezone
from pathlib import Path
from typing import Any
from uuid import uuid4

import psycopg
import pytest

from domain.base import Actor, Context
from services import cli
from services.backup import FORMAT, backup, restore
from support import fresh_database, valid_bin


def _ctx() -> Context:
    return Context(Actor.operator(), uuid4().hex, datetime.now(timezone.utc), ids=uuid4)


def test_a_backup_under_load_restores_every_acknowledged_event_and_a_valid_chain(servers, settings, platform, engine,
                                                                                  projector, tmp_path: Path):
    tenant = platform.register_tenant(_ctx(), name="Резервная мектеп", kind="school", bin=valid_bin(),
                                      region="Абай облысы", language="kk").aggregate
    acked: list[tuple[int, Any]] = []
    stop = threading.Event()
    errors: list[BaseException] = []

    def write(worker: int) -> None:
        n = 0
        try:
            while not stop.is_set():
                n += 1
                done = platform.add_person(_ctx(), tenant.id, full_name=f"Мұғалім {worker}-{n}", roles=["teacher"],
                                           subjects=[])
                acked.append((done.position, done.aggregate.id))
        except BaseException as error:  # noqa: BLE001 - reported below
            errors.append(error)

    writers = [threading.Thread(target=write, args=(i,), daemon=True) for i in range(3)]
    for writer in writers:
        writer.start()
    try:
        while len(acked) < 30 and not errors:
            stop.wait(0.05)
        before = list(acked)  # acknowledged before the backup began
        manifest = backup(settings, tmp_path / "backup")
        during = len(acked) - len(before)
    finally:
        stop.set()
        for writer in writers:
            writer.join(timeout=30)
    assert not errors, errors
    assert during > 0  # commands were acknowledged while the dump ran
    assert manifest["format"] == FORMAT and manifest["up_to"] >= max(p for p, _ in before)
    written = json.loads((tmp_path / "backup" / "manifest.json").read_text())
    assert written == manifest
    assert "rm_people" not in manifest["tables"] and manifest["tables"]["audit_chain"] >= 0

    with fresh_database(servers["DATABASE_URL"], "restore") as url:
        target = dataclasses.replace(settings, database_url=url)
        report = restore(target, tmp_path / "backup")
        assert report["chain"]["ok"], report["chain"]
        assert report["chain"]["last_position"] == manifest["up_to"]  # every restored event is chained
        with psycopg.connect(url) as conn:
            stored = dict(conn.execute("SELECT notification_id, originator_id FROM methodical_events").fetchall())
            people = {row[0] for row in conn.execute("SELECT id FROM rm_people WHERE tenant_id = %s", (tenant.id,))}
            position = conn.execute("SELECT notification_id FROM rm_tracking WHERE read_model = 'people'").fetchone()
        assert all(stored.get(p) == originator for p, originator in before)
        assert len(stored) == manifest["count"] and max(stored) == manifest["up_to"]
        assert {originator for _, originator in before} <= people
        assert people == {o for p, o in acked if p <= manifest["up_to"]}  # nothing after the snapshot
        assert position[0] == manifest["up_to"]

        # The restored platform takes commands where the backup left off.
        from services.applications import Platform

        restored = Platform(env=target.eventsourcing_env())
        try:
            more = restored.add_person(_ctx(), tenant.id, full_name="После восстановления", roles=["teacher"],
                                       subjects=[])
            assert more.position > manifest["up_to"]
        finally:
            restored.close()


def test_restore_refuses_a_database_that_holds_anything_in_one_line(servers, settings, platform, engine, tmp_path,
                                                                     monkeypatch, capsys):
    platform.register_tenant(_ctx(), name="Толық", kind="school", bin=valid_bin(), region="Абай облысы")
    backup(settings, tmp_path / "b")
    monkeypatch.setenv("DATABASE_URL", settings.database_url)  # the source database itself: not empty
    assert cli.main(["restore", str(tmp_path / "b")]) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith("methodical restore: the target database is not empty (") and "\n" not in err
    assert err.endswith("restore into an empty database")

    # A backup into a directory that holds one is refused too, and a tampered dump is refused before anything.
    assert cli.main(["backup", str(tmp_path / "b")]) == 1
    assert "already holds a backup" in capsys.readouterr().err
    with open(tmp_path / "b" / "database.dump", "ab") as dump:
        dump.write(b"x")
    with fresh_database(servers["DATABASE_URL"], "restore") as url:
        monkeypatch.setenv("DATABASE_URL", url)
        assert cli.main(["restore", str(tmp_path / "b")]) == 1
        assert "SHA-256 does not match" in capsys.readouterr().err


@pytest.mark.parametrize("name", ["pg_dump", "pg_restore"])
def test_the_client_tools_match_the_server(settings, name):
    from services.backup import _client_major, _major, client_binary

    with psycopg.connect(settings.database_url) as conn:
        server = _major(int(conn.execute("SHOW server_version_num").fetchone()[0]))
    assert _client_major(client_binary(name, server)) == server
