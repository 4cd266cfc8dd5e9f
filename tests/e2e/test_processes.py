"""End to end: the web and projector processes as deployed, driven over HTTP."""

from __future__ import annotations

import json
import os
import secrets
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest

from support import Http, free_port, fresh_database, valid_bin

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def e2e_env(servers: dict[str, str]) -> Iterator[dict[str, str]]:
    """A fresh database and the environment the platform's processes run with."""
    with fresh_database(servers["DATABASE_URL"], "e2e") as url:
        env = {
            **os.environ,
            "DATABASE_URL": url,
            "REDIS_URL": servers["REDIS_URL"],
            "OPERATOR_TOKEN": secrets.token_urlsafe(24),
            "PORT": str(free_port()),
            "WEB_WORKERS": "2",
            "ACCESS_LOG": "",
        }
        subprocess.run([sys.executable, "-m", "services.cli", "migrate"], env=env, check=True, cwd=ROOT)
        yield env


def _start(args: list[str], env: dict[str, str]) -> subprocess.Popen[bytes]:
    return subprocess.Popen(args, env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def _projector(env: dict[str, str]) -> subprocess.Popen[bytes]:
    return _start([sys.executable, "-m", "services.cli", "projector"], env)


@pytest.fixture(scope="module")
def web(e2e_env: dict[str, str]) -> Iterator[Http]:
    """The gunicorn web process, answering on a free port."""
    process = _start([sys.executable, "-m", "gunicorn", "-c", str(ROOT / "deploy" / "gunicorn.conf.py")], e2e_env)
    http = Http(f"http://127.0.0.1:{e2e_env['PORT']}/api/v1")
    deadline = time.monotonic() + 30
    while True:
        try:
            if http.call("GET", "/health")[0] == 200:
                break
        except OSError:
            pass
        if time.monotonic() > deadline or process.poll() is not None:
            process.kill()
            raise RuntimeError(f"the web process did not start: {process.stderr.read().decode()[-2000:]}")
        time.sleep(0.2)
    yield http
    process.terminate()
    process.wait(timeout=20)


def _school_with_head(http: Http, operator: str) -> tuple[str, str]:
    status, tenant = http.call("POST", "/tenants", operator, {
        "name": "Мектеп", "kind": "school", "bin": valid_bin(), "region": "Алматы", "language": "kk"})
    assert status == 201, tenant
    status, head = http.call("POST", f"/tenants/{tenant['id']}/people", operator,
                             {"full_name": "Директор", "roles": ["head"]})
    assert status == 201, head
    status, issued = http.call("POST", f"/tenants/{tenant['id']}/people/{head['id']}/tokens", operator)
    assert status == 201, issued
    return tenant["id"], issued["token"]


def test_a_client_registers_a_school_adds_people_and_reads_its_own_write(web: Http, e2e_env: dict[str, str]) -> None:
    projector = _projector(e2e_env)
    try:
        tid, head = _school_with_head(web, e2e_env["OPERATOR_TOKEN"])
        status, teacher = web.call("POST", f"/tenants/{tid}/people", head,
                                   {"full_name": "Ұлан Серік", "roles": ["teacher"], "subjects": ["Физика"]})
        assert status == 201
        status, page = web.call("GET", f"/tenants/{tid}/people", head,
                                headers={"X-Min-Position": teacher["position"]})
        assert status == 200
        assert [p["full_name"] for p in page["items"]] == ["Директор", "Ұлан Серік"]
        assert page["items"][1]["subjects"] == ["Физика"]
    finally:
        projector.terminate()
        projector.wait(timeout=30)


def _rows(env: dict[str, str]) -> dict[str, list[tuple[Any, ...]]]:
    with psycopg.connect(env["DATABASE_URL"]) as conn:
        return {
            table: conn.execute(f"SELECT * FROM {table} ORDER BY id").fetchall()
            for table in ("rm_tenants", "rm_people")
        }


def test_a_projector_killed_mid_stream_and_restarted_leaves_the_rows_a_rebuild_gives(
    web: Http, e2e_env: dict[str, str]
) -> None:
    operator = e2e_env["OPERATOR_TOKEN"]
    projector = _projector(e2e_env)
    tid, head = _school_with_head(web, operator)
    last = ""
    for round_ in range(3):
        for i in range(15):
            status, body = web.call("POST", f"/tenants/{tid}/people", head,
                                    {"full_name": f"Мұғалім {round_}-{i}", "roles": ["teacher"], "subjects": ["Тарих"]})
            assert status == 201
            last = body["position"]
        projector.send_signal(signal.SIGKILL)
        projector.wait()
        projector = _projector(e2e_env)
    try:
        status, page = web.call("GET", f"/tenants/{tid}/people?limit=500", head, headers={"X-Min-Position": last})
        assert status == 200
        assert len(page["items"]) == 46
    finally:
        projector.terminate()
        projector.wait(timeout=30)
    live = _rows(e2e_env)

    result = subprocess.run([sys.executable, "-m", "services.cli", "rebuild"], env=e2e_env, cwd=ROOT,
                            capture_output=True, text=True, check=True)
    reports = [json.loads(line) for line in result.stdout.splitlines()]
    assert {r["read_model"] for r in reports} >= {"tenants", "people"}
    with psycopg.connect(e2e_env["DATABASE_URL"]) as conn:
        in_log = conn.execute("SELECT count(*) FROM methodical_events").fetchone()[0]
    assert all(r["events_replayed"] == in_log for r in reports)
    assert _rows(e2e_env) == live
