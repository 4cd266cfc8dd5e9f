"""How every JSON body is read: strictly, so that what one reader sees is what every reader sees.

Python's json module accepts what RFC 8259 leaves open and other parsers treat differently: a key given twice
in one object (the last wins here, the first in some proxies and gateways), NaN and Infinity, and numbers of
any length (a 5,000-digit integer raises a ValueError past Python's int-conversion limit, a 1e999 becomes
infinity). Each is refused here with a 400 problem naming what to change, before a schema sees the body.
"""

from __future__ import annotations

import json
import math
from typing import Any

import flask_smorest
from flask import Flask, Response
from webargs import core
from webargs.flaskparser import FlaskParser, is_json_request

from domain.base import Phrase
from services.api import errors

# An integer of the body fits PostgreSQL's bigint (19 digits); a decimal number is a few dozen characters.
MAX_INTEGER_DIGITS = 19
MAX_NUMBER_CHARS = 40


class UnreadableBody(Exception):
    """Raised when a request's JSON body cannot be read as one unambiguous document."""

    def __init__(self, detail: str):
        super().__init__(detail)
        self.detail = detail


def _object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise UnreadableBody(Phrase("The key %(key)r appears more than once in one object; send it once.", key=key))
        result[key] = value
    return result


def _integer(text: str) -> int:
    if len(text.lstrip("-")) > MAX_INTEGER_DIGITS:
        raise UnreadableBody(Phrase("A number in the body has more than %(digits)s digits.",
                                    digits=MAX_INTEGER_DIGITS))
    return int(text)


def _number(text: str) -> float:
    value = float(text) if len(text) <= MAX_NUMBER_CHARS else math.inf
    if not math.isfinite(value):
        raise UnreadableBody(Phrase("A number in the body is too long or too large (%(number)s...).",
                                    number=text[:20]))
    return value


def _constant(name: str) -> Any:
    raise UnreadableBody(Phrase("%(name)s is not a JSON number; send a finite number.", name=name))


def loads(text: str | bytes) -> Any:
    """Parse a JSON document, refusing duplicate keys, NaN and Infinity, and oversized numbers."""
    try:
        # Decoded strictly first: json.loads of bytes would let encoded surrogates through and drop a BOM.
        if isinstance(text, bytes):
            text = text.decode("utf-8")
        return json.loads(text, object_pairs_hook=_object, parse_int=_integer, parse_float=_number,
                          parse_constant=_constant)
    except UnicodeDecodeError:
        raise UnreadableBody("The request body is not valid UTF-8.") from None
    except json.JSONDecodeError as error:
        raise UnreadableBody(Phrase("The request body is not valid JSON (%(why)s at line %(line)s, column "
                                    "%(column)s).", why=error.msg, line=error.lineno, column=error.colno)) from None


class StrictJsonParser(FlaskParser):
    """webargs' Flask parser, reading JSON bodies with loads() above."""

    def _raw_load_json(self, req: Any) -> Any:
        if not is_json_request(req):
            return core.missing
        return loads(req.get_data(cache=True))


class Blueprint(flask_smorest.Blueprint):
    """A flask-smorest blueprint whose arguments are parsed by StrictJsonParser: every API blueprint is one."""

    ARGUMENTS_PARSER = StrictJsonParser()


def install(app: Flask) -> None:
    """Answer an unreadable body with a 400 problem that says what to change."""

    @app.errorhandler(UnreadableBody)
    def unreadable(error: UnreadableBody) -> Response:
        return errors.problem(400, error.detail)
