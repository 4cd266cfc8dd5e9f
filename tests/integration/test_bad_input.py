"""Bad input: schemathesis against the OpenAPI document, with all its checks, as two tenants' heads and the operator.

Every operation is fuzzed from the live document (examples, coverage, fuzzing and stateful phases) with a bounded
number of examples; no response may be a 5xx and every response must conform to the document (status, content
type, headers, schema). Prints one JSON line of figures. SCHEMATHESIS_MAX_EXAMPLES raises the bound for a long run
(scripts/fuzz_api.sh).
"""

from __future__ import annotations

import json
import os
import time
import uuid
from typing import Any

import pytest

schemathesis = pytest.importorskip("schemathesis")

from schemathesis.engine import events  # noqa: E402

MAX_EXAMPLES = int(os.environ.get("SCHEMATHESIS_MAX_EXAMPLES", "2"))
STATEFUL_STEPS = int(os.environ.get("SCHEMATHESIS_STATEFUL_STEPS", "4"))
SEED = int(os.environ.get("SCHEMATHESIS_SEED", "583"))

# A schema-valid request may still be refused by a rule of the Order (422 with `clause`), by a reference to an
# object that does not exist or is another tenant's (404/422), or as a conflict with the state (409): JSON Schema
# cannot say which organizations, people, dates or cursors exist. Any other 4xx for valid data is a failure.
ACCEPTED_FOR_VALID_DATA = ["2xx", "401", "403", "404", "409", "422", "429"]
# Invalid data must be refused with a 4xx; 413 is the refusal of a body over the size limit (a maxLength far past
# 1 MB is over it before it is validated).
REFUSALS_OF_INVALID_DATA = ["400", "401", "403", "404", "405", "406", "409", "413", "415", "422", "428", "429"]
# A document's file is recognised by content (PDF, DOCX, ODT): schema-valid bytes of another format are 415.
ATTACHMENTS = "/api/v1/tenants/{tid}/documents/{did}/attachments"


def _config(headers: dict[str, str], tenant_id: str) -> Any:
    return schemathesis.Config.from_dict({
        "seed": SEED,
        "workers": 1,
        "headers": headers,
        "parameters": {"path.tid": tenant_id},
        "generation": {"max-examples": MAX_EXAMPLES, "mode": "all"},
        "phases": {"stateful": {"enabled": STATEFUL_STEPS > 0, "max-steps": max(STATEFUL_STEPS, 2)}},
        "checks": {
            "enabled": True,
            "positive_data_acceptance": {"expected-statuses": ACCEPTED_FOR_VALID_DATA},
            "negative_data_rejection": {"expected-statuses": REFUSALS_OF_INVALID_DATA},
        },
        "operations": [{
            "include-path": ATTACHMENTS,
            "checks": {"positive_data_acceptance": {"expected-statuses": [*ACCEPTED_FOR_VALID_DATA, "415"]}},
        }],
    })


@pytest.fixture
def in_process_probes(monkeypatch: pytest.MonkeyPatch) -> None:
    """Let schemathesis' auth probes reach the WSGI app.

    Its `ignored_auth` check re-sends a request without credentials through the WSGI transport with the run's
    network options (max_redirects, verify, cert) but without the session that would strip them, and werkzeug's
    client refuses unknown keyword arguments. Strip them as the transport does for a session (schemathesis 4.32).
    """
    import requests
    from schemathesis.transport import wsgi

    original = wsgi.WSGITransport.send

    def send(self: Any, case: Any, *, session: Any = None, **kwargs: Any) -> Any:
        if not isinstance(session, requests.Session):
            for name in ("max_redirects", "verify", "cert", "proxies"):
                kwargs.pop(name, None)
        return original(self, case, session=session, **kwargs)

    monkeypatch.setattr(wsgi.WSGITransport, "send", send)


def _run(app: Any, identity: str, headers: dict[str, str], tenant_id: str) -> dict[str, Any]:
    schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app, config=_config(headers, tenant_id))
    operations: set[str] = set()
    examples = 0
    statuses: dict[str, int] = {}
    failures: list[dict[str, Any]] = []
    errors: list[str] = []
    for event in schemathesis.engine.from_schema(schema).execute():
        if isinstance(event, events.ScenarioFinished):
            recorder = event.recorder
            if recorder.label and " " in recorder.label:
                operations.add(recorder.label)
            examples += len(recorder.cases)
            for interaction in recorder.interactions.values():
                if interaction.response is not None:
                    key = f"{interaction.response.status_code // 100}xx"
                    statuses[key] = statuses.get(key, 0) + 1
            for case_id, checks in recorder.checks.items():
                for check in checks:
                    if check.failure_info is None:
                        continue
                    failure = check.failure_info.failure
                    case = recorder.cases[case_id].value
                    failures.append({
                        "identity": identity, "operation": recorder.label, "check": check.name,
                        "title": failure.title, "message": failure.message[:400],
                        "status": getattr(failure, "status_code", None),
                        "request": f"{case.method} {case.formatted_path}",
                    })
        elif isinstance(event, (events.NonFatalError, events.FatalError)):
            value = getattr(event, "value", None) or getattr(event, "exception", None)
            errors.append(f"{identity} {getattr(event, 'label', '')}: {value!r}"[:400])
    return {"operations": operations, "examples": examples, "statuses": statuses, "failures": failures,
            "errors": errors}


def test_schemathesis_with_all_checks_finds_nothing_as_two_heads_and_the_operator(app, tour, in_process_probes):
    a, b = tour.tenant("tvet_college"), tour.tenant("tvet_college")
    _, head_a = tour.head(a["id"], "Әлия Нұрланқызы")
    _, head_b = tour.head(b["id"], "Сергей Петров")
    identities = [("head_a", head_a, a["id"]), ("head_b", head_b, b["id"]), ("operator", tour.operator, b["id"])]

    started = time.monotonic()
    runs = {name: _run(app, name, headers, tenant) for name, headers, tenant in identities}
    elapsed = time.monotonic() - started

    failures = [f for run in runs.values() for f in run["failures"]]
    errors = [e for run in runs.values() for e in run["errors"]]
    statuses: dict[str, int] = {}
    for run in runs.values():
        for key, count in run["statuses"].items():
            statuses[key] = statuses.get(key, 0) + count
    operations = set().union(*(run["operations"] for run in runs.values()))
    print(json.dumps({
        "test": "schemathesis", "schemathesis": schemathesis.__version__, "identities": len(identities),
        "operations": len(operations), "examples": sum(run["examples"] for run in runs.values()),
        "max_examples": MAX_EXAMPLES, "stateful_steps": STATEFUL_STEPS, "seed": SEED, "responses": statuses,
        "failures": len(failures), "errors": len(errors), "seconds": round(elapsed, 1),
    }))
    assert not errors, "\n".join(errors[:20])
    assert not failures, json.dumps(failures[:20], ensure_ascii=False, indent=1)
    assert statuses.get("5xx", 0) == 0
    assert len(operations) >= 60


# NUL and lone surrogates in every text field of every command's JSON body (walked from the OpenAPI document)

UNSTORABLE = {"nul": "a\u0000b", "lone surrogate": "a\ud800b", "low surrogate": "\udfffz",
              "escape (an ANSI colour)": "a\u001b[31mb", "bell": "a\u0007", "C1 control": "a\u0085b",
              "right-to-left isolate": "a\u2067b"}
# One-line fields (names, titles: `x-single-line` in the document) refuse what disguises a name as well.
DISGUISING = {"right-to-left override": "Ахметова\u202e", "zero-width space": "Ах\u200bметова",
              "zero-width joiner": "Ах\u200dметова", "tab": "a\tb", "line break": "a\nb"}


def filled(path: str, tenant_id: str) -> str:
    """Return a path of the document with the tenant, an academic year, and random ids for its other parts."""
    url = path.replace("{tid}", tenant_id).replace("{academic_year}", "2026-2027")
    while "{" in url:
        start = url.index("{")
        url = url[:start] + str(uuid.uuid4()) + url[url.index("}") + 1:]
    return url


def _resolve(document: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        schema = document["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]]
    if "allOf" in schema:
        merged: dict[str, Any] = {"properties": {}}
        for part in schema["allOf"]:
            merged["properties"].update(_resolve(document, part).get("properties", {}))
        return merged
    return schema


def _text_fields(document: dict[str, Any], schema: dict[str, Any], prefix: str = "", depth: int = 0
                 ) -> list[tuple[str, Any, bool]]:
    """Return (field path, body builder, one line?) for each free-text string in a request schema, nested ones
    included."""
    found: list[tuple[str, Any]] = []
    schema = _resolve(document, schema)
    for name, prop in (schema.get("properties") or {}).items():
        prop = _resolve(document, prop)
        kind = prop.get("type")
        # Free text only: enums, ids, dates and patterned codes (a BIN, a direction) refuse NUL by their form.
        if kind == "string" and "enum" not in prop and "pattern" not in prop and \
                prop.get("format") not in ("uuid", "date", "date-time"):
            found.append((f"{prefix}{name}", lambda v, n=name: {n: v}, bool(prop.get("x-single-line"))))
        elif kind == "array" and depth < 3:
            items = _resolve(document, prop.get("items") or {})
            if items.get("type") == "string" and "enum" not in items and "pattern" not in items and \
                    items.get("format") != "uuid":
                found.append((f"{prefix}{name}", lambda v, n=name: {n: [v]}, bool(items.get("x-single-line"))))
            elif items.get("type") == "object" or "properties" in items:
                for path, build, one_line in _text_fields(document, items, f"{prefix}{name}.", depth + 1):
                    found.append((path, lambda v, n=name, b=build: {n: [b(v)]}, one_line))
        elif (kind == "object" or "properties" in prop) and depth < 3:
            for path, build, one_line in _text_fields(document, prop, f"{prefix}{name}.", depth + 1):
                found.append((path, lambda v, n=name, b=build: {n: b(v)}, one_line))
    return found


def test_nul_controls_and_lone_surrogates_in_every_text_field_of_every_command_are_refused_naming_it(
        client, tour, platform):
    tenant = tour.tenant("tvet_college")
    _, head = tour.head(tenant["id"])
    document = client.get("/api/v1/openapi.json").get_json()
    before = platform.recorder.max_notification_id()
    commands = fields_tried = single_lines = requests = 0
    refused: list[str] = []
    for path, item in document["paths"].items():
        for method, operation in item.items():
            content = (operation.get("requestBody") or {}).get("content", {}) if isinstance(operation, dict) else {}
            if "application/json" not in content:
                continue
            commands += 1
            url = filled(path, tenant["id"])
            for field, build, one_line in _text_fields(document, content["application/json"]["schema"]):
                fields_tried += 1
                single_lines += one_line
                for text in [*UNSTORABLE.values(), *(DISGUISING.values() if one_line else ())]:
                    requests += 1
                    data = json.dumps(build(text)).encode()  # \u escapes, as a client sends them
                    response = client.open(url, method=method.upper(), data=data,
                                           headers={**head, "Content-Type": "application/json"})
                    problem = json.loads(response.data) if response.mimetype == "application/problem+json" else {}
                    top = field.split(".")[0]
                    named = any(key == top or key.startswith(top + ".") for key in problem.get("errors", {}))
                    if response.status_code != 422 or not named:
                        refused.append(f"{method.upper()} {path} {field}: {response.status_code} "
                                       f"{response.get_data(as_text=True)[:200]}")
    print(json.dumps({"test": "unstorable_text", "commands": commands, "text_fields": fields_tried,
                      "single_line_fields": single_lines, "requests": requests, "failures": len(refused)}))
    assert not refused, "\n".join(refused)
    # Nothing reached the log.
    assert platform.recorder.max_notification_id() == before
    assert commands >= 20 and fields_tried >= 30 and single_lines >= 15


@pytest.mark.parametrize("raw", [
    pytest.param(b'{"name": "a\x00b"}', id="raw NUL byte in a string"),
    pytest.param(b'{"name": "a\xed\xa0\x80b"}', id="a surrogate encoded as UTF-8 bytes"),
    pytest.param(b'{"name": "a"}\x00', id="NUL after the document"),
    pytest.param(b'\xef\xbb\xbf{"name": "a"}', id="byte order mark"),
])
def test_raw_nul_bytes_and_encoded_surrogates_are_bad_requests(client, tour, raw):
    response = client.post("/api/v1/tenants", data=raw, headers={**tour.operator, "Content-Type": "application/json"})
    assert 400 <= response.status_code < 500, response.status_code
    assert response.mimetype == "application/problem+json"
    assert response.status_code == 400, response.get_data(as_text=True)
