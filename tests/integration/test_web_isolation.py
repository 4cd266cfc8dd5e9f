"""Tenant isolation of the pages: every web route x each role of tenant A x tenant B's objects answers as a missing
object does: 404, the same page apart from the request's own ids (web.md: "A page for another tenant's object, or
one the person may not see, is a 404 page in the person's language, exactly as for a missing object").

The world is the API matrix's (test_isolation_matrix.build): tenant A's people, tenant B's school with its unit,
plan, meeting, document, attachment and audit grant, and B's union with its decision and circulars. A's callers
sign in through the pages (an invitation, its form setting a password, the sign-in form), as the operator does
(login "operator").

WEB_ROUTES names, for each page with an object in its path, which of B's objects fills each parameter, the forms
its POST takes (each is sent, with the session's CSRF token), and the B person whose own session reads the same
object with 200 (the control: each 404 is isolation, not a missing object). Each request is sent with B's objects
and again with fresh random ids in their place; the two answers must be 404 with the same page once the ids and
the CSRF token are masked, and neither may show any id, BIN or text of B beyond the request's own ids.
NO_OBJECT_ROUTES lists the pages without an object in their path, with the reason; each GET is still read by every
caller and must show nothing private of B.

A web route in neither table fails test_every_web_route_is_in_the_matrix, naming it. To add a page:
    ("/{lang}/notifications", "GET"): "the person's own notifications",          # NO_OBJECT_ROUTES, or
    ("/{lang}/things/{xid}", "GET"): WebRoute({"xid": "unit"}, owner="head"),    # WEB_ROUTES (a key of World.b)
"""

from __future__ import annotations

import difflib
import io
import json
import re
import secrets
import time
import uuid
from dataclasses import dataclass, field
from datetime import date
from typing import Any, Callable

import pytest
from support import Tour, platform_today
from test_isolation_matrix import World, build
from test_signin import GOOD, csrf_of, post_form, token_of, web_app, without_csrf
from unions_support import WELDING, delivery, smtp  # noqa: F401 - fixtures

API = "/api/v1"
PARAM = re.compile(r"<(?:[^:<>]+(?:\([^)]*\))?:)?([^<>]+)>")
PDF = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\n%%EOF\n"
LANG = "kk"  # the pages in Kazakh: the 404 page must be the person's language for both answers


def _today() -> date:
    return platform_today()


# The table

Form = Callable[[World], dict[str, Any]]


@dataclass(frozen=True)
class WebRoute:
    fill: dict[str, str]  # path parameter -> key of World.b
    owner: str | None = None  # for a GET: B's session (B_PEOPLE) that reads the same object with 200
    forms: tuple[Form, ...] = ()  # for a POST: every form the page takes
    query: dict[str, str] | None = None
    allowed: tuple[str, ...] = ()  # A's callers whose work this page is for every tenant (the operator)
    only_allowed: bool = False  # nobody else ever uses the page (the operator's own pages)


SCHOOL = {"tid": "school"}
PERSON = {"pid": "teacher"}
UNIT = {"uid": "unit"}
PLAN = {"uid": "unit", "year": "year"}
DOC = {"did": "document"}
CIRCULAR = {"cid": "circular1"}
UNION = {"nid": "union"}
DECISION = {"nid": "union", "decid": "decision"}


def form(**fields: Any) -> Form:
    return lambda w: {k: (v(w) if callable(v) else v) for k, v in fields.items()}


def b(key: str) -> Callable[[World], str]:
    return lambda w: str(w.b[key])


TODAY = _today().isoformat()
WEB_ROUTES: dict[tuple[str, str], WebRoute] = {
    # The organization's people, units, plans and meetings
    ("/{lang}/people/{pid}", "GET"): WebRoute(PERSON, owner="head"),
    ("/{lang}/people/{pid}", "POST"): WebRoute(PERSON, forms=(
        form(section="edit", full_name="Жаңа аты", roles="teacher", subjects="Физика"),
        form(section="invite", email=lambda w: f"x-{secrets.token_hex(4)}@a.kz"),
        form(section="leave", confirm="yes"))),
    ("/{lang}/units/{uid}", "GET"): WebRoute(UNIT, owner="head"),
    ("/{lang}/units/{uid}", "POST"): WebRoute(UNIT, forms=(
        form(section="add_member", person_id=b("deputy")),
        form(section="remove_member", person_id=b("teacher")),
        form(section="leader", person_id=b("teacher"), starts_on=TODAY))),
    ("/{lang}/units/{uid}/plans/{year}", "GET"): WebRoute(PLAN, owner="head"),
    ("/{lang}/units/{uid}/plans/{year}", "POST"): WebRoute(PLAN, forms=(
        form(section="save", **{"items-0-direction": "p.7.3", "items-0-title": "Семинар", "items-0-due": ""}),
        form(section="approve"))),
    ("/{lang}/units/{uid}/meetings/new", "GET"): WebRoute(UNIT, owner="head"),
    ("/{lang}/units/{uid}/meetings/new", "POST"): WebRoute(UNIT, forms=(
        form(held_on=TODAY, minutes="Хаттама", attendee_ids=b("teacher"),
             **{"agenda-0-direction": "p.7.3", "agenda-0-title": "Күн тәртібі"}),)),
    # Documents
    ("/{lang}/documents/{did}", "GET"): WebRoute(DOC, owner="head"),
    ("/{lang}/documents/{did}", "POST"): WebRoute(DOC, forms=(
        form(action="submit", route=b("council")),
        form(action="conclude", unit_id=b("council"), positive="yes", remarks="Ұсынылады"),
        form(action="revise", body="Екінші нұсқа"),
        form(action="approve"),
        form(action="reject", reason="Қайта қараңыз"),
        form(action="withdraw", reason="Қажет емес"),
        form(action="attach", file=lambda w: (io.BytesIO(PDF), "file.pdf")))),
    ("/{lang}/documents/{did}/files/{aid}", "GET"): WebRoute({"did": "document", "aid": "attachment"}, owner="head"),
    # A member organization's circulars (p.34)
    ("/{lang}/circulars/{cid}", "GET"): WebRoute(CIRCULAR, owner="chair"),
    ("/{lang}/circulars/{cid}", "POST"): WebRoute(CIRCULAR, forms=(form(response="noted", note="Танысты"),)),
    ("/{lang}/circulars/{cid}/document", "GET"): WebRoute(CIRCULAR, owner="chair"),
    # Unions, decisions and the delivery board (p.22-p.24, p.33-p.35)
    ("/{lang}/unions/{nid}", "GET"): WebRoute(UNION, owner="chair"),
    ("/{lang}/unions/{nid}", "POST"): WebRoute(UNION, forms=(
        form(section="organization", tenant_id=b("school"), specialties=WELDING),
        form(section="external", name="ЖШС Серіктес", kind="employer", specialties=WELDING),
        form(section="chair", person_id=b("chair"), council_decision_number="2", council_decision_date=TODAY))),
    ("/{lang}/unions/{nid}/decisions/new", "GET"): WebRoute(UNION, owner="chair"),
    ("/{lang}/unions/{nid}/decisions/new", "POST"): WebRoute(UNION, forms=(
        form(title="Шешім", text="Мәтін", direction="p.33.4", specialties=WELDING),)),
    ("/{lang}/unions/{nid}/decisions/{decid}", "GET"): WebRoute(DECISION, owner="chair"),
    ("/{lang}/unions/{nid}/decisions/{decid}/board.json", "GET"): WebRoute(DECISION, owner="chair"),
    ("/{lang}/unions/{nid}/decisions/{decid}/circulars/{cid}/retry", "POST"): WebRoute(
        {"nid": "union", "decid": "decision", "cid": "circular2"}, forms=(form(),)),
    # The decision history, under an audit grant
    # (the operator reads every tenant's history, as through the API)
    ("/{lang}/audit/{tid}/timeline", "GET"): WebRoute(SCHOOL, owner="auditor", allowed=("operator",)),
    ("/{lang}/audit/{tid}/as-of", "GET"): WebRoute(SCHOOL, owner="auditor", query={"at": TODAY},
                                                   allowed=("operator",)),
    ("/{lang}/audit/{tid}/changes", "GET"): WebRoute(SCHOOL, owner="auditor", allowed=("operator",),
                                                     query={"from": "2020-01-01", "to": TODAY}),
    # The operator's pages of a tenant: every tenant's for the operator, nobody else's
    ("/{lang}/tenants/{tid}", "GET"): WebRoute(SCHOOL, owner="operator", allowed=("operator",), only_allowed=True),
    ("/{lang}/tenants/{tid}", "POST"): WebRoute(SCHOOL, allowed=("operator",), only_allowed=True, forms=(
        form(section="head", full_name="Жаңа басшы"),
        form(section="invite", person_id=b("head"), email=lambda w: f"h-{secrets.token_hex(4)}@a.kz",
             language="kk"))),
}

# Pages without an object in their path: the signed-in person's own, a list of their own tenant's, or no
# tenant's at all. Each GET is read by every caller and must show nothing private of B.
NO_OBJECT_ROUTES: dict[tuple[str, str], str] = {
    ("/", "GET"): "redirects to the person's language",
    ("/static/{filename}", "GET"): "the stylesheets and the board's script",
    ("/{lang}/{rest}", "GET"): "an address that names no page: the 404 page itself",
    ("/{lang}/{rest}", "POST"): "an address that names no page: the 404 page itself",
    ("/{lang}/", "GET"): "the person's dashboard",
    ("/{lang}/login", "GET"): "the sign-in form",
    ("/{lang}/login", "POST"): "signs in (test_signin.py)",
    ("/{lang}/logout", "GET"): "the sign-out button",
    ("/{lang}/logout", "POST"): "signs out",
    ("/{lang}/invitations/{token}", "GET"): "the link's secret is its own credential, of no tenant (test_signin.py)",
    ("/{lang}/invitations/{token}", "POST"): "the link's secret is its own credential, of no tenant",
    ("/{lang}/password-reset", "GET"): "asks for a reset link by login",
    ("/{lang}/password-reset", "POST"): "the same answer whether or not the login exists (test_signin.py)",
    ("/{lang}/password-reset/{token}", "GET"): "the link's secret is its own credential, of no tenant",
    ("/{lang}/password-reset/{token}", "POST"): "the link's secret is its own credential, of no tenant",
    ("/{lang}/notifications", "GET"): "the person's own notifications",
    ("/{lang}/notifications", "POST"): "marks the person's own notifications read",
    ("/{lang}/profile", "GET"): "the person's own account",
    ("/{lang}/profile", "POST"): "the person's own account",
    ("/{lang}/people", "GET"): "the caller's own tenant's people",
    ("/{lang}/people", "POST"): "adds a person to the caller's own tenant",
    ("/{lang}/units", "GET"): "the caller's own tenant's units",
    ("/{lang}/units", "POST"): "forms a unit of the caller's own tenant",
    ("/{lang}/documents", "GET"): "the caller's own tenant's documents",
    ("/{lang}/documents/new", "GET"): "a new document of the caller's own tenant",
    ("/{lang}/documents/new", "POST"): "drafts a document of the caller's own tenant",
    ("/{lang}/circulars", "GET"): "the caller's own organization's inbox",
    ("/{lang}/unions", "GET"): "the unions of the caller's own organization",
    ("/{lang}/unions", "POST"): "founds a union of the caller's own organization",
    ("/{lang}/audit", "GET"): "the audit grants the caller holds",
    ("/{lang}/audit/verify", "GET"): "recomputes the whole log's chain: positions, no tenant's data",
    ("/{lang}/audit-grants", "GET"): "the caller's own tenant's grants",
    ("/{lang}/audit-grants", "POST"): "grants an auditor of the caller's own tenant",
    ("/{lang}/tenants", "GET"): "the operator's list of every tenant",
    ("/{lang}/tenants", "POST"): "the operator registers a tenant",
}

# Pages that show every tenant to one caller: the operator's list of tenants is the operator's work.
EVERY_TENANTS = {("/{lang}/tenants", "operator")}

# A's callers, as the API matrix names them (World.callers); the operator signs in with the operator token.
CALLERS = {"operator": None, "head": "school head", "deputy": "school deputy_head", "teacher": "school teacher",
           "union chair": "college head (A's union chair)", "auditor": "region auditor"}
# B's people whose sessions read B's objects (the controls): World.b key of the person and of their tenant, and
# which of B's credentials (World.owners) invites them; None: the operator does, for a head.
B_PEOPLE = {"head": ("head", "school", None), "auditor": ("auditor", "school", "head"),
            "chair": ("chair", "college1", None)}


def served_web_routes(app: Any) -> set[tuple[str, str]]:
    return {(PARAM.sub(r"{\1}", rule.rule), method) for rule in app.url_map.iter_rules()
            if not rule.rule.startswith(f"{API}/") and not rule.endpoint.startswith("swagger-ui.")
            for method in rule.methods - {"HEAD", "OPTIONS"}}


# Signing in

def _sign_in(web: Any, login: str, password: str) -> Any:
    browser = web.test_client()
    answer = post_form(browser, f"/{LANG}/login", login=login, password=password)
    assert answer.status_code == 302, answer.get_data(as_text=True)[:500]
    browser.get(answer.headers["Location"])  # "You are signed in" is shown once, here, not on a page compared below
    return browser


def _person_id(client: Any, tenant_id: str, headers: dict[str, str], name: str) -> str:
    listed = client.get(f"{API}/tenants/{tenant_id}/people", headers=headers)
    assert listed.status_code == 200, listed.get_json()
    found = [p["id"] for p in listed.get_json()["items"] if p["full_name"] == name]
    assert len(found) == 1, (name, listed.get_json())
    return found[0]


def _invited(client: Any, web: Any, tenant_id: str, person_id: str, inviter: dict[str, str]) -> Any:
    login = f"web-{secrets.token_hex(5)}@isolation.kz"
    issued = client.post(f"{API}/tenants/{tenant_id}/people/{person_id}/invitations", headers=inviter,
                         json={"email": login, "language": LANG})
    assert issued.status_code == 201, issued.get_json()
    browser = web.test_client()
    path = f"/{LANG}/invitations/{token_of(issued.get_json()['url'])}"
    assert post_form(browser, path, password=GOOD, password_confirm=GOOD).status_code == 302
    return _sign_in(web, login, GOOD)


@dataclass
class Sessions:
    callers: dict[str, tuple[Any, tuple[str, ...]]] = field(default_factory=dict)  # name -> (browser, roles)
    owners: dict[str, Any] = field(default_factory=dict)


@pytest.fixture(scope="module")
def world(app: Any, settings: Any, delivery: Any) -> World:  # noqa: F811 - the fixture from unions_support
    return build(app.test_client(), Tour(app.test_client(), settings.operator_token), delivery)


@pytest.fixture(scope="module")
def web(settings: Any, platform: Any, web_engine: Any, projector: Any) -> Any:
    return web_app(settings, platform, web_engine)


@pytest.fixture(scope="module")
def sessions(app: Any, web: Any, settings: Any, world: World) -> Sessions:
    client = app.test_client()
    operator = {"Authorization": f"Bearer {settings.operator_token}"}
    found = Sessions()
    school_head = world.callers["school head"][2]
    for name, key in CALLERS.items():
        if key is None:
            found.callers[name] = (_sign_in(web, "operator", settings.operator_token), ("operator",))
            continue
        tenant_id, roles, headers = world.callers[key]
        person_id = _person_id(client, tenant_id, headers, {
            "school head": "A school head", "college head (A's union chair)": "A college head",
        }.get(key, f"A {key}"))
        inviter = operator if "head" in roles else (school_head if tenant_id == world.a["school"]
                                                    else world.callers["region head"][2])
        found.callers[name] = (_invited(client, web, tenant_id, person_id, inviter), roles)
    for name, (person_key, tenant_key, inviter) in B_PEOPLE.items():
        found.owners[name] = _invited(client, web, str(world.b[tenant_key]), str(world.b[person_key]),
                                      operator if inviter is None else world.owners[inviter])
    found.owners["operator"] = found.callers["operator"][0]
    return found


# Sending and judging

def fill(path: str, values: dict[str, str]) -> str:
    return re.sub(r"{([^{}]+)}", lambda m: values[m.group(1)], path)


def path_values(route: WebRoute, w: World) -> dict[str, str]:
    return {"lang": LANG, **{name: str(w.b[key]) for name, key in route.fill.items()}}


def missing_values(values: dict[str, str]) -> dict[str, str]:
    """The same values with every id replaced by a fresh random one."""
    return {k: (str(uuid.uuid4()) if _is_uuid(v) else v) for k, v in values.items()}


def _is_uuid(value: str) -> bool:
    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return True


def csrf_token(browser: Any) -> str:
    return csrf_of(browser.get(f"/{LANG}/logout").get_data(as_text=True))


def send(browser: Any, method: str, path: str, route: WebRoute, fields: dict[str, Any] | None) -> Any:
    if method == "GET":
        return browser.get(path, query_string=route.query)
    return browser.post(path, data={"csrf_token": csrf_token(browser), **(fields or {})},
                        content_type="multipart/form-data" if any(isinstance(v, tuple) for v in (fields or {}).values())
                        else None)


def masked(response: Any, ids: set[str]) -> str:
    """The page with the request's own ids and the session's CSRF token masked."""
    text = without_csrf(response.get_data(as_text=True))
    for value in ids:
        text = text.replace(value, "{id}")
    return text


def found_in(response: Any, needles: set[str]) -> list[str]:
    text = (response.get_data(as_text=True) + "\n" + "\n".join(f"{k}: {v}" for k, v in response.headers.items()))
    lowered = text.lower()
    return sorted(n for n in needles if n.lower() in lowered)


def judge(foreign: Any, missing: Any, own_ids: set[str], missing_ids: set[str], w: World,
          never_theirs: bool = False) -> str | None:
    """Return why the answer for B's object differs from the one for a missing object, or None. On a page the
    caller's role never uses (the operator's pages, to a person), any answer is as good as a 404 if it is the very
    same as for a missing object: it says nothing of B (as the API matrix's rule for 403)."""
    if foreign.status_code >= 500:
        return f"{foreign.status_code} (a server error)"
    if never_theirs and foreign.status_code == missing.status_code < 500:
        pass
    elif foreign.status_code != 404:
        return f"{foreign.status_code}, not 404 (a missing id: {missing.status_code})"
    elif missing.status_code != 404:
        return f"a missing id answers {missing.status_code}, not 404"
    seen = found_in(foreign, w.secrets - own_ids - {uuid.UUID(i).hex for i in own_ids if _is_uuid(i)})
    if seen:
        return f"shows B's {seen}"
    if masked(foreign, own_ids) != masked(missing, missing_ids):
        return "a page unlike a missing object's:\n" + "\n".join(difflib.unified_diff(
            masked(missing, missing_ids).splitlines(), masked(foreign, own_ids).splitlines(), "missing", "B's",
            lineterm="", n=0))
    return None


# The tests

def test_every_web_route_is_in_the_matrix(app: Any) -> None:
    served = served_web_routes(app)
    both = set(WEB_ROUTES) & set(NO_OBJECT_ROUTES)
    assert not both, f"in the matrix and declared without an object: {sorted(both)}"
    absent = sorted(served - set(WEB_ROUTES) - set(NO_OBJECT_ROUTES))
    assert not absent, ("web routes in neither WEB_ROUTES nor NO_OBJECT_ROUTES of tests/integration/"
                        f"test_web_isolation.py (add a case for each): {absent}")
    stale = sorted((set(WEB_ROUTES) | set(NO_OBJECT_ROUTES)) - served)
    assert not stale, f"declared but not served: {stale}"
    for (path, method), route in WEB_ROUTES.items():
        params = set(re.findall(r"{([^{}]+)}", path)) - {"lang"}
        assert set(route.fill) == params, f"{method} {path}: fills {sorted(route.fill)}, has {sorted(params)}"
        assert (method == "GET") == bool(route.owner) or route.allowed, f"{method} {path}: owner for reads only"
        assert (method == "POST") == bool(route.forms), f"{method} {path}: name its forms"
    for path, _method in NO_OBJECT_ROUTES:
        params = set(re.findall(r"{([^{}]+)}", path)) - {"lang", "token", "rest", "filename"}
        assert not params, f"{path} has an object in its path: it belongs in WEB_ROUTES"
    print(json.dumps({"test": "web isolation coverage", "served": len(served), "in_matrix": len(WEB_ROUTES),
                      "without_object": len(NO_OBJECT_ROUTES)}))


def test_b_reads_every_page_the_matrix_points_at(world: World, sessions: Sessions) -> None:
    """The control: B's own people read each object, so every 404 to A is isolation, not absence."""
    for (path, method), route in WEB_ROUTES.items():
        if method != "GET":
            continue
        response = sessions.owners[route.owner].get(fill(path, path_values(route, world)), query_string=route.query)
        assert response.status_code == 200, (path, response.status_code, response.get_data(as_text=True)[:300])


def test_no_caller_of_a_reaches_an_object_of_b_on_any_page(world: World, sessions: Sessions) -> None:
    problems, cells, statuses = [], 0, {}
    started = time.monotonic()
    for (path, method), route in WEB_ROUTES.items():
        for name, (browser, _roles) in sessions.callers.items():
            if name in route.allowed:
                continue
            for make in route.forms or (None,):
                values = path_values(route, world)
                gone = missing_values(values)
                fields = make(world) if make else None
                foreign = send(browser, method, fill(path, values), route, fields)
                missing = send(browser, method, fill(path, gone), route, make(world) if make else None)
                cells += 1
                statuses[foreign.status_code] = statuses.get(foreign.status_code, 0) + 1
                why = judge(foreign, missing, set(values.values()) - {LANG}, set(gone.values()) - {LANG}, world,
                            never_theirs=route.only_allowed)
                if why:
                    what = f" [{fields.get('section') or fields.get('action') or 'form'}]" if fields else ""
                    problems.append(f"{method} {path}{what} as {name}: {why}")
    print(json.dumps({"test": "web isolation matrix", "pages": len(WEB_ROUTES), "callers": len(sessions.callers),
                      "cells": cells, "statuses": statuses, "problems": len(problems),
                      "seconds": round(time.monotonic() - started, 1)}))
    assert not problems, "\n".join(problems)


def test_pages_without_an_object_show_nothing_private_of_b(world: World, sessions: Sessions) -> None:
    problems = []
    for (path, method) in sorted(NO_OBJECT_ROUTES):
        if method != "GET" or "{" in path.replace("{lang}", ""):
            continue
        for name, (browser, _roles) in sessions.callers.items():
            if (path, name) in EVERY_TENANTS:
                continue
            response = browser.get(fill(path, {"lang": LANG}))
            if response.status_code >= 500:
                problems.append(f"GET {path} as {name}: {response.status_code}")
            seen = found_in(response, world.private)
            if seen:
                problems.append(f"GET {path} as {name}: shows B's {seen}")
    assert not problems, "\n".join(problems)
