"""The eventsourcing Application: every command of the platform, appended to one event log."""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import date
from typing import Any
from uuid import UUID

import psycopg
from eventsourcing.application import Application
from eventsourcing.persistence import JSONTranscoder, Transcoding
from eventsourcing.utils import strtobool
from psycopg.conninfo import make_conninfo
from psycopg_pool import ConnectionPool

from domain.people import Person
from domain.tenants import Tenant
from domain.units import Unit
from projections.base import socket_readable
from services import singleton
from services.commands import Done, SnapshotLookup, StaleWrite
from services.config import APPLICATION_NAME
from services.internals import psycopg_pool as psycopg_pool_internals
from services.tenancy import IssuedToken, TenancyCommands
from services.units import UnitCommands
from services.documents import DocumentCommands
from services.audit import AuditCommands
from services.unions import UnionCommands
from services.signin import SignInCommands
from services.reminders import ReminderCommands

__all__ = ["Done", "IssuedToken", "Platform", "StaleWrite"]


class DateAsISO(Transcoding):
    """Stores dates as YYYY-MM-DD."""

    type = date
    name = "date_iso"

    def encode(self, obj: date) -> str:
        return obj.isoformat()

    def decode(self, data: str) -> date:
        return date.fromisoformat(data)


def ping_if_readable(conn: psycopg.Connection[Any]) -> None:
    """Check a pooled connection without a round trip unless the server has written to it since its last use."""
    if conn.closed:
        raise psycopg.OperationalError("the connection is closed")
    if socket_readable(conn):
        ConnectionPool.check_connection(conn)


@contextmanager
def _creating_tables_alone(env: Mapping[str, str]) -> Iterator[None]:
    """Make the event store's tables, types and append function (CREATE_TABLE) one process at a time.

    eventsourcing makes them each time an application starts: CREATE TYPE and CREATE TABLE IF NOT EXISTS, and
    CREATE OR REPLACE FUNCTION for the append function. Processes starting together (a projector and the workers
    of one host, a writer and a projector taking over) raced: on a made database 30 of 60 concurrent starts failed
    with "tuple concurrently updated", on a fresh one 7 of 8 on a duplicate row type. One at a time, none fails;
    each waits the milliseconds the others take.
    """
    def value(key: str, default: str) -> str:
        return env.get(key) or os.environ.get(key) or default

    if value("PERSISTENCE_MODULE", "") != "eventsourcing.postgres" or not strtobool(value("CREATE_TABLE", "yes")):
        yield
        return
    conninfo = make_conninfo(dbname=value("POSTGRES_DBNAME", "postgres"), host=value("POSTGRES_HOST", "127.0.0.1"),
                             port=value("POSTGRES_PORT", "5432"), user=value("POSTGRES_USER", "postgres"),
                             password=value("POSTGRES_PASSWORD", ""))
    with singleton.one_at_a_time(conninfo, "ddl:event-store",
                                 connect_timeout=int(float(value("POSTGRES_CONNECT_TIMEOUT", "5")))):
        yield


class Platform(TenancyCommands, SignInCommands, UnitCommands, AuditCommands, UnionCommands, DocumentCommands,
               ReminderCommands, Application[UUID]):
    """One Application, one log: each area of the platform mixes in its commands (ADR 001)."""

    name = APPLICATION_NAME
    env = {"AGGREGATE_CACHE_MAXSIZE": "5000", "COMPRESSOR_TOPIC": ""}
    # Long-lived aggregates are snapshotted so that a past version loads quickly (audit, p.-in-time reads).
    snapshotting_intervals = {Tenant: 50, Person: 50, Unit: 50}

    def __init__(self, env: Mapping[str, str] | None = None) -> None:
        with _creating_tables_alone({**self.env, **(env or {})}):
            super().__init__(env=env)
        # eventsourcing retries a failed read or write 10 times 0.2 s apart, each waiting up to its pool's timeout
        # (whole seconds only) for a connection: while the database is down that is 10 x 2.2 s. A short wait per
        # attempt bounds the whole at about 3 s, after which the caller answers 503 (POOL_WAIT_SECONDS).
        wait = self.env.get("POOL_WAIT_SECONDS")
        datastore = getattr(self.recorder, "datastore", None)
        if wait and datastore is not None and hasattr(datastore, "pool"):
            datastore.pool.timeout = float(wait)
        # POSTGRES_PRE_PING checks every connection taken from the pool with a round trip: several per command
        # (each load and the save take one), about a third of a command's time under load. Ping only a
        # connection whose socket has something to say: the server's goodbye after a restart or a terminated
        # backend; an idle healthy connection has nothing to read.
        pool = getattr(datastore, "pool", None)
        if pool is not None and psycopg_pool_internals.checks_connections(pool):
            psycopg_pool_internals.replace_check(pool, ping_if_readable)
        if self.snapshots is not None:  # `load` skips the lookup for classes never snapshotted
            self.repository.snapshot_store = SnapshotLookup(self.snapshots.mapper, self.snapshots.recorder)

    def register_transcodings(self, transcoder: JSONTranscoder) -> None:
        super().register_transcodings(transcoder)
        transcoder.register(DateAsISO())

    def _notify(self, recordings: list[Any]) -> None:
        """Count the events just appended, by kind (services/metrics.py)."""
        from services import metrics

        metrics.events_appended(recordings)
        super()._notify(recordings)
