"""Prometheus metrics (ADR 024): what the processes count as they work, and what the database and Redis say at
the moment of a scrape.

Counted as work happens, in prometheus_client's multiprocess mode when PROMETHEUS_MULTIPROC_DIR is set (each
gunicorn worker, and each other process of the host that shares the directory, writes its own files; a scrape adds
them up): requests by route template and status with their latency, events appended by kind, sign-ins by outcome,
refusals by status and clause, jobs by outcome with their duration, and the audit chain's last verification.

Read at scrape time by `PlatformCollector` (a custom collector, so a value is never older than the scrape and no
process has to keep it current): each read model's lag behind the log's head in events and seconds, the circulars
issued and not yet delivered (the outbox) and the oldest one's age, the rq queue's depth, its failed, running and
scheduled jobs and its workers, and the chain's head.

`/metrics` is served on a port of its own (METRICS_PORT, by the gunicorn master: deploy/gunicorn.conf.py), never on
the public port: see the ADR for why.
"""

from __future__ import annotations

import json
import logging
import os
import time
from collections.abc import Iterator
from datetime import datetime, timezone
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import REGISTRY, Collector

from services import logs

log = logging.getLogger(__name__)

# Buckets from a cached read (a few ms) to gunicorn's timeout (30 s).
_LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)

REQUEST_SECONDS = Histogram(
    "methodical_http_request_duration_seconds",
    "Requests answered, by route template (not the raw path: bounded labels), method and status; _count counts them.",
    ["route", "method", "status"], buckets=_LATENCY_BUCKETS,
)
EVENTS_APPENDED = Counter("methodical_events_appended_total", "Events appended to the log, by kind.", ["kind"])
SIGNINS = Counter("methodical_signins_total", "Sign-ins to the pages, by outcome (succeeded, refused, limited).",
                  ["outcome"])
REFUSALS = Counter("methodical_refusals_total",
                   "Requests refused (401, 403, 409, 422, 429), by status and the clause of the Order cited, if any.",
                   ["status", "clause"])
JOB_SECONDS = Histogram("methodical_job_duration_seconds", "Jobs run, by function and outcome.",
                        ["function", "outcome"], buckets=_LATENCY_BUCKETS)
CHAIN_VERIFIED_POSITION = Gauge("methodical_chain_verified_position",
                                "The last log position the latest verification of the audit chain checked.",
                                multiprocess_mode="mostrecent")
CHAIN_VALID = Gauge("methodical_chain_valid", "1 when the latest verification found the audit chain intact, else 0.",
                    multiprocess_mode="mostrecent")
CHAIN_VERIFIED_AT = Gauge("methodical_chain_verified_timestamp_seconds",
                          "When the latest verification of the audit chain ran (Unix time).",
                          multiprocess_mode="mostrecent")

_REFUSED = {401, 403, 409, 422, 429}
# The pages' sign-in forms (services/web/pages.py, operator.py): what their answer to a POST says of the attempt.
_SIGNIN_OUTCOME = {302: "succeeded", 303: "succeeded", 422: "refused", 429: "limited"}


def chain_verified(report: dict[str, Any]) -> None:
    """Record a verification of the audit chain (projections/chain.py `verify`'s report)."""
    CHAIN_VALID.set(1 if report.get("ok") else 0)
    position = report.get("last_position") if report.get("ok") else report.get("first_bad_position")
    CHAIN_VERIFIED_POSITION.set(position or 0)
    CHAIN_VERIFIED_AT.set(time.time())


def events_appended(recordings: list[Any]) -> None:
    """Count the events of one save by their kind (the event class's qualified name: a bounded set)."""
    for recording in recordings:
        EVENTS_APPENDED.labels(type(recording.domain_event).__qualname__).inc()


def install(app: Any) -> None:
    """Time every request of the app, count it by route template and status, and write its one JSON log line."""
    from flask import g, request

    from services.web.access_log import redact

    @app.before_request
    def start_clock() -> None:
        g.started = time.perf_counter()

    @app.after_request
    def observe(response: Any) -> Any:
        started = g.get("started") or time.perf_counter()
        rule = request.url_rule
        route = rule.rule if rule is not None else "unmatched"  # a 404's path is the client's: never a label
        status = response.status_code
        REQUEST_SECONDS.labels(route, request.method, str(status)).observe(time.perf_counter() - started)
        if status in _REFUSED:
            REFUSALS.labels(str(status), _clause_of(response)).inc()
        if request.method == "POST" and route.endswith("/login") and status in _SIGNIN_OUTCOME:
            SIGNINS.labels(_SIGNIN_OUTCOME[status]).inc()
        caller = g.get("caller")
        person = getattr(caller, "person", None) if caller is not None else g.get("person")
        logs.log_request(
            method=request.method, route=route, path=redact(request.path), status=status, started=started,
            request_id=g.get("request_id") or "", person_id=str(person.id) if getattr(person, "id", None) else None,
            tenant_id=str(person.tenant_id) if getattr(person, "tenant_id", None) else None,
        )
        return response


def _clause_of(response: Any) -> str:
    """Return the clause a problem+json refusal cites, or ''."""
    if response.mimetype != "application/problem+json" or response.direct_passthrough:
        return ""
    try:
        clause = json.loads(response.get_data()).get("clause")
    except (ValueError, AttributeError):
        return ""
    return clause if isinstance(clause, str) and len(clause) <= 16 else ""


# Scrape time: the database and Redis


def projection_lag(engine: Any, now: datetime | None = None) -> list[dict[str, Any]]:
    """Return each followed read model's position, the log's head, and how far behind it is in events and seconds.

    Events behind is the head's position less the read model's (positions may have gaps, from writes that rolled
    back: an upper bound that is 0 exactly when the read model has caught up). Seconds behind is the age of the
    oldest event it has not applied yet (0 when caught up).
    """
    from sqlalchemy import select, text

    from projections.base import tracking
    from projections.chain import EVENTS_TABLE

    now = now or datetime.now(timezone.utc)
    with engine.connect() as conn:
        head = conn.execute(text(f"SELECT coalesce(max(notification_id), 0) FROM {EVENTS_TABLE}")).scalar_one()
        positions = {r.read_model: r.notification_id
                     for r in conn.execute(select(tracking.c.read_model, tracking.c.notification_id))}
        from projections.registry import READ_MODELS

        lags = []
        oldest: dict[int, float] = {}
        for name in sorted(set(READ_MODELS) | set(positions)):
            position = positions.get(name, 0)
            seconds = 0.0
            if position < head:
                if position not in oldest:
                    row = conn.execute(text(f"SELECT state FROM {EVENTS_TABLE} WHERE notification_id > :p "
                                            "ORDER BY notification_id LIMIT 1"), {"p": position}).first()
                    oldest[position] = _age(row.state, now) if row else 0.0
                seconds = oldest[position]
            lags.append({"read_model": name, "position": position, "head": head,
                         "events_behind": max(0, head - position), "seconds_behind": seconds})
    return lags


def _age(state: bytes, now: datetime) -> float:
    """Return the seconds since a stored event's timestamp (its state is the JSON eventsourcing transcoded)."""
    try:
        stamp = json.loads(bytes(state))["timestamp"]
        if isinstance(stamp, dict):
            stamp = stamp.get("_data_")
        moment = datetime.fromisoformat(stamp)
    except (ValueError, KeyError, TypeError):
        return 0.0
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return max(0.0, (now - moment).total_seconds())


def outbox(engine: Any, now: datetime | None = None) -> dict[str, float]:
    """Return how many circulars are issued and not delivered, and the age in seconds of the one waiting longest."""
    from sqlalchemy import func, select

    from domain.unions import ISSUED
    from projections.circulars import circulars

    now = now or datetime.now(timezone.utc)
    with engine.connect() as conn:
        count, oldest = conn.execute(select(func.count(), func.min(circulars.c.updated_at))
                                     .where(circulars.c.status == ISSUED)).one()
    return {"waiting": count, "oldest_seconds": max(0.0, (now - oldest).total_seconds()) if oldest else 0.0}


def queue_state(redis: Any, queue_name: str) -> dict[str, int]:
    """Return the rq queue's depth, its failed, started and scheduled jobs, and the workers listening to it."""
    from rq import Queue, Worker
    from rq.registry import FailedJobRegistry, ScheduledJobRegistry, StartedJobRegistry
    from rq.serializers import JSONSerializer

    queue = Queue(queue_name, connection=redis, serializer=JSONSerializer)
    return {
        "queued": queue.count,
        "failed": FailedJobRegistry(queue=queue).count,
        "started": StartedJobRegistry(queue=queue).count,
        "scheduled": ScheduledJobRegistry(queue=queue).count,
        "workers": Worker.count(connection=redis, queue=queue),
    }


class PlatformCollector(Collector):
    """Gauges read from PostgreSQL and Redis when Prometheus scrapes (each family absent if its server fails)."""

    def __init__(self, engine: Any, redis: Any, queue_name: str):
        self.engine = engine
        self.redis = redis
        self.queue_name = queue_name

    def collect(self) -> Iterator[GaugeMetricFamily]:
        up = GaugeMetricFamily("methodical_dependency_up", "1 when the server answered this scrape.",
                               labels=["dependency"])
        try:
            yield from self._database()
            up.add_metric(["postgres"], 1)
        except Exception as error:  # noqa: BLE001 - a scrape reports a server that fails; it does not fail itself
            log.warning("metrics: the database did not answer (%s)", error)
            up.add_metric(["postgres"], 0)
        if self.redis is not None:
            try:
                yield from self._queue()
                up.add_metric(["redis"], 1)
            except Exception as error:  # noqa: BLE001 - likewise
                log.warning("metrics: Redis did not answer (%s)", error)
                up.add_metric(["redis"], 0)
        yield up

    def _database(self) -> Iterator[GaugeMetricFamily]:
        from sqlalchemy import func, select

        from projections.chain import chain

        lags = projection_lag(self.engine)
        head = GaugeMetricFamily("methodical_log_head_position", "The event log's last position.")
        head.add_metric([], lags[0]["head"] if lags else 0)
        events = GaugeMetricFamily("methodical_projection_lag_events",
                                   "Events the read model has not applied yet (the head's position less its own).",
                                   labels=["read_model"])
        seconds = GaugeMetricFamily("methodical_projection_lag_seconds",
                                    "Age of the oldest event the read model has not applied yet (0: caught up).",
                                    labels=["read_model"])
        for lag in lags:
            events.add_metric([lag["read_model"]], lag["events_behind"])
            seconds.add_metric([lag["read_model"]], lag["seconds_behind"])
        waiting = outbox(self.engine)
        backlog = GaugeMetricFamily("methodical_outbox_circulars", "Circulars issued and not yet delivered.")
        backlog.add_metric([], waiting["waiting"])
        oldest = GaugeMetricFamily("methodical_outbox_oldest_seconds",
                                   "How long the circular waiting longest for delivery has waited.")
        oldest.add_metric([], waiting["oldest_seconds"])
        with self.engine.connect() as conn:
            chained = conn.execute(select(func.coalesce(func.max(chain.c.position), 0))).scalar_one()
        chain_head = GaugeMetricFamily("methodical_chain_head_position",
                                       "The last log position the audit chain has linked.")
        chain_head.add_metric([], chained)
        yield from (head, events, seconds, backlog, oldest, chain_head)

    def _queue(self) -> Iterator[GaugeMetricFamily]:
        state = queue_state(self.redis, self.queue_name)
        jobs = GaugeMetricFamily("methodical_queue_jobs", "The delivery queue's jobs, by state.",
                                 labels=["queue", "state"])
        for name in ("queued", "failed", "started", "scheduled"):
            jobs.add_metric([self.queue_name, name], state[name])
        workers = GaugeMetricFamily("methodical_queue_workers", "rq workers listening to the queue.",
                                    labels=["queue"])
        workers.add_metric([self.queue_name], state["workers"])
        yield from (jobs, workers)


class _Default(Collector):
    """The process's own registry, for a process not in multiprocess mode (tests, a single process)."""

    def collect(self) -> Iterator[Any]:
        yield from REGISTRY.collect()


def multiprocess_dir() -> str | None:
    """Return PROMETHEUS_MULTIPROC_DIR if this process counts in multiprocess mode."""
    return os.environ.get("PROMETHEUS_MULTIPROC_DIR") or None


def registry(collector: PlatformCollector | None) -> CollectorRegistry:
    """Return a registry for one scrape: every process's counts (or this process's), and the scrape-time gauges."""
    from prometheus_client import multiprocess

    fresh = CollectorRegistry(auto_describe=False)
    if multiprocess_dir():
        multiprocess.MultiProcessCollector(fresh)
    else:
        fresh.register(_Default())
    if collector is not None:
        fresh.register(collector)
    return fresh


def platform_collector(settings: Any) -> PlatformCollector:
    """Build the scrape-time collector: its own engine (no pooled connection kept between scrapes) and Redis."""
    from redis import Redis
    from sqlalchemy import create_engine
    from sqlalchemy.pool import NullPool

    # No pool: the gunicorn master serves the scrapes and forks workers; it must hold no connection they inherit.
    engine = create_engine(settings.sqlalchemy_url(), poolclass=NullPool,
                           connect_args={"connect_timeout": settings.db_connect_timeout})
    redis = Redis.from_url(settings.redis_url, socket_timeout=2, socket_connect_timeout=2) \
        if settings.redis_url else None
    return PlatformCollector(engine, redis, settings.delivery_queue)


def wsgi_app(collector: PlatformCollector | None) -> Any:
    """Return the WSGI application that answers with the metrics (tests; the metrics port serves the same)."""
    from prometheus_client import make_wsgi_app

    return make_wsgi_app(registry(collector))


def serve(settings: Any, host: str, port: int) -> Any:
    """Serve /metrics on host:port from a daemon thread of this process; return the server.

    One registry serves every scrape: the multiprocess collector reads the directory, and the platform's collector
    the servers, at each scrape.
    """
    from prometheus_client import start_http_server

    server, _thread = start_http_server(port, host, registry=registry(platform_collector(settings)))
    return server
