"""The bulk rebuild: every read model from one pass over the log, its rows held in memory and loaded with COPY.

A read model's handlers are written once (projections/<name>.py, against `projections.rows.Rows`). The live
projector applies them as SQL statements, right for one event at a time and far too slow for millions; here the
same handlers are applied to rows in memory (`projections.rows.MemoryRows`: dicts, found by primary key or through
an index per column the handlers look rows up by), and at the end the rows are written with binary COPY into
tables created without their secondary indexes, which are built afterwards. Rows that never change once written
(the audit index, `Rows.append`) go into their COPY while the log is read.

The events are read and decoded once for all read models. Everything happens in one transaction that
first locks the read models' tracking rows: a live runner that meets a new event meanwhile waits, then skips
what the rebuild covered, exactly as with the per-event rebuild (projections/base.py `rebuild`), and readers
never see a half-built read model.

`tests/integration/test_bulk_rebuild.py` checks that every table equals what the same handlers write as SQL.
"""

from __future__ import annotations

import contextlib
import gc
import hashlib
import json
import logging
import operator
import time
from collections.abc import Iterable, Iterator, Sequence
from datetime import date, datetime
from typing import Any
from uuid import UUID

from psycopg import Copy
from psycopg.types.json import set_json_dumps
from sqlalchemy import Connection, Engine, Table, select, text
from sqlalchemy.dialects import postgresql
from sqlalchemy.schema import CreateIndex, DropIndex

from projections import security
from projections.audit import json_safe
from projections.base import Follower, Handler, ReadModel, metadata, record_fingerprint, tracking
from projections.chain import APPLICATION_NAME, EVENTS_TABLE, GENESIS, Chainer, canonical, chain, next_link
from projections.registry import READ_MODELS
from projections.rows import MemoryRows

log = logging.getLogger(__name__)

READ_BATCH = 5_000  # notifications read per query


# COPY


_DIALECT = postgresql.dialect()


def _type_name(column: Any) -> str:
    return column.type.compile(dialect=_DIALECT).lower()


def _json_default(value: Any) -> Any:
    """What json.dumps cannot write itself, as audit.json_safe writes it (UUIDs, dates and times as strings)."""
    if isinstance(value, (UUID, datetime, date)):
        return json_safe(value)
    if isinstance(value, (set, frozenset)):
        return list(value)
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


_dumps = json.JSONEncoder(default=_json_default, ensure_ascii=False, separators=(",", ":")).encode


@contextlib.contextmanager
def copying(conn: Connection, table: Table, columns: Sequence[str]) -> Iterator[Copy]:
    """A binary COPY into the table's `columns` on the connection; its JSON values may hold UUIDs and dates."""
    raw = conn.connection.dbapi_connection
    assert raw is not None
    names = ", ".join(f'"{c}"' for c in columns)
    with raw.cursor() as cursor:
        set_json_dumps(_dumps, context=cursor)
        with cursor.copy(f'COPY {table.name} ({names}) FROM STDIN (FORMAT BINARY)') as copy:
            copy.set_types([_type_name(table.c[c]) for c in columns])
            yield copy


def copy_tuples(conn: Connection, table: Table, columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> int:
    """Write rows (tuples in `columns` order) into the table with binary COPY; return how many."""
    count = 0
    with copying(conn, table, columns) as copy:
        write = copy.write_row
        for row in rows:
            write(row)
            count += 1
    return count


def copy_rows(conn: Connection, table: Table, rows: Iterable[dict[str, Any]]) -> int:
    """Write rows (dicts by column name) into the table with binary COPY; return how many."""
    columns = [c.name for c in table.columns]
    values = operator.itemgetter(*columns)
    if len(columns) == 1:  # an itemgetter of one name gives the value, not a tuple
        return copy_tuples(conn, table, columns, ((values(row),) for row in rows))
    return copy_tuples(conn, table, columns, map(values, rows))


# The rebuild


def _ddl(conn: Connection, sql: Any) -> None:
    conn.execute(text(str(sql.compile(dialect=_DIALECT))))


def _unforce_row_security(conn: Connection, tables: Sequence[Table]) -> list[str]:
    """Let the owner COPY into the tables whose row-level security is forced (applies to their owner too): COPY FROM
    refuses such a table. Done inside the loading transaction, and undone (`_force_row_security`) before its commit,
    so no other session ever sees it; return the tables to force again."""
    forced = list(conn.execute(text(
        "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
        " WHERE c.relname = ANY(CAST(:names AS text[])) AND n.nspname = current_schema() AND c.relforcerowsecurity"),
        {"names": [t.name for t in tables]}).scalars())
    for name in forced:
        conn.execute(text(f'ALTER TABLE "{name}" NO FORCE ROW LEVEL SECURITY'))
    return forced


def _force_row_security(conn: Connection, names: Sequence[str]) -> None:
    for name in names:
        conn.execute(text(f'ALTER TABLE "{name}" FORCE ROW LEVEL SECURITY'))


def _lock(conn: Connection, read_models: Sequence[Follower], application_name: str) -> None:
    """Take every read model's tracking row lock (creating missing rows): live runners wait until the commit."""
    names = sorted(rm.name for rm in read_models)
    conn.execute(text("INSERT INTO rm_tracking (read_model, application_name, notification_id)"
                      " SELECT name, :app, 0 FROM unnest(CAST(:names AS text[])) AS name"
                      " ON CONFLICT (read_model) DO NOTHING"), {"app": application_name, "names": names})
    conn.execute(select(tracking.c.notification_id).where(tracking.c.read_model.in_(names))
                 .order_by(tracking.c.read_model).with_for_update())


def notifications(app: Any, batch: int = READ_BATCH, stop: int | None = None, start: int = 1) -> Iterator[list[Any]]:
    """Yield the log's notifications in order from `start` (up to `stop`, if given), a batch at a time.

    Each query has a lower bound only, never `stop`: given both bounds on a log whose statistics are older than its
    last load (as after any large import, until autovacuum's next ANALYZE), PostgreSQL guessed a few thousand rows
    in the range and planned a bitmap scan that sorts the whole rest of the log for every batch; reading 200,000
    events took 4.6 s instead of 1.0. The limit never asks for more ids than are left up to `stop` (ids only grow,
    with gaps where a transaction rolled back), and any row past `stop` is dropped."""
    while stop is None or start <= stop:
        limit = batch if stop is None else min(batch, stop - start + 1)
        found = app.recorder.select_notifications(start=start, limit=limit)
        if stop is not None and found and found[-1].id > stop:
            found = [n for n in found if n.id <= stop]
        if not found:
            return
        yield found
        start = found[-1].id + 1


def rebuild_all(app: Any, engine: Engine, names: Sequence[str] | None = None,
                read_models: dict[str, ReadModel] | None = None) -> dict[str, int]:
    """Drop and rebuild the named read models (default: all those of projections/registry.py) from one pass over
    the log; return the events each replayed."""
    read_models = READ_MODELS if read_models is None else read_models
    chosen = [read_models[n] for n in (names or list(read_models))]
    if not chosen:
        return {}
    count = _rebuild_bulk(app, engine, chosen)
    return {rm.name: count for rm in chosen}


@contextlib.contextmanager
def _without_cyclic_collection() -> Iterator[None]:
    """Pause Python's cyclic garbage collector (reference counting still frees everything else).

    The fold keeps millions of rows alive, and every full pass of the collector walks all of them: at a million
    events its passes took about a third of the rebuild (30 of 85 s), while the fold makes no garbage cycles."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _rebuild_bulk(app: Any, engine: Engine, read_models: Sequence[ReadModel]) -> int:
    with _without_cyclic_collection():
        rows = MemoryRows(table for rm in read_models for table in rm.tables)
        try:
            return _fold_and_load(app, engine, read_models, rows)
        finally:
            # Freed while the collector still rests: all of it is young (never examined since the fold began), and
            # the collector's first pass after it resumed walked every row still held (0.6 of 9.8 s at 200,000).
            rows.clear()
            del rows


def _fold_and_load(app: Any, engine: Engine, read_models: Sequence[ReadModel], rows: MemoryRows) -> int:
    tables = [table for rm in read_models for table in rm.tables]
    mapper = app.mapper
    replayed = 0
    with engine.begin() as conn:
        # The transaction waits on the log between its statements, and its last statements load every row.
        conn.execute(text("SET LOCAL idle_in_transaction_session_timeout = 0"))
        conn.execute(text("SET LOCAL statement_timeout = 0"))
        _lock(conn, read_models, app.name)
        # What this rebuild covers: the log as committed now (ids commit in order); the live runners, waiting on
        # the tracking rows, go on from there.
        stop = app.recorder.max_notification_id() or 0
        for table in reversed(tables):
            table.drop(conn, checkfirst=True)
        security.protect(metadata)
        for table in tables:
            # Created as the live path creates them (with whatever listens to their creation), then without their
            # secondary indexes until the rows are in: building an index once is cheaper than maintaining it.
            table.create(conn)
            for index in table.indexes:
                _ddl(conn, DropIndex(index))
        forced = _unforce_row_security(conn, tables)
        started = time.perf_counter()
        # Which handlers follow which event class, worked out once per class.
        routes: dict[type, list[Handler]] = {}
        # One COPY can be open on the connection: the first append-only table streams into it while the log is
        # read (the server stores its rows meanwhile, on the other core); any other keeps its rows to the end.
        streamed = next((t for rm in read_models for t in rm.appended), None)
        with contextlib.ExitStack() as streams:
            if streamed is not None:
                copy = streams.enter_context(copying(conn, streamed, [c.name for c in streamed.columns]))
                rows.stream(streamed, copy.write_row)
                streams.callback(rows.stream, streamed, None)
            for batch in notifications(app, stop=stop):
                for notification in batch:
                    event = mapper.to_domain_event(notification)
                    cls = type(event)
                    handlers = routes.get(cls)
                    if handlers is None:
                        found = (rm.handler(cls) for rm in read_models)
                        handlers = routes[cls] = [handler for handler in found if handler is not None]
                    position = notification.id
                    for handler in handlers:
                        handler(rows, event, position)
                replayed += len(batch)
        folded = time.perf_counter()
        for table in tables:
            appended, kept = rows.rows_of(table)
            if appended:
                copy_tuples(conn, table, [c.name for c in table.columns], appended)
            if kept:
                copy_rows(conn, table, kept)
        loaded = time.perf_counter()
        for table in tables:
            for index in sorted(table.indexes, key=lambda i: i.name or ""):
                _ddl(conn, CreateIndex(index))
            # Statistics now, not whenever autovacuum comes: the first reads are planned on the real row counts.
            conn.execute(text(f"ANALYZE {table.name}"))
        log.info("rebuild of %s: %d events read and folded in %.1f s, the rows loaded in %.1f s, indexed and analyzed"
                 " in %.1f s", ", ".join(rm.name for rm in read_models), replayed, folded - started, loaded - folded,
                 time.perf_counter() - loaded)
        _force_row_security(conn, forced)
        conn.execute(tracking.update().where(tracking.c.read_model.in_([rm.name for rm in read_models]))
                     .values(notification_id=stop, application_name=app.name))
        for rm in read_models:
            record_fingerprint(conn, rm)
    return replayed


# The tamper-evidence chain, computed in bulk for the events it has not linked yet


def build_chain(engine: Engine, signing_key: Any = None, interval: int = 1000,
                application_name: str = APPLICATION_NAME) -> dict[str, Any]:
    """Link every event after the chain's head (as the live Chainer does, with a checkpoint every `interval`
    events); in one transaction holding the chain's tracking row. Return how many were linked."""
    chainer = Chainer(signing_key, interval)
    linked = 0
    with engine.begin() as conn:
        _lock(conn, [chainer.read_model], application_name)
        head = conn.execute(select(chain.c.position, chain.c.link).order_by(chain.c.position.desc()).limit(1)).first()
        previous, after = (bytes(head.link), head.position) if head else (GENESIS, 0)
        last_checkpoint = conn.execute(text("SELECT coalesce(max(position), 0) FROM audit_checkpoints")).scalar_one()
        raw = conn.connection.dbapi_connection
        assert raw is not None
        marks: list[tuple[int, bytes]] = []
        rows: list[tuple[int, bytes, bytes]] = []
        with raw.cursor(name="chain_events") as cursor:
            cursor.itersize = 10_000
            cursor.execute("SELECT notification_id, originator_id, originator_version, topic, state"
                           f" FROM {EVENTS_TABLE}"
                           " WHERE notification_id > %s ORDER BY notification_id", (after,))
            for position, originator_id, version, topic, state in cursor:
                digest = hashlib.sha256(canonical(originator_id, version, topic, bytes(state))).digest()
                previous = next_link(previous, position, digest)
                rows.append((position, digest, previous))
                if position - last_checkpoint >= interval:
                    marks.append((position, previous))
                    last_checkpoint = position
        forced = _unforce_row_security(conn, [chain])
        linked = copy_tuples(conn, chain, ["position", "event_digest", "link"], rows)
        _force_row_security(conn, forced)
        for position, link in marks:
            chainer.checkpoint(conn, position, link)
        if rows:
            conn.execute(tracking.update().where(tracking.c.read_model == chainer.read_model.name)
                         .values(notification_id=rows[-1][0]))
    return {"linked": linked, "checkpoints": len(marks)}
