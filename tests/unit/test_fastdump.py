"""The compiled serialisation of large read responses gives exactly what marshmallow's dump gives."""

from __future__ import annotations

import random
import uuid
from collections import namedtuple
from datetime import date, datetime, timedelta, timezone
from typing import Any

import pytest
from marshmallow import Schema, fields
from sqlalchemy import Row
from sqlalchemy.engine.result import IteratorResult, SimpleResultMetaData

from services.api.audit import EventPage
from services.api.circulars import CircularPage
from services.api.compliance import FindingsOut
from services.api.documents import DocumentPage
from services.api.fastdump import compile_schema
from services.api.people import PeoplePage
from services.api.unions import UnionDecisionPage, UnionPage
from services.api.units import MeetingPage, UnitPage


def sample(field: fields.Field, rng: random.Random, depth: int = 0) -> Any:
    """Return a value the field may be given, None now and then (and strings where ids are UUIDs)."""
    if rng.random() < 0.1:
        return None
    if isinstance(field, fields.Nested):
        return body(type(field.schema), rng, depth + 1)
    if isinstance(field, fields.List):
        return [sample(field.inner, rng, depth + 1) for _ in range(rng.randrange(0, 4))]
    if isinstance(field, fields.UUID):
        value = uuid.UUID(int=rng.getrandbits(128))
        return str(value) if rng.random() < 0.3 else value
    if isinstance(field, fields.DateTime):
        return datetime(2026, 1, 1, tzinfo=timezone.utc) + timedelta(seconds=rng.randrange(10**8),
                                                                      microseconds=rng.choice([0, 120, 999999]))
    if isinstance(field, fields.Date):
        return date(2025, 9, 1) + timedelta(days=rng.randrange(700))
    if isinstance(field, fields.Boolean):
        return rng.random() < 0.5
    if isinstance(field, fields.Integer):
        return rng.randrange(-5, 10**6)
    if isinstance(field, fields.Dict):
        return {"title": "Әдістемелік кеңес", "items": [{"due": None, "n": rng.randrange(9)}], "ok": True}
    if isinstance(field, fields.String):
        return rng.choice(["", "Әдістемелік кеңес", "p.7.3", "МО математиков"])
    raise AssertionError(f"no sample for {type(field).__name__}")


def body(schema: type[Schema], rng: random.Random, depth: int = 0) -> Any:
    """Return an object to serialise: a dict, or a row-like object with attributes, some fields missing."""
    values = {field.attribute or name: sample(field, rng, depth) for name, field in schema().dump_fields.items()
              if rng.random() < 0.95}
    values["extra"] = "not in the schema"
    if depth and rng.random() < 0.3:
        return namedtuple("Record", list(values))(**values)
    if depth and rng.random() < 0.5:
        return row(values)
    return values


def row(values: dict[str, Any]) -> Row:
    """Return a read-model row (sqlalchemy's Row) holding the values."""
    names = list(values)
    result = IteratorResult(SimpleResultMetaData(names), iter([tuple(values[n] for n in names)]))
    return result.one()


@pytest.mark.parametrize("schema", [UnitPage, PeoplePage, DocumentPage, FindingsOut, CircularPage, MeetingPage,
                                    UnionPage, UnionDecisionPage, EventPage])
def test_the_compiled_dump_is_marshmallows_dump(schema: type[Schema]) -> None:
    rng = random.Random(583)
    dump = compile_schema(schema())
    for _ in range(200):
        obj = body(schema, rng)
        try:
            expected = schema().dump(obj)
        except Exception as error:  # e.g. a dict without "items" has a method of that name: both refuse it
            with pytest.raises(type(error)):
                dump(obj)
        else:
            assert dump(obj) == expected
