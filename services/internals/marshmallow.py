"""marshmallow internals: what services/api/fastdump.py reads of a schema to dump it faster, as schema.dump would."""

from __future__ import annotations

from importlib.metadata import version
from typing import Any, Callable

from marshmallow import Schema, fields, post_dump, pre_dump
from marshmallow.decorators import POST_DUMP, PRE_DUMP

from services.internals import Use

CHECKED_ON = "4.4.0"
USES = (
    Use("Schema._hooks", "services/api/fastdump.py (compile_schema, _value)",
        "a schema with pre- or post-dump hooks is left to schema.dump; marshmallow registers the hooks there and "
        "has no public question 'does this schema have dump hooks'."),
    Use("Field._serialize", "services/api/fastdump.py (_value)",
        "the documented method a custom field overrides; the fast dump calls it for one value, without the "
        "attribute lookup Field.serialize repeats."),
    Use("Field._CHECK_ATTRIBUTE", "services/api/fastdump.py (compile_schema)",
        "fields that take no attribute (Method, Function) are left to schema.dump."),
)


def has_dump_hooks(schema: Schema) -> bool:
    """Return whether the schema runs code of its own before or after dumping."""
    hooks = schema._hooks  # noqa: SLF001 - see USES
    return bool(hooks[PRE_DUMP] or hooks[POST_DUMP])


def serializer(field: fields.Field) -> Callable[[Any, str, Any], Any]:
    """Return the field's own formatting of one value (value, attribute name, object)."""
    return field._serialize  # noqa: SLF001 - see USES


def reads_attribute(field: fields.Field) -> bool:
    """Return whether the field's value is the object's attribute (not computed by a method or function)."""
    return bool(field._CHECK_ATTRIBUTE)  # noqa: SLF001 - see USES


def problems() -> list[str]:
    """Return what no longer holds of the uses above in the installed marshmallow (empty when all do)."""
    found = []
    if version("marshmallow") != CHECKED_ON:
        found.append(f"marshmallow {version('marshmallow')} is installed; the uses were checked on {CHECKED_ON}")

    class Plain(Schema):
        name = fields.String()
        shout = fields.Function(lambda obj: obj["name"].upper())

    class Hooked(Plain):
        @pre_dump
        def before(self, data: Any, **kwargs: Any) -> Any:
            return data

        @post_dump
        def after(self, data: Any, **kwargs: Any) -> Any:
            return data

    try:
        if has_dump_hooks(Plain()) or not has_dump_hooks(Hooked()):
            found.append("Schema._hooks no longer tells a schema with dump hooks")
        plain = Plain()
        if serializer(plain.fields["name"])(7, "name", {}) != "7":
            found.append("Field._serialize no longer formats one value")
        if not reads_attribute(plain.fields["name"]) or reads_attribute(plain.fields["shout"]):
            found.append("Field._CHECK_ATTRIBUTE no longer tells attribute fields")
    except (AttributeError, KeyError, TypeError) as error:
        found.append(f"marshmallow's internals moved: {error!r}")
    return found
