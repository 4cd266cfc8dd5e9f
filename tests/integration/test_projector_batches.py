"""The live projector's batches (events already read from the log, applied in one transaction) keep exactly-once."""

from __future__ import annotations

from typing import Any

import pytest
from eventsourcing.persistence import Tracking
from sqlalchemy import BigInteger, Column, MetaData, Table, select, text

from projections.base import ReadModel, ReadModelProjection, ReadModelView

own = MetaData()
applied = Table("test_batch_applied", own, Column("position", BigInteger, primary_key=True))


class Boom(Exception):
    pass


def make(engine: Any, name: str, fail_at: int | None = None) -> tuple[ReadModel, ReadModelProjection]:
    def record(conn: Any, event: Any, position: int) -> None:
        if position == fail_at:
            raise Boom(position)
        conn.execute(applied.insert().values(position=position))

    read_model = ReadModel(name, [applied], fallback=record)
    return read_model, ReadModelProjection(ReadModelView(engine, [read_model]))


def positions(engine: Any) -> list[int]:
    with engine.connect() as conn:
        return list(conn.execute(select(applied.c.position).order_by(applied.c.position)).scalars())


@pytest.fixture
def clean(engine: Any) -> Any:
    own.create_all(engine)
    with engine.begin() as conn:
        conn.execute(applied.delete())
        conn.execute(text("DELETE FROM rm_tracking WHERE read_model LIKE 'test_batch%'"))
    yield
    with engine.begin() as conn:
        conn.execute(text("DELETE FROM rm_tracking WHERE read_model LIKE 'test_batch%'"))
    own.drop_all(engine)


def batch(*numbers: int) -> list[tuple[Any, Tracking]]:
    return [(object(), Tracking("app", n)) for n in numbers]


def test_a_batch_applies_only_what_the_read_model_has_not_reached_and_only_once(engine, clean):
    read_model, projection = make(engine, "test_batch_once")
    with engine.begin() as conn:
        # As if a rebuild had covered up to 11.
        conn.execute(text("INSERT INTO rm_tracking VALUES ('test_batch_once', 'app', 11)"))

    projection.process_events(batch(10, 11, 12, 13))
    projection.process_events(batch(10, 11, 12, 13))  # delivered again (a restart): nothing twice

    assert positions(engine) == [12, 13]
    with engine.connect() as conn:
        assert read_model.position(conn) == 13


def test_a_failure_in_a_batch_rolls_the_whole_batch_back(engine, clean):
    read_model, projection = make(engine, "test_batch_fail", fail_at=22)

    with pytest.raises(Boom):
        projection.process_events(batch(20, 21, 22, 23))

    assert positions(engine) == []
    with engine.connect() as conn:
        assert read_model.position(conn) == 0
    _, fixed = make(engine, "test_batch_fail")
    fixed.process_events(batch(20, 21, 22, 23))
    assert positions(engine) == [20, 21, 22, 23]
