"""The Flask application factory: the HTTP API of the platform."""

from __future__ import annotations

import functools
import logging
import re
import uuid
from collections.abc import Mapping
from datetime import datetime, timezone
from typing import Any

from flask import Flask, Response, g, request
from flask_smorest import Api
from sqlalchemy import event

from domain.rules import AUDITOR
from projections.base import make_engine
from projections.registry import create_schema
from projections.people import count_teaching
from services.api import audit, catalogue, compliance, errors, limits, people, system, tenants, units
from services.api import circulars, notifications, unions
from services.api import bodies, docs, documents, idempotency, invitations, queries
from services.api.common import Runtime, enter_scope, runtime
from services import database, logs, metrics, web
from services.applications import Platform
from services.auth import authenticate
from services.config import Settings
from services.replica import ReadRouting

log = logging.getLogger(__name__)

_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:\-]{1,128}$")
_OPEN_PATHS = ("/api/v1/openapi.json", "/api/v1/health", "/api/v1/health/live", "/api/v1/health/ready")


class PlatformApi(Api):
    """flask-smorest's Api, answering errors as problem+json."""

    ERROR_SCHEMA = errors.ProblemSchema

    def handle_http_exception(self, error: Any) -> Response:  # noqa: D102 - see errors.http_problem
        return errors.http_problem(error)


def create_app(test_config: Mapping[str, Any] | None = None) -> Flask:
    """Create the API application; call it in each worker process (after gunicorn forks)."""
    config = dict(test_config or {})
    settings: Settings = config.pop("SETTINGS", None) or Settings.from_env()
    app = Flask(__name__, static_folder=None)
    app.config.update(
        API_TITLE="Methodical work platform (Order No. 583)",
        API_VERSION="v1",
        OPENAPI_VERSION="3.0.3",
        OPENAPI_URL_PREFIX="/api/v1",
        OPENAPI_JSON_PATH="openapi.json",
        MAX_CONTENT_LENGTH=settings.max_body_bytes,
        JSON_SORT_KEYS=False,
        API_SPEC_OPTIONS={
            "components": {"securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}}},
            "security": [{"bearer": []}],
        },
    )
    app.json.ensure_ascii = False  # type: ignore[attr-defined]
    app.config.update(config)

    deployed = "PLATFORM" not in config
    if deployed:
        # Defence in depth: from here on this worker's connections act as a role that owns nothing and
        # cannot change the event log (set up by `methodical migrate`, services/database.py); without JIT.
        database.configure_web_connections(settings.web_role)
    platform = config.get("PLATFORM") or Platform(env=settings.eventsourcing_env(create_tables=not settings.web_role))
    engine = config.get("ENGINE") or make_engine(settings.sqlalchemy_url(), settings.pool_size,
                                                 settings.prepared_statements)
    # A streaming standby the API's reads may be served from (services/replica.py).
    standby = config.get("READ_ENGINE") or (make_engine(settings.sqlalchemy_url(settings.read_database_url),
                                                        settings.pool_size, settings.prepared_statements)
                                            if settings.read_database_url else None)
    platform.roster = functools.partial(count_teaching, engine, platform.recorder.max_notification_id)
    # Row-level security: each transaction of a request sees only its caller's scope (projections/security.py).
    for each in (engine, standby):
        if each is not None and not event.contains(each, "begin", enter_scope):
            event.listen(each, "begin", enter_scope)
    if config.get("CREATE_SCHEMA", not (deployed and settings.web_role)):
        create_schema(engine)
    app.extensions["methodical"] = Runtime(
        settings=settings,
        platform=platform,
        primary=engine,
        clock=config.get("CLOCK") or (lambda: datetime.now(timezone.utc)),
        reads=ReadRouting(engine, standby) if standby is not None else None,
    )

    metrics.install(app)  # first: its clock starts before, and its log line is written after, every other hook
    failures = limits.install(app, settings)
    api = PlatformApi(app)
    api.register_blueprint(tenants.blp)
    api.register_blueprint(people.blp)
    api.register_blueprint(units.blp)
    api.register_blueprint(compliance.blp)
    api.register_blueprint(catalogue.blp)
    api.register_blueprint(audit.grants_blp)
    api.register_blueprint(audit.blp)
    api.register_blueprint(audit.union_grants_blp)
    api.register_blueprint(unions.blp)
    api.register_blueprint(circulars.blp)
    api.register_blueprint(documents.blp)
    api.register_blueprint(notifications.blp)
    api.register_blueprint(invitations.blp)
    errors.register(app)
    bodies.install(app)
    _register_request_hooks(app, failures)
    queries.install(app, api)  # after authentication, before a command's key is claimed
    idempotency.install(app)  # after authentication: the caller is known

    api.register_blueprint(system.blp)
    app.register_blueprint(docs.blp)  # a plain Flask blueprint: not an operation of the OpenAPI document
    platform.engine = engine  # people's password hashes (services/signin.py)
    web.install(app, settings)  # the pages, outside /api/ (services/web)
    openapi_rule = next(r for r in app.url_map.iter_rules() if r.rule == "/api/v1/openapi.json")
    api.spec.path(
        rule=openapi_rule,
        operations={"get": {"summary": "This OpenAPI document", "security": [],
                            "responses": {"200": {"description": "The OpenAPI 3 document"}}}},
    )
    errors.document_problems(api.spec)  # every operation's problem+json responses (after all blueprints)
    idempotency.document(api.spec)
    return app


def _register_request_hooks(app: Flask, failures: limits.FailedAuthentications) -> None:
    @app.before_request
    def identify_request() -> Response | None:
        supplied = request.headers.get("X-Request-Id", "")
        g.request_id = supplied if _REQUEST_ID.match(supplied) else uuid.uuid4().hex
        g.log_binding = logs.bind(request_id=g.request_id)  # every record of this request names it
        if request.path in _OPEN_PATHS or request.path.startswith(docs.PREFIX + "/"):
            return None
        if not request.path.startswith(web.API_PREFIX):
            return None  # the web's pages sign people in with their own sessions (services/web)
        if request.routing_exception is not None:
            # No such path (404) or method (405): answered as such, with or without a credential.
            return None
        rt = runtime()
        g.caller = authenticate(rt.platform, request.headers.get("Authorization"), rt.settings.operator_token)
        if g.caller is None:
            # A failing credential past its address's or identifier's limit waits; a valid one never does.
            refused = failures.refused(*limits.request_keys())
            if refused is not None:
                return refused
            return errors.problem(401, "Send a valid token as 'Authorization: Bearer <token>'.",
                                  {"WWW-Authenticate": "Bearer"})
        if g.caller.person is not None and AUDITOR in g.caller.roles and request.method not in ("GET", "HEAD"):
            return errors.problem(403, "Auditors read the decision history; no command accepts their credential.")
        # A route or method that is not served answers 404/405 from routing, whatever the body (no 415 first).
        routed = request.routing_exception is None
        if routed and request.method in ("POST", "PUT", "PATCH") and _has_body() and not _takes_file(app):
            if request.mimetype != "application/json" and not request.mimetype.endswith("+json"):
                return errors.problem(415, "Send the request body as application/json.")
            charset = request.mimetype_params.get("charset", "utf-8").lower()
            if charset not in ("utf-8", "utf8"):
                return errors.problem(415, "Send the request body encoded as UTF-8.")
        return None

    @app.teardown_request
    def forget_request(error: BaseException | None = None) -> None:
        binding = g.pop("log_binding", None)
        if binding is not None:
            logs.unbind(binding)

    @app.after_request
    def tag_response(response: Response) -> Response:
        response.headers["X-Request-Id"] = getattr(g, "request_id", "")
        response.headers.setdefault("Cache-Control", "no-store")
        return response


def _takes_file(app: Flask) -> bool:
    """Return True if this request's view takes a file as its body (a document's attachment), not JSON."""
    view = app.view_functions.get(request.endpoint or "")
    return bool(getattr(getattr(view, "view_class", None), "takes_file", False))


def _has_body() -> bool:
    return bool(request.content_length) or request.headers.get("Transfer-Encoding", "").lower() == "chunked"
