"""Who may do what: every command route asks domain/policy.py, and a refusal names the action and its clause."""

from __future__ import annotations

import inspect
import re
import uuid
from pathlib import Path
from typing import Any

import pytest
from flask import g

from domain import policy
from domain.base import NotPermitted
from services.auth import Caller

ROOT = Path(__file__).resolve().parents[2]
COMMANDS = ("post", "put", "patch", "delete")


def _command_operations(client: Any) -> list[tuple[str, str]]:
    spec = client.get("/api/v1/openapi.json").get_json()
    return [(path, method) for path, item in spec["paths"].items() for method in item if method in COMMANDS]


def _concrete(path: str, tenant_id: str) -> str:
    values = {"academic_year": "2026-2027", "tid": tenant_id}
    return re.sub(r"\{(\w+)\}", lambda m: values.get(m.group(1)) or str(uuid.uuid4()), path)


def _asked_by(app: Any, path: str, method: str, who: Caller, tenant_id: str) -> list[policy.Action]:
    """Run the route's own view code as `who` with empty arguments; return the actions it asked the policy.

    Argument parsing is skipped (the view is unwrapped), so the question is asked whatever the body: the view's
    first question must not depend on a valid body. Whatever the view does after asking is of no interest here.
    """
    concrete = _concrete(path, tenant_id)
    endpoint, view_args = app.url_map.bind("localhost").match(concrete, method=method.upper())
    view_class = app.view_functions[endpoint].view_class
    handler = inspect.unwrap(getattr(view_class, method))
    positional = [p for p in list(inspect.signature(handler).parameters)[1:] if p not in view_args]
    with app.test_request_context(concrete, method=method.upper()), policy.recording() as asked:
        g.caller, g.request_id = who, uuid.uuid4().hex
        try:
            handler(view_class(), *[{} for _ in positional], **view_args)
        except Exception:  # noqa: BLE001 - a refusal, a missing object or the empty body: all after the question
            pass
    return asked


def test_every_command_route_of_the_openapi_document_asks_the_policy(app: Any, client: Any, tour: Any,
                                                                      platform: Any) -> None:
    tenant = tour.tenant()
    head, _ = tour.head(tenant["id"])
    person = platform.get_person(uuid.UUID(tenant["id"]), uuid.UUID(head["id"]))
    operations = _command_operations(client)
    assert len(operations) >= 30  # the walk covers the document, not an empty list

    silent = []
    for path, method in operations:
        for who in (Caller(), Caller(person)):
            if not _asked_by(app, path, method, who, tenant["id"]):
                silent.append(f"{method.upper()} {path} as {'operator' if who.is_operator else 'head'}")
    assert silent == []


def test_the_question_is_recorded_by_asking_it_even_when_it_refuses(app: Any) -> None:
    # The walk reads what the policy recorded while deciding, not a list a view declares: it cannot be fooled by a
    # route that names an action without asking it.
    with app.test_request_context("/"), policy.recording() as asked:
        with pytest.raises(NotPermitted):
            Caller().acting_for(policy.APPROVE_PLAN, None)
    assert asked == [policy.APPROVE_PLAN]


def test_a_refusal_names_the_action_and_carries_its_clause(client: Any, tour: Any) -> None:
    tenant = tour.tenant()
    _, head = tour.head(tenant["id"])
    _, teacher = tour.person(tenant["id"], head, ["teacher"], ["math"])
    response = client.post(f"/api/v1/tenants/{tenant['id']}/units/{uuid.uuid4()}/plans/2026-2027/approval",
                           headers=teacher)
    problem = response.get_json()
    assert response.status_code == 403 and response.mimetype == "application/problem+json"
    assert problem["clause"] == "p.29"
    assert problem["detail"] == ("Approving an annual plan needs the head of the organization that formed the unit "
                                 "(p.29).")


def test_the_operator_is_refused_by_the_action_it_asked(client: Any, tour: Any, settings: Any) -> None:
    tenant = tour.tenant()
    response = client.post(f"/api/v1/tenants/{tenant['id']}/units", headers=tour.operator,
                           json={"kind": "methodical_association", "name": "МО", "member_ids": []})
    assert response.status_code == 403
    assert response.get_json()["clause"] == policy.FORM_UNIT.clause
    assert response.get_json()["detail"].startswith(policy.FORM_UNIT.doing + " needs one of the roles: head, deputy head")


def test_every_action_is_asked_somewhere_outside_the_policy() -> None:
    # grep for an action answers who may do it: an action nobody asks would answer wrongly.
    sources = "\n".join(p.read_text(encoding="utf-8") for folder in ("domain", "services")
                        for p in (ROOT / folder).rglob("*.py") if p.name != "policy.py")
    unasked = [name for name in (n for n, v in vars(policy).items() if isinstance(v, policy.Action))
               if not re.search(rf"\bpolicy\.{name}\b", sources)]
    assert unasked == []


def test_actions_are_named_once_and_cite_a_clause_of_the_order_or_none() -> None:
    actions = [v for v in vars(policy).values() if isinstance(v, policy.Action)]
    assert len({a.name for a in actions}) == len(actions) == len(policy.ACTIONS)
    for action in actions:
        assert action.clause is None or re.fullmatch(r"p\.\d+(\.\d+)?", action.clause), action
        assert action.roles or action.relations, action
        assert set(action.roles) <= set(policy.MEMBERS) | {"operator"}, action
