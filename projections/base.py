"""What every read model shares: its tracking position, exactly-once processing, rebuild and waiting."""

from __future__ import annotations

import base64
import hashlib
import binascii
import select as select_module
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from eventsourcing.persistence import Tracking, TrackingRecorder
from eventsourcing.projection import Projection
from sqlalchemy import BigInteger, Column, Connection, Engine, MetaData, Table, Text, create_engine, event, exc, select, text
from sqlalchemy.dialects import postgresql
from sqlalchemy.dialects.postgresql import insert

from projections import security
from projections.rows import DEFERRED, Flush, Rows, SqlRows

metadata = MetaData()

tracking = Table(
    "rm_tracking",
    metadata,
    Column("read_model", Text, primary_key=True),
    Column("application_name", Text, nullable=False),
    Column("notification_id", BigInteger, nullable=False),
)

# A read model's handler: what one event does to its tables (projections/rows.py says how it is applied).
Handler = Callable[[Rows, Any, int], None]


@dataclass
class Follower:
    """Something that follows the log with a tracking position of its own: a read model, or the audit chain."""

    name: str
    tables: list[Table]
    # Writes one event (at its position) on the connection, in the transaction that moves the position.
    follow: Callable[[Connection, Any, int], None] | None = None

    def apply(self, conn: Connection, event: Any, position: int) -> None:
        """Write one event (events it does not follow are skipped)."""
        if self.follow is not None:
            self.follow(conn, event, position)

    def advance(self, conn: Connection, application_name: str, position: int) -> bool:
        """Move the tracking position forward in this transaction; False if it was already there.

        The row lock this takes serialises every writer of the read model, so an event is
        applied exactly once even when a rebuild and the live runner overlap.
        """
        return self.name in advance_all(conn, [self], application_name, position)

    def position(self, conn: Connection) -> int:
        """Return the position this read model has processed up to (0 if none)."""
        value = conn.execute(
            select(tracking.c.notification_id).where(tracking.c.read_model == self.name)
        ).scalar()
        return int(value or 0)


@dataclass
class ReadModel(Follower):
    """A read model: its tables and, per event class, the one handler that says what the event does to them.

    The same handlers serve the live projector (`apply`: SQL statements in its transaction) and the bulk rebuild
    (projections/bulk.py: rows in memory, then COPY).
    """

    handlers: dict[type, Handler] = field(default_factory=dict)
    # Called for every event with no handler of its own (e.g. an index of all events).
    fallback: Handler | None = None
    # The tables whose rows only `Rows.append` writes (no handler reads them back): the bulk rebuild streams them
    # into their COPY as it reads the log.
    appended: list[Table] = field(default_factory=list)
    # The version of what the handlers write: bumped when they write other rows from the same events (a column
    # computed another way, say) with the same tables, so that `methodical migrate` rebuilds the read model beside
    # the live one (ADR 025). A change of the tables' definitions needs no bump: the fingerprint sees it.
    version: int = 1

    def on(self, *event_classes: type) -> Callable[[Handler], Handler]:
        """Register a handler for the given event classes."""

        def register(handler: Handler) -> Handler:
            for event_class in event_classes:
                self.handlers[event_class] = handler
            return handler

        return register

    def handler(self, event_class: type) -> Handler | None:
        """Return what handles events of the class (its own handler, or the fallback), or None."""
        return self.handlers.get(event_class, self.fallback)

    def apply(self, conn: Connection, event: Any, position: int) -> None:
        """Write one event into this read model's tables as SQL statements (events it does not follow are skipped)."""
        handler = self.handlers.get(type(event), self.fallback)
        if handler is not None:
            handler(SqlRows(conn), event, position)


_ADVANCE = text(
    "INSERT INTO rm_tracking (read_model, application_name, notification_id)"
    " SELECT name, :application_name, :position FROM unnest(CAST(:names AS text[])) AS name"
    " ON CONFLICT (read_model) DO UPDATE SET notification_id = excluded.notification_id"
    " WHERE rm_tracking.notification_id < excluded.notification_id"
    " RETURNING read_model"
)


def advance_all(conn: Connection, read_models: Sequence[Follower], application_name: str, position: int) -> set[str]:
    """Move every read model's tracking position forward in one statement; return those that moved."""
    rows = conn.execute(_ADVANCE, {"names": [rm.name for rm in read_models],
                                   "application_name": application_name, "position": position})
    return {row.read_model for row in rows}


def socket_readable(dbapi_connection: Any) -> bool:
    """Whether the server has written to an idle connection since its last use (its goodbye after a restart or a
    terminated backend, say): an idle healthy connection has nothing to read."""
    try:
        probe = select_module.poll()
        probe.register(dbapi_connection.fileno(), select_module.POLLIN)
        return bool(probe.poll(0))  # readable, hung up or in error
    except (OSError, ValueError):
        return True  # an unusable socket: let the ping find out


def ping_when_readable(engine: Engine) -> Engine:
    """Check each connection the engine's pool hands out, as `pool_pre_ping` does, but with a round trip only
    when its socket is readable (SQLAlchemy's pessimistic check through its `checkout` event): `pool_pre_ping`
    costs one round trip per transaction, a sixth of a projected event's."""

    @event.listens_for(engine, "checkout")
    def check(dbapi_connection: Any, record: Any, proxy: Any) -> None:
        if getattr(dbapi_connection, "closed", False):
            raise exc.DisconnectionError("the connection is closed")
        if socket_readable(dbapi_connection):
            try:
                alive = engine.dialect.do_ping(dbapi_connection)
            except Exception as error:  # noqa: BLE001 - any failure means: take another connection
                raise exc.DisconnectionError(str(error)) from error
            if not alive:
                raise exc.DisconnectionError("the connection did not answer a ping")

    return engine


_INSERTS: dict[Table, Any] = {}


def insert_row(conn: Connection, table: Table, values: dict[str, Any] | list[dict[str, Any]]) -> None:
    """Insert a row (or several, in one statement) into a read model's table.

    One statement object per table with the values as parameters: SQLAlchemy compiles it once, and building
    a statement per event (a bound parameter and a cache key for every column, `insert().values(...)`) was
    a fifth of the projector's time per event.
    """
    statement = _INSERTS.get(table)
    if statement is None:
        statement = _INSERTS[table] = table.insert()
    conn.execute(statement, values)


def make_engine(url: str, pool_size: int = 5, prepare: bool = True) -> Engine:
    """Return a SQLAlchemy engine for the read models; `prepare=False` for a pooler that cannot keep prepared
    statements (PgBouncer in transaction mode before 1.21): psycopg then never prepares one."""
    connect_args: dict[str, Any] = {} if prepare else {"prepare_threshold": None}
    return ping_when_readable(create_engine(url, pool_size=pool_size, max_overflow=10, connect_args=connect_args))


schemas = Table(
    "rm_schemas",
    metadata,
    Column("read_model", Text, primary_key=True),
    Column("fingerprint", Text, nullable=False),
)


# One dialect to write DDL text with: each new one builds caches that only the cyclic collector frees.
DDL_DIALECT = postgresql.dialect()


def fingerprint(read_model: Follower) -> str:
    """Return a digest of the read model's table definitions and version: it changes when either does."""
    from sqlalchemy.schema import CreateIndex, CreateTable

    ddl = []
    for table in read_model.tables:
        ddl.append(str(CreateTable(table).compile(dialect=DDL_DIALECT)))
        ddl.extend(str(CreateIndex(index).compile(dialect=DDL_DIALECT)) for index in sorted(
            table.indexes, key=lambda i: i.name or ""))
    version = getattr(read_model, "version", 1)
    if version > 1:  # version 1 adds nothing: the fingerprints recorded before versions existed still hold
        ddl.append(f"-- version {version}")
    return hashlib.sha256("\n".join(ddl).encode()).hexdigest()


def stale_read_models(engine: Engine, read_models: Iterable[Follower]) -> list[Follower]:
    """Return the read models whose stored tables were made from other definitions than the code's."""
    with engine.connect() as conn:
        stored = dict(conn.execute(select(schemas.c.read_model, schemas.c.fingerprint)).all())
    return [rm for rm in read_models if stored.get(rm.name) != fingerprint(rm)]


def record_fingerprint(conn: Connection, read_model: Follower) -> None:
    """Record that the read model's tables now match the code's definitions."""
    conn.execute(
        insert(schemas).values(read_model=read_model.name, fingerprint=fingerprint(read_model))
        .on_conflict_do_update(index_elements=[schemas.c.read_model], set_={"fingerprint": fingerprint(read_model)})
    )


class ReadModelView(TrackingRecorder):
    """The eventsourcing view of a group of read models that follow the log together."""

    def __init__(self, engine: Engine, read_models: Sequence[Follower]):
        self.engine = engine
        self.read_models = list(read_models)

    def insert_tracking(self, tracking: Tracking) -> None:
        with self.engine.begin() as conn:
            advance_all(conn, self.read_models, tracking.application_name, tracking.notification_id)

    def max_tracking_id(self, application_name: str) -> int | None:
        # The group resumes from the read model that is furthest behind; the others skip what they have.
        with self.engine.connect() as conn:
            return min(read_model.position(conn) for read_model in self.read_models) or None


_LOCK_POSITIONS = text(
    "SELECT read_model, notification_id FROM rm_tracking WHERE read_model = ANY(CAST(:names AS text[]))"
    " ORDER BY read_model FOR UPDATE"
)
_ENSURE_ROWS = text(
    "INSERT INTO rm_tracking (read_model, application_name, notification_id)"
    " SELECT name, :application_name, 0 FROM unnest(CAST(:names AS text[])) AS name"
    " ON CONFLICT (read_model) DO NOTHING"
)
_MOVE_TO = text(
    "UPDATE rm_tracking SET notification_id = :position, application_name = :application_name"
    " WHERE read_model = ANY(CAST(:names AS text[])) AND notification_id < :position"
)


class ReadModelProjection(Projection[ReadModelView]):
    """Applies each event to every read model of the group, with their tracking positions, in one transaction.

    Exactly once per read model: a read model that has already applied the event (after a crash, or a
    rebuild that overlapped) skips it; a failure rolls the whole event back and stops the runner.
    While a backlog waits (events already read from the log), `process_events` applies several in one
    transaction under the same rule: one commit instead of one per event.
    """

    def process_event(self, domain_event: Any, tracking: Tracking) -> None:
        with self.view.engine.begin() as conn:
            moved = advance_all(conn, self.view.read_models, tracking.application_name, tracking.notification_id)
            for read_model in self.view.read_models:
                if read_model.name in moved:
                    read_model.apply(conn, domain_event, tracking.notification_id)

    def process_events(self, batch: Sequence[tuple[Any, Tracking]]) -> None:
        """Apply consecutive events in one transaction: lock the group's tracking rows (so a rebuild or another
        runner waits or is waited for), apply each event to the read models that have not yet reached it,
        then move their positions to the last event's."""
        if len(batch) == 1:
            self.process_event(*batch[0])
            return
        read_models = self.view.read_models
        names = [rm.name for rm in read_models]
        application_name = batch[0][1].application_name
        with self.view.engine.begin() as conn:
            conn.execute(_ENSURE_ROWS, {"names": names, "application_name": application_name})
            positions = dict(conn.execute(_LOCK_POSITIONS, {"names": names}).all())
            pending: dict[Flush, list[Any]] = {}
            conn.info[DEFERRED] = pending
            try:
                for domain_event, tracking in batch:
                    position = tracking.notification_id
                    for read_model in read_models:
                        if positions[read_model.name] < position:
                            read_model.apply(conn, domain_event, position)
            finally:
                conn.info.pop(DEFERRED, None)
            for flush, items in pending.items():  # in the order the handlers first deferred
                flush(conn, items)
            conn.execute(_MOVE_TO, {"names": names, "application_name": application_name,
                                    "position": batch[-1][1].notification_id})


@dataclass
class RebuildReport:
    """What a rebuild beside the live tables did, and how long its phases took (seconds)."""

    read_models: list[str]
    events: int = 0  # every event replayed: folded, then caught up
    folded: int = 0
    caught_up: int = 0
    position: int = 0  # the log position the swapped-in tables are at
    build_seconds: float = 0.0
    catch_up_seconds: float = 0.0
    swap_seconds: float = 0.0  # the one transaction that holds the tracking rows and the live tables' locks
    lock_attempts: int = 0


class RebuildRunning(RuntimeError):
    """Raised when another rebuild holds the rebuild lock (one at a time per database)."""


def rebuild(engine: Engine, read_model: Follower, events: Iterable[tuple[int, Any]], application_name: str) -> int:
    """Drop and recreate the read model's tables, then replay the events one by one as SQL; return how many.

    The per-event reference replay (the tests hold the bulk rebuild equal to it). The operator's rebuilds go
    beside the live tables instead (projections/bulk.py `rebuild_beside`, ADR 025): this one stalls the live runner.

    All in one transaction that holds the tracking row's lock: a live runner that meets a new event
    meanwhile waits, then skips what the rebuild replayed, so no row is lost or applied twice; and
    readers never see a half-built read model.
    """
    replayed = 0
    with engine.begin() as conn:
        conn.execute(
            insert(tracking)
            .values(read_model=read_model.name, application_name=application_name, notification_id=0)
            .on_conflict_do_nothing(index_elements=[tracking.c.read_model])
        )
        conn.execute(
            select(tracking.c.notification_id).where(tracking.c.read_model == read_model.name).with_for_update()
        )
        for table in reversed(read_model.tables):
            table.drop(conn, checkfirst=True)
        security.protect(metadata)
        for table in read_model.tables:
            table.create(conn)
        conn.execute(tracking.update().where(tracking.c.read_model == read_model.name).values(notification_id=0))
        last = 0
        for position, event in events:
            read_model.apply(conn, event, position)
            last = position
            replayed += 1
        if replayed:
            read_model.advance(conn, application_name, last)
        record_fingerprint(conn, read_model)
    return replayed


class PositionNotReached(Exception):
    """Raised when a read model does not reach the requested position in time."""


def wait_for_position(engine: Engine, read_model: Follower, position: int, timeout: float) -> None:
    """Block until the read model has processed the position, or raise PositionNotReached."""
    deadline = time.monotonic() + timeout
    pause = 0.002
    while True:
        with engine.connect() as conn:
            if read_model.position(conn) >= position:
                return
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise PositionNotReached(position)
        time.sleep(min(pause, remaining))
        pause = min(pause * 2, 0.05)


def wait_on_standby(standby: Engine, primary: Engine, read_model: Follower, position: int, timeout: float) -> Engine:
    """Return the engine a read that must show `position` reads from: the standby once it has replayed the read
    model's tracking row up to it, else (from half the timeout on, or at once if the standby does not answer) the
    primary once its read model has; raise PositionNotReached when neither has within the timeout."""
    deadline = time.monotonic() + timeout
    halfway = deadline - timeout / 2
    pause = 0.002
    standby_answers = True
    while True:
        if standby_answers:
            try:
                with standby.connect() as conn:
                    if read_model.position(conn) >= position:
                        return standby
            except exc.OperationalError:
                standby_answers = False
        if not standby_answers or time.monotonic() >= halfway:
            with primary.connect() as conn:
                if read_model.position(conn) >= position:
                    return primary
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise PositionNotReached(position)
        time.sleep(min(pause, remaining))
        pause = min(pause * 2, 0.05)


# Cursors: the opaque form of the last row's sequence number, so pages never skip or repeat.

class BadCursor(ValueError):
    """Raised when a cursor was not made by this service."""


def encode_cursor(seq: int) -> str:
    """Return the opaque cursor that continues after the row with this sequence number."""
    return base64.urlsafe_b64encode(f"s{seq}".encode()).decode().rstrip("=")


def decode_cursor(cursor: str | None) -> int:
    """Return the sequence number a cursor continues after (0 for none)."""
    if not cursor:
        return 0
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise BadCursor(cursor) from None
    # ASCII digits only ("²" is a digit to str.isdigit() but not to int()), and few enough to fit a BIGINT.
    digits = raw[1:]
    if not raw.startswith("s") or not digits.isascii() or not digits.isdigit() or len(digits) > 18:
        raise BadCursor(cursor)
    return int(raw[1:])


def page(rows: list[Any], limit: int, key: str = "seq") -> tuple[list[Any], str | None]:
    """Split a query's rows (fetched with limit + 1, ordered by `key`) into a page and the next cursor."""
    if len(rows) > limit:
        return rows[:limit], encode_cursor(getattr(rows[limit - 1], key))
    return rows, None
