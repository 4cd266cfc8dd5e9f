"""The bulk rebuild: every read model from one pass over the log, its rows held in memory and loaded with COPY.

A read model's handlers are written once (projections/<name>.py, against `projections.rows.Rows`). The live
projector applies them as SQL statements, right for one event at a time and far too slow for millions; here the
same handlers are applied to rows in memory (`projections.rows.MemoryRows`: dicts, found by primary key or through
an index per column the handlers look rows up by), and at the end the rows are written with binary COPY into
tables created without their secondary indexes, which are built afterwards. Rows that never change once written
(the audit index, `Rows.append`) go into their COPY while the log is read.

The events are read and decoded once for all read models. The tables are built beside the live ones, in a schema
of their own, while the live projector keeps the live tables current; then the events appended meanwhile are caught
up, and the new tables are swapped in, with the tracking positions, in one short transaction (`rebuild_beside`,
ADR 025): readers never see a half-built read model, and no read model stalls while one is rebuilt.

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
from sqlalchemy.exc import OperationalError
from sqlalchemy.schema import CreateIndex, CreateTable

from projections import security
from projections.audit import json_safe
from projections.base import (DDL_DIALECT, Follower, Handler, ReadModel, RebuildReport, RebuildRunning, metadata,
                              record_fingerprint, tracking)
from projections.chain import APPLICATION_NAME, EVENTS_TABLE, GENESIS, Chainer, canonical, chain, next_link
from projections.registry import READ_MODELS
from projections.rows import DEFERRED, MemoryRows

log = logging.getLogger(__name__)

READ_BATCH = 5_000  # notifications read per query


# COPY


_DIALECT = DDL_DIALECT


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
    """Rebuild the named read models (default: all those of projections/registry.py) beside the live ones, from one
    pass over the log, and swap them in; return the events each replayed."""
    read_models = READ_MODELS if read_models is None else read_models
    chosen = [read_models[n] for n in (names or list(read_models))]
    if not chosen:
        return {}
    report = rebuild_beside(app, engine, chosen)
    return {rm.name: report.events for rm in chosen}


# The schema a rebuild builds its tables in, beside the live ones (one rebuild at a time: REBUILD_LOCK).
SHADOW_SCHEMA = "rm_rebuild"
# pg_advisory_lock's key of the rebuild (a session lock, held on a connection of its own for the whole rebuild).
REBUILD_LOCK = 0x6D_72_65_62  # "mreb"
# Catching up outside the swap repeats while more than this many events are behind: the swap then applies few.
CATCH_UP_LEFT = 500
# The swap waits this long for each live table's lock, then lets readers through and tries again.
SWAP_LOCK_TIMEOUT_MS = 100
SWAP_ATTEMPTS = 50


@contextlib.contextmanager
def _rebuild_lock(engine: Engine) -> Iterator[None]:
    with engine.connect() as guard:
        if not guard.execute(text("SELECT pg_try_advisory_lock(:key)"), {"key": REBUILD_LOCK}).scalar_one():
            raise RebuildRunning("another rebuild of the read models is running on this database")
        guard.commit()
        try:
            yield
        finally:
            guard.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": REBUILD_LOCK})
            guard.commit()


def _live_schema(engine: Engine) -> str:
    with engine.connect() as conn:
        return str(conn.execute(text("SELECT current_schema()")).scalar_one())


def _in_shadow(conn: Connection, live: str) -> None:
    """Make this transaction's unqualified names find the shadow tables first (and everything else where it is)."""
    conn.execute(text(f'SET LOCAL search_path = "{SHADOW_SCHEMA}", "{live}"'))


def rebuild_beside(app: Any, engine: Engine, read_models: Sequence[ReadModel]) -> RebuildReport:
    """Rebuild the read models in new tables beside the live ones, then swap them in (ADR 025).

    1. Build: in the schema `SHADOW_SCHEMA`, the read models' tables are created (the handlers' unqualified names find
       them first on this transaction's search_path), folded in memory from the log as it is committed now, loaded
       with COPY, indexed and analyzed (`_fold_and_load`). The live projector meanwhile keeps the live tables
       current: nothing of this holds their tracking rows or their tables.
    2. Catch up: the events appended since are applied to the new tables as SQL, the live projector's way, until
       few are left.
    3. Swap, in one transaction: take the read models' tracking rows (the live projector waits from here), apply
       the last events, take the live tables' locks (readers wait from here, briefly), drop them, move the new
       tables into the live schema with the live tables' grants and their row-level security, and move the
       tracking positions. A reader sees the old tables or the new ones, both complete; the live projector goes on
       from the new position and skips what the rebuild covered.
    """
    report = RebuildReport([rm.name for rm in read_models])
    live = _live_schema(engine)
    tables = [table for rm in read_models for table in rm.tables]
    # Every live table exists before the swap (a read model new to this database gets empty ones), so the new
    # tables take its grants; and the listeners that put a created table under row security are attached.
    security.protect(metadata)
    metadata.create_all(engine, tables=tables)
    with _rebuild_lock(engine):
        started = time.perf_counter()
        with _without_cyclic_collection():
            rows = MemoryRows(tables)
            try:
                report.folded, position = _fold_and_load(app, engine, read_models, rows, live)
            finally:
                # Freed while the collector still rests: all of it is young (never examined since the fold began),
                # and the collector's first pass after it resumed walked every row still held.
                rows.clear()
                del rows
        report.build_seconds = time.perf_counter() - started
        started = time.perf_counter()
        while (app.recorder.max_notification_id() or 0) - position > CATCH_UP_LEFT:
            with engine.begin() as conn:
                _in_shadow(conn, live)
                head = app.recorder.max_notification_id() or 0
                report.caught_up += _apply_range(app, conn, read_models, position, head)
                position = head
        report.catch_up_seconds = time.perf_counter() - started
        started = time.perf_counter()
        position = _swap(app, engine, read_models, position, live, report)
        report.swap_seconds = time.perf_counter() - started
        report.position = position
        with engine.begin() as conn:
            conn.execute(text(f'DROP SCHEMA IF EXISTS "{SHADOW_SCHEMA}" CASCADE'))
    report.events = report.folded + report.caught_up
    log.info("rebuild of %s beside the live tables: %d events folded and loaded in %.1f s, %d caught up in %.2f s,"
             " swapped in at position %d in %.3f s (%d lock attempts)", ", ".join(report.read_models),
             report.folded, report.build_seconds, report.caught_up, report.catch_up_seconds, report.position,
             report.swap_seconds, report.lock_attempts)
    return report


def _apply_range(app: Any, conn: Connection, read_models: Sequence[ReadModel], after: int, stop: int) -> int:
    """Apply the events after `after` up to `stop` to the read models' tables as SQL, in this transaction, as the
    live projector applies a batch (append-only rows deferred to one statement per batch); return how many."""
    mapper = app.mapper
    applied = 0
    for batch in notifications(app, stop=stop, start=after + 1):
        pending: dict[Any, list[Any]] = {}
        conn.info[DEFERRED] = pending
        try:
            for notification in batch:
                event = mapper.to_domain_event(notification)
                for read_model in read_models:
                    read_model.apply(conn, event, notification.id)
        finally:
            conn.info.pop(DEFERRED, None)
        for flush, items in pending.items():
            flush(conn, items)
        applied += len(batch)
    return applied


_GRANTS = text(
    "SELECT a.privilege_type, CASE WHEN a.grantee = 0 THEN 'PUBLIC' ELSE quote_ident(pg_get_userbyid(a.grantee)) END"
    " FROM pg_class c CROSS JOIN LATERAL aclexplode(c.relacl) a"
    " WHERE c.oid = CAST(:table AS regclass) AND a.grantee <> c.relowner"
)


def _swap(app: Any, engine: Engine, read_models: Sequence[ReadModel], position: int, live: str,
          report: RebuildReport) -> int:
    tables = [table for rm in read_models for table in rm.tables]
    names = [rm.name for rm in read_models]
    with engine.begin() as conn:
        _in_shadow(conn, live)
        _lock(conn, read_models, app.name)  # the live projector waits from here to the commit
        head = app.recorder.max_notification_id() or 0
        report.caught_up += _apply_range(app, conn, read_models, position, head)
        conn.execute(text(f'SET LOCAL search_path = "{live}"'))
        quoted = ", ".join(f'"{live}"."{t.name}"' for t in tables)
        # Each attempt waits briefly for readers to leave the live tables; between attempts they go on (a lock
        # queued behind a long wait would hold every new reader back, and two waits may deadlock with a reader).
        conn.execute(text(f"SET LOCAL lock_timeout = '{SWAP_LOCK_TIMEOUT_MS}ms'"))
        for attempt in range(1, SWAP_ATTEMPTS + 1):
            report.lock_attempts = attempt
            savepoint = conn.begin_nested()
            try:
                conn.execute(text(f"LOCK TABLE {quoted} IN ACCESS EXCLUSIVE MODE"))
            except OperationalError:
                savepoint.rollback()
                if attempt == SWAP_ATTEMPTS:
                    conn.execute(text("SET LOCAL lock_timeout = 0"))  # the last try waits as long as it takes
                    conn.execute(text(f"LOCK TABLE {quoted} IN ACCESS EXCLUSIVE MODE"))
                    break
                time.sleep(0.01)
                continue
            savepoint.commit()
            break
        for table in tables:
            grants = conn.execute(_GRANTS, {"table": f'"{live}"."{table.name}"'}).all()
            conn.execute(text(f'DROP TABLE "{live}"."{table.name}"'))
            conn.execute(text(f'ALTER TABLE "{SHADOW_SCHEMA}"."{table.name}" SET SCHEMA "{live}"'))
            for privilege, grantee in grants:
                conn.execute(text(f'GRANT {privilege} ON "{live}"."{table.name}" TO {grantee}'))
            # What listens to the table's creation (its row-level security, the circulars' trigger) runs on the
            # table as it now stands in the live schema.
            table.dispatch.after_create(table, conn, checkfirst=False, _ddl_runner=None,
                                        _is_metadata_operation=False)
        conn.execute(tracking.update().where(tracking.c.read_model.in_(names))
                     .values(notification_id=head, application_name=app.name))
        for rm in read_models:
            record_fingerprint(conn, rm)
    return head


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


def _fold_and_load(app: Any, engine: Engine, read_models: Sequence[ReadModel], rows: MemoryRows,
                   live: str) -> tuple[int, int]:
    """Build the read models' tables in the shadow schema from the log as committed now; return the events folded
    and the position they reach."""
    tables = [table for rm in read_models for table in rm.tables]
    mapper = app.mapper
    replayed = 0
    with engine.begin() as conn:
        # The transaction waits on the log between its statements, and its last statements load every row.
        conn.execute(text("SET LOCAL idle_in_transaction_session_timeout = 0"))
        conn.execute(text("SET LOCAL statement_timeout = 0"))
        conn.execute(text(f'DROP SCHEMA IF EXISTS "{SHADOW_SCHEMA}" CASCADE'))  # what a stopped rebuild left
        conn.execute(text(f'CREATE SCHEMA "{SHADOW_SCHEMA}"'))
        _in_shadow(conn, live)
        # What this rebuild folds: the log as committed now (ids commit in order); the rest is caught up after.
        stop = app.recorder.max_notification_id() or 0
        for table in tables:
            # Created without what listens to a table's creation (row security, triggers: the swap adds them in the
            # live schema) and without secondary indexes until the rows are in: building an index once is cheaper
            # than maintaining it.
            _ddl(conn, CreateTable(table))
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
        log.info("build of %s: %d events read and folded in %.1f s, the rows loaded in %.1f s, indexed and analyzed"
                 " in %.1f s", ", ".join(rm.name for rm in read_models), replayed, folded - started, loaded - folded,
                 time.perf_counter() - loaded)
    return replayed, stop


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
