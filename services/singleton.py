"""Exactly one of a kind across hosts: a process works only while it holds its PostgreSQL advisory lock.

The projector, the dispatcher and the scheduler may each run on two hosts (or more); each holds a
session-level advisory lock named after what it is, on a connection of its own, and works only while
it holds it. The others wait, trying again every second. When the holder dies its connection ends
and PostgreSQL releases the lock: at once if the process was killed (the kernel closes its socket),
within KEEPALIVE seconds if its host vanished or its network was cut (the server's TCP keepalives and
user timeout, set on the lock's session). The holder checks its connection every CHECK seconds and
stops working as soon as it cannot tell it still holds the lock.

The lock only decides who works; correctness does not depend on it. A projector records each read
model's rows with its tracking position in one transaction and skips what is already applied, and a
dispatcher's enqueue is idempotent (one job id per circular), so even two holders for the moments a
cut network hides one from the other apply nothing twice.

The lock's connection must reach PostgreSQL itself, never through PgBouncer in transaction mode (which
would hand the session, and so the lock, to another client): name it with LOCK_DATABASE_URL when
DATABASE_URL goes through such a pooler.

Use: `singleton.run_alone(url, "projector", stop, work)`, where `work(stop)` runs until the event it is given
is set; and `singleton.guard(engine)` on the engine the work writes through, so that the transaction of a holder
whose host died ends within seconds and releases its row locks.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import psycopg
from sqlalchemy import Engine, event

log = logging.getLogger(__name__)

CHECK = 1.0  # seconds between two checks that the holder still holds the lock, and between two tries to take it
KEEPALIVE = 5  # seconds after which PostgreSQL gives up a lock holder that does not answer (and so the lock)
# The server's side of a singleton's sessions: keepalives, a user timeout, and no transaction left open for long.
_SESSION_LIMITS = (f"SET tcp_keepalives_idle = 1; SET tcp_keepalives_interval = 1; SET tcp_keepalives_count = "
                   f"{KEEPALIVE}; SET tcp_user_timeout = {KEEPALIVE * 1000}; "
                   f"SET idle_in_transaction_session_timeout = {KEEPALIVE * 1000}")


def _key(name: str) -> str:
    return f"methodical:{name}"


class Lease:
    """A session-level advisory lock on a connection of its own: held from `acquire` until the connection ends."""

    def __init__(self, database_url: str, name: str):
        self.database_url = database_url
        self.name = name
        self.conn: psycopg.Connection[Any] | None = None

    def _connect(self) -> psycopg.Connection[Any]:
        # The client's keepalives notice a cut network; the server's (set for this session) release the lock of a
        # holder that vanished, so that another takes over within seconds rather than at TCP's two hours.
        conn = psycopg.connect(self.database_url, autocommit=True, connect_timeout=2, keepalives=1,
                               keepalives_idle=1, keepalives_interval=1, keepalives_count=3,
                               tcp_user_timeout=KEEPALIVE * 1000,
                               application_name=f"methodical {self.name} pid {os.getpid()}")
        conn.execute(_SESSION_LIMITS + f"; SET statement_timeout = {KEEPALIVE * 1000}")
        return conn

    def try_acquire(self) -> bool:
        """Take the lock if nobody holds it; return whether this lease holds it now."""
        try:
            if self.conn is None or self.conn.closed:
                self.conn = self._connect()
            row = self.conn.execute("SELECT pg_try_advisory_lock(hashtextextended(%s, 0))",
                                    (_key(self.name),)).fetchone()
            return bool(row and row[0])
        except psycopg.Error as error:
            log.debug("cannot try the %s lock (%s)", self.name, error)
            self.release()
            return False

    def acquire(self, stop: threading.Event) -> bool:
        """Wait until this lease holds the lock (True) or `stop` is set (False)."""
        waiting = False
        while not stop.is_set():
            if self.try_acquire():
                if waiting:
                    log.info("%s: took over (the lock was released)", self.name)
                return True
            if not waiting:
                log.info("%s: another process holds the lock; standing by", self.name)
                waiting = True
            stop.wait(CHECK)
        return False

    def still_held(self) -> bool:
        """Return whether the lock's session still answers (and so still holds the lock)."""
        conn = self.conn
        if conn is None or conn.closed:
            return False
        try:
            row = conn.execute(
                "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND pid = pg_backend_pid()"
                " AND granted").fetchone()
            return bool(row and row[0])
        except psycopg.Error:
            return False

    def release(self) -> None:
        """End the lock's session (which releases the lock)."""
        conn, self.conn = self.conn, None
        if conn is not None:
            try:
                conn.close()
            except psycopg.Error:  # pragma: no cover - closing a dead connection
                pass


@contextmanager
def one_at_a_time(conninfo: str, name: str, connect_timeout: int = 5) -> Iterator[None]:
    """Run the block while holding the session advisory lock called `name`, waiting for it first: processes doing
    the same thing at once (making tables, migrating) take turns rather than fail on each other's changes.

    The lock's connection must not go through PgBouncer in transaction mode (a session pooler is fine)."""
    with psycopg.connect(conninfo, autocommit=True, connect_timeout=connect_timeout,
                         application_name=f"methodical {name} pid {os.getpid()}") as conn:
        conn.execute("SELECT pg_advisory_lock(hashtextextended(%s, 0))", (_key(name),))
        try:
            yield
        finally:  # said, not left to the connection's end: a session pooler keeps the server's session
            conn.execute("SELECT pg_advisory_unlock(hashtextextended(%s, 0))", (_key(name),))


def guard(engine: Engine) -> Engine:
    """Make the sessions of a singleton's own engine end within about KEEPALIVE seconds of its host's death.

    A killed host sends nothing more: without this, PostgreSQL keeps its open transaction, and the row locks it
    holds (a projector's tracking rows), until TCP gives up hours later, and the process that takes over the lock
    waits on them. With server-side keepalives and an idle-in-transaction limit, its transaction is rolled back
    and its locks released within seconds.
    """

    @event.listens_for(engine, "do_connect")
    def notice_a_dead_server(dialect: Any, record: Any, cargs: Any, cparams: dict[str, Any]) -> None:
        # And this side gives up a server that vanished mid-statement, rather than wait on it for TCP's minutes.
        cparams.update(keepalives=1, keepalives_idle=1, keepalives_interval=1, keepalives_count=KEEPALIVE,
                       tcp_user_timeout=KEEPALIVE * 1000)

    @event.listens_for(engine, "connect")
    def limit(dbapi_connection: Any, record: Any) -> None:
        with dbapi_connection.cursor() as cursor:
            cursor.execute(_SESSION_LIMITS)
        dbapi_connection.commit()

    return engine



def run_alone(database_url: str, name: str, stop: threading.Event, work: Callable[[threading.Event], Any]) -> None:
    """Run `work` only while this process holds the lock called `name`, until `stop` is set.

    `work(stopping)` must return soon after `stopping` is set: it is set when `stop` is, and when the lock's
    session is lost (the database restarted, failed over, or out of reach); then this waits for the lock again,
    and calls `work` anew once it holds it.
    """
    lease = Lease(database_url, name)
    try:
        while not stop.is_set():
            if not lease.acquire(stop):
                return
            log.info("%s: holding the lock; working", name)
            stopping = threading.Event()
            watcher = threading.Thread(target=_watch, args=(lease, stop, stopping), name=f"{name}-lock", daemon=True)
            watcher.start()
            try:
                work(stopping)
            finally:
                stopping.set()
                watcher.join()
            lease.release()
            if not stop.is_set():
                log.warning("%s: lost the lock's session; working again once it holds the lock", name)
    finally:
        lease.release()


def _watch(lease: Lease, stop: threading.Event, stopping: threading.Event) -> None:
    while not stopping.wait(CHECK):
        if stop.is_set() or not lease.still_held():
            stopping.set()
