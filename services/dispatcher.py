"""The dispatcher: moves recorded circulars into rq, idempotently, and again whenever Redis lost them (ADR 006).

PostgreSQL holds the work (every circular still `issued`); Redis only wakes the workers. Each sweep
reads the circulars waiting for delivery and enqueues a delivery for each one that has no live job:
none at all (never enqueued, or Redis restarted empty), a job that ended without delivering it (it
was retried by the chair, or rq gave up on it), or a job started longer ago than a job may run (its
worker was killed). A job that is queued, scheduled for a retry, or running within its time limit
is left alone, so a sweep never doubles live work; and the job itself does nothing for a circular
that is no longer `issued`, so a needless enqueue costs one idle run. A sweep runs at least every
DISPATCH_INTERVAL, and at once when the read model announces circulars that start waiting.
"""

from __future__ import annotations

import logging
import threading
import time
from contextlib import closing
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

import psycopg
from redis import Redis
from redis.exceptions import RedisError
from rq.exceptions import NoSuchJobError
from rq.job import Job, JobStatus
from rq.serializers import JSONSerializer
from rq.utils import str_to_date
from sqlalchemy import Engine

from projections import circulars as circulars_rm
from services.config import Settings
from services.jobs import delivery_queue, enqueue_deliveries, job_id

log = logging.getLogger(__name__)

_WAITING = (JobStatus.QUEUED, JobStatus.SCHEDULED, JobStatus.DEFERRED)
# A job that ended without delivering is enqueued again only after this long, unless the
# circular changed since (e.g. the chair retried it): the read model may simply lag the job.
_SETTLE = timedelta(seconds=5)
PAGE = 500  # circulars read, checked and enqueued at a time
BUSY_INTERVAL = 0.2  # seconds between sweeps while they keep finding circulars to enqueue
STOP_CHECK = 0.5  # seconds: how soon a dispatcher waiting for circulars sees it is asked to stop


def _utc(moment: datetime | None) -> datetime | None:
    if moment is None:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


@dataclass(frozen=True)
class JobState:
    """What the sweep needs of a circular's rq job: its status and when it started and ended."""

    status: str
    started_at: datetime | None
    ended_at: datetime | None


def job_states(redis: Redis, job_ids: list[str]) -> list[JobState | None]:
    """Return the state of each job (None: no such job), three fields each in one round trip for the whole page."""
    with redis.pipeline(transaction=False) as pipe:
        for jid in job_ids:
            pipe.hmget(Job.key_for(jid), "status", "started_at", "ended_at")
        replies = pipe.execute()
    states: list[JobState | None] = []
    for status, started, ended in replies:
        states.append(None if status is None else JobState(
            status.decode(), str_to_date(started) if started else None, str_to_date(ended) if ended else None))
    return states


def needs_enqueue(job: JobState | None, updated_at: datetime, settings: Settings, now: datetime) -> bool:
    """Return whether a circular still waiting for delivery needs a new job, given its current rq job."""
    if job is None:
        return True
    if job.status in _WAITING:
        return False
    if job.status == JobStatus.STARTED:
        started = _utc(job.started_at) or now
        # rq stops a job at its timeout; one still "started" well past it lost its worker.
        limit = timedelta(seconds=settings.delivery_timeout + max(2, min(30, settings.delivery_timeout)))
        return now - started > limit
    ended = _utc(job.ended_at) or now
    return updated_at > ended or now - ended > _SETTLE


def dispatch(engine: Engine, redis: Redis, settings: Settings, now: datetime | None = None) -> int:
    """Enqueue a delivery for every waiting circular that has no live job; return how many were enqueued.

    A page of waiting circulars costs one query, one Redis round trip for their jobs' states and one pipeline
    for the jobs it enqueues, however many circulars a decision issued.
    """
    queue = delivery_queue(redis, settings)
    now = now or datetime.now(timezone.utc)
    enqueued, after = 0, 0
    while True:
        with engine.connect() as conn:
            rows = circulars_rm.pending(conn, limit=PAGE, after=after)
        if not rows:
            return enqueued
        states = job_states(redis, [job_id(row.id) for row in rows])
        due = [(row, state) for row, state in zip(rows, states) if needs_enqueue(state, row.updated_at, settings, now)]
        for row, state in due:
            if state is not None:
                try:  # out of the failed/finished registries; the new job takes its id
                    Job.fetch(job_id(row.id), connection=redis, serializer=JSONSerializer).delete()
                except NoSuchJobError:
                    pass
        if due:
            enqueue_deliveries(queue, [row.id for row, _ in due], settings)
            enqueued += len(due)
        after = rows[-1].seq


class Wakeup:
    """A connection listening for circulars that start waiting (`circulars_rm.WAITING_CHANNEL`), so that a sweep
    follows a decision's circulars into the read model at once rather than at the next interval.

    Without it (the database does not answer) the sweeps simply keep their interval; it connects again at the next
    wait.
    """

    def __init__(self, settings: Settings):
        self.settings = settings
        self.conn: psycopg.Connection[Any] | None = None

    def wait(self, timeout: float, stop: threading.Event) -> None:
        """Return when a circular starts waiting, when `timeout` seconds have passed, or soon after `stop` is set."""
        try:
            if self.conn is None:
                self.conn = psycopg.connect(self.settings.database_url, autocommit=True, connect_timeout=2)
                self.conn.execute(f"LISTEN {circulars_rm.WAITING_CHANNEL}")
            deadline = time.monotonic() + timeout
            while not stop.is_set() and (left := deadline - time.monotonic()) > 0:
                if any(True for _ in self.conn.notifies(timeout=min(left, STOP_CHECK), stop_after=1)):
                    for _ in self.conn.notifies(timeout=0):  # the others already here: the sweep covers them too
                        pass
                    return
        except psycopg.Error as error:
            log.debug("not listening for waiting circulars (%s); sweeping every %s s", error, timeout)
            self.close()
            stop.wait(timeout)

    def close(self) -> None:
        conn, self.conn = self.conn, None
        if conn is not None:
            conn.close()


def run(engine: Engine, settings: Settings, stop: threading.Event) -> None:
    """Sweep whenever circulars start waiting and at least every DISPATCH_INTERVAL seconds, until asked to stop;
    wait out a Redis that does not answer."""
    if not settings.redis_url:
        raise RuntimeError("REDIS_URL is not set: the dispatcher has nowhere to enqueue")
    redis = Redis.from_url(settings.redis_url, socket_timeout=5, socket_connect_timeout=2)
    down = False
    with closing(Wakeup(settings)) as wakeup:
        while not stop.is_set():
            count = 0
            try:
                count = dispatch(engine, redis, settings)
                if down:
                    log.info("Redis answers again; the recorded circulars are being enqueued")
                    down = False
                if count:
                    log.info("enqueued %d circular deliveries", count)
            except RedisError as error:
                if not down:
                    log.warning("Redis does not answer (%s); circulars stay recorded and are enqueued when it is back",
                                error)
                    down = True
            except Exception:  # noqa: BLE001 - one bad sweep must not stop the next (the database may be back)
                log.exception("dispatch sweep failed")
            # A sweep that found work comes again soon: the projector may still be adding the rest of a decision's
            # circulars to the read model. One that found none waits the full interval. Either comes at once when
            # circulars start waiting.
            wakeup.wait(min(settings.dispatch_interval, BUSY_INTERVAL) if count else settings.dispatch_interval, stop)


def run_in_thread(engine: Engine, settings: Settings) -> tuple[threading.Thread, threading.Event]:
    """Start the dispatcher loop in a daemon thread; return it and the event that stops it."""
    stop = threading.Event()
    thread = threading.Thread(target=run, args=(engine, settings, stop), name="dispatcher", daemon=True)
    thread.start()
    return thread, stop

