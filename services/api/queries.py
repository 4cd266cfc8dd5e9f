"""Query parameters a route does not take are refused, not ignored: `?q=` on a list that has no search would
otherwise answer the whole list, and the client would believe it searched (422, naming the parameter)."""

from __future__ import annotations

import re
from typing import Any

from flask import Flask, Response, request
from flask_smorest import Api

from domain.base import Phrase
from services.api import errors

_PARAM = re.compile(r"<(?:[^:<>]+:)?([^<>]+)>")


def install(app: Flask, api: Api) -> None:
    """Refuse, for every operation of the OpenAPI document, the query parameters it does not declare."""
    declared: dict[tuple[str, str], frozenset[str]] = {}

    def taken(rule: str, method: str) -> frozenset[str] | None:
        if not declared:
            paths = api.spec.to_dict()["paths"]
            for path, item in paths.items():
                shared = [p for p in item.get("parameters", []) if p.get("in") == "query"]
                for verb, operation in item.items():
                    if isinstance(operation, dict) and verb != "parameters":
                        names = {p["name"] for p in [*shared, *operation.get("parameters", [])]
                                 if p.get("in") == "query"}
                        declared[(path, verb.upper())] = frozenset(names)
        return declared.get((_PARAM.sub(r"{\1}", rule), "GET" if method == "HEAD" else method))

    @app.before_request
    def refuse_unknown_parameters() -> Response | None:
        if not request.args or request.url_rule is None or not request.path.startswith("/api/"):
            return None
        names = taken(request.url_rule.rule, request.method)
        if names is None:
            return None  # not an operation of the document (its own page, Swagger UI's files)
        unknown = sorted(set(request.args) - names)
        if not unknown:
            return None
        offered = ", ".join(sorted(names)) or "none"
        problems: dict[str, Any] = {
            name: [Phrase("This route takes no parameter %(name)r; it takes: %(offered)s.", name=name,
                          offered=offered)] for name in unknown}
        return errors.problem(422, Phrase("Unknown query parameter(s): %(names)s.", names=", ".join(unknown)),
                              errors=problems)
