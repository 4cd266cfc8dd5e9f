"""The service itself: whether it answers (liveness), whether it can serve (readiness), and its servers' health."""

from __future__ import annotations

import logging
from typing import Any

from flask.views import MethodView
from services.api.bodies import Blueprint
from marshmallow import Schema, fields
from redis import Redis
from redis.exceptions import RedisError
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from services import metrics
from services.api.common import runtime
from services.api.errors import problem

log = logging.getLogger(__name__)

blp = Blueprint("system", __name__, url_prefix="/api/v1", description="The service itself")


class HealthOut(Schema):
    """Whether PostgreSQL and Redis answer."""

    status = fields.String()
    postgres = fields.String()
    redis = fields.String()


class LiveOut(Schema):
    """The process answers."""

    status = fields.String()


class LagOut(Schema):
    """How far one read model is behind the event log's head."""

    read_model = fields.String()
    events_behind = fields.Integer()
    seconds_behind = fields.Float()


class ReadyOut(Schema):
    """Whether this process can serve: its servers answer and the read models are within the allowed lag."""

    status = fields.String()
    postgres = fields.String()
    redis = fields.String()
    max_lag_seconds = fields.Float()
    projections = fields.List(fields.Nested(LagOut))


def _redis_state() -> str:
    """Return 'ok' or 'not configured'; raise RedisError when Redis does not answer."""
    rt = runtime()
    if not rt.settings.redis_url:
        return "not configured"
    Redis.from_url(rt.settings.redis_url, socket_timeout=2, socket_connect_timeout=2).ping()
    return "ok"


@blp.route("/health")
class Health(MethodView):
    @blp.response(200, HealthOut)
    @blp.alt_response(503, description="A server the platform depends on does not answer")
    @blp.doc(security=[])
    def get(self) -> Any:
        """Report whether PostgreSQL and Redis answer (no credential needed)."""
        rt = runtime()
        with rt.primary.connect() as conn:  # the primary, which commands need (a standby is only for reads)
            conn.execute(text("SELECT 1"))
        try:
            redis = _redis_state()
        except RedisError as error:
            return problem(503, f"Redis does not answer: {error}", {"Retry-After": "2"})
        return {"status": "ok", "postgres": "ok", "redis": redis}


@blp.route("/health/live")
class Live(MethodView):
    @blp.response(200, LiveOut)
    @blp.doc(security=[])
    def get(self) -> Any:
        """Report that this process answers; it asks no server (a supervisor restarts a process that does not)."""
        return {"status": "ok"}


@blp.route("/health/ready")
class Ready(MethodView):
    @blp.response(200, ReadyOut)
    @blp.alt_response(503, description="PostgreSQL does not answer, or a read model lags more than READY_MAX_LAG")
    @blp.doc(security=[])
    def get(self) -> Any:
        """Report whether this process can serve: PostgreSQL answers and every read model is within READY_MAX_LAG
        seconds of the event log's head (a load balancer sends requests only to a ready process). Redis is
        reported, not required: no request waits on it (a recorded circular is enqueued by the dispatcher once
        Redis is back; failed sign-ins are counted in the worker meanwhile), so a Redis outage keeps every web host
        in the balancer's rotation."""
        rt = runtime()
        limit = rt.settings.ready_max_lag
        try:
            lags = metrics.projection_lag(rt.primary)  # the primary's, as for commands (a standby serves only reads)
        except SQLAlchemyError as error:
            return problem(503, f"PostgreSQL does not answer: {type(error).__name__}", {"Retry-After": "2"})
        try:
            redis = _redis_state()
        except RedisError as error:
            log.warning("ready without Redis, which does not answer: %s", error)
            redis = "unavailable"
        projections = [{k: lag[k] for k in ("read_model", "events_behind", "seconds_behind")} for lag in lags]
        behind = [lag for lag in lags if limit > 0 and lag["seconds_behind"] > limit]
        if behind:
            names = ", ".join(f"{lag['read_model']} ({lag['seconds_behind']:.0f} s)" for lag in behind)
            return problem(503, f"Read models lag the event log by more than {limit:g} s: {names}.",
                           {"Retry-After": "5"}, projections=projections)
        return {"status": "ok", "postgres": "ok", "redis": redis, "max_lag_seconds": limit,
                "projections": projections}
