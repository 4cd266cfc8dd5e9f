"""RFC 9457 problem responses: every refusal, from any layer, mapped once."""

from __future__ import annotations

import logging
from typing import Any

import psycopg
import sqlalchemy.exc
from flask import Flask, Response, has_request_context, json, request
from marshmallow import Schema, fields
from werkzeug.exceptions import HTTPException

from domain.base import Conflict, DomainError, NotFound, NotPermitted, Unsupported
from projections.base import BadCursor, PositionNotReached
from services import refusals
from services.applications import StaleWrite
from services.internals import apispec as apispec_internals

log = logging.getLogger(__name__)

PROBLEM = "application/problem+json"


class ProblemSchema(Schema):
    """An RFC 9457 problem: what went wrong, and the clause of the Order where one refuses it."""

    type = fields.String()
    title = fields.String()
    status = fields.Integer()
    detail = fields.String()
    clause = fields.String(metadata={"description": "The clause of Order 583 that refuses the request, e.g. p.26"})
    errors = fields.Dict(
        keys=fields.String(), values=fields.List(fields.String()),
        metadata={"description": "Field -> messages, for invalid input"},
    )
    units = fields.List(fields.Dict(keys=fields.String(), values=fields.String()), metadata={
        "description": "The units a refusal speaks of (named in `detail` as people know them): id and name"})
    carried_out = fields.Dict(keys=fields.String(), values=fields.String(), metadata={
        "description": "On a 409 for an Idempotency-Key whose command was carried out and whose answer was not kept: "
                       "what the command recorded first, its id and kind (Person, Unit, ...), to read instead"})


TITLES = {
    400: "Bad request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not found",
    405: "Method not allowed",
    409: "Conflict",
    413: "Request body too large",
    415: "Unsupported media type",
    422: "Unprocessable content",
    429: "Too many requests",
    500: "Internal server error",
    503: "Service unavailable",
}


def problem(status: int, detail: str, headers: dict[str, str] | None = None, **extra: Any) -> Response:
    """Return a problem+json response, its `title`, `detail` and field messages in the language the request's
    Accept-Language asks for (English when it asks for none of ours: as clients have always read them)."""
    language = refusals.language_of(request.accept_languages) if has_request_context() else refusals.ENGLISH
    body = {
        "type": "about:blank",
        "title": _said(TITLES.get(status, "Error"), language),
        "status": status,
        "detail": _said(detail, language),
    }
    body.update({k: v for k, v in extra.items() if v is not None})
    if language != refusals.ENGLISH and isinstance(body.get("errors"), dict):
        body["errors"] = {field: [_said(m, language) for m in messages] if isinstance(messages, list) else messages
                          for field, messages in body["errors"].items()}
    try:
        data = json.dumps(body, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:
        # A client's lone surrogate echoed back (e.g. as an unknown field's name) has no UTF-8 form: escape it.
        data = json.dumps(body, ensure_ascii=True).encode("ascii")
    response = Response(data, status=status, mimetype=PROBLEM)
    response.headers["Content-Language"] = language
    response.vary.add("Accept-Language")
    for key, value in (headers or {}).items():
        response.headers[key] = value
    return response


def _said(text: Any, language: str) -> Any:
    """Return a problem's words in the language; in English exactly as written."""
    if language == refusals.ENGLISH or not isinstance(text, str):
        return text
    return refusals.say(text, language)


def _flatten(messages: Any, prefix: str = "") -> dict[str, list[str]]:
    """Turn webargs' nested {location: {field: [...]}} messages into field -> messages."""
    flat: dict[str, list[str]] = {}
    if isinstance(messages, dict):
        for key, value in messages.items():
            name = f"{prefix}.{key}" if prefix else str(key)
            if isinstance(value, list) and all(isinstance(v, str) for v in value):
                flat[name] = list(value)
            else:
                flat.update(_flatten(value, name))
    elif isinstance(messages, list):
        flat[prefix or "body"] = [str(m) for m in messages]
    else:
        flat[prefix or "body"] = [str(messages)]
    return flat


def http_problem(error: HTTPException) -> Response:
    """Map a werkzeug/flask-smorest HTTP error to a problem."""
    status = error.code or 500
    data = getattr(error, "data", None) or {}
    messages = data.get("messages")
    headers = dict(data.get("headers") or {})
    if status == 401:
        headers.setdefault("WWW-Authenticate", "Bearer")
    if status == 405 and error.valid_methods:  # type: ignore[attr-defined]
        headers["Allow"] = ", ".join(error.valid_methods)  # type: ignore[attr-defined]
    if messages:
        # webargs nests by location ("json", "query"); clients want the field names.
        errors: dict[str, list[str]] = {}
        for location_messages in messages.values():
            errors.update(_flatten(location_messages))
        if status == 400 or "json" in messages and errors.get("json"):
            return problem(400, "The request body is not valid JSON.", headers)
        return problem(status, "Some fields are invalid.", headers, errors=errors)
    detail = data.get("message") or error.description or TITLES.get(status, "Error")
    return problem(status, str(detail), headers)


# Each kind of domain refusal and its status, most specific first; anything else the domain refuses is 422.
STATUS_OF: tuple[tuple[type[DomainError], int], ...] = (
    (NotFound, 404),
    (NotPermitted, 403),
    (Conflict, 409),
    (Unsupported, 415),
    (DomainError, 422),
)


def status_of(error: DomainError) -> int:
    """Return the HTTP status of a domain refusal."""
    return next(status for kind, status in STATUS_OF if isinstance(error, kind))


def register(app: Flask) -> None:
    """Register the problem mapping for every kind of error the service may meet."""

    @app.errorhandler(DomainError)
    def domain_error(error: DomainError) -> Response:
        errors = {error.field: [error.message]} if error.field else None
        return problem(status_of(error), error.message, clause=error.clause, errors=errors, units=error.units)

    @app.errorhandler(StaleWrite)
    def stale_write(error: StaleWrite) -> Response:
        return problem(409, "Another change to the same object was saved first; read it again and retry.")

    @app.errorhandler(BadCursor)
    def bad_cursor(error: BadCursor) -> Response:
        return problem(422, "This cursor was not issued by this list.", errors={"cursor": ["Invalid cursor."]})

    @app.errorhandler(PositionNotReached)
    def position_not_reached(error: PositionNotReached) -> Response:
        return problem(
            503, "The read model has not yet caught up with the requested position.", {"Retry-After": "1"}
        )

    @app.errorhandler(RecursionError)
    def too_deep(error: RecursionError) -> Response:
        return problem(400, "The request body is nested too deeply.")

    @app.errorhandler(psycopg.OperationalError)
    @app.errorhandler(sqlalchemy.exc.OperationalError)
    @app.errorhandler(sqlalchemy.exc.TimeoutError)
    def database_unavailable(error: Exception) -> Response:
        log.warning("database unavailable: %s", error)
        return problem(503, "The database is not available right now; retry shortly.", {"Retry-After": "2"})

    @app.errorhandler(Exception)
    def unexpected(error: Exception) -> Response:
        if isinstance(error, HTTPException):
            return http_problem(error)
        # eventsourcing wraps driver errors in its own OperationalError class.
        if type(error).__name__ in ("OperationalError", "InterfaceError", "PoolTimeout"):
            return database_unavailable(error)
        log.exception("unexpected error")
        return problem(500, "An unexpected error occurred; it has been logged.")


# The problems the OpenAPI document declares, so that a client (and schemathesis) knows every status it may meet.

_PROBLEM_DESCRIPTIONS = {
    400: "The body is not valid JSON, not UTF-8, or nested too deeply",
    401: "No valid token was sent",
    403: "The caller's role may not do this (auditors may only read)",
    404: "No such object, or one the caller may not know exists",
    409: "A state conflict, or a stale concurrent write",
    413: "The body is over the size limit",
    415: "The body is not application/json in UTF-8",
    422: "Invalid fields (`errors`), or a rule of the Order refuses it (`clause`)",
    429: "Too many requests; retry after the time in Retry-After",
    503: "The database is unavailable, or the read model has not reached X-Min-Position in time (Retry-After)",
}
_COMMANDS = ("post", "put", "patch", "delete")
_WITH_BODY = ("post", "put", "patch")


def _problem_statuses(method: str, operation: dict[str, Any]) -> list[int]:
    """Return the problem statuses an authenticated operation may answer."""
    statuses = {401, 403, 404, 422, 429, 503}
    if method in _COMMANDS:
        statuses |= {409}
    if method in _WITH_BODY:
        statuses |= {413, 415}
        if "requestBody" in operation:
            statuses |= {400}
    return sorted(statuses)


def document_problems(spec: Any) -> None:
    """Declare in the OpenAPI document, once for all operations, the problems each may answer.

    Every error is `application/problem+json` with the Problem schema. An authenticated operation declares 401,
    403, 404, 422 (fields, a rule, a cursor, X-Min-Position), 429 and 503; a command also 409; one that may take a
    body also 413 and 415, and 400 when it reads JSON. flask-smorest's catch-all `default` response is replaced
    by these explicit statuses. Call it after every blueprint is registered."""
    problem_ref = {"$ref": "#/components/schemas/Problem"}
    for status, description in _PROBLEM_DESCRIPTIONS.items():
        spec.components.responses[f"PROBLEM_{status}"] = {
            "description": description, "content": {PROBLEM: {"schema": problem_ref}}}
    # The error responses flask-smorest registered name application/json; a problem is problem+json.
    for response in spec.components.responses.values():
        if response.get("content"):
            _as_problem(response, problem_ref)
    secured_by_default = bool(spec.options.get("security"))
    for item in apispec_internals.paths(spec).values():
        for method, operation in item.items():
            if method not in ("get", *_COMMANDS) or not isinstance(operation, dict):
                continue
            responses = operation.setdefault("responses", {})
            responses.pop("default", None)
            for status, response in responses.items():
                if str(status).isdigit() and int(status) >= 400 and "$ref" not in response:
                    _as_problem(response, problem_ref)
            if operation.get("security", [{}] if secured_by_default else []) == []:
                continue
            for status in _problem_statuses(method, operation):
                responses.setdefault(str(status), {"$ref": f"#/components/responses/PROBLEM_{status}"})


def _as_problem(response: dict[str, Any], problem_ref: dict[str, str]) -> None:
    content = response.get("content") or {}
    if not content or (set(content) == {"application/json"} and content["application/json"].get("schema") == problem_ref):
        response["content"] = {PROBLEM: {"schema": problem_ref}}
