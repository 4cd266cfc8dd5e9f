"""The rows a read model's handlers write: one interface, applied as SQL live and in memory by the bulk rebuild.

Each read model's handlers (projections/<name>.py) say what an event does to its tables through `Rows`: insert a
row, read one by its primary key, find rows by column values, update or delete them, append a row that never
changes. They are written once. Two stores carry them out:

- `SqlRows`, for the live projector and the per-event rebuild: each operation is a SQL statement in the caller's
  transaction (the one that moves the tracking position, so exactly-once is the projector's, unchanged);
- `MemoryRows`, for the bulk rebuild (projections/bulk.py): each table's rows are dicts in memory, found by their
  primary key or through an index per column the handlers look rows up by, and COPYed into the tables at the end.

The rules that keep the two alike (tests/integration/test_bulk_rebuild.py checks the tables they leave are equal):

- a row handed out is read-only (SQL gives an immutable mapping; the memory store gives its own dict, for speed):
  change it through `update` or `change`, and do not read it again after changing it (the SQL one is a snapshot);
- `find` promises no order: a handler that needs one sorts;
- `find`'s first column is the one to look up by (the memory store indexes it; the others filter);
- `append` is for rows no handler reads back (the audit index): the live store may defer them to the end of its
  batch of events, the bulk store streams them into their COPY while the log is read.
"""

from __future__ import annotations

import operator
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, Protocol

from sqlalchemy import Connection, Table, and_, bindparam, select


class Rows(Protocol):
    """What a read model's handler may do to its tables."""

    def insert(self, table: Table, row: dict[str, Any]) -> None:
        """Add a row (columns left out are NULL)."""

    def append(self, table: Table, row: tuple[Any, ...]) -> None:
        """Add a row that no handler reads back, its values in the table's column order."""

    def get(self, table: Table, key: Any) -> Mapping[str, Any] | None:
        """Return the row with this primary key (a tuple for a composite key), or None."""

    def find(self, table: Table, **match: Any) -> list[Mapping[str, Any]]:
        """Return the rows whose columns equal the values (None matches NULL), in no particular order."""

    def update(self, table: Table, key: Any, **values: Any) -> None:
        """Set columns of the row with this primary key (nothing if there is none)."""

    def change(self, table: Table, row: Mapping[str, Any], **values: Any) -> None:
        """Set columns of a row `get` or `find` returned (by its primary key: no second lookup in memory)."""

    def update_where(self, table: Table, match: dict[str, Any], **values: Any) -> list[Mapping[str, Any]]:
        """Set columns of every row `find(table, **match)` returns; return those rows as updated."""

    def delete(self, table: Table, key: Any) -> None:
        """Remove the row with this primary key (nothing if there is none)."""


def _key_names(table: Table) -> list[str]:
    return [column.name for column in table.primary_key.columns]


# Live: SQL statements


# Writes a handler may leave to the end of a batch (see `defer`): the connection's info holds them meanwhile.
DEFERRED = "methodical_deferred_writes"
Flush = Callable[[Connection, list[Any]], None]


def defer(conn: Connection, flush: Flush, item: Any) -> bool:
    """Leave `item` to be written by `flush(conn, items)` once, with the others of the batch being applied.

    Only while a batch of events is applied in one transaction (`ReadModelProjection.process_events`): there
    an append-only write (the audit index's row, the chain's link) costs one statement for the whole batch
    instead of one per event. Returns False otherwise, and the handler writes at once.
    """
    pending: dict[Flush, list[Any]] | None = conn.info.get(DEFERRED)
    if pending is None:
        return False
    pending.setdefault(flush, []).append(item)
    return True


# One statement object per shape (table, operation, columns): SQLAlchemy compiles each once, where building a
# statement per event (a bound parameter and a cache key per column) cost a fifth of the projector's time.
_STATEMENTS: dict[tuple[Any, ...], Any] = {}


def _statement(key: tuple[Any, ...], build: Callable[[], Any]) -> Any:
    found = _STATEMENTS.get(key)
    if found is None:
        found = _STATEMENTS[key] = build()
    return found


def _where(table: Table, names: Sequence[str], nulls: Sequence[bool], prefix: str) -> Any:
    return and_(*[table.c[name].is_(None) if null else table.c[name] == bindparam(prefix + name)
                  for name, null in zip(names, nulls)])


def _by_key(table: Table, key: Any) -> dict[str, Any]:
    names = _key_names(table)
    values = key if len(names) > 1 else (key,)
    return {"k_" + name: value for name, value in zip(names, values)}


def _appender(table: Table) -> Callable[[Connection, list[tuple[Any, ...]]], None]:
    """The function that inserts a batch's appended rows of the table in one statement (one per table)."""
    return _statement(("append", table), lambda: _make_appender(table))


def _make_appender(table: Table) -> Callable[[Connection, list[tuple[Any, ...]]], None]:
    names = [column.name for column in table.columns]
    statement = table.insert()

    def insert_appended(conn: Connection, rows: list[tuple[Any, ...]]) -> None:
        conn.execute(statement, [dict(zip(names, row)) for row in rows])

    return insert_appended


class SqlRows:
    """The handlers' operations as SQL statements on the caller's connection (and transaction)."""

    __slots__ = ("conn",)

    def __init__(self, conn: Connection):
        self.conn = conn

    def insert(self, table: Table, row: dict[str, Any]) -> None:
        self.conn.execute(_statement(("insert", table), table.insert), row)

    def append(self, table: Table, row: tuple[Any, ...]) -> None:
        # In a batch of events (`ReadModelProjection.process_events`), one statement for all of the batch's rows.
        if not defer(self.conn, _appender(table), row):
            _appender(table)(self.conn, [row])

    def get(self, table: Table, key: Any) -> Mapping[str, Any] | None:
        names = _key_names(table)
        statement = _statement(("get", table), lambda: select(table).where(
            _where(table, names, [False] * len(names), "k_")))
        return self.conn.execute(statement, _by_key(table, key)).mappings().first()

    def find(self, table: Table, **match: Any) -> list[Mapping[str, Any]]:
        names, nulls = tuple(match), tuple(value is None for value in match.values())
        statement = _statement(("find", table, names, nulls), lambda: select(table).where(
            _where(table, names, nulls, "m_")))
        return list(self.conn.execute(statement, {"m_" + n: v for n, v in match.items() if v is not None}).mappings())

    def update(self, table: Table, key: Any, **values: Any) -> None:
        names = _key_names(table)
        columns = tuple(values)
        statement = _statement(("update", table, columns), lambda: table.update().where(
            _where(table, names, [False] * len(names), "k_")).values({c: bindparam("v_" + c) for c in columns}))
        self.conn.execute(statement, {**_by_key(table, key), **{"v_" + c: v for c, v in values.items()}})

    def change(self, table: Table, row: Mapping[str, Any], **values: Any) -> None:
        names = _key_names(table)
        self.update(table, row[names[0]] if len(names) == 1 else tuple(row[n] for n in names), **values)

    def update_where(self, table: Table, match: dict[str, Any], **values: Any) -> list[Mapping[str, Any]]:
        names, nulls, columns = tuple(match), tuple(value is None for value in match.values()), tuple(values)
        statement = _statement(("update_where", table, names, nulls, columns), lambda: table.update().where(
            _where(table, names, nulls, "m_")).values({c: bindparam("v_" + c) for c in columns})
            .returning(*table.columns))
        params = {"m_" + n: v for n, v in match.items() if v is not None}
        params.update({"v_" + c: v for c, v in values.items()})
        return list(self.conn.execute(statement, params).mappings())

    def delete(self, table: Table, key: Any) -> None:
        names = _key_names(table)
        statement = _statement(("delete", table), lambda: table.delete().where(
            _where(table, names, [False] * len(names), "k_")))
        self.conn.execute(statement, _by_key(table, key))


# Bulk: rows in memory


class _Held:
    """One table's rows in memory, with the lookups the handlers asked for: by primary key, and an index per column
    looked up by; each made on its first use and kept up to date from then on (a UUID's hash is computed in Python,
    so a lookup nobody asks for is not kept)."""

    __slots__ = ("rows", "key", "keyed", "blank", "indexes", "appended", "append")

    def __init__(self, table: Table):
        self.rows: dict[int, dict[str, Any]] = {}  # every row, by its id(): in insertion order, removed at once
        self.key = operator.itemgetter(*_key_names(table))  # a value for one column, a tuple for several
        self.keyed: dict[Any, dict[str, Any]] | None = None
        self.blank = dict.fromkeys(column.name for column in table.columns)
        self.indexes: dict[str, defaultdict[Any, list[dict[str, Any]]]] = {}
        self.appended: list[tuple[Any, ...]] = []
        self.append: Callable[[tuple[Any, ...]], Any] = self.appended.append

    def by_key(self) -> dict[Any, dict[str, Any]]:
        """The rows by primary key. A second row with a key already held stays in `rows` (and is not found by its
        key): the COPY refuses it, as the live INSERT would."""
        keyed = self.keyed
        if keyed is None:
            keyed = self.keyed = {}
            for row in self.rows.values():
                keyed.setdefault(self.key(row), row)
        return keyed

    def index(self, column: str) -> defaultdict[Any, list[dict[str, Any]]]:
        """The rows by the column's value."""
        index = self.indexes.get(column)
        if index is None:
            index = self.indexes[column] = defaultdict(list)
            for row in self.rows.values():
                index[row[column]].append(row)
        return index

    def change(self, row: dict[str, Any], values: dict[str, Any]) -> None:
        if not self.indexes:
            row.update(values)
            return
        moved = [c for c in self.indexes if c in values and values[c] != row[c]]
        for column in moved:
            self.indexes[column][row[column]] = [r for r in self.indexes[column][row[column]] if r is not row]
        row.update(values)
        for column in moved:
            self.indexes[column][row[column]].append(row)

    def remove(self, row: dict[str, Any]) -> None:
        del self.rows[id(row)]
        if self.keyed is not None:
            self.keyed.pop(self.key(row), None)
        for column, index in self.indexes.items():
            index[row[column]] = [r for r in index[row[column]] if r is not row]


class MemoryRows:
    """The handlers' operations on rows held in memory, to be loaded into the tables at the end (the bulk rebuild)."""

    def __init__(self, tables: Iterable[Table]):
        self.held = {table: _Held(table) for table in tables}

    def stream(self, table: Table, write: Callable[[tuple[Any, ...]], Any] | None) -> None:
        """Hand the table's appended rows to `write` as they come (an open COPY's), or keep them again (None)."""
        held = self.held[table]
        held.append = write if write is not None else held.appended.append

    def clear(self) -> None:
        """Let go of every row held."""
        self.held.clear()

    def rows_of(self, table: Table) -> tuple[list[tuple[Any, ...]], Iterable[dict[str, Any]]]:
        """Return the table's appended rows not streamed (tuples) and its other rows (dicts), to be loaded."""
        held = self.held[table]
        return held.appended, held.rows.values()

    def insert(self, table: Table, row: dict[str, Any]) -> None:
        held = self.held[table]
        full = {**held.blank, **row}
        held.rows[id(full)] = full
        if held.keyed is not None:
            held.keyed.setdefault(held.key(full), full)
        if held.indexes:
            for column, index in held.indexes.items():
                index[full[column]].append(full)

    def append(self, table: Table, row: tuple[Any, ...]) -> None:
        self.held[table].append(row)

    def get(self, table: Table, key: Any) -> Mapping[str, Any] | None:
        held = self.held[table]
        return (held.keyed if held.keyed is not None else held.by_key()).get(key)

    def find(self, table: Table, **match: Any) -> list[Mapping[str, Any]]:
        return self._find(self.held[table], match)

    @staticmethod
    def _find(held: _Held, match: dict[str, Any]) -> list[dict[str, Any]]:
        if len(match) == 1:
            (column, value), = match.items()
            return list((held.indexes.get(column) or held.index(column)).get(value, ()))
        if len(match) == 2:
            (column, value), (other, wanted) = match.items()
            return [row for row in (held.indexes.get(column) or held.index(column)).get(value, ())
                    if row[other] == wanted]
        column, *rest = match
        return [row for row in held.index(column).get(match[column], ()) if all(row[c] == match[c] for c in rest)]

    def update(self, table: Table, key: Any, **values: Any) -> None:
        held = self.held[table]
        row = (held.keyed if held.keyed is not None else held.by_key()).get(key)
        if row is not None:
            held.change(row, values)

    def change(self, table: Table, row: Mapping[str, Any], **values: Any) -> None:
        self.held[table].change(row, values)  # type: ignore[arg-type] - this store's own dict

    def update_where(self, table: Table, match: dict[str, Any], **values: Any) -> list[Mapping[str, Any]]:
        held = self.held[table]
        found = self._find(held, match)
        for row in found:
            held.change(row, values)
        return found

    def delete(self, table: Table, key: Any) -> None:
        held = self.held[table]
        row = held.by_key().get(key)
        if row is not None:
            held.remove(row)
