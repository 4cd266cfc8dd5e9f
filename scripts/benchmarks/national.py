"""National-scale reads: the busiest tenant's lists and compliance over HTTP on a synthetic country.

1. A fresh database; the country is generated into it (benchmarks/country.py: 17 regions, ~200 district
   departments, 7,500 schools, 800 colleges, 120 universities, ~400,000 people, ~2 million events at scale 1;
   --quick uses a small scale and says so) with its read models built, before gunicorn starts. The ingest rate
   is the generator's.
2. gunicorn as deploy/gunicorn.conf.py configures it (the projector follows, with nothing to do). As the busiest
   tenant's head (most people + units + documents), one keep-alive connection sends each read in turn, a few
   hundred times: every list of that tenant, its first page and a deep page (a cursor 90% of the way through),
   a unit's meetings and plans, the circulars inbox, the unions and a union's decisions as a member, the
   compliance findings, and the audit history as an auditor with a grant. p50/p99 per route.
3. Baseline per route: the very SQL statements the route executes against the read models (captured from the
   application in this process, warm, with the caller's parameters), executed with psycopg on one connection as
   the database owner, every row fetched: the raw cost of the data; the ratio is the platform's overhead
   (HTTP, authentication, the caller's row-level-security scope, serialisation).
4. The resident memory (VmRSS) of each gunicorn worker after the reads, beside the same worker's right after
   its first request.

Targets: p99 <= 50 ms per route; each worker's RSS < 300 MB. NATIONAL_SCALE overrides the country's scale.
"""

from __future__ import annotations

import http.client
import os
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlsplit

import psycopg
import requests

from benchmarks.platform import API, Platform, log
from benchmarks.report import figure

BENCHMARK = "national"
P99_TARGET_MS = 50.0
RSS_TARGET_MB = 300.0
QUICK_SCALE = 0.01


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    return ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))]


# The platform's processes


def start_web(platform: Platform) -> None:
    """Start gunicorn (and the projector, which finds nothing to do) on the generated database."""
    platform._spawn("projector", [sys.executable, "-m", "services.cli", "projector"])
    platform.start_web(timeout=60)


def worker_pids(platform: Platform) -> list[int]:
    """Return the pids of the gunicorn master's children (its workers)."""
    master = next(child.pid for name, child in platform.children if name == "web")
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # pid (comm) state ppid ...: comm may hold spaces, so split after its closing parenthesis.
        if int(stat.rsplit(")", 1)[1].split()[1]) == master:
            found.append(int(entry.name))
    return sorted(found)


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def wait_projected(platform: Platform, timeout: float = 600) -> None:
    """Wait (bounded) until every read model has the log's last event."""
    deadline = time.monotonic() + timeout
    with platform.connect() as conn:
        while True:
            last = conn.execute("SELECT coalesce(max(notification_id), 0) FROM methodical_events").fetchone()[0]
            behind = conn.execute("SELECT count(*) FROM rm_tracking WHERE notification_id < %s", (last,)).fetchone()[0]
            if behind == 0 or time.monotonic() > deadline:
                return
            platform.check_alive()
            time.sleep(1)


# The routes measured


class Route:
    """One read: its name, path and query, and who sends it."""

    def __init__(self, name: str, path: str, token: str, query: dict[str, Any] | None = None):
        self.name, self.path, self.token, self.query = name, path, token, query or {}

    @property
    def target(self) -> str:
        return API + self.path + ("?" + urlencode(self.query) if self.query else "")


def deep_cursor(conn: psycopg.Connection[Any], sql: str, params: tuple[Any, ...]) -> str | None:
    """Return the cursor continuing 90% of the way through the rows the query lists (seq order)."""
    from projections.base import encode_cursor

    count = conn.execute(f"SELECT count(*) FROM ({sql}) AS listed", params).fetchone()[0]
    if count < 2:
        return None
    seq = conn.execute(f"{sql} ORDER BY 1 OFFSET %s LIMIT 1", (*params, int(count * 0.9))).fetchone()[0]
    return encode_cursor(seq)


def routes_of(conn: psycopg.Connection[Any], busiest: dict[str, Any],
              member: tuple[str, str] | None = None) -> list[Route]:
    """Every list read of the busiest tenant (first page and a deep one), the compliance read, and what it sees
    as a member of unions (or, if it belongs to none, what `member`'s head sees: tenant id and token); the ids
    they name are looked up in the read models."""
    tid, head = busiest["tenant_id"], busiest["head_token"]
    t = f"/tenants/{tid}"
    routes = [Route("people", f"{t}/people", head)]
    cursor = deep_cursor(conn, "SELECT seq FROM rm_people WHERE tenant_id = %s AND status = 'active'", (tid,))
    if cursor:
        routes.append(Route("people deep page", f"{t}/people", head, {"cursor": cursor}))
    routes.append(Route("people by role", f"{t}/people", head, {"role": "teacher"}))
    routes.append(Route("units", f"{t}/units", head))
    cursor = deep_cursor(conn, "SELECT seq FROM rm_units WHERE tenant_id = %s", (tid,))
    if cursor:
        routes.append(Route("units deep page", f"{t}/units", head, {"cursor": cursor}))
    routes.append(Route("documents", f"{t}/documents", head))
    cursor = deep_cursor(conn, "SELECT seq FROM rm_documents WHERE tenant_id = %s", (tid,))
    if cursor:
        routes.append(Route("documents deep page", f"{t}/documents", head, {"cursor": cursor}))
    routes.append(Route("documents waiting for me", f"{t}/documents", head, {"waiting_for": "me"}))
    unit = conn.execute("SELECT unit_id FROM rm_meetings WHERE tenant_id = %s GROUP BY unit_id"
                        " ORDER BY count(*) DESC, unit_id LIMIT 1", (tid,)).fetchone()
    if unit is None:
        unit = conn.execute("SELECT id FROM rm_units WHERE tenant_id = %s ORDER BY seq LIMIT 1", (tid,)).fetchone()
    if unit is not None:
        routes.append(Route("a unit's meetings", f"{t}/units/{unit[0]}/meetings", head))
        routes.append(Route("a unit's plans", f"{t}/units/{unit[0]}/plans", head))
    routes.append(Route("circulars", f"{t}/circulars", head))
    cursor = deep_cursor(conn, "SELECT seq FROM rm_circulars WHERE tenant_id = %s", (tid,))
    if cursor:
        routes.append(Route("circulars deep page", f"{t}/circulars", head, {"cursor": cursor}))
    routes.append(Route("unions", "/unions", head))
    union = conn.execute("SELECT m.union_id FROM rm_union_members m JOIN rm_union_decisions d ON d.union_id = m.union_id"
                         " WHERE m.tenant_id = %s GROUP BY m.union_id ORDER BY count(*) DESC, m.union_id LIMIT 1",
                         (tid,)).fetchone()
    if union is not None:
        routes.append(Route("a union's decisions as a member", f"/unions/{union[0]}/decisions", head))
    elif member is not None:
        # The busiest tenant belongs to no union: the same reads as the head of the member organization with
        # the most circulars.
        member_tid, member_token = member
        union = conn.execute("SELECT m.union_id FROM rm_union_members m JOIN rm_union_decisions d"
                             " ON d.union_id = m.union_id WHERE m.tenant_id = %s GROUP BY m.union_id"
                             " ORDER BY count(*) DESC, m.union_id LIMIT 1", (member_tid,)).fetchone()
        routes.append(Route("a member organization's circulars", f"/tenants/{member_tid}/circulars", member_token))
        if union is not None:
            routes.append(Route("a union's decisions as a member", f"/unions/{union[0]}/decisions", member_token))
    routes.append(Route("compliance", f"{t}/compliance", head))
    auditor = busiest.get("auditor_token")
    if auditor:
        routes.append(Route("audit history", f"/audit/tenants/{tid}/events", auditor))
        cursor = deep_cursor(conn, "SELECT position FROM rm_audit_events WHERE tenant_id = %s", (tid,))
        if cursor:
            routes.append(Route("audit history deep page", f"/audit/tenants/{tid}/events", auditor,
                                {"cursor": cursor}))
    return routes


def union_member(platform: Platform, conn: psycopg.Connection[Any], busiest: dict[str, Any]
                 ) -> tuple[str, str] | None:
    """Return the member organization with the most circulars and a token the operator issues to its head (through
    the API), unless the busiest tenant is a union member itself."""
    if conn.execute("SELECT 1 FROM rm_union_members WHERE tenant_id = %s", (busiest["tenant_id"],)).fetchone():
        return None
    found = conn.execute(
        "SELECT c.tenant_id, p.id FROM rm_circulars c JOIN rm_people p ON p.tenant_id = c.tenant_id"
        " AND p.status = 'active' AND 'head' = ANY (p.roles) GROUP BY c.tenant_id, p.id"
        " ORDER BY count(*) DESC, c.tenant_id, p.id LIMIT 1").fetchone()
    if found is None:
        return None
    tenant_id, head_id = str(found[0]), str(found[1])
    response = requests.post(f"{platform.base}{API}/tenants/{tenant_id}/people/{head_id}/tokens", timeout=30,
                             headers={"Authorization": f"Bearer {platform.env['OPERATOR_TOKEN']}"})
    if response.status_code != 201:
        raise RuntimeError(f"issuing a member head's token answered {response.status_code}: {response.text[:300]}")
    return tenant_id, response.json()["token"]


# The baseline: the statements a route runs, captured from the application in this process


class Capture:
    """The application in this process (acting as the owner, no row-level-security scope), recording the
    read-model statements each request executes."""

    def __init__(self, env: dict[str, str]):
        from sqlalchemy import event

        from projections.base import make_engine
        from services.api import create_app
        from services.applications import Platform as Application
        from services.config import Settings

        settings = Settings.from_env({**env, "DATABASE_WEB_ROLE": "", "DB_POOL_SIZE": "1"})
        self.engine = make_engine(settings.sqlalchemy_url(), 1)
        self.application = Application(env={**settings.eventsourcing_env(), "POSTGRES_POOL_SIZE": "1"})
        self.app = create_app({"SETTINGS": settings, "PLATFORM": self.application, "ENGINE": self.engine,
                               "CREATE_SCHEMA": False})
        self.client = self.app.test_client()
        self.statements: list[tuple[str, Any]] | None = None
        event.listen(self.engine, "before_cursor_execute", self._record)

    def _record(self, conn: Any, cursor: Any, statement: str, parameters: Any, context: Any,
                executemany: bool) -> None:
        # The caller's scope (row-level security) is the platform's, not the data's cost.
        if self.statements is not None and "methodical_enter" not in statement:
            self.statements.append((statement, parameters))

    def statements_of(self, route: Route) -> list[tuple[str, Any]]:
        """Return the statements of the route's second request: what it runs once warm, as the HTTP reads are
        measured after a warm-up (the union list, answered from its kept page, then only digests its rows)."""
        for _ in range(2):
            self.statements = []
            response = self.client.get(route.target, headers={"Authorization": f"Bearer {route.token}"})
            if response.status_code != 200:
                raise RuntimeError(f"{route.target} answered {response.status_code}: {response.get_data(True)[:300]}")
        captured, self.statements = self.statements, None
        return captured

    def close(self) -> None:
        self.application.close()
        self.engine.dispose()


def baseline(conn: psycopg.Connection[Any], statements: list[tuple[str, Any]], n: int) -> list[float]:
    """Run the route's statements n times, each time in one transaction as the route does, fetching every row;
    return each run's milliseconds."""
    times = []
    for _ in range(n):
        started = time.perf_counter()
        with conn.transaction():
            for sql, params in statements:
                cur = conn.execute(sql, params)
                if cur.description is not None:
                    cur.fetchall()
        times.append((time.perf_counter() - started) * 1000)
    return times


def over_http(base: str, route: Route, n: int) -> tuple[list[float], int]:
    """Send the read n times on one keep-alive connection; return each answer's milliseconds and its size."""
    split = urlsplit(base)
    conn = http.client.HTTPConnection(split.hostname, split.port, timeout=60)
    headers = {"Authorization": f"Bearer {route.token}", "Accept": "application/json"}
    times, size = [], 0
    try:
        for _ in range(n):
            started = time.perf_counter()
            conn.request("GET", route.target, headers=headers)
            response = conn.getresponse()
            body = response.read()
            times.append((time.perf_counter() - started) * 1000)
            if response.status != 200:
                raise RuntimeError(f"{route.target} answered {response.status}: {body[:300]!r}")
            size = len(body)
    finally:
        conn.close()
    return times, size


def items_in(base: str, route: Route) -> int:
    response = requests.get(base + route.target, headers={"Authorization": f"Bearer {route.token}"}, timeout=60)
    return len(response.json().get("items", []))


# The run


def run(quick: bool) -> Iterator[dict[str, Any]]:
    from benchmarks import country

    scale = float(os.environ.get("NATIONAL_SCALE") or (QUICK_SCALE if quick else 1.0))
    n = 60 if quick else 300
    processes = max(1, min(2, os.cpu_count() or 1))
    platform = Platform(prefix="national")
    capture: Capture | None = None
    try:
        platform.start(web=False, projector=False, dispatcher=False, workers=0)
        log(f"national: generating the country at scale {scale} with {processes} processes")
        result = country.generate(platform.env["DATABASE_URL"], scale=scale, processes=processes, migrate=False)
        busiest = result["busiest"]
        yield figure(BENCHMARK, "ingest rate", float(result["events_per_second"] or 0), "events/s",
                     scale=scale, quick=quick, events=result["events"], seconds=result["seconds"],
                     processes=result.get("processes"), counts=result.get("counts"),
                     rebuild=result.get("rebuild"),
                     **({"note": f"a smaller country (scale {scale}); the full run generates scale 1.0"}
                        if scale != 1.0 else {}))
        wait_projected(platform)
        start_web(platform)
        with platform.connect() as conn:
            routes = routes_of(conn, busiest, union_member(platform, conn, busiest))
        capture = Capture(platform.env)
        statements = {route.name: capture.statements_of(route) for route in routes}
        capture.close()
        capture = None
        context = {"scale": scale, "tenant_kind": busiest.get("kind"), "tenant_people": busiest.get("people"),
                   "tenant_units": busiest.get("units"), "tenant_documents": busiest.get("documents"),
                   "events": result["events"]}
        workers = worker_pids(platform)
        # Each worker's memory once it has answered a request (the app is built in the worker, after fork).
        for _ in range(4 * len(workers)):
            over_http(platform.base, routes[0], 1)
        booted = {pid: rss_mb(pid) for pid in workers}
        with platform.connect() as conn:
            for route in routes:
                over_http(platform.base, route, 5)  # warm: connections, caches
                http_ms, size = over_http(platform.base, route, n)
                baseline(conn, statements[route.name], 5)
                base_ms = baseline(conn, statements[route.name], n)
                p99, base_p99 = percentile(http_ms, 0.99), percentile(base_ms, 0.99)
                yield figure(BENCHMARK, f"p99 {route.name}", p99, "ms", baseline=base_p99,
                             baseline_of="the same SQL statements run directly with psycopg, every row fetched",
                             target=f"p99 <= {P99_TARGET_MS:g} ms", met=p99 <= P99_TARGET_MS,
                             p50=round(percentile(http_ms, 0.5), 3), baseline_p50=round(percentile(base_ms, 0.5), 3),
                             requests=n, path=route.path, query=sorted(route.query), bytes=size,
                             items=items_in(platform.base, route), statements=len(statements[route.name]),
                             concurrency=1, **context)
        for pid in workers:
            after = rss_mb(pid)
            yield figure(BENCHMARK, "web worker RSS", after, "MB", baseline=booted.get(pid),
                         baseline_of="the same worker after its first requests", target=f"< {RSS_TARGET_MB:g} MB",
                         met=after < RSS_TARGET_MB, pid=pid, workers=len(workers), **context)
    finally:
        if capture is not None:
            capture.close()
        platform.stop()


if __name__ == "__main__":
    from benchmarks.report import emit

    for record in run("--quick" in sys.argv[1:]):
        emit(record)
