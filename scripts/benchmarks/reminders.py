"""The daily reminders pass over the national dataset, with two rq workers (ADR 023).

1. A fresh database; the country is generated into it (benchmarks/country.py: ~8,600 tenants and ~400,000 people
   at scale 1; --quick uses a small scale and says so) with its read models built. The generator records no
   logins: every head and deputy head is given an email address in the reminders' read model, so their
   reminders are mailed (each person's default is a daily digest).
2. The projector, two `methodical worker` processes, and a real SMTP server on loopback in this process. One tick
   (as rq's cron would enqueue it) enqueues every tenant's pass as of 07:30 in Almaty; when every pass is done a
   second tick enqueues the digests. Measured: from the first tick until every pass is recorded done and every
   email written has been sent (counted at the SMTP server).
3. Baseline: the time to read the rows the pass needs: the same statements the pass executes for each tenant
   (services.reminders.tenant_facts), one tenant after another on one connection, every row fetched.

Target: the pass completes in <= 10 minutes at scale 1. REMINDERS_SCALE overrides the country's scale.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator
from datetime import datetime, time as clock_time, timezone
from typing import Any
from zoneinfo import ZoneInfo

from benchmarks.platform import Platform, free_port, log
from benchmarks.report import figure

BENCHMARK = "reminders"
TARGET_SECONDS = 600.0
QUICK_SCALE = 0.01


class Counting:
    """An SMTP handler that counts what it accepts."""

    def __init__(self) -> None:
        self.count = 0
        self.lock = threading.Lock()

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802 - aiosmtpd's name
        with self.lock:
            self.count += 1
        return "250 OK"


def run(quick: bool) -> Iterator[dict[str, Any]]:
    from aiosmtpd.controller import Controller
    from redis import Redis
    from sqlalchemy import text

    from benchmarks import country
    from benchmarks.national import wait_projected
    from projections.base import make_engine
    from services import reminders
    from services.config import Settings

    scale = float(os.environ.get("REMINDERS_SCALE", QUICK_SCALE if quick else 1.0))
    processes = max(1, min(2, os.cpu_count() or 1))
    handler, port = Counting(), free_port()
    smtp = Controller(handler, hostname="127.0.0.1", port=port)
    smtp.start()
    platform = Platform(prefix="reminders")
    try:
        platform.start(web=False, projector=False, dispatcher=False, workers=0)
        log(f"reminders: generating the country at scale {scale}")
        generated = country.generate(platform.env["DATABASE_URL"], scale=scale, processes=processes, migrate=False)
        tag = platform.dbname
        platform.env.update({"SMTP_HOST": "127.0.0.1", "SMTP_PORT": str(port), "SMTP_FROM": "reminders@bench.kz",
                             "REMINDERS_QUEUE": f"reminders-{tag}", "MAIL_QUEUE": f"mail-{tag}"})
        settings = Settings.from_env(platform.env)
        engine = make_engine(settings.sqlalchemy_url(), 2)
        platform._spawn("projector", [os.sys.executable, "-m", "services.cli", "projector"])
        wait_projected(platform)
        with engine.begin() as conn:
            mailed = conn.execute(text(
                "UPDATE rm_mail_recipients r SET email = 'p-' || r.person_id || '@bench.kz' FROM rm_people p"
                " WHERE p.id = r.person_id AND p.roles && ARRAY['head', 'deputy_head']")).rowcount
            tenants = conn.execute(text("SELECT count(*) FROM rm_tenants")).scalar_one()
            people = conn.execute(text("SELECT count(*) FROM rm_people")).scalar_one()
        now = datetime.combine(datetime.now(ZoneInfo("Asia/Almaty")).date(), clock_time(7, 30),
                               ZoneInfo("Asia/Almaty")).astimezone(timezone.utc)

        # The baseline: the pass's own reads, tenant after tenant, on one connection.
        with engine.connect() as conn:
            ids = [row.id for row in conn.execute(text("SELECT id FROM rm_tenants ORDER BY seq"))]
            started = time.perf_counter()
            due = 0
            for tid in ids:
                found = reminders.settings_of_tenant(conn, tid)
                facts = reminders.tenant_facts(conn, tid, found.today(now), found)
                due += len(reminders.due_reminders(facts, found.today(now), found))
            read_seconds = time.perf_counter() - started

        for n in range(2):
            platform._spawn(f"worker{n + 1}", [os.sys.executable, "-m", "services.cli", "worker"])
        redis = Redis.from_url(settings.redis_url)
        time.sleep(2)  # the workers open their pools
        started = time.perf_counter()
        enqueued = reminders.enqueue_due(redis, engine, settings, now)
        digests_enqueued = 0
        deadline = time.monotonic() + 3 * TARGET_SECONDS
        while time.monotonic() < deadline:
            platform.check_alive()
            with engine.connect() as conn:
                done, digested = conn.execute(text(
                    "SELECT count(*), count(digested_at) FROM reminder_passes WHERE day = :day"),
                    {"day": now.astimezone(ZoneInfo("Asia/Almaty")).date()}).one()
                pending = conn.execute(text("SELECT count(*) FROM mail_outbox WHERE status = 'pending'")).scalar_one()
            if done >= tenants and not digests_enqueued:
                digests_enqueued = reminders.enqueue_due(redis, engine, settings, now)["digests"]
            if done >= tenants and digested >= tenants and pending == 0:
                break
            time.sleep(0.5)
        seconds = time.perf_counter() - started
        with engine.connect() as conn:
            outbox = dict(conn.execute(text("SELECT status, count(*) FROM mail_outbox GROUP BY status")).all())
            recorded = conn.execute(text("SELECT count(*) FROM rm_notifications")).scalar_one()
        target_applies = scale >= 1.0
        yield figure(BENCHMARK, "daily pass, 2 workers", seconds, "s", baseline=read_seconds,
                     baseline_of="reading the rows the pass needs, tenant after tenant, one connection",
                     target=f"<= {TARGET_SECONDS:.0f} s at scale 1" if target_applies else None,
                     met=(seconds <= TARGET_SECONDS) if target_applies else None,
                     scale=scale, tenants=tenants, people=people, events=generated.get("events"),
                     reminders_due=due, notifications=recorded, passes_enqueued=enqueued["passes"],
                     digests_enqueued=digests_enqueued, emails=outbox, smtp_received=handler.count,
                     people_with_email=mailed,
                     **({"note": f"a smaller country (scale {scale}); the full run generates scale 1.0"}
                        if not target_applies else {}))
        engine.dispose()
    finally:
        platform.stop()
        smtp.stop()
