"""The pages people work in, rendered on the busiest tenant of the synthetic country, signed in as they sign in.

1. A fresh database; the country is generated into it as the national benchmark does (benchmarks/country.py, its
   read models built; --quick: a small scale, and it says so). Then, through the Application in this process, a
   union of 1,000 colleges (benchmarks/fanout.py's set-up) adopts one decision; its 1,000 circulars are delivered,
   a few after a failure and a retry, most acknowledged with a response, as benchmarks/country.py records them.
2. gunicorn as deploy/gunicorn.conf.py configures it (the pages live in the API's process, so they are measured
   where a browser meets them: its workers, its session lookup on every request, its security headers), with the
   projector; cookies not `Secure`, as on loopback. Each person signs in through the real pages: an invitation
   issued through the API (the operator's for a head, the busiest head's for its auditor), the invitation's form
   setting a password, then the sign-in form, each form with its CSRF token; the session cookie it sets is what
   every request below sends.
3. Each page is read 300 times on one keep-alive connection (--quick: 60), after 5 to warm up: the busiest
   tenant's dashboard, people list (first page, the last page, a search), units list, the unit with the most
   meetings, documents list; the circulars inbox of the member organization with the most circulars, as its head;
   the 1,000-member decision's delivery board, as the union's chair (the page and the board.json its script
   polls); the auditor's timeline (first page and a filtered one). p50/p99 per page.
4. The resident memory (VmRSS) of each gunicorn worker after the reads, beside the same worker's right after
   its first requests.

Targets: p99 <= 100 ms per page; each worker's RSS < 300 MB. NATIONAL_SCALE overrides the country's scale.
"""

from __future__ import annotations

import dataclasses
import http.client
import os
import random
import re
import secrets
import sys
import time
from collections.abc import Iterator
from datetime import datetime, timezone
from typing import Any
from urllib.parse import urlencode, urlsplit
from uuid import UUID, uuid4

import psycopg
import requests

from benchmarks.national import QUICK_SCALE, percentile, rss_mb, start_web, wait_projected, worker_pids
from benchmarks.platform import API, Platform, log
from benchmarks.report import figure

BENCHMARK = "web"
P99_TARGET_MS = 100.0
RSS_TARGET_MB = 300.0
BOARD_MEMBERS = 1000
LANG = "ru"
PASSWORD = "жасыл алма терезе 2026 бенчмарк"  # long, several unrelated words: not among the first guessed
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


# The 1,000-member decision


def large_decision(app: Any, members: int) -> dict[str, str]:
    """A union of `members` colleges adopts a decision through the Application; its circulars are delivered (3%
    after a failure and the chair's retry) and 70% acknowledged with a response, as the country records them.
    Returns the union, the decision and the chair (person and tenant)."""
    from domain.base import Actor, Context

    from benchmarks import fanout

    rng = random.Random(583)
    union_id, _token = fanout.set_up(app, members)
    union = app.get_union(UUID(union_id))
    chair = Actor(role="head", person_id=UUID(union.chair["person_id"]), tenant_id=UUID(union.chair["tenant_id"]),
                  roles=("head",))

    def ctx(actor: Any) -> Context:
        return Context(actor=actor, request_id=f"web-bench-{secrets.token_hex(4)}", now=datetime.now(timezone.utc),
                       ids=uuid4)

    adopted = app.adopt_decision(ctx(chair), union.id, title="Дәнекерлеу оқытуындағы цифрлық тренажерлер",
                                 text="Колледждерге виртуалды дәнекерлеу тренажерлерін енгізу ұсынылады.",
                                 direction="p.33.4", specialties=[fanout.WELDING])
    delivery = Actor(role="delivery")
    for circular in adopted.circulars:
        if rng.random() < 0.03:
            circular.fail(ctx(delivery), error="SMTP relay refused", attempts=4)
            circular.retry(ctx(chair))
        circular.deliver(ctx(delivery), document_sha256="0" * 64, document_size=1000, notice_sent_to=None)
        if rng.random() < 0.7:
            reader = Actor(role="head", person_id=uuid4(), tenant_id=circular.recipient_tenant_id, roles=("head",))
            circular.acknowledge(ctx(reader), response=rng.choice(["noted", "will_adopt", "adapted", "declined"]),
                                 note="Танысты" if rng.random() < 0.3 else None)
    app.save(*adopted.circulars)
    return {"union_id": union_id, "decision_id": str(adopted.decision.id), "chair_id": union.chair["person_id"],
            "chair_tenant_id": union.chair["tenant_id"], "circulars": str(len(adopted.circulars))}


# Signing in through the pages


class Browser:
    """A person's browser: a cookie jar, forms sent with their CSRF token, as the pages expect."""

    def __init__(self, base: str):
        self.base = base
        self.session = requests.Session()

    def send_form(self, path: str, **fields: str) -> requests.Response:
        opened = self.session.get(self.base + path, timeout=60)
        found = CSRF.search(opened.text)
        if opened.status_code != 200 or not found:
            raise RuntimeError(f"GET {path} answered {opened.status_code} without a form: {opened.text[:300]}")
        return self.session.post(self.base + path, data={"csrf_token": found.group(1), **fields}, timeout=60,
                                 allow_redirects=False)

    def cookie_header(self) -> str:
        return "; ".join(f"{c.name}={c.value}" for c in self.session.cookies)


def signed_in(platform: Platform, tenant_id: str, person_id: str, inviter_token: str) -> Browser:
    """Invite the person (through the API), set a password with the link's form, sign in with the sign-in form;
    return the browser holding the session cookie."""
    login = f"bench-{secrets.token_hex(5)}@methodical.example.kz"
    issued = requests.post(f"{platform.base}{API}/tenants/{tenant_id}/people/{person_id}/invitations", timeout=60,
                           json={"email": login, "language": LANG},
                           headers={"Authorization": f"Bearer {inviter_token}"})
    if issued.status_code != 201:
        raise RuntimeError(f"an invitation answered {issued.status_code}: {issued.text[:300]}")
    browser = Browser(platform.base)
    link = f"/{LANG}/invitations/{urlsplit(issued.json()['url']).path.rsplit('/', 1)[1]}"
    answer = browser.send_form(link, password=PASSWORD, password_confirm=PASSWORD)
    if answer.status_code != 302:
        raise RuntimeError(f"setting the password answered {answer.status_code}: {answer.text[:300]}")
    answer = browser.send_form(f"/{LANG}/login", login=login, password=PASSWORD)
    if answer.status_code != 302 or "methodical_session" not in browser.session.cookies:
        raise RuntimeError(f"signing in answered {answer.status_code}: {answer.text[:300]}")
    browser.session.get(platform.base + answer.headers["Location"], timeout=60)  # the flash message is shown once
    return browser


# The pages measured


@dataclasses.dataclass
class Page:
    name: str
    path: str
    browser: Browser
    query: dict[str, Any] = dataclasses.field(default_factory=dict)
    json: bool = False

    @property
    def target(self) -> str:
        return self.path + ("?" + urlencode(self.query) if self.query else "")


def member_with_most_circulars(conn: psycopg.Connection[Any]) -> tuple[str, str]:
    """Return the member organization with the most circulars in its inbox and its head."""
    found = conn.execute(
        "SELECT c.tenant_id, p.id FROM rm_circulars c JOIN rm_people p ON p.tenant_id = c.tenant_id"
        " AND p.status = 'active' AND 'head' = ANY (p.roles) GROUP BY c.tenant_id, p.id"
        " ORDER BY count(*) DESC, c.tenant_id, p.id LIMIT 1").fetchone()
    if found is None:
        raise RuntimeError("no member organization has a circular")
    return str(found[0]), str(found[1])


def pages_of(conn: psycopg.Connection[Any], busiest: dict[str, Any], decision: dict[str, str],
             head: Browser, member: Browser, chair: Browser, auditor: Browser) -> list[Page]:
    tid = busiest["tenant_id"]
    people = conn.execute("SELECT count(*) FROM rm_people WHERE tenant_id = %s AND status = 'active'",
                          (tid,)).fetchone()[0]
    unit = conn.execute("SELECT unit_id FROM rm_meetings WHERE tenant_id = %s GROUP BY unit_id"
                        " ORDER BY count(*) DESC, unit_id LIMIT 1", (tid,)).fetchone()
    if unit is None:
        unit = conn.execute("SELECT id FROM rm_units WHERE tenant_id = %s ORDER BY seq LIMIT 1", (tid,)).fetchone()
    l = f"/{LANG}"
    board = f"{l}/unions/{decision['union_id']}/decisions/{decision['decision_id']}"
    found = [
        Page("dashboard", f"{l}/", head),
        Page("people", f"{l}/people", head),
        Page("people, last page", f"{l}/people", head, {"page": max(1, (people + 49) // 50)}),
        Page("people, a search", f"{l}/people", head, {"q": "ов"}),
        Page("units", f"{l}/units", head),
    ]
    if unit is not None:
        found.append(Page("a unit", f"{l}/units/{unit[0]}", head))
    found += [
        Page("documents", f"{l}/documents", head),
        Page("circulars inbox", f"{l}/circulars", member),
        Page(f"delivery board ({decision['circulars']} members)", board, chair),
        Page(f"delivery board.json ({decision['circulars']} members)", f"{board}/board.json", chair, json=True),
        Page("audit timeline", f"{l}/audit/{tid}/timeline", auditor),
    ]
    kind = conn.execute("SELECT aggregate_type FROM rm_audit_events WHERE tenant_id = %s GROUP BY 1"
                        " ORDER BY count(*) DESC LIMIT 1", (tid,)).fetchone()
    if kind is not None:
        found.append(Page("audit timeline, one kind", f"{l}/audit/{tid}/timeline", auditor, {"kind": kind[0]}))
    return found


def read(base: str, page: Page, n: int) -> tuple[list[float], int]:
    """Read the page n times on one keep-alive connection with the person's cookies; return each answer's
    milliseconds and its size."""
    split = urlsplit(base)
    conn = http.client.HTTPConnection(split.hostname, split.port, timeout=60)
    headers = {"Cookie": page.browser.cookie_header(),
               "Accept": "application/json" if page.json else "text/html"}
    times, size = [], 0
    try:
        for _ in range(n):
            started = time.perf_counter()
            conn.request("GET", page.target, headers=headers)
            response = conn.getresponse()
            body = response.read()
            times.append((time.perf_counter() - started) * 1000)
            if response.status != 200:
                raise RuntimeError(f"{page.target} answered {response.status}: {body[:300]!r}")
            size = len(body)
    finally:
        conn.close()
    return times, size


def rows_in(base: str, page: Page) -> int:
    """Return the rows the page shows (table rows, or the board's entries)."""
    response = page.browser.session.get(base + page.target, timeout=60)
    if page.json:
        body = response.json()
        return len(body.get("rows") or body.get("circulars") or body.get("items") or [])
    return response.text.count("<tr") - response.text.count("<thead")


# The run


def run(quick: bool) -> Iterator[dict[str, Any]]:
    from benchmarks import country
    from services.applications import Platform as Application
    from services.config import Settings

    scale = float(os.environ.get("NATIONAL_SCALE") or (QUICK_SCALE if quick else 1.0))
    n = 60 if quick else 300
    processes = max(1, min(2, os.cpu_count() or 1))
    platform = Platform(prefix="web")
    app = None
    try:
        platform.start(web=False, projector=False, dispatcher=False, workers=0)
        log(f"web: generating the country at scale {scale} with {processes} processes")
        result = country.generate(platform.env["DATABASE_URL"], scale=scale, processes=processes, migrate=False)
        busiest = result["busiest"]
        platform.env["WEB_COOKIE_SECURE"] = "0"  # plain HTTP on loopback, as ./scripts/run serves it there
        wait_projected(platform)
        start_web(platform)
        settings = dataclasses.replace(Settings.from_env(platform.env), pool_size=2)
        app = Application(env=settings.eventsourcing_env(create_tables=False))
        started = time.monotonic()
        decision = large_decision(app, BOARD_MEMBERS)
        app.close()
        app = None
        log(f"web: a decision to {decision['circulars']} members in {time.monotonic() - started:.1f} s")
        wait_projected(platform)

        operator = platform.env["OPERATOR_TOKEN"]
        head = signed_in(platform, busiest["tenant_id"], busiest["head_id"], operator)
        auditor = signed_in(platform, busiest["tenant_id"], busiest["auditor_id"], busiest["head_token"])
        chair = signed_in(platform, decision["chair_tenant_id"], decision["chair_id"], operator)
        with platform.connect() as conn:
            member_tid, member_head = member_with_most_circulars(conn)
            member = signed_in(platform, member_tid, member_head, operator)
            measured = pages_of(conn, busiest, decision, head, member, chair, auditor)
        context = {"scale": scale, "tenant_kind": busiest.get("kind"), "tenant_people": busiest.get("people"),
                   "tenant_units": busiest.get("units"), "tenant_documents": busiest.get("documents"),
                   "events": result["events"], "language": LANG, "served_by": "gunicorn",
                   **({"note": f"a smaller country (scale {scale}); the full run generates scale 1.0"}
                      if scale != 1.0 else {})}
        workers = worker_pids(platform)
        for _ in range(4 * len(workers)):
            read(platform.base, measured[0], 1)
        booted = {pid: rss_mb(pid) for pid in workers}
        for page in measured:
            read(platform.base, page, 5)  # warm: connections, caches, templates
            times, size = read(platform.base, page, n)
            p99 = percentile(times, 0.99)
            yield figure(BENCHMARK, f"p99 {page.name}", p99, "ms", target=f"p99 <= {P99_TARGET_MS:g} ms",
                         met=p99 <= P99_TARGET_MS, p50=round(percentile(times, 0.5), 3), requests=n,
                         path=page.path, query=sorted(page.query), bytes=size, rows=rows_in(platform.base, page),
                         concurrency=1, **context)
        for pid in workers:
            after = rss_mb(pid)
            yield figure(BENCHMARK, "web worker RSS", after, "MB", baseline=booted.get(pid),
                         baseline_of="the same worker after its first requests", target=f"< {RSS_TARGET_MB:g} MB",
                         met=after < RSS_TARGET_MB, pid=pid, workers=len(workers), **context)
    except Exception:
        platform.log_tails()
        raise
    finally:
        if app is not None:
            app.close()
        platform.stop()


if __name__ == "__main__":
    from benchmarks.report import emit

    for record in run("--quick" in sys.argv[1:]):
        emit(record)
