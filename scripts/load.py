"""Fixed-rate load test of the whole platform (locust, headless); run through scripts/load.

Starts its own platform (a fresh database on DATABASE_URL's server, or a private PostgreSQL; REDIS_URL or a
private Redis; migrate, gunicorn with 2 workers, the projector, the dispatcher and one worker), sets up
departments, schools and a union through the API, offers a fixed rate of a realistic mix for --duration
seconds, then checks that the events appended equal what the successful commands record and that no work is
left queued. Prints one JSON line; exits non-zero on any unexpected answer, a mismatch, or work left.
"""

from __future__ import annotations

# locust patches the standard library for gevent when imported: before anything else.
from locust import FastHttpUser, constant_throughput, task  # isort: skip
from locust.env import Environment  # isort: skip

import argparse
import collections
import json
import os
import random
import secrets
import signal
import sys
import time
from datetime import datetime, timezone
from typing import Any

import gevent

from benchmarks.platform import API, Client, Platform, events_by_topic, log, new_bin, settle
from domain.base import day_of
WELDING = "0911000"

# What the run did, filled in by the users: successful commands and the events each records.
COMMANDS: collections.Counter[str] = collections.Counter()
EXPECTED = collections.Counter()  # events by kind: "commands" (recorded by the API), "deliveries" (by the worker)
UNEXPECTED: collections.Counter[str] = collections.Counter()
SCHOOLS: list[dict[str, Any]] = []
COLLEGES: list[dict[str, Any]] = []
UNION: dict[str, Any] = {}


def set_up(client: Client, operator: str, schools: int) -> None:
    """Departments, schools with their heads, deputies, teachers and an association; two colleges in a union."""
    rng, used = random.Random(583), set()

    def tenant(name: str, kind: str, parent: str | None = None, language: str = "kk") -> str:
        body = {"name": name, "kind": kind, "bin": new_bin(rng, used), "region": "Алматы", "language": language}
        if parent:
            body["parent_id"] = parent
        return client.call("POST", "/tenants", operator, body)["id"]

    def head(tid: str, name: str) -> tuple[str, str]:
        person = client.call("POST", f"/tenants/{tid}/people", operator, {"full_name": name, "roles": ["head"]})["id"]
        return person, client.call("POST", f"/tenants/{tid}/people/{person}/tokens", operator)["token"]

    region = tenant("Алматы қаласының білім басқармасы", "regional_department")
    _, region_head = head(region, "Бағдат Сейітов")
    district = tenant("Медеуский районный отдел образования", "district_department", region, "ru")
    head(district, "Марат Ибраев")
    for i in range(schools):
        language = "kk" if i % 2 == 0 else "ru"
        sid = tenant(f"№ {i + 1} мектеп-гимназия", "school", district, language)
        _, head_token = head(sid, f"Директор {i + 1}")
        deputy = client.call("POST", f"/tenants/{sid}/people", head_token,
                             {"full_name": f"Орынбасар {i + 1}", "roles": ["deputy_head"]})["id"]
        deputy_token = client.call("POST", f"/tenants/{sid}/people/{deputy}/tokens", head_token)["token"]
        teachers = [client.call("POST", f"/tenants/{sid}/people", head_token,
                                {"full_name": f"Мұғалім {i + 1}-{n}", "roles": ["teacher"],
                                 "subjects": ["Математика"]})["id"] for n in range(4)]
        unit = client.call("POST", f"/tenants/{sid}/units", head_token,
                           {"kind": "methodical_association", "name": "МО математиков", "subject": "Математика",
                            "member_ids": teachers[:3]})
        SCHOOLS.append({"id": sid, "head": head_token, "deputy": deputy_token, "teachers": teachers,
                        "units": [(unit["id"], teachers[:3])], "position": int(unit["position"])})
    for i, (name, language) in enumerate([("Алматы политехникалық колледжі", "kk"),
                                          ("Алматинский колледж строительства", "ru")]):
        cid = tenant(name, "tvet_college", region, language)
        person, token = head(cid, f"Колледж басшысы {i + 1}")
        COLLEGES.append({"id": cid, "head": token, "person": person, "chair": i == 0})
    union = client.call("POST", "/unions", COLLEGES[0]["head"],
                        {"name": "Дәнекерлеу ОӘБ", "sector": "Өнеркәсіп", "specialties": [WELDING],
                         "coordinator_id": region})
    client.call("POST", f"/unions/{union['id']}/members", region_head,
                {"tenant_id": COLLEGES[1]["id"], "specialties": [WELDING]})
    client.call("POST", f"/unions/{union['id']}/chair", region_head,
                {"person_id": COLLEGES[0]["person"], "council_decision": {"number": "12", "date": "2025-09-01"}},
                expect=200)
    UNION["id"] = union["id"]


# The users


class Caller(FastHttpUser):
    abstract = True
    connection_timeout = 10.0
    network_timeout = 30.0

    def send(self, method: str, path: str, name: str, token: str, expect: int, body: Any = None,
             position: int | None = None, command: str | None = None, events: int = 0) -> Any:
        """One request; any other status than `expect` is an unexpected error. A success of a command adds
        the events it records (`events`, or computed from the answer) to the expected count."""
        headers = {"Authorization": f"Bearer {token}"}
        if position:
            headers["X-Min-Position"] = str(position)
        with self.client.request(method, API + path, name=name, json=body, headers=headers,
                                 catch_response=True) as response:
            if response.status_code != expect:
                text = (response.text or "")[:300] if response.status_code else str(response.error)
                UNEXPECTED[f"{name} {response.status_code}"] += 1
                response.failure(f"{response.status_code}: {text}")
                return None
            data = response.json() if response.text else {}
            response.success()
        if command:
            COMMANDS[command] += 1
            EXPECTED["commands"] += events
            if "position" in data:
                self.last = max(self.last, int(data["position"]))
        return data


class SchoolUser(Caller):
    """A school's head and deputy head: people, credentials, associations, meetings, and reading them back."""

    fixed_count = 1

    def on_start(self) -> None:
        self.school = SCHOOLS[len(SCHOOL_USERS) % len(SCHOOLS)]
        SCHOOL_USERS.append(self)
        self.tid = self.school["id"]
        self.last = self.school["position"]
        self.people = list(self.school["teachers"])
        self.added: list[str] = []
        self.n = 0

    def name(self) -> str:
        self.n += 1
        return f"Мұғалім {self.tid[:6]}-{self.n}-{secrets.token_hex(2)}"

    @task(5)
    def add_person(self) -> None:
        subjects = random.choice([["Математика"], ["Физика"], ["Қазақ тілі", "Әдебиет"], ["Тарих"]])
        data = self.send("POST", f"/tenants/{self.tid}/people", "add person", self.school["head"], 201,
                         {"full_name": self.name(), "roles": ["teacher"], "subjects": subjects},
                         command="add person", events=1)
        if data:
            self.people.append(data["id"])
            self.added.append(data["id"])

    @task(4)
    def change_person(self) -> None:
        pid = random.choice(self.people)
        self.send("PATCH", f"/tenants/{self.tid}/people/{pid}", "change person", self.school["head"], 200,
                  {"full_name": self.name()}, command="change person", events=1)  # always a new name: 1 event

    @task(2)
    def issue_token(self) -> None:
        pid = random.choice(self.people)
        self.send("POST", f"/tenants/{self.tid}/people/{pid}/tokens", "issue token", self.school["head"], 201,
                  command="issue token", events=1)

    @task(1)
    def remove_person(self) -> None:
        if len(self.added) < 5:
            return self.list_people()
        pid = self.added.pop(0)
        self.people.remove(pid)
        self.send("DELETE", f"/tenants/{self.tid}/people/{pid}", "remove person", self.school["head"], 200,
                  command="remove person", events=1)

    @task(6)
    def list_people(self) -> None:
        self.send("GET", f"/tenants/{self.tid}/people?limit=50", "list people", self.school["head"], 200,
                  position=self.last)

    @task(5)
    def get_person(self) -> None:
        pid = random.choice(self.people)
        self.send("GET", f"/tenants/{self.tid}/people/{pid}", "get person", self.school["head"], 200,
                  position=self.last)

    @task(1)
    def form_association(self) -> None:
        members = self.school["teachers"]  # the setup's four mathematics teachers, never removed
        data = self.send("POST", f"/tenants/{self.tid}/units", "form association", self.school["head"], 201,
                         {"kind": "methodical_association", "name": f"МО {self.name()}", "subject": "Математика",
                          "member_ids": members}, command="form association", events=1)
        if data:
            self.school["units"].append((data["id"], members))

    @task(2)
    def record_meeting(self) -> None:
        unit, members = random.choice(self.school["units"])
        today = day_of(datetime.now(timezone.utc)).isoformat()  # the platform's day, as the rules read it
        self.send("POST", f"/tenants/{self.tid}/units/{unit}/meetings", "record meeting", self.school["deputy"],
                  201, {"held_on": today, "agenda": [{"direction": "p.7.6", "title": "Тоқсан қорытындысы"}],
                        "minutes": "Ашық сабақтар өткізу шешілді.", "attendee_ids": members[:2]},
                  command="record meeting", events=1)

    @task(3)
    def list_units(self) -> None:
        self.send("GET", f"/tenants/{self.tid}/units", "list units", self.school["head"], 200, position=self.last)

    @task(2)
    def compliance(self) -> None:
        self.send("GET", f"/tenants/{self.tid}/compliance", "compliance", self.school["head"], 200,
                  position=self.last)


SCHOOL_USERS: list[SchoolUser] = []


class CollegeUser(Caller):
    """A college's head: reads the inbox and acknowledges each circular once; the chair adopts decisions."""

    fixed_count = 2

    def on_start(self) -> None:
        self.college = COLLEGES[len(COLLEGE_USERS) % len(COLLEGES)]
        COLLEGE_USERS.append(self)
        self.tid = self.college["id"]
        self.last = 0
        self.to_acknowledge: list[str] = []
        self.seen: set[str] = set()
        self.decisions: list[str] = []

    @task(6)
    def inbox(self) -> None:
        data = self.send("GET", f"/tenants/{self.tid}/circulars?limit=100", "inbox", self.college["head"], 200)
        for item in (data or {}).get("items", []):
            if item["status"] == "delivered" and item["id"] not in self.seen:
                self.seen.add(item["id"])
                self.to_acknowledge.append(item["id"])

    @task(3)
    def acknowledge(self) -> None:
        if not self.to_acknowledge:
            return self.inbox()
        cid = self.to_acknowledge.pop(0)
        self.send("POST", f"/tenants/{self.tid}/circulars/{cid}/acknowledgement", "acknowledge",
                  self.college["head"], 200, {"response": "will_adopt", "note": "Қыркүйектен бастап"},
                  command="acknowledge", events=1)  # each circular acknowledged once: 1 event

    @task(1)
    def adopt_decision(self) -> None:
        if not self.college["chair"]:
            return self.inbox()
        data = self.send("POST", f"/unions/{UNION['id']}/decisions", "adopt decision", self.college["head"], 201,
                         {"title": "Виртуалды тренажерлер", "text": "Дәнекерлеу тренажерлерін енгізу ұсынылады.",
                          "direction": "p.33.4", "specialties": [WELDING]})
        if data:
            circulars = int(data["circulars_expected"])
            # The union's DecisionAdopted, the Decision's Adopted and one Issued per circular, in one
            # transaction; then the worker records one Delivered per circular.
            COMMANDS["adopt decision"] += 1
            EXPECTED["commands"] += 2 + circulars
            EXPECTED["deliveries"] += circulars
            self.last = max(self.last, int(data["position"]))
            self.decisions.append(data["id"])

    @task(2)
    def read_decision(self) -> None:
        if not self.college["chair"] or not self.decisions:
            return self.inbox()
        self.send("GET", f"/unions/{UNION['id']}/decisions/{random.choice(self.decisions)}", "read decision",
                  self.college["head"], 200, position=self.last)


COLLEGE_USERS: list[CollegeUser] = []


# Afterwards


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rate", type=float, default=20.0, help="offered requests per second in total (20)")
    parser.add_argument("--duration", type=float, default=300.0, help="seconds of load (300)")
    parser.add_argument("--quick", action="store_true", help="30 seconds of load")
    parser.add_argument("--schools", type=int, default=8, help="schools, one user each (8); plus two colleges")
    parser.add_argument("--web-workers", type=int, default=2)
    args = parser.parse_args()
    duration = 30.0 if args.quick else args.duration
    users = args.schools + 2
    per_user = args.rate / users
    SchoolUser.fixed_count, CollegeUser.fixed_count = args.schools, 2
    SchoolUser.wait_time = CollegeUser.wait_time = constant_throughput(per_user)

    main_greenlet = gevent.getcurrent()
    gevent.signal_handler(signal.SIGTERM, lambda: main_greenlet.throw(KeyboardInterrupt()))
    platform = Platform()
    try:
        log(f"starting the platform in {platform.tmp}")
        platform.start(args.web_workers)
        set_up(Client(platform.base), platform.env["OPERATOR_TOKEN"], args.schools)
        log(f"set up {args.schools} schools, 2 colleges and a union; offering {args.rate:g} req/s "
            f"({users} users x {per_user:.3g}) for {duration:g} s")
        # The setup's events are all delivered and projected before the baseline is taken.
        before_state, _ = settle(platform, 0, 0)
        before = before_state["events"]

        env = Environment(user_classes=[SchoolUser, CollegeUser], host=platform.base, stop_timeout=60)
        runner = env.create_local_runner()
        started = time.monotonic()
        runner.start(users, spawn_rate=users)
        while time.monotonic() - started < duration:
            gevent.sleep(1)
            platform.check_alive()
        runner.stop()  # lets every user finish the request it is in (stop_timeout)
        elapsed = time.monotonic() - started
        total = env.stats.total
        expected_total = EXPECTED["commands"] + EXPECTED["deliveries"]
        after_state, jobs = settle(platform, expected_total, before)
        appended = after_state["events"] - before
        left = jobs["queued"] + jobs["started"] + jobs["scheduled"] + jobs["deferred"]
        result = {
            "offered_rate": args.rate,
            "achieved_rate": round(total.num_requests / elapsed, 2),
            "requests": total.num_requests,
            "failures": total.num_failures,
            "unexpected_errors": dict(UNEXPECTED),
            "p50_ms": total.get_response_time_percentile(0.5),
            "p95_ms": total.get_response_time_percentile(0.95),
            "p99_ms": total.get_response_time_percentile(0.99),
            "max_ms": round(total.max_response_time or 0),
            "successful_commands": sum(COMMANDS.values()),
            "commands": dict(sorted(COMMANDS.items())),
            "expected_events": expected_total,
            "expected_events_of_commands": EXPECTED["commands"],
            "expected_deliveries": EXPECTED["deliveries"],
            "events_appended": appended,
            "equal": appended == expected_total,
            "queued_jobs_left": left,
            "failed_jobs": jobs["failed"],
            "pending_circulars": after_state["pending"],
            "failed_circulars": after_state["failed"],
            "read_models_behind": after_state["read_models_behind"],
            "users": users,
            "web_workers": args.web_workers,
            "cores": os.cpu_count(),
            "duration_s": round(elapsed, 1),
        }
        if not result["equal"]:
            log(f"events appended by type: {events_by_topic(platform, before_state['last'])}")
        for name, entry in sorted(env.stats.entries.items()):
            log(f"{name[1]:>7} {name[0]:<18} {entry.num_requests:>6} req {entry.num_failures:>4} fail "
                f"p50 {entry.get_response_time_percentile(0.5):>5} p99 {entry.get_response_time_percentile(0.99):>5} ms")
        for error in env.stats.errors.values():
            log(f"error x{error.occurrences}: {error.method} {error.name}: {error.error}"[:500])
        if total.num_failures:
            log(f"--- web log (tail) ---\n{platform.tail('web')}")
        print(json.dumps(result, ensure_ascii=False), flush=True)
        ok = (total.num_failures == 0 and not UNEXPECTED and result["equal"] and left == 0
              and after_state["pending"] == 0 and after_state["failed"] == 0 and jobs["failed"] == 0
              and after_state["read_models_behind"] == 0)
        return 0 if ok else 1
    except KeyboardInterrupt:
        log("interrupted; stopping the platform")
        return 130
    except Exception:
        platform.log_tails()
        raise
    finally:
        platform.stop()


if __name__ == "__main__":
    sys.exit(main())
