"""Circular fan-out: one decision to every member organization of a union, delivered by the real processes.

Starts the platform (web, projector, dispatcher and two rq workers) with a loopback SMTP sink, sets up a union of
1,000 colleges of one specialty (quick: 100) in this process through the Application, adopts one decision through
the API, and measures from the adoption's response until every circular is rendered, stored, mailed and recorded
`Delivered` and the read model shows it delivered (p.34). Beside it: the per-circular cost (wall time x workers /
circulars) against rendering the same PDF alone in a loop in one process, and what bounds the figure from outside
the platform (the SMTP sink's own rate, the machine's load).
"""

from __future__ import annotations

import dataclasses
import os
import random
import re
import secrets
import threading
import time
from collections.abc import Iterator
from datetime import date, datetime, timezone
from typing import Any
from uuid import UUID, uuid4

from benchmarks.platform import Client, Platform, free_port, log, new_bin
from benchmarks.report import figure

BENCHMARK = "fanout"
WELDING = "0911000"
WORKERS = 2
TARGET_SECONDS = 10.0  # for 1,000 circulars on a 2-core machine
TARGET_MEMBERS = 1000
DEADLINE_SECONDS = 600  # the run gives up waiting after this long


class Sink:
    """An SMTP server that accepts every message and keeps only its Message-ID and arrival time."""

    _MESSAGE_ID = re.compile(rb"^Message-ID:\s*(\S+)", re.IGNORECASE | re.MULTILINE)

    def __init__(self) -> None:
        self.ids: list[str] = []
        self.arrivals: list[float] = []
        self.lock = threading.Lock()
        self.controller: Any = None
        self.port = 0

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802 - aiosmtpd's name
        found = self._MESSAGE_ID.search(envelope.content[:4096])
        with self.lock:
            self.ids.append(found.group(1).decode() if found else "")
            self.arrivals.append(time.monotonic())
        return "250 Message accepted for delivery"

    def start(self) -> None:
        from aiosmtpd.controller import Controller

        server = _block_reading_smtp()

        class BlockReadingController(Controller):
            def factory(self) -> Any:
                return server(self.handler, **self.SMTP_kwargs)

        self.port = free_port()
        self.controller = BlockReadingController(self, hostname="127.0.0.1", port=self.port)
        self.controller.start()

    def stop(self) -> None:
        if self.controller is not None:
            self.controller.stop()

    def count(self) -> int:
        with self.lock:
            return len(self.ids)


def _block_reading_smtp() -> type:
    """aiosmtpd's SMTP server, reading a message's DATA in blocks of up to 64 KiB where aiosmtpd reads it a line at
    a time: a notice with its PDF is about 450 lines, and the sink, which shares the benchmark's two cores with the
    platform, spent about 2 ms of CPU a message on them. The commands before DATA are aiosmtpd's own."""
    from aiosmtpd.smtp import SMTP

    class BlockReadingSMTP(SMTP):
        async def smtp_DATA(self, arg: str) -> None:  # noqa: N802 - aiosmtpd's name
            if await self.check_helo_needed() or await self.check_auth_needed("DATA"):
                return
            if not self.envelope.rcpt_tos:
                await self.push("503 Error: need RCPT command")
                return
            if arg:
                await self.push("501 Syntax: DATA")
                return
            await self.push("354 End data with <CR><LF>.<CR><LF>")
            data = bytearray(b"\r\n")  # so that an empty message's lone dot ends it too
            while not data.endswith(b"\r\n.\r\n"):  # the client waits for the answer: nothing follows the dot
                block = await self._reader.read(65536)
                if not block:
                    return  # the connection closed during DATA
                data += block
            # The lines as sent (each with its CRLF), without the final dot, a leading dot unstuffed (RFC 5321 4.5.2).
            content = bytes(data[:-3]).replace(b"\r\n..", b"\r\n.")[2:]
            self.envelope.content = self.envelope.original_content = content
            status = await self._call_handler_hook("DATA")
            self._set_post_data_state()
            await self.push(status)

    return BlockReadingSMTP


def _context(actor: Any) -> Any:
    from domain.base import Context

    return Context(actor=actor, request_id=f"fanout-setup-{secrets.token_hex(4)}", now=datetime.now(timezone.utc),
                   ids=uuid4)


def set_up(app: Any, members: int) -> tuple[str, str]:
    """A regional department and `members` Kazakh/Russian colleges with email, all in one union for welding; the
    first college's head chairs it. Returns the union's id and the chair's token."""
    from domain import rules
    from domain.base import Actor

    rng, used = random.Random(34), set()
    operator = Actor.operator()
    department = app.register_tenant(_context(operator), name="Облыстық білім басқармасы", kind="regional_department",
                                     bin=new_bin(rng, used), region="Алматы", language="kk").aggregate
    coordinator = app.add_person(_context(operator), department.id, full_name="Басқарма басшысы", roles=[rules.HEAD],
                                 subjects=[]).aggregate
    as_coordinator = Actor(role=rules.HEAD, person_id=coordinator.id, tenant_id=department.id, roles=(rules.HEAD,))
    colleges = []
    for n in range(members):
        colleges.append(app.register_tenant(
            _context(operator), name=f"№{n + 1} колледж", kind="tvet_college", bin=new_bin(rng, used),
            region="Алматы", language="kk" if n % 2 == 0 else "ru", email=f"college{n + 1}@example.kz",
            parent_id=department.id).aggregate)
        if (n + 1) % 250 == 0:
            log(f"set-up: {n + 1} colleges")
    chair = app.add_person(_context(operator), colleges[0].id, full_name="Әсел Құрманғазиева", roles=[rules.HEAD],
                           subjects=[]).aggregate
    as_chair = Actor(role=rules.HEAD, person_id=chair.id, tenant_id=colleges[0].id, roles=(rules.HEAD,))
    union = app.found_union(_context(as_chair), name="Дәнекерлеу ОӘБ", sector="Өнеркәсіп", specialties=[WELDING],
                            coordinator_id=department.id).aggregate
    for college in colleges[1:]:
        app.admit_union_member(_context(as_coordinator), union.id, tenant_id=college.id, specialties=[WELDING])
    app.approve_chair(_context(as_coordinator), union.id, person_id=chair.id, number="1", dated=date(2025, 9, 1))
    token = app.issue_token(_context(operator), colleges[0].id, chair.id).token
    return str(union.id), token


def _cpu_seconds(pid: int) -> float | None:
    """Return the CPU time (user + system) a process has used so far, where the system tells (Linux /proc)."""
    try:
        fields = open(f"/proc/{pid}/stat").read().rpartition(")")[2].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return None


def _cpu_by_role(platform: Platform) -> dict[str, float]:
    """Return the CPU seconds used so far by each process of the platform, its database backends (when the server
    runs on this machine) and this process (the SMTP sink and the polling)."""
    used: dict[str, float] = {"benchmark (sink, polling)": time.process_time()}
    for name, child in platform.children:
        seconds = _cpu_seconds(child.pid)
        if seconds is not None:
            role = "worker" if name.startswith("worker") else name
            used[role] = used.get(role, 0.0) + seconds
    with platform.connect() as conn:
        pids = [row[0] for row in conn.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()")]
    for pid in pids:
        seconds = _cpu_seconds(pid)
        if seconds is not None:
            used[f"postgres:{pid}"] = seconds
    return used


def _cpu_delta(before: dict[str, float], after: dict[str, float]) -> dict[str, float]:
    """CPU seconds used between two readings, per role (database backends present at both summed as one)."""
    delta: dict[str, float] = {}
    for key, value in after.items():
        if key in before:
            role = "postgres" if key.startswith("postgres:") else key
            delta[role] = round(delta.get(role, 0.0) + value - before[key], 2)
    return delta


def _progress(conn: Any, decision_id: str) -> tuple[int, int]:
    """Return (the decision's circulars in the read model, those shown delivered there)."""
    return conn.execute(
        "SELECT count(*), count(*) FILTER (WHERE status = 'delivered') FROM rm_circulars WHERE decision_id = %s",
        (decision_id,)).fetchone()


def _delivered_per_circular(platform: Platform, circular_ids: list[str]) -> dict[int, int]:
    """Return how many circulars have 0, 1, 2, ... `Delivered` events (exactly once: all of them 1)."""
    with platform.connect() as conn:
        rows = conn.execute(
            "SELECT c.n, count(*) FROM (SELECT id, (SELECT count(*) FROM methodical_events e"
            " WHERE e.originator_id = id AND e.topic LIKE %s) AS n FROM unnest(%s::uuid[]) AS id) c GROUP BY c.n",
            ("%Circular.Delivered", circular_ids)).fetchall()
    return {int(n): int(count) for n, count in rows}


def render_baseline(app: Any, circular_id: str, seconds: float) -> tuple[float, float, int]:
    """Render one real circular alone in a loop in this process; return wall and CPU seconds per rendering and
    how many renderings."""
    from services import circular_pdf

    circular = app.get_circular(UUID(circular_id))
    circular_pdf.render(circular)  # fonts loaded, caches warm: the steady state a worker is in
    count, started, cpu = 0, time.perf_counter(), time.process_time()
    while True:
        circular_pdf.render(circular)
        count += 1
        elapsed = time.perf_counter() - started
        if elapsed >= seconds and count >= 10:
            return elapsed / count, (time.process_time() - cpu) / count, count


def smtp_baseline(port: int, count: int) -> float:
    """Send `count` notices of a circular's size to the sink over one connection; return messages per second."""
    import smtplib
    from email.message import EmailMessage

    attachment = os.urandom(24_000)
    started = time.perf_counter()
    with smtplib.SMTP("127.0.0.1", port, timeout=10) as smtp:
        for n in range(count):
            message = EmailMessage()
            message["From"], message["To"] = "umo@methodical.example.kz", f"baseline{n}@example.kz"
            message["Subject"], message["Message-ID"] = "baseline", f"<baseline-{n}@methodical.example.kz>"
            message.set_content("baseline")
            message.add_attachment(attachment, maintype="application", subtype="pdf", filename="baseline.pdf")
            smtp.send_message(message)
    return count / (time.perf_counter() - started)


def run(quick: bool) -> Iterator[dict[str, Any]]:
    """Measure the fan-out of one decision to 1,000 members (quick: 100); yield the figures."""
    from services.applications import Platform as Application
    from services.config import Settings

    members = 100 if quick else TARGET_MEMBERS
    sink = Sink()
    sink.start()
    platform = Platform(prefix="fanout")
    app = None
    try:
        platform.start(workers=WORKERS, extra_env={
            "SMTP_HOST": "127.0.0.1", "SMTP_PORT": str(sink.port), "SMTP_FROM": "umo@methodical.example.kz",
        })
        settings = dataclasses.replace(Settings.from_env(platform.env), pool_size=2)
        app = Application(env=settings.eventsourcing_env(create_tables=False))
        started = time.monotonic()
        union_id, chair = set_up(app, members)
        log(f"set-up: union of {members} colleges in {time.monotonic() - started:.1f} s")
        _wait_idle(platform)

        client = Client(platform.base)
        cpu_before = _cpu_by_role(platform)
        adopt_started = time.monotonic()
        decision = client.call("POST", f"/unions/{union_id}/decisions", chair, {
            "title": "Дәнекерлеушілерді оқытудағы цифрлық тренажерлер: ҒҚҢӨҰҮҺІ әғқңөұүһі",
            "text": "Колледждерге виртуалды дәнекерлеу тренажерлерін енгізу ұсынылады.",
            "direction": "p.33.4", "specialties": [WELDING]})
        t0 = time.monotonic()
        adopt_seconds = t0 - adopt_started
        circular_ids = [c["id"] for c in decision["circulars"]]
        if len(circular_ids) != members or decision["circulars_expected"] != members:
            raise RuntimeError(f"expected {members} circulars, the decision has {len(circular_ids)}")
        load_before = os.getloadavg()[0]

        all_shown = first_delivered = None
        with platform.connect() as conn:  # one connection for the polling: a new one a poll costs the server a fork
            while True:
                shown, delivered = _progress(conn, decision["id"])
                now = time.monotonic()
                if all_shown is None and shown == members:
                    all_shown = now - t0
                if first_delivered is None and delivered:
                    first_delivered = now - t0
                if delivered == members:  # shown delivered: the `Delivered` event is recorded and projected
                    wall = now - t0
                    break
                if now - t0 > DEADLINE_SECONDS:
                    raise RuntimeError(f"after {DEADLINE_SECONDS} s: {delivered}/{members} shown delivered"
                                       f"\n{platform.tail('worker')}")
                platform.check_alive()
                time.sleep(0.1)
        load_after = os.getloadavg()[0]
        cpu = _cpu_delta(cpu_before, _cpu_by_role(platform))
        time.sleep(1.0)  # anything late (a second delivery, a second notice) arrives now
        per_circular = _delivered_per_circular(platform, circular_ids)
        notices = sink.count()
        unique_notices = len(set(sink.ids))
        last_notice = (max(sink.arrivals) - t0) if sink.arrivals else None

        render_seconds, render_cpu, renders = render_baseline(app, circular_ids[-1], 2.0 if quick else 5.0)
        smtp_rate = smtp_baseline(sink.port, 100 if quick else 300)
        cost = wall * WORKERS / members
        exactly_once = per_circular == {1: members}
        extra = {"circulars": members, "workers": WORKERS, "cpus": os.cpu_count(),
                 "load_avg_1m": [round(load_before, 2), round(load_after, 2)]}
        target = f"<= {TARGET_SECONDS:g} s for {TARGET_MEMBERS} circulars"
        yield figure(
            BENCHMARK, "delivery_wall_time", wall, "s",
            target=target if not quick else None, met=(wall <= TARGET_SECONDS) if not quick else None,
            rate_per_s=round(members / wall, 1), read_model_all_issued_s=round(all_shown or 0, 3),
            first_shown_delivered_s=round(first_delivered or 0, 3), last_notice_s=round(last_notice or 0, 3),
            adoption_response_s=round(adopt_seconds, 3), exactly_once=exactly_once,
            delivered_events_per_circular={str(k): v for k, v in sorted(per_circular.items())},
            notices=notices, unique_notices=unique_notices, **extra)
        yield figure(
            BENCHMARK, "per_circular_cost", cost, "s",
            baseline=render_seconds, baseline_of=f"rendering the same PDF alone in a loop in one process "
                                                 f"({renders} renderings)",
            definition="delivery wall time x workers / circulars", **extra)
        # The same per circular in CPU time, which the other users of a shared machine do not inflate.
        worker_cpu = cpu.get("worker", 0.0) / members
        yield figure(
            BENCHMARK, "per_circular_worker_cpu", worker_cpu, "s", baseline=render_cpu,
            baseline_of="CPU time of rendering the same PDF alone in a loop in one process",
            definition="CPU time of the worker processes during the delivery / circulars",
            cpu_seconds_by_process=cpu, all_cpu_per_circular_s=round(sum(cpu.values()) / members, 4), **extra)
        yield figure(
            BENCHMARK, "smtp_sink_rate", smtp_rate, "messages/s",
            definition="one process sending notices of a circular's size to the benchmark's SMTP sink over one "
                       "connection (the sink runs in the benchmark process and bounds the figure from outside)")
        if not exactly_once or unique_notices < members:
            raise RuntimeError(f"delivery was not exactly once: {per_circular}, {unique_notices} notices")
    finally:
        if app is not None:
            app.close()
        platform.stop()
        sink.stop()


def _wait_idle(platform: Platform, timeout: float = 300) -> None:
    """Wait until every read model has the log's last event (the setup is projected before the measurement)."""
    from benchmarks.platform import log_state

    deadline = time.monotonic() + timeout
    while True:
        state = log_state(platform)
        if state["read_models_behind"] == 0:
            return
        if time.monotonic() > deadline:
            raise RuntimeError(f"the projector did not catch up with the set-up: {state}")
        platform.check_alive()
        time.sleep(0.2)


if __name__ == "__main__":
    import sys

    from benchmarks.report import emit

    for record in run(quick="--quick" in sys.argv[1:]):
        emit(record)
