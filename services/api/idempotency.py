"""The Idempotency-Key header of commands (services/idempotency.py): replay a carried-out command's answer."""

from __future__ import annotations

from eventsourcing.application import AggregateNotFoundError
from flask import Flask, Response, g, request

from domain.base import InvalidValue
from domain.requests import MAX_KEY_LENGTH, check_key, fingerprint
from services import idempotency
from services.api.common import caller, runtime
from services.api.errors import problem
from services.internals import apispec as apispec_internals

HEADER = "Idempotency-Key"
COMMAND_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


def install(app: Flask) -> None:
    """Add the hooks; call after the authentication hook, so the caller is known."""

    @app.before_request
    def replay_or_remember() -> Response | None:
        key = request.headers.get(HEADER)
        if key is None or request.method not in COMMAND_METHODS or request.routing_exception is not None:
            return None
        if g.get("caller") is None:
            return None  # refused by authentication already
        who = caller()
        pending = idempotency.PendingKey(
            caller="operator" if who.person is None else who.person.id.hex, key=check_key(key),
            fingerprint=fingerprint(request.method, request.path, request.get_data()))
        rt = runtime()
        try:
            record = rt.platform.repository.get(pending.id)
        except AggregateNotFoundError:
            g.pending_key = pending
            g.pending_key_token = idempotency.pending_key.set(pending)
            return None
        if record.fingerprint != pending.fingerprint:
            raise InvalidValue("This Idempotency-Key was sent with another request; use a new key for a new request.",
                               field=HEADER)
        answer = idempotency.kept(rt.engine, pending.id)
        if answer is None:
            # The command is in the log, its answer is not (its host died between the two): name what it recorded
            # first, for the client to read instead of the answer.
            said = ("The request with this Idempotency-Key was carried out, but its answer was not kept; read the "
                    "resource to see the result.")
            carried_out = ({"id": str(record.subject), "kind": record.subject_kind}
                           if record.subject else None)
            return problem(409, said, errors={HEADER: [said]}, carried_out=carried_out)
        replayed = Response(answer.body, status=answer.status, content_type=answer.content_type)
        replayed.headers["Idempotent-Replayed"] = "true"
        return replayed

    @app.after_request
    def keep_answer(response: Response) -> Response:
        pending: idempotency.PendingKey | None = g.get("pending_key")
        if pending is not None and pending.recorded and 200 <= response.status_code < 300:
            who = caller()
            idempotency.keep(runtime().engine, pending.id, who.tenant_id, idempotency.StoredResponse(
                response.status_code, response.content_type or "application/json", response.get_data()))
        return response

    @app.teardown_request
    def forget(_: BaseException | None) -> None:
        token = g.pop("pending_key_token", None)
        if token is not None:
            idempotency.pending_key.reset(token)


def document(spec: object) -> None:
    """Declare the optional header on every command of the OpenAPI document."""
    spec.components.parameter("IdempotencyKey", "header", {  # type: ignore[attr-defined]
        "name": HEADER, "required": False,
        "description": "Any unique string per request (a UUID, say). A retry with the same key and the same request "
                       "is answered as the first time (header Idempotent-Replayed: true) and not carried out again; "
                       "the same key with another request is refused (422).",
        "schema": {"type": "string", "minLength": 1, "maxLength": MAX_KEY_LENGTH,
                   "pattern": r"^[!-~]([ -~]*[!-~])?$"},
    })
    for item in apispec_internals.paths(spec).values():
        for method, operation in item.items():
            if method.upper() in COMMAND_METHODS and isinstance(operation, dict) and operation.get("security") != []:
                operation.setdefault("parameters", []).append({"$ref": "#/components/parameters/IdempotencyKey"})
