"""A worker SIGKILLed in the middle of the reminders' passes, and Redis emptied: the next tick and worker still
send every reminder exactly once, counted at a real SMTP server on loopback (ADR 023)."""

from __future__ import annotations

import contextlib
import dataclasses
import os
import secrets
import signal
import subprocess
import sys
import time
from collections import Counter
from datetime import datetime, timedelta
from pathlib import Path
from uuid import UUID

from sqlalchemy import func, select

from services import reminders
from test_reminders import ALMATY, at, caught_up, reminders_of, school_with_leader
from unions_support import smtp  # noqa: F401 - fixture

ROOT = Path(__file__).resolve().parents[2]
SCHOOLS = 12


def test_a_worker_killed_mid_pass_and_redis_emptied_still_send_each_reminder_exactly_once(
        client, tour, platform, engine, projector, settings, smtp):
    from redis import Redis
    from rq.serializers import JSONSerializer

    from services import jobs

    mailbox, port = smtp
    today = datetime.now(ALMATY).date()
    schools = [school_with_leader(client, tour, platform, today - timedelta(days=351)) for _ in range(SCHOOLS)]
    for school in schools:
        assert client.put("/api/v1/me/mail", headers=school["head"], json={"mail": "at_once"}).status_code == 200
    caught_up(engine, platform)
    mail_settings = dataclasses.replace(settings, smtp_host="127.0.0.1", smtp_port=port,
                                        smtp_from="reminders@methodical.kz", delivery_retries=1,
                                        delivery_retry_intervals=(0,),
                                        reminders_queue=f"reminders-crash-{secrets.token_hex(3)}",
                                        mail_queue=f"mail-crash-{secrets.token_hex(3)}")
    redis = Redis.from_url(settings.redis_url)
    now = at(today)
    enqueued = reminders.enqueue_due(redis, engine, mail_settings, now)
    assert enqueued["passes"] >= 1  # jobs of up to PASSES_PER_JOB tenants
    env = {**os.environ, "DATABASE_URL": settings.database_url, "REDIS_URL": settings.redis_url,
           "SMTP_HOST": "127.0.0.1", "SMTP_PORT": str(port), "SMTP_FROM": "reminders@methodical.kz",
           "DELIVERY_QUEUE": f"circulars-crash-{secrets.token_hex(3)}",
           "REMINDERS_QUEUE": mail_settings.reminders_queue, "MAIL_QUEUE": mail_settings.mail_queue, "LOG_LEVEL": "WARNING",
           "OPERATOR_TOKEN": settings.operator_token or "x"}
    # In a process group of its own, killed as a whole as a host or container is: rq's scheduler, a child of the
    # worker, outlived a SIGKILL of the worker alone and kept running after the suite.
    worker = subprocess.Popen([sys.executable, "-m", "services.cli", "worker"], env=env, cwd=ROOT,
                              start_new_session=True)
    try:
        ours = [UUID(s["tenant"]["id"]) for s in schools]
        deadline = time.monotonic() + 60
        while True:  # until some of our schools' passes are done and some are not: mid-pass
            with engine.connect() as conn:
                done = conn.execute(select(func.count()).select_from(reminders.reminder_passes).where(
                    reminders.reminder_passes.c.tenant_id.in_(ours))).scalar_one()
            if done >= 3:
                break
            assert worker.poll() is None and time.monotonic() < deadline, "the worker did no pass in time"
            time.sleep(0.005)
        os.killpg(worker.pid, signal.SIGKILL)
        worker.wait(timeout=10)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(worker.pid, signal.SIGKILL)
        worker.wait(timeout=10)
    assert done < SCHOOLS, "the worker finished before it was killed: the test proves nothing"
    redis.flushdb()  # Redis restarted empty: every job, queued or started, is gone

    jobs.configure(jobs.JobRuntime(mail_settings, platform, engine))
    try:
        for _ in range(2):  # the next ticks: passes not done, digests, emails not sent
            reminders.enqueue_due(redis, engine, mail_settings, now)
            jobs.DeliveryWorker(reminders.queues(redis, mail_settings), connection=redis, serializer=JSONSerializer
                                ).work(burst=True)
    finally:
        jobs.configure(None)
    caught_up(engine, platform)
    for school in schools:
        own = reminders_of(client, school["head"])
        assert any(r["rule"] == "leader_term_ending" for r in own)
        received = mailbox.to(school["head_email"])
        assert len(received) == len(own), (school["head_email"], len(received), len(own))
        ids = Counter(str(m["Message-ID"]) for m in received)
        assert all(count == 1 for count in ids.values())
    redis.close()
