"""The event store's recorder: eventsourcing's PostgreSQL recorder, inserting a save without a psycopg pipeline.

eventsourcing sends a save's statements (lock timeout, table lock, NOTIFY, the INSERT of all its events) in a
psycopg pipeline. Two things made us take that path over:

- When the INSERT's message was larger than about half a megabyte and PostgreSQL was reached through a Unix
  socket (the embedded server of `./scripts/run`), psycopg waited for a result while the server waited for the
  rest of the message, for ever (seen with psycopg 3.3.9, its binary and pure-Python implementations alike;
  over TCP it did not happen). A decision to some 500 member organizations is such a save (p.34: one circular
  each).
- The pipeline's communication costs more CPU than it saves round trips: measured with four threads saving
  as a web worker's do, 245 us of client CPU a save against 152 us for the same statements sent as below.

A save of at most CHUNK_BYTES of events (nearly every save) is one call, on the pool's autocommit connection,
of a function the migration creates in place of eventsourcing's own `es_insert_events_*` (which takes no table
lock): it sets the lock timeout, takes the table lock, sends the NOTIFY and inserts the events, RETURNING their
notification ids, and the call's own transaction commits them. One message to the server and one answer; and
the table lock, which serialises every save, is held only inside the server, never across a round trip to a
client that a busy machine may not schedule at once (with the three messages below, a save's lock was held
across two round trips, and under load the saves queued behind it).

A larger save is one transaction of three messages: BEGIN, the lock timeout, the table lock and the NOTIFY as
one simple-protocol query; the INSERT of the events, RETURNING their notification ids (by several statements of
at most CHUNK_BYTES of events each, each read back before the next is sent); COMMIT. Either way the table lock
is taken before the first event is inserted, as eventsourcing takes it, so the log's insert order is its commit
order and a reader never passes over an id that is filled in later.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import suppress
from typing import Any
from uuid import UUID

import psycopg
from eventsourcing.persistence import InterfaceError, OperationalError, StoredEvent
from eventsourcing.postgres import PostgresApplicationRecorder
from eventsourcing.utils import retry
from psycopg.pq import TransactionStatus
from psycopg.sql import SQL, Identifier

CHUNK_BYTES = 128 * 1024
_COMMIT, _ROLLBACK = b"COMMIT", b"ROLLBACK"


def chunks(stored_events: Sequence[StoredEvent], limit: int = CHUNK_BYTES) -> Iterator[Sequence[StoredEvent]]:
    """Split the events, in order, into runs of at most `limit` bytes of state (at least one event each)."""
    start, size = 0, 0
    for index, event in enumerate(stored_events):
        if index > start and size + len(event.state) > limit:
            yield stored_events[start:index]
            start, size = index, 0
        size += len(event.state)
    if start < len(stored_events):
        yield stored_events[start:]


class Recorder(PostgresApplicationRecorder):
    """Inserts a save's events in one transaction, without a pipeline, and a large save by several statements."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Sent without parameters, so by the simple query protocol: four statements in one message.
        self._begin: bytes = SQL("; ").join(
            [SQL("BEGIN"), *self.lock_table_statements, SQL("NOTIFY {0}").format(Identifier(self.channel_name))]
        ).as_bytes(None)
        self._insert: bytes = self.insert_events_statement.as_bytes(None)
        self._select_queries: dict[tuple[bool, bool, bool, bool], bytes] = {}
        # A save of at most CHUNK_BYTES is one call of a function the migration creates in place of
        # eventsourcing's own (which takes no table lock): one message, and the lock held only inside the server.
        # Its events come as four arrays of plain types, which psycopg sends without composing a row type per event
        # in Python (dumping the composite array was a thirtieth of a web worker's CPU).
        schema, function = Identifier(self.datastore.schema), Identifier(f"{self.events_table_name}_append")
        id_type = Identifier(self.datastore.originator_id_type)
        self.sql_create_statements[self.create_insert_function_statement_index] = SQL(
            "CREATE OR REPLACE FUNCTION {schema}.{function}("
            "ids {id_type}[], versions bigint[], topics text[], states bytea[]) RETURNS SETOF bigint"
            " LANGUAGE plpgsql AS $BODY$ BEGIN"
            " SET LOCAL lock_timeout = '{lock_timeout}s';"
            " LOCK TABLE {schema}.{table} IN EXCLUSIVE MODE;"
            " NOTIFY {channel};"
            " RETURN QUERY INSERT INTO {schema}.{table} AS t (originator_id, originator_version, topic, state)"
            " SELECT * FROM unnest(ids, versions, topics, states) RETURNING notification_id;"
            " END; $BODY$"
        ).format(schema=schema, function=function, id_type=id_type, table=Identifier(self.events_table_name),
                 lock_timeout=self.datastore.lock_timeout, channel=Identifier(self.channel_name))
        self._append: bytes = SQL(
            "SELECT * FROM {schema}.{function}(%s::{id_type}[], %s::bigint[], %s::text[], %s::bytea[])"
            " AS notification_id").format(schema=schema, function=function, id_type=id_type).as_bytes(None)

    @retry((InterfaceError, OperationalError), max_attempts=10, wait=0.2)
    def select_events(self, originator_id: UUID | str, *, gt: int | None = None, lte: int | None = None,
                      desc: bool = False, limit: int | None = None) -> Sequence[StoredEvent]:
        """eventsourcing's select, with each shape of its statement composed and rendered once: composing and
        rendering it on every call (every load of an aggregate, several a command) was a twelfth of a web
        worker's CPU."""
        shape = (gt is not None, lte is not None, desc, limit is not None)
        query = self._select_queries.get(shape)
        if query is None:
            statement = self.select_events_statement
            if gt is not None:
                statement += SQL(" AND originator_version > %s")
            if lte is not None:
                statement += SQL(" AND originator_version <= %s")
            statement += SQL(" ORDER BY originator_version DESC" if desc else " ORDER BY originator_version ASC")
            if limit is not None:
                statement += SQL(" LIMIT %s")
            query = self._select_queries[shape] = statement.as_bytes(None)
        params = [originator_id, *(value for value in (gt, lte, limit) if value is not None)]
        with self.datastore.get_connection() as conn, conn.cursor() as curs:
            curs.execute(query, params, prepare=True)
            return [StoredEvent(originator_id=row["originator_id"], originator_version=row["originator_version"],
                                topic=row["topic"], state=bytes(row["state"])) for row in curs.fetchall()]

    @retry((InterfaceError, OperationalError), max_attempts=10, wait=0.2)
    def insert_events(self, stored_events: Sequence[StoredEvent], **kwargs: Any) -> Sequence[int] | None:
        if not stored_events:
            return super().insert_events(stored_events, **kwargs)
        if not kwargs.get("tracking") and sum(len(e.state) for e in stored_events) <= CHUNK_BYTES:
            with self.datastore.get_connection() as conn, conn.cursor() as curs:
                assert conn.autocommit  # the call is its own transaction
                curs.execute(self._append, ([e.originator_id for e in stored_events],
                                            [e.originator_version for e in stored_events],
                                            [e.topic for e in stored_events], [e.state for e in stored_events]),
                             prepare=True)
                return [row["notification_id"] for row in curs.fetchall()]
        with self.datastore.get_connection() as conn, conn.cursor() as curs:
            assert conn.autocommit  # eventsourcing's pool: the transaction is the one BEGIN opens here
            curs.execute(self._begin)
            try:
                self._insert_events(curs, stored_events, **kwargs)
                ids: list[int] = []
                for part in chunks(stored_events):
                    curs.execute(self._insert, ([
                        self.construct_pg_stored_event(e.originator_id, e.originator_version, e.topic, e.state)
                        for e in part],))
                    ids.extend(row["notification_id"] for row in curs.fetchall())
                curs.execute(_COMMIT)
            except BaseException:
                if conn.info.transaction_status != TransactionStatus.IDLE and not conn.closed:
                    with suppress(psycopg.Error):
                        conn.execute(_ROLLBACK)
                raise
            return ids
