"""Exactly one projector (dispatcher, scheduler) works at a time across processes; when the holder is killed the other takes over within
10 s, and the read models equal a fresh projection of the log (nothing applied twice, nothing lost)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import psycopg
import pytest

from support import fresh_database
from test_projector_crashes import _rows, _write

ROOT = Path(__file__).resolve().parents[2]
EVENTS = 1500

_HOLDERS = ("SELECT a.application_name FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid"
            " WHERE l.locktype = 'advisory' AND l.granted AND a.application_name LIKE %s"
            " AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())")


@pytest.fixture
def cluster_env(servers: dict[str, str]) -> Any:
    with fresh_database(servers["DATABASE_URL"], "single") as url:
        env = {**os.environ, "DATABASE_URL": url, "LOG_LEVEL": "INFO"}
        subprocess.run([sys.executable, "-m", "services.cli", "migrate"], env=env, check=True, cwd=ROOT,
                       capture_output=True)
        yield env


def _holders(url: str, kind: str) -> list[int]:
    """The process ids of the processes of this kind that hold their lock."""
    with psycopg.connect(url) as conn:
        names = [r[0] for r in conn.execute(_HOLDERS, (f"methodical {kind} pid %",))]
    return [int(name.rsplit(" ", 1)[1]) for name in names]


def _wait_for(check: Any, timeout: float) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(0.05)
    return check()


def test_one_of_two_projectors_works_and_the_other_takes_over_when_it_is_killed(cluster_env: dict[str, str],
                                                                                tmp_path: Path) -> None:
    url = cluster_env["DATABASE_URL"]
    logs = {name: open(tmp_path / f"{name}.log", "wb") for name in ("a", "b")}
    procs = {name: subprocess.Popen([sys.executable, "-m", "services.cli", "projector"], env=cluster_env, cwd=ROOT,
                                    stdout=logs[name], stderr=subprocess.STDOUT) for name in ("a", "b")}
    by_pid = {p.pid: name for name, p in procs.items()}
    done = threading.Event()
    written: list[int] = []
    errors: list[BaseException] = []
    writer = threading.Thread(target=_write, args=(cluster_env, EVENTS, done, written, errors), daemon=True)
    try:
        holders = _wait_for(lambda: _holders(url, "projector"), 30)
        assert len(holders) == 1, f"holders of the projector lock: {holders}"
        first = by_pid[holders[0]]
        other = "b" if first == "a" else "a"
        writer.start()
        _wait_for(lambda: len(written) > EVENTS // 3 or errors, 60)
        assert not errors, f"the writer failed after {len(written)} events: {errors[0]!r}"
        time.sleep(0.3)  # the holder is applying events now
        assert _holders(url, "projector") == holders, "the lock changed hands while its holder lived"
        procs[first].send_signal(signal.SIGKILL)
        killed = time.monotonic()
        procs[first].wait()
        taken = _wait_for(lambda: _holders(url, "projector") == [procs[other].pid], 15)
        takeover = time.monotonic() - killed
        assert taken, "the other projector did not take the lock"
        assert takeover < 10, f"the other projector took over after {takeover:.1f} s"
        writer.join(120)
        assert not errors, f"the writer failed after {len(written)} events: {errors[0]!r}"
        assert done.is_set(), f"the writer wrote {len(written)} events in 120 s after the takeover, and goes on"
        assert written and written[-1] >= EVENTS, f"the writer stopped at {written[-1:]}"
        end = written[-1]
        with psycopg.connect(url) as conn:
            behind = _wait_for(lambda: conn.execute(
                "SELECT count(*) FROM rm_tracking WHERE notification_id < %s", (end,)).fetchone()[0] == 0, 60)
        assert behind, "the projector that took over did not catch up"
    finally:
        for proc in procs.values():
            if proc.poll() is None:
                proc.terminate()
        for proc in procs.values():
            try:
                proc.wait(20)
            except subprocess.TimeoutExpired:
                proc.kill()
        for handle in logs.values():
            handle.close()
    assert b"standing by" in (tmp_path / f"{other}.log").read_bytes()
    live = _rows(url)
    subprocess.run([sys.executable, "-m", "services.cli", "rebuild"], env=cluster_env, cwd=ROOT, check=True,
                   capture_output=True)
    assert _rows(url) == live, "the read models differ from a fresh projection of the log"
    print(json.dumps({"test": "projector_takeover", "events": end, "takeover_seconds": round(takeover, 2)}))


@pytest.mark.parametrize(("command", "lock"), [("dispatcher", "dispatcher"), ("cron", "scheduler")])
def test_a_second_one_stands_by_until_the_first_is_killed_and_a_signal_ends_it(
        cluster_env: dict[str, str], servers: dict[str, str], command: str, lock: str) -> None:
    url = cluster_env["DATABASE_URL"]
    env = {**cluster_env, "REDIS_URL": servers["REDIS_URL"]}
    procs = [subprocess.Popen([sys.executable, "-m", "services.cli", command], env=env, cwd=ROOT,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL) for _ in range(2)]
    try:
        holders = _wait_for(lambda: _holders(url, lock), 30)
        assert len(holders) == 1 and holders[0] in {p.pid for p in procs}
        time.sleep(1.5)  # the other keeps trying, and keeps failing
        assert _holders(url, lock) == holders
        first = next(p for p in procs if p.pid == holders[0])
        second = next(p for p in procs if p is not first)
        first.send_signal(signal.SIGKILL)
        killed = time.monotonic()
        assert _wait_for(lambda: _holders(url, lock) == [second.pid], 15), (
            f"holders {_holders(url, lock)}, the second {second.pid} ({second.poll()}), the first {first.pid}")
        assert time.monotonic() - killed < 10
        second.terminate()  # SIGTERM: the holder stops for good (it does not wait for the lock again)
        assert second.wait(20) == 0
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.terminate()
            proc.wait(20)


def test_the_scheduler_whose_lock_session_is_cut_takes_the_lock_again_rather_than_stopping(
        cluster_env: dict[str, str], servers: dict[str, str]) -> None:
    # A failover or a cut network ends the lock's session: the scheduler stops rq's loop (by a signal it sends
    # itself once rq's handlers are in place) and waits for the lock again, in the same process.
    url = cluster_env["DATABASE_URL"]
    env = {**cluster_env, "REDIS_URL": servers["REDIS_URL"]}
    proc = subprocess.Popen([sys.executable, "-m", "services.cli", "cron"], env=env, cwd=ROOT,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        assert _wait_for(lambda: _holders(url, "scheduler") == [proc.pid], 30)
        for _ in range(2):  # at once, and again while it is back at work
            with psycopg.connect(url, autocommit=True) as conn:
                cut = conn.execute(
                    "SELECT pg_terminate_backend(a.pid) FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid"
                    " WHERE l.locktype = 'advisory' AND l.granted AND a.application_name = %s",
                    (f"methodical scheduler pid {proc.pid}",)).fetchall()
            assert cut == [(True,)]
            assert _wait_for(lambda: _holders(url, "scheduler") == [proc.pid], 15), (
                f"holders {_holders(url, 'scheduler')}, the scheduler {proc.pid} ({proc.poll()})")
            assert proc.poll() is None, "the scheduler stopped instead of taking its lock again"
        proc.terminate()
        assert proc.wait(20) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(20)
