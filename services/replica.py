"""Reads from a streaming standby (READ_DATABASE_URL): which engine a request reads the read models through.

A read of the API (GET or HEAD under /api/) goes to the standby when one is configured; everything else (commands,
the pages, whose sessions write) goes to the primary. A read that sends X-Min-Position waits on the standby until
it has replayed the read model's tracking row up to that position, or falls back to the primary within the same
timeout (projections/base.py `wait_on_standby`): read-your-writes holds from any web host. A standby that does not
answer is left alone for DOWN_SECONDS: reads go to the primary meanwhile.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from flask import g, has_request_context, request
from sqlalchemy import Engine, event, exc

from projections.base import Follower, wait_for_position, wait_on_standby

log = logging.getLogger(__name__)

DOWN_SECONDS = 5.0
_READS = ("GET", "HEAD")


class ReadRouting:
    """Chooses the primary's or the standby's engine for each request."""

    def __init__(self, primary: Engine, standby: Engine | None):
        self.primary = primary
        self.standby = standby
        self.down_until = 0.0
        if standby is not None:
            event.listen(standby, "handle_error", self._standby_failed)

    def _standby_failed(self, context: Any) -> None:
        if context.is_disconnect or context.connection is None:
            if time.monotonic() >= self.down_until:
                log.warning("the standby does not answer (%s); reading from the primary for %.0f s",
                            context.original_exception, DOWN_SECONDS)
            self.down_until = time.monotonic() + DOWN_SECONDS

    def _may_read_standby(self) -> bool:
        if not (self.standby is not None and has_request_context() and request.method in _READS
                and request.path.startswith("/api/")):
            return False
        if time.monotonic() < self.down_until:
            return False
        if self.down_until:
            # Down until a moment ago: this request first sees whether it answers again (a connect, at most the
            # connect timeout), so that no client's read is the one that finds it still down.
            try:
                with self.standby.connect():
                    pass
            except exc.OperationalError:
                return False
            self.down_until = 0.0
            log.info("the standby answers again; reading from it")
        return True

    def engine(self) -> Engine:
        """Return the engine this request works through."""
        if has_request_context():
            chosen = g.get("read_engine")
            if chosen is not None:
                return chosen
        return self.standby if self._may_read_standby() and self.standby is not None else self.primary

    def catch_up(self, read_model: Follower, position: int, timeout: float) -> None:
        """Wait until the engine this request reads through shows `position` (see the module's description)."""
        if not self._may_read_standby() or self.standby is None:
            wait_for_position(self.primary, read_model, position, timeout)
            return
        g.read_engine = wait_on_standby(self.standby, self.primary, read_model, position, timeout)
