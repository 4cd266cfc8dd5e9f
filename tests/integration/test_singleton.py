"""The singletons' lock (services/singleton.py): one holder at a time, released with its session; and the limits
that end a dead holder's sessions within seconds."""

from __future__ import annotations

import threading
import time
from typing import Any

from sqlalchemy import text


def test_one_lease_holds_the_lock_until_its_session_ends(settings: Any) -> None:
    from services.singleton import Lease

    first, second = Lease(settings.database_url, "test-holder"), Lease(settings.database_url, "test-holder")
    other = Lease(settings.database_url, "test-another")
    try:
        assert first.try_acquire() and first.still_held()
        assert not second.try_acquire(), "two held the same lock"
        assert other.try_acquire(), "a lock of another name was refused"
        first.release()
        assert not first.still_held()
        # The server releases it as the closed session's backend exits, a moment after the close.
        deadline = time.monotonic() + 3
        while not second.try_acquire() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert second.still_held(), "the lock was not released with its session"
    finally:
        for lease in (first, second, other):
            lease.release()


def test_run_alone_works_only_while_it_holds_the_lock(settings: Any) -> None:
    from services.singleton import Lease, run_alone

    holder = Lease(settings.database_url, "test-run-alone")
    assert holder.try_acquire()
    stop, started = threading.Event(), threading.Event()
    thread = threading.Thread(target=run_alone, args=(settings.database_url, "test-run-alone", stop,
                                                      lambda stopping: (started.set(), stopping.wait())))
    thread.start()
    try:
        assert not started.wait(1.5), "it worked while another held the lock"
        holder.release()
        assert started.wait(5), "it did not take over once the lock was released"
    finally:
        stop.set()
        thread.join(10)
        holder.release()
    assert not thread.is_alive()


def test_a_guarded_engine_ends_an_idle_transaction_and_a_silent_peer_within_seconds(settings: Any) -> None:
    from projections.base import make_engine
    from services.singleton import KEEPALIVE, guard

    engine = guard(make_engine(settings.sqlalchemy_url(), 1))
    try:
        with engine.connect() as conn:
            shown = {name: conn.execute(text(f"SHOW {name}")).scalar() for name in (
                "idle_in_transaction_session_timeout", "tcp_user_timeout")}
            info = conn.connection.dbapi_connection.info
            assert info.get_parameters().get("tcp_user_timeout") == str(KEEPALIVE * 1000)
            # Over a Unix socket (the embedded server) there is no TCP peer to go silent: the server shows 0.
            over_tcp = not info.host.startswith("/")
    finally:
        engine.dispose()
    assert shown == {"idle_in_transaction_session_timeout": f"{KEEPALIVE}s",
                     "tcp_user_timeout": str(KEEPALIVE * 1000) if over_tcp else "0"}
