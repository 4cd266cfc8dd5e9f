"""psycopg_pool internals: the connection check of a pool that eventsourcing builds."""

from __future__ import annotations

from importlib.metadata import version
from typing import Any, Callable

from psycopg_pool import ConnectionPool

from services.internals import Use

CHECKED_ON = "3.3.3"
USES = (
    Use("ConnectionPool._check", "services/applications.py (Platform.__init__)",
        "eventsourcing's PostgresDatastore builds the pool with check=ConnectionPool.check_connection when "
        "POSTGRES_PRE_PING is set, and offers no way to pass another check; psycopg_pool takes the check only as a "
        "constructor argument. The platform swaps in a check that pings only a connection whose socket is readable."),
)


def checks_connections(pool: Any) -> bool:
    """Return whether the pool checks each connection it hands out."""
    return getattr(pool, "_check", None) is not None


def replace_check(pool: Any, check: Callable[[Any], None]) -> None:
    """Make the pool check each connection it hands out with `check` instead of the one it was built with."""
    pool._check = check  # noqa: SLF001 - see USES


def problems() -> list[str]:
    """Return what no longer holds of the uses above in the installed psycopg_pool (empty when all do)."""
    found = []
    if version("psycopg-pool") != CHECKED_ON:
        found.append(f"psycopg_pool {version('psycopg-pool')} is installed; the uses were checked on {CHECKED_ON}")

    def check(conn: Any) -> None:
        return None

    pool = ConnectionPool("", open=False, check=check)
    if getattr(pool, "_check", None) is not check:
        found.append("ConnectionPool keeps its check elsewhere than _check")
    replace_check(pool, ConnectionPool.check_connection)
    if not checks_connections(pool):
        found.append("replacing ConnectionPool._check does not take")
    return found
