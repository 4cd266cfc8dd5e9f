"""rq jobs: render each circular, keep its document, send the email notice, record the delivery (ADR 006).

Jobs take ids, never objects (JSON serializer), and are idempotent: a circular that is already in
the inbox is left alone, so a job retried, enqueued twice or run again after its worker was killed
delivers nothing twice. `Delivered` is recorded once per circular by optimistic concurrency.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any
from uuid import UUID, uuid4

from rq import Queue, Retry, SimpleWorker, get_current_job
from rq.serializers import JSONSerializer
from sqlalchemy import Engine

from domain.base import Actor, Context
from domain.unions import ISSUED, Circular
from services import circular_pdf, files, logs, mail, metrics
from services.commands import StaleWrite
from services.config import Settings
from services.unions import DELIVERY

log = logging.getLogger(__name__)


@dataclass
class JobRuntime:
    """What jobs work with in this process: settings, the Application, the read models' engine."""

    settings: Settings
    platform: Any
    engine: Engine
    # The SMTP session the notices of this process share (opened on the first notice).
    relay: mail.Relay | None = field(default=None, repr=False)

    @classmethod
    def from_settings(cls, settings: Settings) -> JobRuntime:
        """Build the runtime of a worker process (after any fork)."""
        from projections.base import make_engine
        from services.applications import Platform

        engine = make_engine(settings.sqlalchemy_url(), 2, settings.prepared_statements)
        return cls(settings, Platform(env=settings.eventsourcing_env()), engine)


_runtime: JobRuntime | None = None
_lock = threading.Lock()


def configure(runtime: JobRuntime | None) -> None:
    """Set the runtime the jobs of this process use (the worker command and the tests call this)."""
    global _runtime
    with _lock:
        previous, _runtime = _runtime, runtime
    if previous is not None and previous is not runtime and previous.relay is not None:
        previous.relay.close()


def job_runtime() -> JobRuntime:
    """Return this process's runtime, building it from the environment on first use."""
    global _runtime
    with _lock:
        if _runtime is None:
            _runtime = JobRuntime.from_settings(Settings.from_env())
        return _runtime


def job_id(circular_id: UUID | str) -> str:
    """Return the rq job id of a circular's delivery: one id per circular, however often it is enqueued."""
    return f"circular-{circular_id}"


def delivery_queue(connection: Any, settings: Settings) -> Queue:
    """Return the queue circulars are delivered from."""
    return Queue(settings.delivery_queue, connection=connection, serializer=JSONSerializer)


def _job_options(circular_id: UUID | str, settings: Settings) -> dict[str, Any]:
    intervals = [i for i in settings.delivery_retry_intervals][: settings.delivery_retries] or [0]
    retry = Retry(max=settings.delivery_retries, interval=intervals if any(intervals) else 0) \
        if settings.delivery_retries > 0 else None
    return dict(job_id=job_id(circular_id), retry=retry, timeout=settings.delivery_timeout, result_ttl=3600,
                failure_ttl=7 * 24 * 3600, description=f"deliver circular {circular_id}")


def enqueue_delivery(queue: Queue, circular_id: UUID | str, settings: Settings) -> Any:
    """Enqueue the delivery of one circular under its deterministic job id, with rq retries."""
    [job] = enqueue_deliveries(queue, [circular_id], settings)
    return job


def enqueue_deliveries(queue: Queue, circular_ids: list[UUID] | list[str], settings: Settings) -> list[Any]:
    """Enqueue the deliveries of many circulars in one Redis pipeline, each under its deterministic job id."""
    return queue.enqueue_many([
        Queue.prepare_data(deliver_circular, (str(cid),), **_job_options(cid, settings)) for cid in circular_ids
    ])


def _context(now: datetime | None = None) -> Context:
    """The context of what a job records: its request id is the one of the request that caused the job (bound by
    `deliver_circular`), so that the Delivered event leads to the decision's request line and to the job's line."""
    job = get_current_job()
    return Context(actor=Actor(role=DELIVERY),
                   request_id=logs.current_request_id() or (f"job:{job.id}" if job else "delivery"),
                   now=now or datetime.now(timezone.utc), ids=uuid4)


def causing_request(platform: Any, circular_id: UUID) -> str | None:
    """Return the id of the request that issued the circular (its first event's metadata), if it names one."""
    first = next(iter(platform.repository.event_store.get(circular_id, lte=1)), None)
    request_id = (getattr(first, "meta", None) or {}).get("request_id") if first is not None else None
    return request_id if isinstance(request_id, str) else None


def _is_final_attempt() -> bool:
    """Return whether rq will not run this job again after it fails (no retries left, or run outside rq)."""
    job = get_current_job()
    return job is None or not job.retries_left


def deliver_circular(circular_id: str) -> str:
    """Deliver one circular to its member's inbox (and email) unless it already is; return its status."""
    rt = job_runtime()
    platform = rt.platform
    circular: Circular = platform.get_circular(UUID(circular_id))
    # The decision's request caused this job: its id goes on the job's log lines and on what the job records.
    with logs.bound(request_id=causing_request(platform, circular.id)):
        if circular.status != ISSUED:
            return circular.status
        try:
            return _deliver(rt, circular)
        except StaleWrite:
            # Another run of this job recorded first: what it recorded stands.
            again: Circular = platform.get_circular(circular.id)
            if again.status != ISSUED:
                return again.status
            raise
        except Exception as error:
            if _is_final_attempt():
                _record_failure(rt, circular.id, error)
            raise


def _deliver(rt: JobRuntime, circular: Circular) -> str:
    content = circular_pdf.render(circular)
    name = circular_pdf.filename(circular)
    with rt.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:  # one statement
        sha256, stored = files.store_circular_document(
            conn, circular_id=circular.id, tenant_id=circular.tenant_id, union_id=circular.union_id,
            filename=name, content=content,
        )
    # The email recorded with the circular; a circular issued before it was recorded (or to a member without one)
    # asks the member's registration, which never changes.
    email = circular.recipient_email or rt.platform.get_tenant(circular.tenant_id).email
    notice_to = None
    if email:
        if rt.settings.smtp_host:
            message = mail.notice(
                rt.settings, to=email, language=circular.language, number=circular.number,
                title=circular.title, union=circular.union_name, decision=circular.decision_number,
                circular_id=str(circular.id), document=stored, filename=name,
            )
            if rt.relay is None:
                rt.relay = mail.Relay(rt.settings)
            rt.relay.send(message)
            notice_to = email
        else:
            log.warning("circular %s: %s has an email address but SMTP_HOST is not set; no notice sent",
                        circular.id, circular.tenant_id)
    circular.deliver(_context(), document_sha256=sha256, document_size=len(stored), notice_sent_to=notice_to)
    rt.platform.commit(circular)
    log.info("circular %s delivered to %s", circular.id, circular.tenant_id)
    return circular.status


def _record_failure(rt: JobRuntime, circular_id: UUID, error: BaseException) -> None:
    job = get_current_job()
    retries = job.retries_left if job is not None else 0
    attempts = rt.settings.delivery_retries + 1 - (retries or 0) if job is not None else 1
    try:
        circular: Circular = rt.platform.get_circular(circular_id)
        circular.fail(_context(), error=f"{type(error).__name__}: {error}", attempts=attempts)
        rt.platform.commit(circular)
        log.warning("circular %s failed after %d attempt(s): %s", circular_id, attempts, error)
    except Exception:  # noqa: BLE001 - the job's own error is what rq must record
        log.exception("could not record the failure of circular %s", circular_id)


class DeliveryWorker(SimpleWorker):
    """rq's SimpleWorker (each job in this process), remembering whether SIGTERM or SIGINT asked it to stop: its
    `work()` returns the same way when an unexpected error ends its loop, and then the worker must carry on.

    rq sends the worker's heartbeat (three commands, each its own round trip to Redis) three times around every job
    and sets its state to idle twice: ten of a job's twenty round trips, when a job takes milliseconds. Here a
    heartbeat within a second of one that kept the worker alive at least as long is not sent again, one that is
    sent goes as one round trip, and a state the worker already has is not set again. Heartbeats and states rq sends
    within its own pipelines are left as they are.
    """

    stop_requested = False
    BEAT_EVERY = 1.0  # seconds
    _beat: tuple[float, int] | None = None  # when the last heartbeat was sent, and the TTL it set

    def heartbeat(self, timeout: int | None = None, pipeline: Any = None) -> None:
        timeout = timeout or self.worker_ttl + 60  # rq's own default
        moment = time.monotonic()
        if pipeline is not None:
            super().heartbeat(timeout, pipeline)
        elif self._beat is not None and moment - self._beat[0] < self.BEAT_EVERY and self._beat[1] >= timeout:
            return
        else:
            with self.connection.pipeline(transaction=False) as own:
                super().heartbeat(timeout, own)
                own.execute()
        self._beat = (moment, timeout)

    def set_state(self, state: str, pipeline: Any = None) -> None:
        if pipeline is None and state == self._state:
            return
        super().set_state(state, pipeline)

    def perform_job(self, job: Any, queue: Any, execution: Any) -> bool:
        """Run the job with its ids bound to every record it logs, then write its one JSON line and time it."""
        started = time.perf_counter()
        binding = logs.bind(job_id=job.id)
        try:
            done = super().perform_job(job, queue, execution)
            outcome = "finished" if done else ("retried" if job.retries_left else "failed")
            function = job.func_name.rsplit(".", 1)[-1]
            metrics.JOB_SECONDS.labels(function, outcome).observe(time.perf_counter() - started)
            logs.log_job(job_id=job.id, function=function, outcome=outcome, started=started,
                         retries_left=job.retries_left, request_id=self.request_of(job))
            return done
        finally:
            logs.unbind(binding)

    @staticmethod
    def request_of(job: Any) -> str | None:
        """Return the id of the request that caused a circular's delivery job, if the job is one."""
        if job.func_name.endswith("deliver_circular") and job.args:
            try:
                return causing_request(job_runtime().platform, UUID(str(job.args[0])))
            except Exception:  # noqa: BLE001 - a log line goes without the id rather than not at all
                return None
        return None

    def request_stop(self, signum: Any, frame: Any) -> None:
        self.stop_requested = True
        super().request_stop(signum, frame)
