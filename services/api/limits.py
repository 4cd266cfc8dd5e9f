"""Rate limiting of failed authentication: a client that keeps presenting bad credentials is slowed down."""

from __future__ import annotations

import math
import time

from flask import Flask, Response, request
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from limits.storage import RedisStorage

from services.config import Settings


class CleanClientsRedisStorage(RedisStorage):
    """The limits library's Redis storage, remembering for a moment in this process which clients have no failed
    authentication counted.

    Every request checks its client's count (a Redis round trip, a tenth of a command's CPU in the web), and
    nearly every client's count is 0. A 0 read from Redis is trusted here for CLEAN_SECONDS; a failure counted
    by this process forgets it at once. So a failure counted by another worker process is seen here within
    CLEAN_SECONDS: a client past the limit may have a few more requests looked at in that moment, each of which,
    if it fails too, is counted and ends it.
    """

    STORAGE_SCHEME = ["methodical+redis", "methodical+rediss", "methodical+redis+unix"]
    CLEAN_SECONDS = 1.0
    REMEMBERED = 10_000  # clients remembered at most; forgotten all at once past that

    def __init__(self, uri: str, **options: float | str | bool) -> None:
        super().__init__(uri.removeprefix("methodical+"), **options)
        self._clean_until: dict[str, float] = {}

    def get(self, key: str) -> int:
        until = self._clean_until.get(key)
        if until is not None and time.monotonic() < until:
            return 0
        count = super().get(key)
        if count == 0:
            if len(self._clean_until) >= self.REMEMBERED:
                self._clean_until.clear()
            self._clean_until[key] = time.monotonic() + self.CLEAN_SECONDS
        else:
            self._clean_until.pop(key, None)
        return count

    def incr(self, key: str, expiry: int, amount: int = 1) -> int:
        self._clean_until.pop(key, None)
        return super().incr(key, expiry, amount)

    def clear(self, key: str) -> None:
        self._clean_until.pop(key, None)
        super().clear(key)

    def reset(self) -> int | None:
        self._clean_until.clear()
        return super().reset()


def _storage_uri(redis_url: str | None) -> str:
    """Return the limits library's form of the Redis URL (memory when there is no Redis), for the storage above."""
    if not redis_url:
        return "memory://"
    if redis_url.startswith("unix://"):
        return "methodical+redis+unix://" + redis_url[len("unix://"):]
    return "methodical+" + redis_url


def _failed_authentication(response: Response) -> bool:
    return response.status_code == 401


def install(app: Flask, settings: Settings) -> Limiter:
    """Count 401 answers per client address; past the limit, answer 429 before looking at credentials.

    Install before the authentication hook, so that the limit is checked first. Counters live in
    Redis (shared by every worker, CleanClientsRedisStorage); if Redis does not answer, each worker counts in
    memory instead.
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
