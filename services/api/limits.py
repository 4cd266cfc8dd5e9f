"""Rate limiting of failed authentication: a client that keeps presenting bad credentials is slowed down, and
nobody else with it.

A school's whole staff may reach the platform from one address (its NAT). Counting failures by address alone and
refusing every request past the limit let one misconfigured device lock the whole school out, valid tokens and
all. So, as the guidance behind the well-kept limiters of this kind advises (OWASP's authentication cheat sheet,
Django-axes' per-username-and-address lockout), the limit bounds failed attempts only: failures are counted per
client address and per credential identifier (the person id a token names, ADR 003), and a request past either
limit whose credential fails is answered 429 instead of 401, while a valid credential is always let through. A
token's secret has 256 bits: the limit is against noise and scanning, not the only defence against guessing.
"""

from __future__ import annotations

import logging
import math
import re
import time
from typing import Any

from flask import Flask, Response, request
from limits import parse
from limits.storage import MemoryStorage, storage_from_string
from limits.strategies import FixedWindowRateLimiter
from redis.exceptions import RedisError

from services.api import errors
from services.config import Settings

log = logging.getLogger(__name__)

_TOKEN_PERSON = re.compile(r"^([0-9a-f]{32})\.")


class FailedAuthentications:
    """Counts failed authentications (401 answers) per client address and per credential identifier in a fixed
    window of the limits library; past either limit, a failing credential is answered 429.

    The counts live in Redis (shared by every worker). If Redis does not answer, this worker counts in memory for
    FALLBACK_SECONDS, then asks Redis again. A request with a valid credential never touches the counts.
    """

    FALLBACK_SECONDS = 5.0

    def __init__(self, settings: Settings):
        self.limit = parse(settings.auth_failure_limit)
        self.memory = FixedWindowRateLimiter(MemoryStorage())
        self.shared: FixedWindowRateLimiter | None = None
        if settings.redis_url:
            self.shared = FixedWindowRateLimiter(storage_from_string(
                settings.redis_url.replace("unix://", "redis+unix://", 1), socket_connect_timeout=1,
                socket_timeout=1))
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

    def refused(self, *keys: str) -> Response | None:
        """Return a 429 problem if any of the keys (a failed credential's address, its identifier) is past the
        limit (with the seconds until the window ends), else None."""
        for key in keys:
            if not self._call("test", key):
                reset_at = self._call("get_window_stats", key).reset_time
                return errors.problem(
                    429, "Too many failed authentications from this address or for this credential; retry after "
                         "the time in Retry-After.",
                    {"Retry-After": str(max(1, math.ceil(reset_at - time.time())))})
        return None

    def count(self, *keys: str) -> None:
        """Count a failed authentication against each key (its address, its credential identifier)."""
        for key in keys:
            self._call("hit", key)


def request_keys() -> list[str]:
    """The keys this request's failure counts under: its client address, and the person its token names."""
    keys = [f"methodical-auth/address/{request.remote_addr or '127.0.0.1'}"]
    _, _, token = (request.headers.get("Authorization") or "").partition(" ")
    named = _TOKEN_PERSON.match(token.strip())
    if named:
        keys.append(f"methodical-auth/credential/{named.group(1)}")
    return keys


def install(app: Flask, settings: Settings) -> FailedAuthentications:
    """Count 401 answers per client address and credential; the authentication hook asks refused() on a failure.
    The web's sign-in counts its own keys (a login, an address) with limiters of its own."""
    failures = app.extensions["methodical_auth_failures"] = FailedAuthentications(settings)

    @app.after_request
    def count_failure(response: Response) -> Response:
        if response.status_code == 401:
            failures.count(*request_keys())
        return response

    return failures
