"""Commands over HTTP against the raw event store, then latency and write-to-read visibility at half the maximum.

1. The raw baseline: the eventsourcing Application appending the mix's events in this process, one command
   per `save()` through the library's own PostgreSQL recorder, the aggregates built with the domain classes and kept in memory (no HTTP, no loading, no
   authentication, no read models), on a fresh database of the same server; measured in two halves, before
   the platform's closed loops and after them (with the platform idle), so that the machine's drift over the
   run falls on both sides of the ratio alike.
2. The platform: gunicorn as deploy/gunicorn.conf.py configures it (plus the projector following the log),
   driven by a closed-loop client (one thread per school, each a keep-alive connection sending its next
   command as soon as the last one is answered) for the maximum throughput.
3. A fixed offered rate of half that maximum for a fixed time: latency p50/p99 of the commands, and the
   write-to-read visibility: from the moment a command's answer (with its `position`) arrives until the
   command's read model's tracking row in rm_tracking reaches that position, polled about every 2 ms on one
   connection. The read model commits its rows and its tracking row in one transaction, so the row is the
   moment a GET with that position would be served without waiting.

Beside the figures: the projector's backlog when the clients stop and the rate it works it off at, and the CPU
seconds each process used (web workers, projector, the run's PostgreSQL backends, the load generator, the whole
machine) during the closed loop and the baseline, per command.

The mix (the same in both, one command of each kind per entry, in one shuffled cycle): add a person 5,
change a person's name 4, issue a token 2, record a meeting 2, form a methodical association 1, draft an
annual plan 1, approve it 1, draft a working program 1, submit it to the council 1. Every school has one
client thread, so no two concurrent commands touch one aggregate (optimistic-concurrency conflicts are
counted, and expected to be none).
"""

from __future__ import annotations

import bisect
import http.client
import json
import os
import random
import secrets
import statistics
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timezone
from typing import Any
from urllib.parse import urlsplit
from uuid import uuid4

from benchmarks.platform import API, Client, Platform, log, new_bin
from benchmarks.report import figure
from domain.base import day_of
from domain.plans import PLAN_YEARS_AHEAD, PLAN_YEARS_BACK

BENCHMARK = "commands"

MIX = {"add person": 5, "change person": 4, "issue token": 2, "record meeting": 2, "form association": 1,
       "draft plan": 1, "approve plan": 1, "draft document": 1, "submit document": 1}
# The read model each command shows up in (its tracking row in rm_tracking).
READ_MODEL = {"add person": "people", "change person": "people", "issue token": "people",
              "record meeting": "units", "form association": "units", "draft plan": "units",
              "approve plan": "units", "draft document": "documents", "submit document": "documents"}
SUBJECTS = (["Математика"], ["Физика"], ["Қазақ тілі", "Әдебиет"], ["Тарих"])
AGENDA = [{"direction": "p.7.6", "title": "Тоқсан қорытындысы"}]
MINUTES = "Ашық сабақтар өткізу шешілді."
PROGRAM = "Мақсаты: сызықтық теңдеулерді шешуге үйрету. " * 20


def cycle(seed: int) -> list[str]:
    """One cycle of the mix, shuffled (the same order for the baseline and the platform)."""
    kinds = [kind for kind, weight in MIX.items() for _ in range(weight)]
    random.Random(seed).shuffle(kinds)
    return kinds


def percentile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))]


def today() -> str:
    return day_of(datetime.now(timezone.utc)).isoformat()


# The platform's side: schools set up through the API, one client thread each



def plan_slot(units: list[Any], used: dict[Any, list[int]], key: Any = lambda u: u) -> tuple[Any, int]:
    """Return a unit and an academic year it has no plan for yet, within the years a plan may have (p.29: five
    back to two ahead of this year), taking this year first, then the years ahead, then those back."""
    this_year = datetime.now(timezone.utc).year
    order = [*range(this_year, this_year + PLAN_YEARS_AHEAD + 1), *range(this_year - 1, this_year - PLAN_YEARS_BACK - 1, -1)]
    for unit in random.sample(units, len(units)):
        taken = used.setdefault(key(unit), [])
        free = [year for year in order if year not in taken]
        if free:
            taken.append(free[0])
            return unit, free[0]
    raise RuntimeError("every unit has a plan for every year a plan may have: form more units in the mix")

class School:
    """A school's people and objects as the API created them, and what its client still has to do."""

    def __init__(self, tid: str, head: str, deputy: str, teacher: str, teachers: list[str], council: str,
                 association: str):
        self.tid, self.head, self.deputy, self.teacher = tid, head, deputy, teacher
        self.teachers = teachers
        self.people = list(teachers)
        self.council = council
        self.units = [association]
        self.next_year: dict[str, list[int]] = {}
        self.plans: list[tuple[str, str]] = []  # drafted, not yet approved
        self.documents: list[str] = []  # drafted, not yet submitted
        self.n = 0

    def name(self) -> str:
        self.n += 1
        return f"Мұғалім {self.tid[:6]}-{self.n}-{secrets.token_hex(2)}"

    def request(self, kind: str) -> tuple[str, str, str, dict[str, Any] | None, int, Callable[[Any], None] | None]:
        """Return the next request of this kind: method, path, token, body, expected status, and what to keep."""
        t = f"{API}/tenants/{self.tid}"
        if kind == "add person":
            return ("POST", f"{t}/people", self.head,
                    {"full_name": self.name(), "roles": ["teacher"], "subjects": random.choice(SUBJECTS)},
                    201, lambda data: self.people.append(data["id"]))
        if kind == "change person":
            return ("PATCH", f"{t}/people/{random.choice(self.people)}", self.head, {"full_name": self.name()},
                    200, None)
        if kind == "issue token":
            return "POST", f"{t}/people/{random.choice(self.people)}/tokens", self.head, None, 201, None
        if kind == "record meeting":
            return ("POST", f"{t}/units/{random.choice(self.units)}/meetings", self.deputy,
                    {"held_on": today(), "agenda": AGENDA, "minutes": MINUTES, "attendee_ids": self.teachers[:2]},
                    201, None)
        if kind == "form association":
            return ("POST", f"{t}/units", self.head,
                    {"kind": "methodical_association", "name": f"МО {self.name()}", "subject": "Математика",
                     "member_ids": self.teachers}, 201, lambda data: self.units.append(data["id"]))
        if kind == "draft plan" or (kind == "approve plan" and not self.plans):
            unit, year = plan_slot(self.units, self.next_year)
            academic_year = f"{year}-{year + 1}"
            return ("POST", f"{t}/units/{unit}/plans", self.deputy,
                    {"academic_year": academic_year,
                     "items": [{"direction": "p.7.3", "title": "Ашық сабақтар", "due": f"{year}-12-20"}]},
                    201, lambda data: self.plans.append((unit, academic_year)))
        if kind == "approve plan":
            unit, academic_year = self.plans.pop(0)
            return "POST", f"{t}/units/{unit}/plans/{academic_year}/approval", self.head, None, 200, None
        if kind == "draft document" or (kind == "submit document" and not self.documents):
            return ("POST", f"{t}/documents", self.teacher,
                    {"kind": "working_program", "title": f"Алгебра: {self.name()}", "body": PROGRAM},
                    201, lambda data: self.documents.append(data["id"]))
        if kind == "submit document":
            return ("POST", f"{t}/documents/{self.documents.pop(0)}/submission", self.teacher,
                    {"route": [self.council]}, 200, None)
        raise ValueError(kind)


def set_up_school(client: Client, operator: str, bin_: str, i: int) -> School:
    """A school with its head, deputy head, four mathematics teachers (one with a token), an association and a
    methodical council whose chair is elected from today; all through the API."""
    sid = client.call("POST", "/tenants", operator, {"name": f"№ {i + 1} мектеп-гимназия", "kind": "school",
                                                      "bin": bin_, "region": "Алматы", "language": "kk"})["id"]
    head = client.call("POST", f"/tenants/{sid}/people", operator, {"full_name": f"Директор {i}", "roles": ["head"]})
    head_token = client.call("POST", f"/tenants/{sid}/people/{head['id']}/tokens", operator)["token"]
    deputy = client.call("POST", f"/tenants/{sid}/people", head_token,
                         {"full_name": f"Орынбасар {i}", "roles": ["deputy_head"]})["id"]
    deputy_token = client.call("POST", f"/tenants/{sid}/people/{deputy}/tokens", head_token)["token"]
    teachers = [client.call("POST", f"/tenants/{sid}/people", head_token,
                            {"full_name": f"Мұғалім {i}-{n}", "roles": ["teacher"], "subjects": ["Математика"]})["id"]
                for n in range(4)]
    teacher_token = client.call("POST", f"/tenants/{sid}/people/{teachers[3]}/tokens", head_token)["token"]
    association = client.call("POST", f"/tenants/{sid}/units", head_token,
                              {"kind": "methodical_association", "name": "МО математиков", "subject": "Математика",
                               "member_ids": teachers[:3]})["id"]
    council = client.call("POST", f"/tenants/{sid}/units", head_token,
                          {"kind": "methodical_council", "name": "Әдістемелік кеңес",
                           "member_ids": [teachers[1], deputy]})["id"]
    client.call("POST", f"/tenants/{sid}/units/{council}/leaders", head_token,
                {"person_id": teachers[1], "starts_on": today()})
    return School(sid, head_token, deputy_token, teacher_token, teachers, council, association)


class Sent:
    """One command as the client saw it."""

    __slots__ = ("kind", "started", "answered", "status", "position")

    def __init__(self, kind: str, started: float, answered: float, status: int, position: int | None):
        self.kind, self.started, self.answered, self.status, self.position = kind, started, answered, status, position


class Caller:
    """One school's client: a keep-alive HTTP connection sending the mix, in a closed loop or at a fixed rate."""

    def __init__(self, base: str, school: School, seed: int):
        url = urlsplit(base)
        self.host, self.port = url.hostname, url.port
        self.school = school
        self.kinds = cycle(583)
        self.at = seed % len(self.kinds)
        self.connection: http.client.HTTPConnection | None = None
        self.used = 0.0
        self.sent: list[Sent] = []

    def send_one(self) -> Sent:
        kind = self.kinds[self.at % len(self.kinds)]
        self.at += 1
        method, path, token, body, expect, keep = self.school.request(kind)
        payload = json.dumps(body).encode() if body is not None else None
        headers = {"Authorization": f"Bearer {token}"}
        if payload is not None:
            headers["Content-Type"] = "application/json"
        started = time.monotonic()
        if self.connection is not None and started - self.used > 1.5:
            # gunicorn closes a keep-alive connection idle for 2 s: never send on one it may be closing.
            self.connection.close()
            self.connection = None
        try:
            if self.connection is None:
                self.connection = http.client.HTTPConnection(self.host, self.port, timeout=30)
            self.connection.request(method, path, payload, headers)
            response = self.connection.getresponse()
            raw = response.read()
            status = response.status
        except (OSError, http.client.HTTPException):
            if self.connection is not None:
                self.connection.close()
            self.connection = None
            status, raw = 0, b""
        answered = self.used = time.monotonic()
        position = None
        if status == expect:
            data = json.loads(raw)
            position = int(data["position"])
            if keep is not None:
                keep(data)
        # A failure is recorded as the negated status (-1 when no answer came).
        sent = Sent(kind, started, answered, status if status == expect else -status or -1, position)
        self.sent.append(sent)
        return sent

    def closed_loop(self, until: float) -> None:
        while time.monotonic() < until:
            self.send_one()

    def fixed_rate(self, start: float, until: float, interval: float) -> None:
        """Send one command every `interval` seconds from `start` (a late answer delays only the next send)."""
        due = start
        while due < until:
            pause = due - time.monotonic()
            if pause > 0:
                time.sleep(pause)
            self.send_one()
            due += interval

    def close(self) -> None:
        if self.connection is not None:
            self.connection.close()


class TrackingPoller:
    """Reads every read model's tracking row in a tight loop; remembers when each position became visible."""

    def __init__(self, connect: Callable[[], Any]):
        self.connect = connect
        self.samples: list[tuple[float, float, dict[str, int]]] = []  # (asked, answered, positions)
        self.starts: list[float] = []
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> TrackingPoller:
        self.thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.stop.set()
        self.thread.join()

    def _run(self) -> None:
        with self.connect() as conn:
            cursor = conn.cursor()
            while not self.stop.is_set():
                asked = time.monotonic()
                cursor.execute("SELECT read_model, notification_id FROM rm_tracking")
                rows = dict(cursor.fetchall())
                self.samples.append((asked, time.monotonic(), rows))
                # About one poll every 2 ms: the resolution of the figure, at a cost the CPU figures show (polling
                # every 0.5 ms took about a tenth of this machine's two cores, PostgreSQL's side included).
                time.sleep(0.0015)

    def visible_after(self, sent: Sent) -> float | None:
        """Seconds from the answer until a poll begun after it saw the command's read model at its position."""
        read_model = READ_MODEL[sent.kind]
        if len(self.starts) != len(self.samples):
            self.starts = [s[0] for s in self.samples]
        index = bisect.bisect_left(self.starts, sent.answered)
        for asked, answered, rows in self.samples[index:]:
            if rows.get(read_model, 0) >= sent.position:
                return answered - sent.answered
        return None


def run_clients(callers: list[Caller], work: Callable[[Caller], None]) -> tuple[list[Sent], float]:
    """Run `work` on every caller in its own thread; return what they sent and the elapsed time."""
    before = [len(c.sent) for c in callers]
    started = time.monotonic()
    threads = [threading.Thread(target=work, args=(c,)) for c in callers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.monotonic() - started
    return [s for c, n in zip(callers, before) for s in c.sent[n:]], elapsed


def cpu_per_command(http: dict[str, Any], raw: dict[str, Any]) -> dict[str, float] | None:
    """CPU milliseconds per command: the web workers' and the raw process's, and PostgreSQL's for each."""
    if not http.get("cpu") or not raw.get("cpu") or not http["commands"] or not raw["commands"]:
        return None
    used, base = http["cpu"]["cpu_s"], raw["cpu"]["cpu_s"]
    return {"web_workers": round(used["web workers"] * 1000 / http["commands"], 2),
            "postgresql_http": round(used["postgresql backends"] * 1000 / http["commands"], 2),
            "raw_process": round(base["this process"] * 1000 / raw["commands"], 2),
            "postgresql_raw": round(base["postgresql backends"] * 1000 / raw["commands"], 2)}


def behind(platform: Platform) -> int:
    """Events of the log the read model furthest behind has not processed yet."""
    with platform.connect() as conn:
        last = conn.execute("SELECT coalesce(max(notification_id), 0) FROM methodical_events").fetchone()[0]
        done = conn.execute("SELECT coalesce(min(notification_id), 0) FROM rm_tracking").fetchone()[0]
    return max(0, last - done)


def catch_up(platform: Platform, bound: float = 180.0) -> tuple[int, float]:
    """Wait until every read model has the log's last event; return the backlog found and the seconds it took."""
    backlog = behind(platform)
    started = time.monotonic()
    while behind(platform) and time.monotonic() - started < bound:
        platform.check_alive()
        time.sleep(0.2)
    return backlog, round(time.monotonic() - started, 1)


# Where the CPU goes (Linux /proc): the two sides share the machine's cores with the load generator


def _cpu_of(pid: int) -> float:
    """CPU seconds (user + system) a process has used, 0 if it is gone."""
    try:
        fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _children(pid: int) -> list[int]:
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                if int(open(f"/proc/{entry}/stat").read().rsplit(")", 1)[1].split()[1]) == pid:
                    found.append(int(entry))
            except (OSError, IndexError, ValueError):
                pass
    return found


def _machine_busy() -> tuple[float, float]:
    """(busy, total) CPU seconds of the whole machine so far."""
    values = [int(v) for v in open("/proc/stat").readline().split()[1:]]
    idle = values[3] + values[4]
    tick = os.sysconf("SC_CLK_TCK")
    return (sum(values) - idle) / tick, sum(values) / tick


class CpuMeter:
    """CPU seconds used, between start() and stop(), by named groups of processes and by the whole machine."""

    def __init__(self, groups: Callable[[], dict[str, list[int]]]):
        self.groups = groups
        self.available = os.path.exists("/proc/stat")

    def start(self) -> None:
        if self.available:
            self.pids = self.groups()
            self.before = {name: {pid: _cpu_of(pid) for pid in pids} for name, pids in self.pids.items()}
            self.machine = _machine_busy()

    def stop(self) -> dict[str, Any] | None:
        if not self.available:
            return None
        busy, total = _machine_busy()
        used = {name: round(sum(_cpu_of(pid) - self.before[name][pid] for pid in pids), 2)
                for name, pids in self.pids.items()}
        return {"cpu_s": used, "machine_busy_s": round(busy - self.machine[0], 1),
                "machine_cpu_s": round(total - self.machine[1], 1)}


def _backends(platform: Platform) -> list[int]:
    """The PostgreSQL backends serving this run's database (on this machine)."""
    with platform.connect() as conn:
        rows = conn.execute("SELECT pid FROM pg_stat_activity WHERE datname = current_database()"
                            " AND pid <> pg_backend_pid()").fetchall()
    return [pid for (pid,) in rows if os.path.exists(f"/proc/{pid}")]


# The raw baseline: the same events appended by the eventsourcing Application in this process


class RawBaseline:
    """Appends the mix's events with the domain classes and `save()`, one command per save, in this process, on a
    database of its own; measured in two halves around the platform's closed loops (the machine's speed drifts
    over a run, as the rebuild's baseline also shows)."""

    def __init__(self, platform: Platform, schools: int):
        self.platform = platform
        self.app, self.step = _raw_set_up(platform, schools)
        self.n = 0

    def measure(self, seconds: float) -> dict[str, Any]:
        """Run the mix for `seconds`; return the rate, the commands and the CPU used."""
        meter = CpuMeter(lambda: {"this process": [os.getpid()], "postgresql backends": _backends(self.platform)})
        meter.start()
        started = time.monotonic()
        until = started + seconds
        first = self.n
        while time.monotonic() < until:
            self.step(self.n)
            self.n += 1
        elapsed = time.monotonic() - started
        cpu = meter.stop()
        n = self.n - first
        return {"rate": n / elapsed, "commands": n, "seconds": round(elapsed, 1), "cpu": cpu}

    def close(self) -> None:
        self.app.close()


def combined(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """The baseline's halves as one: its commands over its seconds, the CPU summed."""
    n, seconds = sum(r["commands"] for r in runs), sum(r["seconds"] for r in runs)
    cpu = None
    if all(r["cpu"] for r in runs):
        cpu = {"cpu_s": {k: round(sum(r["cpu"]["cpu_s"][k] for r in runs), 2) for k in runs[0]["cpu"]["cpu_s"]},
               "machine_busy_s": round(sum(r["cpu"]["machine_busy_s"] for r in runs), 1),
               "machine_cpu_s": round(sum(r["cpu"]["machine_cpu_s"] for r in runs), 1)}
    return {"rate": n / seconds, "commands": n, "seconds": round(seconds, 1), "cpu": cpu,
            "halves": [{"rate": round(r["rate"], 1), "seconds": r["seconds"]} for r in runs]}


def _raw_set_up(platform: Platform, schools: int) -> tuple[Any, Callable[[int], None]]:
    """The raw baseline's application and schools (made through the application's commands, not timed); return
    the application and a function that makes the mix's `n`th command and saves it."""
    from domain.base import Actor, Context
    from domain.documents import AUTHOR, MethodicalDocument, ReviewingUnit
    from domain.people import Person
    from domain.plans import AnnualPlan
    from domain.units import Candidate, Unit
    from services.applications import Platform as Application
    from services.config import Settings
    from services.tenancy import hash_secret

    settings = Settings.from_env(platform.env)
    # The library's own recorder (its pipelined insert), not the platform's (services/persistence.py).
    env = {key: value for key, value in settings.eventsourcing_env().items() if key != "APPLICATION_RECORDER_TOPIC"}
    app = Application(env=env)
    try:
        operator = Context(Actor.operator(), uuid4().hex, datetime.now(timezone.utc), ids=uuid4)
        rng, used = random.Random(583), set()
        states = []
        for i in range(schools):
            # The same school as the platform's set-up, made through the application's commands (not timed).
            tenant = app.register_tenant(operator, name=f"№ {i + 1} мектеп-гимназия", kind="school",
                                         bin=new_bin(rng, used), region="Алматы", language="kk").aggregate
            head = app.add_person(operator, tenant.id, full_name=f"Директор {i}", roles=["head"],
                                  subjects=[]).aggregate
            as_head = Actor("head", head.id, tenant.id, ("head",))
            ctx = Context(as_head, uuid4().hex, datetime.now(timezone.utc), ids=uuid4)
            deputy = app.add_person(ctx, tenant.id, full_name=f"Орынбасар {i}", roles=["deputy_head"],
                                    subjects=[]).aggregate
            teachers = [app.add_person(ctx, tenant.id, full_name=f"Мұғалім {i}-{n}", roles=["teacher"],
                                       subjects=["Математика"]).aggregate for n in range(4)]
            association = app.form_unit(ctx, tenant.id, kind="methodical_association", name="МО математиков",
                                        subject="Математика", member_ids=[t.id for t in teachers[:3]]).aggregate
            council = app.form_unit(ctx, tenant.id, kind="methodical_council", name="Әдістемелік кеңес",
                                    subject=None, member_ids=[teachers[1].id, deputy.id]).aggregate
            states.append({
                "tenant": tenant, "head": as_head, "deputy": Actor("deputy_head", deputy.id, tenant.id, ("deputy_head",)),
                "teacher": Actor("teacher", teachers[3].id, tenant.id, ("teacher",)),
                "teachers": teachers, "people": list(teachers), "units": [association],
                "council": ReviewingUnit(council.id, tenant.id, council.kind, council.name),
                "plans": [], "documents": [], "next_year": {}, "n": 0,
            })
        candidates = {id(s): [Candidate(t.id, s["tenant"].id, "school", ("teacher",), ("Математика",))
                              for t in s["teachers"]] for s in states}

        def name(state: dict[str, Any]) -> str:
            state["n"] += 1
            return f"Мұғалім {state['tenant'].id.hex[:6]}-{state['n']}-{secrets.token_hex(2)}"

        def command(state: dict[str, Any], kind: str) -> Any:
            tenant = state["tenant"]
            now = datetime.now(timezone.utc)

            def as_(actor: Actor) -> Context:
                return Context(actor, uuid4().hex, now, ids=uuid4)

            if kind == "add person":
                person = Person.join(as_(state["head"]), tenant_id=tenant.id, tenant_kind="school",
                                     full_name=name(state), roles=["teacher"], subjects=random.choice(SUBJECTS))
                state["people"].append(person)
                return person
            if kind == "change person":
                person = random.choice(state["people"])
                person.change(as_(state["head"]), "school", full_name=name(state))
                return person
            if kind == "issue token":
                person = random.choice(state["people"])
                person.issue_token(as_(state["head"]), hash_secret(secrets.token_urlsafe(32)))
                return person
            if kind == "record meeting":
                unit = random.choice(state["units"])
                unit.hold_meeting(as_(state["deputy"]), tenant_kind="school", held_on=day_of(now), agenda=AGENDA,
                                  minutes=MINUTES, attendee_ids=[t.id for t in state["teachers"][:2]])
                return unit
            if kind == "form association":
                unit = Unit.form(as_(state["head"]), tenant_id=tenant.id, tenant_kind="school",
                                 kind="methodical_association", name=f"МО {name(state)}", subject="Математика",
                                 candidates=candidates[id(state)])
                state["units"].append(unit)
                return unit
            if kind == "draft plan" or (kind == "approve plan" and not state["plans"]):
                unit, year = plan_slot(state["units"], state["next_year"], key=lambda u: u.id)
                plan = AnnualPlan.draft(as_(state["deputy"]), tenant_id=tenant.id, tenant_kind="school",
                                        unit_id=unit.id, academic_year=f"{year}-{year + 1}",
                                        items=[{"direction": "p.7.3", "title": "Ашық сабақтар",
                                                "due": f"{year}-12-20"}])
                state["plans"].append(plan)
                return plan
            if kind == "approve plan":
                plan = state["plans"].pop(0)
                plan.approve(as_(state["head"]))
                return plan
            if kind == "draft document" or (kind == "submit document" and not state["documents"]):
                document = MethodicalDocument.draft(as_(state["teacher"]), tenant_id=tenant.id,
                                                    kind="working_program", title=f"Алгебра: {name(state)}",
                                                    body=PROGRAM, unit=None)
                state["documents"].append(document)
                return document
            if kind == "submit document":
                document = state["documents"].pop(0)
                document.submit(as_(state["teacher"]).as_role(AUTHOR), [state["council"]], [state["council"].unit_id])
                return document
            raise ValueError(kind)

        kinds = cycle(583)

        def step(n: int) -> None:
            app.save(command(states[n % len(states)], kinds[(n // len(states)) % len(kinds)]))

        return app, step
    except BaseException:
        app.close()
        raise


# The benchmark


def run(quick: bool) -> Iterator[dict[str, Any]]:
    web_workers = int(os.environ.get("WEB_WORKERS", "2"))
    web_threads = int(os.environ.get("WEB_THREADS", "4"))
    schools = 16 if quick else 32
    raw_seconds = 8.0 if quick else 20.0
    loop_seconds = 10.0 if quick else 30.0
    levels = [4, 16] if quick else [4, 8, 16, 32]  # the best level moves between runs (4 to 32 clients)
    fixed_seconds = 15.0 if quick else 60.0
    sizes = {"schools": schools, "quick": quick}

    # 1. The raw baseline's first half, alone on its own database (nothing else running); its second half runs
    # after the closed loops, once the platform is idle again.
    raw_platform = Platform(prefix="bench_raw")
    platform = Platform(prefix="bench_commands")
    baseline: RawBaseline | None = None
    try:
        raw_platform.start(web=False, projector=False, dispatcher=False, workers=0)
        log("commands: raw baseline, first half (eventsourcing save() in one process)")
        baseline = RawBaseline(raw_platform, schools)
        raw_runs = [baseline.measure(raw_seconds / 2)]

        # 2. The platform: gunicorn and the projector.
        platform.start(web_workers=web_workers, workers=0, dispatcher=False)
        client = Client(platform.base)
        operator = platform.env["OPERATOR_TOKEN"]
        rng, used = random.Random(583), set()
        bins = [new_bin(rng, used) for _ in range(schools)]
        log(f"commands: setting up {schools} schools through the API")
        with ThreadPoolExecutor(max_workers=4) as pool:
            school_list = list(pool.map(lambda i: set_up_school(client, operator, bins[i], i), range(schools)))
        callers = [Caller(platform.base, school, seed) for seed, school in enumerate(school_list)]
        # A short warm-up: every worker's caches and connections.
        run_clients(callers, lambda c: c.closed_loop(time.monotonic() + 2))

        web = dict(platform.children)["web"].pid
        meter = CpuMeter(lambda: {"web workers": _children(web), "projector": [dict(platform.children)["projector"].pid],
                                  "postgresql backends": _backends(platform), "load generator": [os.getpid()]})
        best: dict[str, Any] | None = None
        for level in levels:
            log(f"commands: closed loop, {level} clients, {loop_seconds:g} s")
            meter.start()
            sent, elapsed = run_clients(callers[:level], lambda c: c.closed_loop(time.monotonic() + loop_seconds))
            cpu = meter.stop()
            ok = [s for s in sent if s.status > 0]
            result = {"rate": len(ok) / elapsed, "clients": level, "seconds": round(elapsed, 1),
                      "commands": len(ok), "failed": len(sent) - len(ok),
                      "failures": dict(Counter(f"{s.kind} {-s.status}" for s in sent if s.status <= 0)),
                      "p50_ms": round((percentile([s.answered - s.started for s in ok], 0.5) or 0) * 1000, 1),
                      "cpu": cpu}
            log(f"commands: {result}")
            if best is None or result["rate"] > best["rate"]:
                best = result
        assert best is not None
        # The projector follows the log at its own pace: what it had left when the clients stopped, and the
        # rate it then worked that backlog off at (the bound on any rate visibility can keep up with).
        backlog, caught_up = catch_up(platform)
        best["projector_behind_at_end"] = backlog
        best["projector_catch_up_s"] = caught_up
        log("commands: raw baseline, second half")
        raw_runs.append(baseline.measure(raw_seconds / 2))
        raw = combined(raw_runs)
        projector_rate = round(backlog / caught_up, 1) if backlog > 200 and caught_up > 0 else None
        ratio = best["rate"] / raw["rate"]
        yield figure(BENCHMARK, "commands over HTTP, maximum throughput (closed loop)", best["rate"], "commands/s",
                     baseline=raw["rate"], baseline_of="eventsourcing save() of the same events in one process, "
                     "one command per save, no HTTP (same server), in two halves: before and after the closed loops",
                     baseline_halves=raw["halves"],
                     target="ratio >= 0.5", met=ratio >= 0.5, clients=best["clients"], seconds=best["seconds"],
                     commands=best["commands"], failed=best["failed"], failures=best["failures"],
                     p50_ms_closed_loop=best["p50_ms"], projector_behind_at_end=best["projector_behind_at_end"],
                     projector_catch_up_s=best["projector_catch_up_s"], projector_events_per_s=projector_rate, levels_tried=levels, baseline_commands=raw["commands"],
                     web_workers=web_workers, web_threads=web_threads, projector="running", mix=MIX,
                     cpu_during_loop=best["cpu"], cpu_during_baseline=raw["cpu"],
                     cpu_ms_per_command=cpu_per_command(best, raw), **sizes)

        # 3. Half the maximum, offered at a fixed rate.
        rate = best["rate"] / 2
        fixed_callers = callers[:16]
        interval = len(fixed_callers) / rate
        catch_up(platform)
        log(f"commands: fixed rate {rate:.1f}/s for {fixed_seconds:g} s; polling rm_tracking")
        with TrackingPoller(platform.connect) as poller:
            start = time.monotonic() + 0.2
            until = start + fixed_seconds
            meter.start()
            sent, elapsed = run_clients(
                fixed_callers,
                lambda c: c.fixed_rate(start + interval * fixed_callers.index(c) / len(fixed_callers), until,
                                       interval))
            fixed_cpu = meter.stop()
            time.sleep(1.0)  # the last commands' projection
        platform.check_alive()
        ok = [s for s in sent if s.status > 0]
        latencies = [(s.answered - s.started) * 1000 for s in ok]
        achieved = len(sent) / (until - start)
        common = {"offered_rate": round(rate, 1), "achieved_rate": round(achieved, 1), "seconds": fixed_seconds,
                  "commands": len(ok), "failed": len(sent) - len(ok),
                  "failures": dict(Counter(f"{s.kind} {-s.status}" for s in sent if s.status <= 0)),
                  "clients": len(fixed_callers), **sizes}
        yield figure(BENCHMARK, "command latency p50 at half the maximum rate", percentile(latencies, 0.5), "ms",
                     **common)
        yield figure(BENCHMARK, "command latency p99 at half the maximum rate", percentile(latencies, 0.99), "ms",
                     max_ms=round(max(latencies), 1) if latencies else None, **common)
        visible = [poller.visible_after(s) for s in ok]
        never = sum(1 for v in visible if v is None)
        millis = [v * 1000 for v in visible if v is not None]
        # Where the tail lies in the minute: one stall shows as the slowest commands answered together.
        slowest = sorted(((v * 1000, s.answered - start) for s, v in zip(ok, visible) if v is not None), reverse=True)
        polls = len(poller.samples)
        poll_ms = (poller.samples[-1][1] - poller.samples[0][0]) * 1000 / polls if polls > 1 else None
        measured = {"measured": "from the command's answer to the first rm_tracking poll begun after it that shows "
                                "the command's read model at its position (poll answered)",
                    "poll_interval_ms": round(poll_ms, 2) if poll_ms else None, "not_seen": never,
                    "projector_events_per_s": projector_rate,
                    "cpu_during_fixed_rate": fixed_cpu, **common}
        p50, p99 = percentile(millis, 0.5), percentile(millis, 0.99)
        yield figure(BENCHMARK, "write-to-read visibility p50", p50, "ms", target="<= 20 ms", met=p50 is not None and p50 <= 20,
                     **measured)
        yield figure(BENCHMARK, "write-to-read visibility p99", p99, "ms", target="<= 100 ms",
                     met=p99 is not None and p99 <= 100 and never == 0, mean_ms=round(statistics.fmean(millis), 1) if millis else None,
                     over_100_ms=sum(1 for m in millis if m > 100),
                     slowest=[{"ms": round(m, 1), "answered_at_s": round(at, 2)} for m, at in slowest[:5]], **measured)
        for c in callers:
            c.close()
    except Exception:
        platform.log_tails()
        raise
    finally:
        if baseline is not None:
            baseline.close()
        raw_platform.stop()
        platform.stop()
