"""The service's own state: health of the servers it depends on."""

from __future__ import annotations

from typing import Any

from flask.views import MethodView
from services.api.bodies import Blueprint
from marshmallow import Schema, fields
from redis import Redis
from redis.exceptions import RedisError
from sqlalchemy import text

from services.api.common import runtime
from services.api.errors import problem

blp = Blueprint("system", __name__, url_prefix="/api/v1", description="The service itself")


class HealthOut(Schema):
    """Whether PostgreSQL and Redis answer."""

    status = fields.String()
    postgres = fields.String()
    redis = fields.String()


@blp.route("/health")
class Health(MethodView):
    @blp.response(200, HealthOut)
    @blp.alt_response(503, description="A server the platform depends on does not answer")
    @blp.doc(security=[])
    def get(self) -> Any:
        """Report whether PostgreSQL and Redis answer (no credential needed)."""
        rt = runtime()
        with rt.engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        redis = "not configured"
        if rt.settings.redis_url:
            try:
                Redis.from_url(rt.settings.redis_url, socket_timeout=2, socket_connect_timeout=2).ping()
                redis = "ok"
            except RedisError as error:
                return problem(503, f"Redis does not answer: {error}", {"Retry-After": "2"})
        return {"status": "ok", "postgres": "ok", "redis": redis}
