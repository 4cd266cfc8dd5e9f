"""Crashes: the projector SIGKILLed at random points while events arrive leaves the read models a rebuild gives."""

from __future__ import annotations

import json
import os
import random
import secrets
import signal
import subprocess
import sys
import threading
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any
from uuid import uuid4

import psycopg
import pytest

from support import fresh_database, valid_bin

ROOT = Path(__file__).resolve().parents[2]
# CI runs a shorter stream; scripts/crash-projector runs the full 10,000 events.
EVENTS = int(os.environ.get("CRASH_EVENTS", "3000"))
KILLS = int(os.environ.get("CRASH_KILLS", "20"))


@pytest.fixture
def crash_env(servers: dict[str, str]) -> Any:
    with fresh_database(servers["DATABASE_URL"], "crash") as url:
        env = {**os.environ, "DATABASE_URL": url, "LOG_LEVEL": "WARNING"}
        subprocess.run([sys.executable, "-m", "services.cli", "migrate"], env=env, check=True, cwd=ROOT)
        yield env


def _write(env: dict[str, str], stop_at: int, done: threading.Event, written: list[int],
           errors: list[BaseException] | None = None) -> None:
    """Record events through the platform's own Application until `stop_at` are in the log. `done` is set when it
    ends, however it ends; an error that ended it early is appended to `errors`, for the test's message."""
    from domain.base import Actor, Context
    from services.applications import Platform
    from services.config import Settings

    platform = None
    try:
        platform = Platform(env=Settings.from_env(env).eventsourcing_env())

        def ctx() -> Context:
            return Context(Actor.operator(), f"crash-{secrets.token_hex(4)}", datetime.now(timezone.utc), ids=uuid4)

        while True:
            tenant = platform.register_tenant(ctx(), name="Мектеп", kind="school", bin=valid_bin(), region="Тараз")
            for i in range(48):
                done_ = platform.add_person(ctx(), tenant.aggregate.id, full_name=f"Директор {i}", roles=["head"],
                                            subjects=["Қазақ тілі"])
                written.append(done_.position)
                if done_.position >= stop_at:
                    return
    except BaseException as error:
        if errors is not None:
            errors.append(error)
        raise
    finally:
        try:
            if platform is not None:
                platform.close()
        finally:
            done.set()


def _rows(url: str) -> dict[str, list[tuple[Any, ...]]]:
    with psycopg.connect(url) as conn:
        tables = [r[0] for r in conn.execute(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'public' AND tablename LIKE 'rm\\_%' "
            "AND tablename NOT IN ('rm_tracking', 'rm_schemas') ORDER BY 1")]
        return {t: conn.execute(f"SELECT * FROM {t} ORDER BY 1, 2").fetchall() for t in tables}


def test_a_projector_killed_20_times_while_events_arrive_matches_a_rebuild(crash_env: dict[str, str]) -> None:
    rng = random.Random(int(os.environ.get("CRASH_SEED", "583")))
    done = threading.Event()
    written: list[int] = []
    writer = threading.Thread(target=_write, args=(crash_env, EVENTS, done, written), daemon=True)
    started = time.monotonic()
    writer.start()
    projector = subprocess.Popen([sys.executable, "-m", "services.cli", "projector"], env=crash_env, cwd=ROOT,
                                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    kills = 0
    try:
        while kills < KILLS:
            # Spread the kills over the stream (the writer records a few hundred events a second).
            time.sleep(rng.uniform(0.05, 0.2) * EVENTS / 1000)
            projector.send_signal(signal.SIGKILL)
            projector.wait()
            kills += 1
            projector = subprocess.Popen([sys.executable, "-m", "services.cli", "projector"], env=crash_env,
                                         cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        writer.join(300)
        assert done.is_set() and written and written[-1] >= EVENTS
        end = written[-1]
        deadline = time.monotonic() + 300
        with psycopg.connect(crash_env["DATABASE_URL"]) as conn:
            while True:
                behind = conn.execute("SELECT count(*) FROM rm_tracking WHERE notification_id < %s", (end,)).fetchone()[0]
                if behind == 0 or time.monotonic() > deadline:
                    break
                time.sleep(0.2)
        assert behind == 0, "the restarted projector did not catch up"
    finally:
        projector.terminate()
        projector.wait(30)
    live = _rows(crash_env["DATABASE_URL"])
    subprocess.run([sys.executable, "-m", "services.cli", "rebuild"], env=crash_env, cwd=ROOT, check=True,
                   capture_output=True)
    rebuilt = _rows(crash_env["DATABASE_URL"])
    assert rebuilt.keys() == live.keys() and rebuilt == live
    print(json.dumps({"test": "projector_sigkill", "events": end, "kills": kills,
                      "tables_compared": len(live), "rows": sum(len(v) for v in live.values()),
                      "seconds": round(time.monotonic() - started, 1)}))
