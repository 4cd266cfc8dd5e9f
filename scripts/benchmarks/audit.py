"""Audit: the state of a 10,000-event aggregate at an old version, and a tenant's export, against the raw store.

The aggregate: a teacher whose record was changed 10,000 times (each a `PATCH .../people/{pid}` command's
Person.Changed event; the person's state stays small, so the figure is the cost of reaching a version, not of
a large state). It is built in this process through the platform's Application (the domain's `change` and
`save()`, 50 changes per save: only the build is batched), snapshotted as the platform snapshots people
(every 50 versions), then the read models are rebuilt from the log (`methodical rebuild`).

1. State at a given version (an old one: a quarter of the way, between two snapshots): through the audit
   HTTP API as an auditor with a grant (`GET /api/v1/audit/aggregates/{id}?version=N`: the state and the
   first page, 50, of the events that built it; the read is itself recorded, as every audit read is), and in
   this process through the platform's `state_of` (repository and the JSON form); the baseline is the raw
   `repository.get(id, version=N)`. p50 and p99 over repeated reads, one after another.
2. Tenant export: events per second of `GET /api/v1/audit/tenants/{tid}/export` (and of the export function
   in this process), against reading and decoding the same events from the store with eventsourcing
   (`select_notifications` and the mapper), the tenant's events only.
"""

from __future__ import annotations

import http.client
import json
import os
import random
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta, timezone
from typing import Any
from urllib.parse import urlsplit
from uuid import uuid4

from benchmarks.platform import API, ROOT, Platform, log, new_bin
from benchmarks.report import figure

BENCHMARK = "audit"
BATCH = 50  # changes per save while building (the build only; each event is one PATCH's)


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))]


def timed(action: Callable[[], Any], repeats: int) -> list[float]:
    """Milliseconds of each of `repeats` calls (after two unmeasured ones)."""
    for _ in range(2):
        action()
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        action()
        times.append((time.perf_counter() - started) * 1000)
    return times


class Http:
    """A keep-alive connection that GETs with a bearer token and returns the status and body."""

    def __init__(self, base: str, token: str):
        url = urlsplit(base)
        self.connection = http.client.HTTPConnection(url.hostname, url.port, timeout=120)
        self.headers = {"Authorization": f"Bearer {token}"}

    def get(self, path: str) -> tuple[int, bytes, http.client.HTTPResponse]:
        self.connection.request("GET", API + path, headers=self.headers)
        response = self.connection.getresponse()
        return response.status, response.read(), response

    def close(self) -> None:
        self.connection.close()


def build(platform: Platform, events: int) -> dict[str, Any]:
    """A school with a teacher changed `events - 1` times; a regional department's auditor with a grant."""
    from domain.base import Actor, Context, day_of
    from services.applications import Platform as Application
    from services.config import Settings

    app = Application(env=Settings.from_env(platform.env).eventsourcing_env())
    try:
        now = datetime.now(timezone.utc)
        operator = Context(Actor.operator(), uuid4().hex, now, ids=uuid4)
        rng, used = random.Random(583), set()
        region = app.register_tenant(operator, name="Алматы қаласының білім басқармасы", kind="regional_department",
                                     bin=new_bin(rng, used), region="Алматы", language="kk").aggregate
        school = app.register_tenant(operator, name="№ 12 мектеп-гимназия", kind="school", bin=new_bin(rng, used),
                                     region="Алматы", language="kk", parent_id=None).aggregate
        region_head = app.add_person(operator, region.id, full_name="Бағдат Сейітов", roles=["head"],
                                     subjects=[]).aggregate
        head = app.add_person(operator, school.id, full_name="Айгүл Сәрсенбайқызы", roles=["head"],
                              subjects=[]).aggregate
        as_region_head = Context(Actor("head", region_head.id, region.id, ("head",)), uuid4().hex, now, ids=uuid4)
        as_head = Context(Actor("head", head.id, school.id, ("head",)), uuid4().hex, now, ids=uuid4)
        auditor = app.add_person(as_region_head, region.id, full_name="Дина Аудиторова", roles=["auditor"],
                                 subjects=[]).aggregate
        token = app.issue_token(as_region_head, region.id, auditor.id).token
        until = day_of(datetime.now(timezone.utc)) + timedelta(days=365)
        app.grant_audit(as_head, school.id, person_id=auditor.id, until=until)
        teacher = app.add_person(as_head, school.id, full_name="Ольга Ким", roles=["teacher"],
                                 subjects=["Математика"]).aggregate
        started = time.monotonic()
        subjects = (["Математика"], ["Математика", "Физика"])
        while teacher.version < events:
            for _ in range(min(BATCH, events - teacher.version)):
                ctx = Context(as_head.actor, uuid4().hex, datetime.now(timezone.utc), ids=uuid4)
                n = teacher.version + 1
                teacher.change(ctx, "school", full_name=f"Ольга Ким ({n})", subjects=subjects[n % 2])
            app.save(teacher)
        built = time.monotonic() - started
        return {"school": school.id, "teacher": teacher.id, "version": teacher.version, "token": token,
                "build_s": round(built, 1)}
    finally:
        app.close()


def run(quick: bool) -> Iterator[dict[str, Any]]:
    events = 2000 if quick else 10_000
    repeats = 50 if quick else 200
    web_workers = int(os.environ.get("WEB_WORKERS", "2"))
    platform = Platform(prefix="bench_audit")
    app = None
    try:
        # The web process only: the read models are rebuilt from the log once it is built.
        platform.start(web_workers=web_workers, workers=0, projector=False, dispatcher=False)
        log(f"audit: building a person with {events:,} events")
        made = build(platform, events)
        started = time.monotonic()
        subprocess.run([sys.executable, "-m", "services.cli", "rebuild"], env=platform.env, cwd=ROOT, check=True,
                       stdout=subprocess.DEVNULL)
        rebuilt = round(time.monotonic() - started, 1)
        log(f"audit: built in {made['build_s']} s, read models rebuilt in {rebuilt} s")

        from projections.base import make_engine
        from services.applications import Platform as Application
        from services.audit import export_tenant
        from services.config import Settings

        settings = Settings.from_env(platform.env)
        app = Application(env=settings.eventsourcing_env())
        teacher, school = made["teacher"], made["school"]
        # An old version: a quarter of the way, halfway between two snapshots (25 events past the last one).
        version = (events // 4) // 50 * 50 + 25
        sizes = {"events": made["version"], "version": version, "reads": repeats, "quick": quick,
                 "snapshot_interval": 50}

        # 1. State at a version.
        http_client = Http(platform.base, made["token"])
        path = f"/audit/aggregates/{teacher}?version={version}"
        status, body, _ = http_client.get(path)
        if status != 200:
            raise RuntimeError(f"GET {path} answered {status}: {body[:300]!r}")
        answer = json.loads(body)
        if answer["version"] != version or answer["state"]["full_name"] != f"Ольга Ким ({version})":
            raise RuntimeError(f"the state at version {version} is not the expected one: {answer['state']}")
        over_http = timed(lambda: http_client.get(path), repeats)
        in_process = timed(lambda: app.state_of(teacher, version), repeats)
        raw = timed(lambda: app.repository.get(teacher, version=version), repeats)
        raw_p50 = percentile(raw, 0.5)
        for where, times, how in (
            ("over HTTP", over_http, "GET /api/v1/audit/aggregates/{id}?version=N as an auditor with a grant: "
                                     "the state and the first page of the events that built it (keep-alive "
                                     "connection)"),
            ("in process", in_process, "the platform's state_of(id, N): repository and JSON-ready state"),
        ):
            p50, p99 = percentile(times, 0.5), percentile(times, 0.99)
            yield figure(BENCHMARK, f"state at a version, {where}, p50", p50, "ms", baseline=raw_p50,
                         baseline_of="repository.get(id, version=N), p50", target="<= 20 ms", met=p50 <= 20,
                         measured=how, response_bytes=len(body) if where == "over HTTP" else None,
                         events_in_answer=len(answer["events"]) if where == "over HTTP" else None, **sizes)
            yield figure(BENCHMARK, f"state at a version, {where}, p99", p99, "ms",
                         baseline=percentile(raw, 0.99), baseline_of="repository.get(id, version=N), p99",
                         target="<= 20 ms", met=p99 <= 20, max_ms=round(max(times), 1), **sizes)
        http_client.close()

        # 2. Tenant export.
        export_client = Http(platform.base, made["token"])
        rounds = 3
        rates, count = [], 0
        for _ in range(rounds):
            started = time.perf_counter()
            status, body, response = export_client.get(f"/audit/tenants/{school}/export")
            elapsed = time.perf_counter() - started
            if status != 200:
                raise RuntimeError(f"the export answered {status}: {body[:300]!r}")
            count = json.loads(response.getheader("Export-Manifest"))["count"]
            rates.append(count / elapsed)
        export_client.close()
        engine = make_engine(settings.sqlalchemy_url(), 1)
        in_process_rates = []
        for _ in range(rounds):
            started = time.perf_counter()
            _, manifest = export_tenant(engine, school)
            in_process_rates.append(manifest["count"] / (time.perf_counter() - started))
        engine.dispose()
        raw_rates = []
        for _ in range(rounds):
            started = time.perf_counter()
            decoded = read_and_decode(app, str(school), manifest["last_position"])
            raw_rates.append(decoded / (time.perf_counter() - started))
        if decoded != count:
            raise RuntimeError(f"the export holds {count} events, the store {decoded} of the tenant")
        yield figure(BENCHMARK, "tenant export over HTTP", max(rates), "events/s", baseline=max(raw_rates),
                     baseline_of="select_notifications and the mapper's decoding of the same events, in process",
                     target=">= 20,000 events/s", met=max(rates) >= 20_000, events=count, rounds=rounds,
                     measured="GET /api/v1/audit/tenants/{tid}/export as an auditor with a grant, whole body read; "
                              "best of the rounds", bytes=len(body), quick=quick)
        yield figure(BENCHMARK, "tenant export in process", max(in_process_rates), "events/s",
                     baseline=max(raw_rates), baseline_of="select_notifications and the mapper's decoding of the "
                     "same events, in process", target=">= 20,000 events/s", met=max(in_process_rates) >= 20_000,
                     events=count, rounds=rounds, measured="services.audit.export_tenant: lines and manifest",
                     quick=quick)
    except Exception:
        platform.log_tails()
        raise
    finally:
        if app is not None:
            app.close()
        platform.stop()


def read_and_decode(app: Any, tenant_id: str, up_to: int) -> int:
    """Read the log up to a position in pages and decode every event; return how many were the tenant's."""
    from projections.bulk import notifications

    count = 0
    for batch in notifications(app, 5000, stop=up_to):
        for notification in batch:
            event = app.mapper.to_domain_event(notification)
            if event.meta.get("tenant_id") == tenant_id:
                count += 1
    return count
