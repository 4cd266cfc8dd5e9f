"""Rate limiting of failed authentication: a client that keeps presenting bad credentials is slowed down."""

from __future__ import annotations

import logging
import math
import time
from typing import Any

from flask import Flask, Response, request
from limits import parse
from limits.storage import MemoryStorage, RedisStorage, storage_from_string
from limits.strategies import FixedWindowRateLimiter
from redis.exceptions import RedisError

from services.api import errors
from services.config import Settings

log = logging.getLogger(__name__)


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


def _storage_uri(redis_url: str) -> str:
    """Return the limits library's form of the Redis URL, naming the storage above."""
    if redis_url.startswith("unix://"):
        return "methodical+redis+unix://" + redis_url[len("unix://"):]
    return "methodical+" + redis_url


class FailedAuthentications:
    """Counts each client address's failed authentications (401 answers) in a fixed window of the limits library;
    past the limit, its requests are answered 429 before their credentials are looked at.

    The counts live in Redis (shared by every worker, CleanClientsRedisStorage). If Redis does not answer, this
    worker counts in memory for FALLBACK_SECONDS, then asks Redis again. The limits library is called directly:
    Flask-Limiter's per-request resolution of routes, blueprints and decorated limits cost a fifteenth of a
    web worker's CPU, for the one limit every route shares.
    """

    FALLBACK_SECONDS = 5.0
    EXEMPT = ("/api/v1/health", "/api/v1/openapi.json")

    def __init__(self, settings: Settings):
        self.limit = parse(settings.auth_failure_limit)
        self.memory = FixedWindowRateLimiter(MemoryStorage())
        self.shared: FixedWindowRateLimiter | None = None
        if settings.redis_url:
            self.shared = FixedWindowRateLimiter(storage_from_string(
                _storage_uri(settings.redis_url), socket_connect_timeout=1, socket_timeout=1))
        self._shared_down_until = 0.0

    def _call(self, method: str, key: str) -> Any:
        if self.shared is not None and time.monotonic() >= self._shared_down_until:
            try:
                return getattr(self.shared, method)(self.limit, key)
            except (RedisError, OSError) as error:
                log.warning("failed authentications counted in this worker for %.0f s: Redis does not answer (%s)",
                            self.FALLBACK_SECONDS, error)
                self._shared_down_until = time.monotonic() + self.FALLBACK_SECONDS
        return getattr(self.memory, method)(self.limit, key)

    def refused(self, key: str) -> Response | None:
        """A 429 problem if the client is past the limit, with the seconds until its window ends."""
        if self._call("test", key):
            return None
        reset_at = self._call("get_window_stats", key).reset_time
        return errors.problem(429, "Too many failed authentications from this address; retry after the time in "
                                   "Retry-After.", {"Retry-After": str(max(1, math.ceil(reset_at - time.time())))})

    def count(self, key: str) -> None:
        self._call("hit", key)


def _client() -> str:
    """The key of this request's client address in the counts."""
    return f"methodical-auth/{request.remote_addr or '127.0.0.1'}"


def install(app: Flask, settings: Settings) -> FailedAuthentications:
    """Count 401 answers per client address; past the limit, answer 429 before looking at credentials.

    Install before the authentication hook, so that the limit is checked first.
    """
    failures = app.extensions["methodical_auth_failures"] = FailedAuthentications(settings)

    @app.before_request
    def check_failures() -> Response | None:
        if request.path in failures.EXEMPT:
            return None
        return failures.refused(_client())

    @app.after_request
    def count_failure(response: Response) -> Response:
        if response.status_code == 401:
            failures.count(_client())
        return response

    return failures
