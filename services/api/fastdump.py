"""Large read responses, serialised to exactly the JSON marshmallow would produce, in a fraction of its time.

A page of units carries every member of every unit; marshmallow spends most of such a request walking its
fields generically (several calls per value). `respond(Schema, body)` compiles the schema once into plain
functions: the same declared fields in the same order, the same keys (`data_key`), the same attribute lookup
(a key, then an attribute), `dump_default` for a missing value, and each value formatted by the field's own
`_serialize` (UUID and String inlined: `str`). A schema with dump hooks, or a field kind it does not know, is
left to marshmallow itself. The route keeps its `@blp.response(200, Schema)`, which documents the response and
serialises anything returned as a plain body; the Response returned here passes through it unchanged.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import Response, current_app
from marshmallow import Schema, fields, missing
from sqlalchemy import Row

from services.internals import marshmallow as marshmallow_internals

Dump = Callable[[Any], Any]

_compiled: dict[type[Schema], Dump] = {}


def respond(schema: type[Schema], body: Any) -> Response:
    """Return the JSON response of body as the schema serialises it."""
    dump = _compiled.get(schema)
    if dump is None:
        dump = _compiled[schema] = compile_schema(schema())
    return current_app.json.response(dump(body))


def _get(obj: Any, key: str) -> Any:
    # marshmallow.utils._get_value_for_key: obj[key], else the attribute. Dicts and read-model rows first: most
    # bodies are one or the other, and a row refuses every string index (TypeError), so its attribute it is.
    kind = type(obj)
    if kind is dict:
        try:
            return obj[key]
        except KeyError:
            return getattr(obj, key, missing)
    if kind is Row:
        return getattr(obj, key, missing)
    if not hasattr(obj, "__getitem__"):
        return getattr(obj, key, missing)
    try:
        return obj[key]
    except (KeyError, IndexError, TypeError, AttributeError):
        return getattr(obj, key, missing)


def _text(value: Any) -> Any:
    if value is None:
        return None
    return value.decode("utf-8") if isinstance(value, bytes) else str(value)


def compile_schema(schema: Schema) -> Dump:
    """Return a function serialising one object (or, for a `many` schema, a list) as schema.dump does."""
    if marshmallow_internals.has_dump_hooks(schema):
        return schema.dump
    plan = []
    for name, field in schema.dump_fields.items():
        if "." in (field.attribute or name) or not marshmallow_internals.reads_attribute(field):
            return schema.dump  # dotted paths and attribute-less fields: marshmallow's own way
        plan.append((field.attribute or name, field.data_key if field.data_key is not None else name,
                     field.dump_default, _value(field, name)))

    def dump_one(obj: Any) -> dict[str, Any]:
        out = {}
        for attribute, key, default, convert in plan:
            value = _get(obj, attribute)
            if value is missing:
                value = default() if callable(default) else default
                if value is missing:
                    continue
            out[key] = convert(value, obj)
        return out

    if schema.many:
        return lambda objs: None if objs is None else [dump_one(o) for o in objs]
    return dump_one


def _value(field: fields.Field, name: str) -> Callable[[Any, Any], Any]:
    """Return how the field formats a value it has found (the field's `_serialize`, specialised where plain)."""
    kind = type(field)
    if kind in (fields.UUID, fields.String):
        return lambda value, obj: _text(value)
    if kind is fields.Nested:
        nested = field.schema
        many = nested.many or field.many
        if nested.many or marshmallow_internals.has_dump_hooks(nested):
            return lambda value, obj: None if value is None else nested.dump(value, many=many)
        one = compile_schema(nested)
        if many:
            return lambda value, obj: None if value is None else [one(v) for v in value]
        return lambda value, obj: None if value is None else one(value)
    if kind is fields.List:
        inner = _value(field.inner, name)
        return lambda value, obj: None if value is None else [inner(v, obj) for v in value]
    serialize = marshmallow_internals.serializer(field)
    return lambda value, obj: serialize(value, name, obj)

