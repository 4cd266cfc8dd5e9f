"""The two stores of projections/rows.py do the same thing: one script of row operations, applied as SQL and in
memory, returns the same rows at every step and leaves the same table (the read models' handlers are such
scripts; tests/integration/test_bulk_rebuild.py compares what they leave on real events)."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import BigInteger, Column, MetaData, Table, Text, select

from projections.rows import MemoryRows, Rows, SqlRows

own = MetaData()
items = Table(
    "test_rows_items", own,
    Column("id", BigInteger, primary_key=True),
    Column("grp", Text, nullable=False),
    Column("flag", Text),
    Column("n", BigInteger),
)
pairs = Table(
    "test_rows_pairs", own,
    Column("a", BigInteger, primary_key=True),
    Column("b", BigInteger, primary_key=True),
    Column("note", Text),
)


def norm(rows: Any) -> Any:
    """Rows as sorted plain dicts (neither store promises an order), a row as a dict, None as None."""
    if rows is None:
        return None
    if isinstance(rows, list):
        return sorted((dict(r) for r in rows), key=repr)
    return dict(rows)


def script(rows: Rows) -> list[Any]:
    """Every operation, with the edge cases the handlers rely on; return what each read returned."""
    seen: list[Any] = []
    for i in range(1, 7):
        rows.insert(items, dict(id=i, grp="x" if i % 2 else "y", n=i))  # flag left out: NULL
    rows.insert(pairs, dict(a=1, b=2, note="first"))
    rows.insert(pairs, dict(a=1, b=3))
    seen.append(norm(rows.find(items, grp="x")))  # the memory store's index on grp is made here
    seen.append(norm(rows.find(items, grp="x", flag=None)))  # None matches NULL
    rows.update(items, 1, grp="y", flag="moved")  # an indexed column changes: the row moves between groups
    seen.append(norm(rows.find(items, grp="x")))
    seen.append(norm(rows.find(items, grp="y")))
    seen.append(norm(rows.find(items, grp="y", flag="moved")))
    changed = rows.update_where(items, dict(grp="y", flag=None), flag="swept", n=0)
    seen.append(norm(changed))
    seen.append(norm(rows.find(items, flag="swept", grp="y")))  # an index on flag, made after the changes
    three = rows.get(items, 3)
    seen.append(norm(three))
    assert three is not None
    rows.change(items, three, grp="z", n=33)
    seen.append(norm(rows.find(items, grp="z")))
    rows.delete(items, 5)
    rows.delete(items, 99)  # nothing to delete: nothing happens
    rows.update(items, 98, n=1)  # nothing to update: nothing happens
    seen.append(norm(rows.get(items, 5)))
    seen.append(norm(rows.find(items, grp="x")))
    seen.append(norm(rows.get(pairs, (1, 2))))
    rows.update(pairs, (1, 3), note="second")
    rows.delete(pairs, (1, 2))
    seen.append(norm(rows.find(pairs, a=1)))
    return seen


@pytest.fixture
def tables(engine: Any) -> Any:
    own.drop_all(engine)
    own.create_all(engine)
    yield
    own.drop_all(engine)


def test_the_sql_and_the_memory_store_return_and_leave_the_same_rows(engine, tables):
    with engine.begin() as conn:
        live = script(SqlRows(conn))
    with engine.connect() as conn:
        left_by_sql = {t.name: norm(list(conn.execute(select(t)).mappings())) for t in (items, pairs)}

    memory = MemoryRows([items, pairs])
    in_memory = script(memory)
    left_in_memory = {t.name: norm(list(memory.rows_of(t)[1])) for t in (items, pairs)}

    assert in_memory == live
    assert left_in_memory == left_by_sql
    # The script did what it says (so the comparison is not of two empty results).
    assert live[2] == [{"id": i, "grp": "x", "flag": None, "n": i} for i in (3, 5)]
    assert left_by_sql["test_rows_items"] == [
        {"id": 1, "grp": "y", "flag": "moved", "n": 1}, {"id": 2, "grp": "y", "flag": "swept", "n": 0},
        {"id": 3, "grp": "z", "flag": None, "n": 33}, {"id": 4, "grp": "y", "flag": "swept", "n": 0},
        {"id": 6, "grp": "y", "flag": "swept", "n": 0}]
    assert left_by_sql["test_rows_pairs"] == [{"a": 1, "b": 3, "note": "second"}]


def test_appended_rows_are_kept_in_column_order_or_handed_to_a_stream():
    memory = MemoryRows([items])
    memory.append(items, (1, "x", None, 5))
    streamed: list[tuple[Any, ...]] = []
    memory.stream(items, streamed.append)
    memory.append(items, (2, "y", None, 6))
    memory.stream(items, None)
    memory.append(items, (3, "z", None, 7))
    assert memory.rows_of(items)[0] == [(1, "x", None, 5), (3, "z", None, 7)]
    assert streamed == [(2, "y", None, 6)]
