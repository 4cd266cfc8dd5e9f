"""Processes that start together each make the event store's tables, types and append function (eventsourcing's
CREATE_TABLE) and the read models' tables: a projector and a host's workers, a writer and a projector taking over,
two migrations. None of them may fail for another's doing the same at the same moment ("tuple concurrently
updated", a duplicate row type, "another rebuild is running")."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

from support import fresh_database

ROOT = Path(__file__).resolve().parents[2]

STARTS = 8  # at once, on a fresh database and again on the database they made


def test_applications_starting_together_on_a_fresh_database_all_start(servers: dict[str, str]) -> None:
    from services.applications import Platform
    from services.config import Settings

    with fresh_database(servers["DATABASE_URL"], "starts") as url:
        settings = Settings.from_env({"DATABASE_URL": url})
        for moment in ("fresh", "made"):
            failed = _at_once(STARTS, lambda _: Platform(env=settings.eventsourcing_env()).close())
            assert not failed, f"{len(failed)} of {STARTS} starts on the {moment} database failed: {failed[0]!r}"


def _at_once(count: int, work: Any) -> list[BaseException]:
    """Run `work(i)` in `count` threads released together; return what they raised."""
    failed: list[BaseException] = []
    gate = threading.Barrier(count)

    def run(i: int) -> None:
        gate.wait()
        try:
            work(i)
        except BaseException as error:  # noqa: BLE001 - each failure is what the test counts
            failed.append(error)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert not any(thread.is_alive() for thread in threads)
    return failed


def test_read_models_made_by_processes_starting_together_on_a_fresh_database(servers: dict[str, str]) -> None:
    from projections.base import make_engine
    from projections.registry import create_schema
    from services.config import Settings

    with fresh_database(servers["DATABASE_URL"], "schema") as url:
        engines = [make_engine(Settings.from_env({"DATABASE_URL": url}).sqlalchemy_url(), 1) for _ in range(STARTS)]
        try:
            failed = _at_once(STARTS, lambda i: create_schema(engines[i]))
        finally:
            for engine in engines:
                engine.dispose()
    assert not failed, f"{len(failed)} of {STARTS} failed: {failed[0]!r}"


def test_three_migrations_at_once_take_turns_and_all_succeed(servers: dict[str, str]) -> None:
    with fresh_database(servers["DATABASE_URL"], "migrates") as url:
        env = {**os.environ, "DATABASE_URL": url}
        for moment in ("fresh", "made"):
            runs = [subprocess.Popen([sys.executable, "-m", "services.cli", "migrate"], env=env, cwd=ROOT,
                                     stdout=subprocess.PIPE, stderr=subprocess.STDOUT) for _ in range(3)]
            said = [run.communicate(timeout=120)[0].decode(errors="replace") for run in runs]
            assert [run.returncode for run in runs] == [0, 0, 0], f"on the {moment} database: {said}"
