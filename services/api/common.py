"""What every blueprint shares: the runtime, the caller, command context, pages and positions."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, timezone
from typing import Any, Callable
from uuid import uuid4

from flask import current_app, g, has_request_context, request
from marshmallow import Schema, ValidationError, fields, validate
from sqlalchemy import Connection, Engine

from domain import days
from domain.base import Actor, Context, InvalidValue, Phrase, day_of
from domain.text import multi_line_problem, single_line_problem
from projections import security
from projections.base import ReadModel, decode_cursor, wait_for_position
from services.applications import Platform
from services.auth import Caller
from services.config import Settings
from services.replica import ReadRouting


@dataclass
class Runtime:
    """The per-process objects the API works with: built in the worker, after fork."""

    settings: Settings
    platform: Platform
    primary: Engine
    clock: Callable[[], datetime]
    reads: ReadRouting | None = None

    @property
    def engine(self) -> Engine:
        """The engine this request works through: the standby's for an API read while one is configured
        (services/replica.py), else the primary's."""
        return self.primary if self.reads is None else self.reads.engine()

    def today(self) -> date:
        """Return the platform's day at this moment of the clock (domain.base.day_of: Kazakhstan's)."""
        return day_of(self.clock())


def runtime() -> Runtime:
    """Return this process's runtime."""
    return current_app.extensions["methodical"]


def caller() -> Caller:
    """Return the authenticated caller of this request."""
    return g.caller


def context(actor: Actor) -> Context:
    """Return the context of a command made in this request by the actor."""
    now = runtime().clock()
    if now.tzinfo is None:
        now = now.replace(tzinfo=timezone.utc)
    return Context(actor=actor, request_id=g.request_id, now=now, ids=uuid4)


def storable(value: str) -> None:
    """Refuse a one-line value that PostgreSQL cannot store or that hides characters (domain/text.py)."""
    problem = single_line_problem(value)
    if problem:
        raise ValidationError(problem)


class Text(fields.String):
    """A multi-line text a client sends (a body, minutes, remarks): any language, tabs and line breaks, and no
    other control character (domain/text.py)."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> str:
        text = super()._deserialize(value, attr, data, **kwargs)
        problem = multi_line_problem(text)
        if problem:
            raise ValidationError(problem)
        return text


class Name(fields.String):
    """A name or title a client sends: one line of visible text in any language, stored exactly as sent."""

    def __init__(self, **kwargs: Any) -> None:
        # Said in the OpenAPI document, so that clients (and the bad-input tests) know the field is one line.
        kwargs["metadata"] = {"x-single-line": True, **kwargs.get("metadata", {})}
        super().__init__(**kwargs)

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> str:
        text = super()._deserialize(value, attr, data, **kwargs)
        storable(text)
        return text


_ISO_MOMENT = re.compile(r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d{1,6})?)?(Z|[+-]\d{2}:\d{2})?$")


def _check_bounds(day: date) -> None:
    if not days.EARLIEST <= day <= days.LATEST:
        raise ValidationError(Phrase("A date lies between %(earliest)s and %(latest)s.",
                                     earliest=days.EARLIEST.isoformat(), latest=days.LATEST.isoformat()))


class Day(fields.Date):
    """A day a client sends: ISO 8601's extended form YYYY-MM-DD only (not 20260901), between 2000 and 2099."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> date:
        try:
            return days.parse_day(value)
        except InvalidValue as refused:
            raise ValidationError(refused.message) from None


class Moment(fields.AwareDateTime):
    """A moment a client sends: ISO 8601's extended form (2026-09-01T08:30:00+05:00), between 2000 and 2099."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> datetime:
        if not isinstance(value, str) or not _ISO_MOMENT.match(value):
            raise ValidationError("Send a time as YYYY-MM-DDTHH:MM:SS with an offset (or Z).")
        moment = super()._deserialize(value, attr, data, **kwargs)
        _check_bounds(moment.astimezone(timezone.utc).date())
        return moment


class PageArgs(Schema):
    """Query arguments of every list."""

    limit = fields.Integer(load_default=50, validate=validate.Range(min=1, max=500))
    cursor = fields.String(load_default=None)


def page_after(args: dict[str, Any]) -> int:
    """Return the sequence number a page starts after."""
    return decode_cursor(args.get("cursor"))


class PositionSchema(Schema):
    """Beside every command's result: where its last event stands in the log."""

    position = fields.String(
        metadata={"description": "Event-log position of the command's last event; send it as X-Min-Position."}
    )


def catch_up(read_model: ReadModel) -> None:
    """Wait until the read model has processed the position the client sent in X-Min-Position."""
    raw = request.headers.get("X-Min-Position")
    if raw is None or raw.strip() == "":
        return

    raw = raw.strip()
    if not raw.isascii() or not raw.isdigit() or len(raw) > 18:
        raise InvalidValue("X-Min-Position must be a position this service returned.", field="X-Min-Position")
    rt = runtime()
    if rt.reads is not None:
        rt.reads.catch_up(read_model, int(raw), rt.settings.min_position_timeout)
    else:
        wait_for_position(rt.engine, read_model, int(raw), rt.settings.min_position_timeout)


def with_position(body: dict[str, Any], position: int) -> dict[str, Any]:
    """Return a command's response body with its position."""
    return {**body, "position": str(position)}


def enter_scope(conn: Connection) -> None:
    """Begin hook of the web engine: every transaction a request opens enters its caller's scope, which
    row-level security bounds every read-model query by (projections/security.py); outside a request, or
    before authentication, a transaction enters none and sees no tenant's rows."""
    if not has_request_context():
        return
    who: Caller | None = g.get("caller")
    if who is None:
        return
    person = who.person
    security.enter(conn, person.id if person else None, who.tenant_id, who.is_operator, runtime().today())
