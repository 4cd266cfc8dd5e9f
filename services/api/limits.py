"""Rate limiting of failed authentication: a client that keeps presenting bad credentials is slowed down."""

from __future__ import annotations

import math
import time

from flask import Flask, Response, request
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address

from services.config import Settings


def _storage_uri(redis_url: str | None) -> str:
    """Return the limits library's form of the Redis URL (memory when there is no Redis)."""
    if not redis_url:
        return "memory://"
    if redis_url.startswith("unix://"):
        return "redis+unix://" + redis_url[len("unix://"):]
    return redis_url


def _failed_authentication(response: Response) -> bool:
    return response.status_code == 401


def install(app: Flask, settings: Settings) -> Limiter:
    """Count 401 answers per client address; past the limit, answer 429 before looking at credentials.

    Install before the authentication hook, so that the limit is checked first. Counters live in
    Redis (shared by every worker); if Redis does not answer, each worker counts in memory instead.
    """
    limiter = Limiter(
        get_remote_address,
        app=app,
        default_limits=[settings.auth_failure_limit],
        default_limits_deduct_when=_failed_authentication,
        default_limits_exempt_when=lambda: request.path in ("/api/v1/health", "/api/v1/openapi.json"),
        storage_uri=_storage_uri(settings.redis_url),
        storage_options={"socket_connect_timeout": 1, "socket_timeout": 1} if settings.redis_url else {},
        key_prefix="methodical-auth",
        swallow_errors=True,
        in_memory_fallback_enabled=True,
        # No X-RateLimit headers on every answer: each costs Redis round trips on every request, for a limit
        # that only failed authentications count. A 429 says when to come back (below).
        headers_enabled=False,
    )

    @app.after_request
    def retry_after(response: Response) -> Response:
        if response.status_code == 429:
            limit = limiter.current_limit
            if limit is not None:
                response.headers["Retry-After"] = str(max(1, math.ceil(limit.reset_at - time.time())))
        return response

    return limiter
