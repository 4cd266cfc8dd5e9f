"""Helpers for the union and circular tests: a loopback SMTP server, in-process delivery, a union scenario."""

from __future__ import annotations

import dataclasses
import email
import email.policy
import secrets
import threading
import time
from collections.abc import Iterator
from email.message import EmailMessage
from typing import Any

import pytest

from support import Tour, free_port

UNIONS = "/api/v1/unions"
WELDING, ELECTRICS = "0911000", "1304000"


class Mailbox:
    """An aiosmtpd handler that keeps every message it accepts."""

    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []
        self.lock = threading.Lock()

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802 - aiosmtpd's name
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        with self.lock:
            self.messages.append(message)  # type: ignore[arg-type]
        return "250 Message accepted for delivery"

    def to(self, address: str) -> list[EmailMessage]:
        """Return the messages sent to an address."""
        with self.lock:
            return [m for m in self.messages if m["To"] == address]


@pytest.fixture(scope="module")
def smtp() -> Iterator[tuple[Mailbox, int]]:
    """Run a real SMTP server on a free loopback port for the module."""
    from aiosmtpd.controller import Controller

    mailbox = Mailbox()
    port = free_port()
    controller = Controller(mailbox, hostname="127.0.0.1", port=port)
    controller.start()
    yield mailbox, port
    controller.stop()


class Delivery:
    """Runs what the dispatcher and the workers do, in this process, against the real Redis."""

    def __init__(self, settings: Any, platform: Any, engine: Any):
        from redis import Redis

        from services import jobs

        self.settings = settings
        self.engine = engine
        self.redis = Redis.from_url(settings.redis_url)
        self.queue = jobs.delivery_queue(self.redis, settings)
        jobs.configure(jobs.JobRuntime(settings, platform, engine))

    def caught_up(self, position: str | int) -> None:
        """Wait until the circulars read model has processed the position."""
        from projections import circulars
        from projections.base import wait_for_position

        wait_for_position(self.engine, circulars.read_model, int(position), 10)

    def dispatch(self, position: str | int | None = None) -> int:
        """Sweep once, after the read model has reached the position; return how many were enqueued."""
        from services.dispatcher import dispatch

        if position is not None:
            self.caught_up(position)
        return dispatch(self.engine, self.redis, self.settings)

    def work(self) -> None:
        """Run every queued job in this process (a burst of the workers' own class, with the JSON serializer)."""
        from rq.serializers import JSONSerializer

        from services.jobs import DeliveryWorker

        DeliveryWorker([self.queue], connection=self.redis, serializer=JSONSerializer).work(burst=True)

    def run(self, position: str | int) -> int:
        """Dispatch what is recorded up to the position and work it off; return how many were enqueued."""
        enqueued = self.dispatch(position)
        self.work()
        return enqueued

    def close(self) -> None:
        from services import jobs

        self.queue.empty()
        jobs.configure(None)
        self.redis.close()


@pytest.fixture(scope="module")
def delivery(settings: Any, platform: Any, engine: Any, smtp: tuple[Mailbox, int], projector: Any
             ) -> Iterator[Delivery]:
    """Deliver circulars in this process through a private queue, with notices to the loopback SMTP server."""
    _, port = smtp
    delivery_settings = dataclasses.replace(
        settings, smtp_host="127.0.0.1", smtp_port=port, smtp_from="umo@methodical.example.kz", smtp_timeout=5,
        delivery_queue=f"circulars-test-{secrets.token_hex(4)}", delivery_retries=2,
        delivery_retry_intervals=(0,), delivery_timeout=30,
    )
    running = Delivery(delivery_settings, platform, engine)
    # Start from a clean slate: circulars other modules left waiting would otherwise count in this one's sweeps.
    running.dispatch(platform.recorder.max_notification_id() or None)
    running.work()
    yield running
    running.close()


def ok(response: Any, status: int = 200) -> dict[str, Any]:
    """Return the JSON body of a response after checking its status."""
    assert response.status_code == status, response.get_json()
    return response.get_json()


class UnionScenario:
    """A regional department, three colleges with heads, a union of the three, and its chair.

    College A (Kazakh, with email) founded it for welding and electrics; B (Russian, with email)
    joined for welding; C (no email) for electrics; an employer for welding. A's head is the chair.
    """

    def __init__(self, client: Any, tour: Tour):
        self.client = client
        self.tour = tour
        self.department = tour.tenant("regional_department", name="Алматы қаласының білім басқармасы")
        _, self.coordinator = tour.head(self.department["id"], "Басқарма басшысы")
        tag = secrets.token_hex(3)
        self.a = tour.tenant("tvet_college", name="Алматы политехникалық колледжі", language="kk",
                             parent_id=self.department["id"], email=f"a-{tag}@college.example.kz")
        self.b = tour.tenant("tvet_college", name="Алматинский колледж энергетики", language="ru",
                             parent_id=self.department["id"], email=f"b-{tag}@college.example.kz")
        self.c = tour.tenant("tvet_college", name="Алатау колледжі", language="kk", parent_id=self.department["id"])
        self.a_head_person, self.a_head = tour.head(self.a["id"], "Әсел Құрманғазиева")
        _, self.b_head = tour.head(self.b["id"], "Ирина Петрова")
        _, self.c_head = tour.head(self.c["id"], "Нұрлан Өтепов")
        self.union = ok(client.post(UNIONS, headers=self.a_head, json={
            "name": "Дәнекерлеу және электр техникасы ОӘБ", "sector": "Өнеркәсіп",
            "specialties": [WELDING, ELECTRICS], "coordinator_id": self.department["id"]}), 201)
        self.id = self.union["id"]
        self.admit({"tenant_id": self.b["id"], "specialties": [WELDING]})
        self.admit({"tenant_id": self.c["id"], "specialties": [ELECTRICS]})
        self.admit({"name": "ТОО «Қазэнергомонтаж»", "kind": "employer", "specialties": [WELDING]})
        self.chair_body = ok(client.post(f"{UNIONS}/{self.id}/chair", headers=self.coordinator, json={
            "person_id": self.a_head_person["id"], "council_decision": {"number": "12", "date": "2025-09-01"}}))
        self.chair = self.a_head

    def admit(self, body: dict[str, Any]) -> dict[str, Any]:
        return ok(self.client.post(f"{UNIONS}/{self.id}/members", headers=self.coordinator, json=body), 201)

    def adopt(self, title: str = "Дәнекерлеушілерді оқытудағы цифрлық тренажерлер: ҒҚҢӨҰҮҺІ әғқңөұүһі",
              specialties: list[str] | None = None, direction: str = "p.33.4") -> dict[str, Any]:
        return ok(self.client.post(f"{UNIONS}/{self.id}/decisions", headers=self.chair, json={
            "title": title, "text": "Колледждерге виртуалды дәнекерлеу тренажерлерін енгізу ұсынылады.",
            "direction": direction, "specialties": specialties or [WELDING]}), 201)

    def decision(self, decision_id: str, headers: dict[str, str] | None = None,
                 position: str | None = None) -> dict[str, Any]:
        h = dict(headers or self.chair)
        if position:
            h["X-Min-Position"] = position
        return ok(self.client.get(f"{UNIONS}/{self.id}/decisions/{decision_id}", headers=h))


def wait_until(check: Any, timeout: float = 20, pause: float = 0.1) -> Any:
    """Return check()'s first truthy value, polling until the timeout (then fail)."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError("the condition was not met in time")
        time.sleep(pause)
