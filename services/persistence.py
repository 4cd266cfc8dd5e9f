"""The event store's recorder: eventsourcing's PostgreSQL recorder, with a large save split into statements.

eventsourcing inserts all the events of one save in a single statement, sent in a psycopg pipeline. When that
message is larger than about half a megabyte and PostgreSQL is reached through a Unix socket (the embedded
server of `./scripts/run`), psycopg waits for a result while the server waits for the rest of the message, for
ever (seen with psycopg 3.3.9, its binary and pure-Python implementations alike; over TCP it does not happen).
A decision to some 500 member organizations is such a save (p.34: one circular each). Here a save whose events
are larger than CHUNK_BYTES is inserted by several statements, in the same transaction and under the same table
lock, each read back before the next is sent; smaller saves take eventsourcing's own path unchanged.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from typing import Any

from eventsourcing.persistence import StoredEvent
from eventsourcing.postgres import PostgresApplicationRecorder

CHUNK_BYTES = 128 * 1024


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
    """Inserts a large save's events by several statements of its one transaction."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._inserted = threading.local()

    def _insert_stored_events(self, curs: Any, stored_events: Sequence[StoredEvent], **kwargs: Any) -> None:
        self._inserted.ids = None
        if sum(len(event.state) for event in stored_events) <= CHUNK_BYTES:
            super()._insert_stored_events(curs, stored_events, **kwargs)
            return
        self._lock_table(curs)
        self._notify_channel(curs)
        ids: list[int] = []
        for part in chunks(stored_events):
            curs.execute(self.insert_events_statement, (
                [self.construct_pg_stored_event(e.originator_id, e.originator_version, e.topic, e.state)
                 for e in part],))
            # Reading the ids sends this statement and waits for it: the message never grows past one chunk.
            ids.extend(row["notification_id"] for row in curs.fetchall())
        self._inserted.ids = ids

    def _fetch_ids_after_insert_events(self, curs: Any, stored_events: Sequence[StoredEvent],
                                       **kwargs: Any) -> Sequence[int] | None:
        ids = getattr(self._inserted, "ids", None)
        self._inserted.ids = None
        if ids is not None:
            return ids
        return super()._fetch_ids_after_insert_events(curs, stored_events, **kwargs)
