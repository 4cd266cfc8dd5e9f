"""A pooled read-model connection whose backend went away is replaced at checkout, without a ping per checkout."""

from __future__ import annotations

from typing import Any

import psycopg
from sqlalchemy import text

from projections.base import make_engine


def backend_pid(engine: Any) -> int:
    with engine.connect() as conn:
        return conn.execute(text("SELECT pg_backend_pid()")).scalar_one()


def test_a_terminated_backend_is_replaced_at_checkout_and_a_healthy_one_is_not_pinged(settings: Any) -> None:
    engine = make_engine(settings.sqlalchemy_url(), 1)
    pings: list[Any] = []
    ping = engine.dialect.do_ping
    engine.dialect.do_ping = lambda dbapi_connection: pings.append(dbapi_connection) or ping(dbapi_connection)
    try:
        first = backend_pid(engine)
        assert backend_pid(engine) == first  # the same pooled connection, reused
        assert pings == []  # and not pinged: its socket had nothing to say

        with psycopg.connect(settings.database_url, autocommit=True) as admin:
            assert admin.execute("SELECT pg_terminate_backend(%s)", (first,)).fetchone()[0]
            admin.execute("SELECT pg_sleep(0.2)")

        second = backend_pid(engine)  # no error reaches the caller: the dead connection is swapped at checkout
        assert second != first and len(pings) == 1
        assert backend_pid(engine) == second
    finally:
        engine.dispose()
