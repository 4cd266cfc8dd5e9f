"""A synthetic country, built through the platform's own Application and aggregates.

    from benchmarks import country
    result = country.generate(database_url, scale=0.01, processes=2, seed=583, tokens_path=None)

At scale 1 it registers 17 regional departments, ~200 district departments, 7,500 schools, 800 colleges and
120 universities with ~400,000 people, their methodical units (associations, commissions, departments,
sections, councils, inter-school associations) with leaders, annual plans and meetings, methodical
documents that pass their routes of conclusions (some revised, rejected, withdrawn or still waiting), and
50 unions with members, chairs, decisions and their circulars (delivered, most acknowledged): about
2 million events. `scale` multiplies the number of tenants (0.01 for a quick run).

Every event is made by the domain aggregates (domain/*.py) in a Context like the API's (actor, tenant,
request id, moment), so it carries the metadata and the clause of the Order the platform records, and the
aggregates' rules hold for every command (a refused command stops the generator); the permission checks of the
command layer (services/*.py) are not run, the actors are chosen to pass them. Aggregates are saved many per
transaction (`Application.save`), in causal order, the recorder's rows written by COPY (`copy_stored_events`);
`processes` worker processes build disjoint regions, unions come last. Contents and ids are seeded (`seed`); only
the interleaving of the processes' transactions in the log, and the credentials issued at the end, vary.

The database must be empty of events (`migrate=True` migrates it). Afterwards the read models are built with the
bulk rebuild and the tamper-evidence chain is linked, so a projector started later has nothing to do
(`build_read_models=False` leaves both to the caller).
The busiest tenant (most people + units + documents) gets API tokens through the platform's commands: its head,
and an auditor of it with a live audit grant.

`generate` returns (and `tokens_path`, if given, receives as JSON):
  {"events": N, "seconds": s, "events_per_second": r, "counts": {...}, "by_topic": {...},
   "busiest": {"tenant_id", "name", "kind", "people", "units", "documents", "head_id", "head_token",
               "auditor_id", "auditor_token"}, "rebuild": {...}, "chain": {...}}
"""

from __future__ import annotations

import hashlib
import json
import multiprocessing
import os
import random
import subprocess
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any
from uuid import UUID, uuid4

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

REGIONS = ["Астана", "Алматы", "Шымкент", "Абай облысы", "Ақмола облысы", "Ақтөбе облысы", "Алматы облысы",
           "Атырау облысы", "Батыс Қазақстан облысы", "Жамбыл облысы", "Жетісу облысы", "Қарағанды облысы",
           "Қостанай облысы", "Қызылорда облысы", "Маңғыстау облысы", "Павлодар облысы", "Солтүстік Қазақстан облысы"]
SCHOOL_SUBJECTS = ["Математика", "Қазақ тілі", "Орыс тілі", "Ағылшын тілі", "Физика", "Химия", "Биология",
                   "Тарих", "География", "Информатика", "Дене шынықтыру", "Бастауыш сынып"]
COLLEGE_SUBJECTS = ["Электротехника", "Бухгалтерлік есеп", "Мейірбике ісі", "Бағдарламалау", "Дәнекерлеу",
                    "Автокөлік", "Құрылыс", "Математика", "Ағылшын тілі"]
UNIVERSITY_SUBJECTS = ["Педагогика", "Информатика", "Математика", "Физика", "Тарих", "Филология", "Экономика",
                       "Құқық", "Химия", "Биология"]
FIRST = ["Айгүл", "Ерлан", "Гүлнар", "Нұрлан", "Сәуле", "Ольга", "Дәурен", "Бахыт", "Асель", "Марат", "Динара",
         "Ержан", "Жанар", "Тимур", "Алия", "Сергей", "Елена", "Бауыржан", "Камила", "Арман"]
LAST = ["Омаров", "Ахметова", "Жұмабаев", "Қайратқызы", "Ким", "Әлиев", "Сейтқали", "Иванова", "Нұрланов",
        "Садықова", "Петров", "Бекова", "Тоқаев", "Смағұлова", "Исаев", "Мұратова"]
SPECIALTIES = [f"{n:04d}000" for n in range(101, 161)]

START = datetime(2026, 8, 24, 9, 0, tzinfo=timezone(timedelta(hours=5)))
YEAR = "2026-2027"
TERM_START = date(2026, 9, 1)
BATCH_EVENTS = 2000  # pending events that make one transaction


# The plan of the country (main process): which tenants, where, how big


@dataclass
class TenantSpec:
    key: str
    kind: str
    name: str
    bin: str
    region: str
    language: str
    size: float
    children: list[TenantSpec] = field(default_factory=list)


def _bin(rng: random.Random, used: set[str]) -> str:
    from benchmarks.platform import new_bin

    return new_bin(rng, used)


def plan_country(scale: float, seed: int) -> list[TenantSpec]:
    """Return one regional department per region with its districts, schools and colleges (and its universities)."""
    rng = random.Random(seed)
    used: set[str] = set()
    counts = {"district": max(1, round(200 * scale)), "school": max(2, round(7500 * scale)),
              "college": max(1, round(800 * scale)), "university": max(1, round(120 * scale))}
    regions = []
    for r, name in enumerate(REGIONS):
        regions.append(TenantSpec(f"r{r}", "regional_department", f"Управление образования: {name}",
                                  _bin(rng, used), name, "ru", 1.0))
    districts = []
    for d in range(counts["district"]):
        region = regions[d % len(regions)]
        spec = TenantSpec(f"d{d}", "district_department", f"{region.region}: {d + 1}-ші аудандық білім бөлімі",
                          _bin(rng, used), region.region, "kk", 1.0)
        region.children.append(spec)
        districts.append(spec)

    def size() -> float:
        # Heavy-tailed: most organizations are middling, a few are large.
        return min(6.0, max(0.3, rng.lognormvariate(0, 0.45)))

    for s in range(counts["school"]):
        district = districts[s % len(districts)]
        district.children.append(TenantSpec(f"s{s}", "school", f"№ {s + 1} мектеп-гимназия ({district.region})",
                                            _bin(rng, used), district.region, rng.choice(["kk", "kk", "ru"]), size()))
    for c in range(counts["college"]):
        region = regions[c % len(regions)]
        kind = "tvet_college" if c % 3 else "postsecondary_college"
        region.children.append(TenantSpec(f"c{c}", kind, f"{region.region}: колледж № {c + 1}", _bin(rng, used),
                                          region.region, rng.choice(["kk", "ru"]), size()))
    for u in range(counts["university"]):
        region = regions[u % len(regions)]
        # Universities report to no authority; they travel with their region's worker.
        region.children.append(TenantSpec(f"u{u}", "university", f"{region.region}: университет № {u + 1}",
                                          _bin(rng, used), region.region, "ru", size()))
    return regions


# A worker: builds whole regions through the aggregates


class Builder:
    """Builds tenants with the domain aggregates and saves them many per transaction, in causal order."""

    def __init__(self, app: Any, rng: random.Random):
        self.app = app
        self.rng = rng
        self.pending: list[Any] = []
        self.pending_events = 0
        self.events = 0
        self.requests = 0
        self.stats: dict[str, dict[str, Any]] = {}
        self.orgs: list[dict[str, Any]] = []
        self.files: list[tuple[Any, ...]] = []
        self.regions: list[dict[str, Any]] = []

    # Plumbing

    def ctx(self, actor: Any, now: datetime) -> Any:
        from domain.base import Context

        self.requests += 1
        return Context(actor=actor, request_id=f"{self.rng.getrandbits(64):016x}", now=now, ids=uuid4)

    def touch(self, *aggregates: Any) -> None:
        for aggregate in aggregates:
            self.pending.append(aggregate)
            self.pending_events += len(aggregate.pending_events)

    def flush(self, force: bool = False) -> None:
        if not self.pending or (not force and self.pending_events < BATCH_EVENTS):
            return
        # An aggregate touched twice is listed twice; its events go once, in order, at its first place.
        seen: set[int] = set()
        ordered = [a for a in self.pending if not (id(a) in seen or seen.add(id(a)))]
        if self.files:
            # The files' bytes are kept before the events that name them (services/files.py).
            from services.files import document_files

            with self.app.recorder.datastore.get_connection() as conn, conn.transaction(), conn.cursor() as curs:
                curs.executemany(f"INSERT INTO {document_files.name} (tenant_id, sha256, media_type, size, content)"
                                 " VALUES (%s, %s, %s, %s, %s) ON CONFLICT DO NOTHING", self.files)
            self.files = []
        recordings = self.app.save(*ordered)
        self.events += len(recordings)
        self.pending, self.pending_events = [], 0

    def name(self) -> str:
        return f"{self.rng.choice(FIRST)} {self.rng.choice(LAST)}"

    # Tenants and people

    def register(self, spec: TenantSpec, parent: Any, now: datetime) -> Any:
        from domain.base import Actor
        from domain.tenants import BinRegistration, Tenant

        ctx = self.ctx(Actor.operator(), now)
        tenant = Tenant.register(ctx, name=spec.name, kind=spec.kind, bin=spec.bin, region=spec.region,
                                 language=spec.language, email=f"info{spec.bin}@edu.kz", parent=parent)
        self.touch(tenant, BinRegistration.claim(ctx, tenant))
        self.stats[str(tenant.id)] = {"name": spec.name, "kind": spec.kind, "people": 0, "units": 0,
                                      "documents": 0}
        return tenant

    def person(self, tenant: Any, actor: Any, now: datetime, roles: list[str], subjects: list[str]) -> Any:
        from domain.people import Person

        person = Person.join(self.ctx(actor, now), tenant_id=tenant.id, tenant_kind=tenant.kind,
                             full_name=self.name(), roles=roles, subjects=subjects)
        self.touch(person)
        self.stats[str(tenant.id)]["people"] += 1
        return person

    @staticmethod
    def actor(person: Any, role: str | None = None) -> Any:
        from domain.base import Actor

        return Actor(role=role or person.roles[0], person_id=person.id, tenant_id=person.tenant,
                     roles=tuple(person.roles))

    def staff(self, tenant: Any, now: datetime, teachers: int, subjects: list[str], teacher_roles: list[str],
              methodists: int) -> dict[str, Any]:
        """The head (added by the operator), a deputy head, methodists and teachers (added by the head)."""
        from domain.base import Actor

        head = self.person(tenant, Actor.operator(), now, ["head"], [])
        self.stats[str(tenant.id)]["head_id"] = str(head.id)
        by_head = self.actor(head, "head")
        if self.rng.random() < 0.05:
            # A credential issued (by the hash of a secret nobody keeps) and later revoked.
            secret = hashlib.sha256(self.rng.getrandbits(256).to_bytes(32, "big")).hexdigest()
            token_id = head.issue_token(self.ctx(Actor.operator(), now + timedelta(minutes=1)), secret)
            head.revoke_token(self.ctx(by_head, now + timedelta(days=30)), token_id)
        deputy = self.person(tenant, by_head, now + timedelta(minutes=5), ["deputy_head"], [])
        for m in range(methodists):
            self.person(tenant, by_head, now + timedelta(minutes=6 + m), ["methodist"], [])
        people = []
        for t in range(teachers):
            own = [subjects[min(int(self.rng.expovariate(0.35)), len(subjects) - 1)]]
            if self.rng.random() < 0.25:
                own.append(self.rng.choice(subjects))
            roles = [self.rng.choice(teacher_roles)]
            if "class_teacher" in teacher_roles and self.rng.random() < 0.3 and roles != ["class_teacher"]:
                roles.append("class_teacher")
            people.append(self.person(tenant, by_head, now + timedelta(minutes=10 + t), roles,
                                      list(dict.fromkeys(own))))
        return {"head": head, "deputy": deputy, "teachers": people}

    # Units, leaders, plans, meetings

    def candidate(self, person: Any, tenant_kind: str) -> Any:
        from domain.units import Candidate

        return Candidate(person_id=person.id, tenant_id=person.tenant, tenant_kind=tenant_kind,
                         roles=tuple(person.roles), subjects=tuple(person.subjects), active=person.active)

    def form(self, tenant: Any, by: Any, now: datetime, kind: str, name: str, subject: str | None,
             members: list[Any], member_kinds: dict[UUID, str] | None = None) -> Any:
        from domain.units import Unit

        reporting = {m.tenant for m in members if m.tenant != tenant.id}
        unit = Unit.form(self.ctx(by, now), tenant_id=tenant.id, tenant_kind=tenant.kind, kind=kind, name=name,
                         subject=subject, candidates=[self.candidate(m, (member_kinds or {}).get(m.tenant, tenant.kind))
                                                      for m in members], reporting_tenants=reporting)
        self.touch(unit)
        self.stats[str(tenant.id)]["units"] += 1
        return unit

    def lead(self, unit: Any, by: Any, now: datetime, leader: Any) -> None:
        unit.choose_leader(self.ctx(by, now), leader.id, TERM_START, None, by_unit_tenant=True)
        self.touch(unit)

    def plan_and_meet(self, tenant: Any, unit: Any, leader: Any, head: Any, now: datetime, level: list[str],
                      members: list[Any], meetings: int, plan: bool) -> None:
        from domain.documents import UNIT_LEADER
        from domain.plans import AnnualPlan

        as_leader = self.actor(leader, UNIT_LEADER)
        if plan:
            items = [{"direction": self.rng.choice(level), "title": f"Жоспар тармағы {i + 1}",
                      "due": (TERM_START + timedelta(days=30 * (i + 1))).isoformat()} for i in range(4)]
            drafted = AnnualPlan.draft(self.ctx(as_leader, now), tenant_id=tenant.id, tenant_kind=tenant.kind,
                                       unit_id=unit.id, academic_year=YEAR, items=items)
            self.touch(drafted)
            if self.rng.random() < 0.2:
                drafted.revise(self.ctx(as_leader, now + timedelta(days=2)), tenant.kind, items[:3])
            if self.rng.random() < 0.85:
                drafted.approve(self.ctx(self.actor(head, "head"), now + timedelta(days=4)))
        for m in range(meetings):
            held = (now + timedelta(days=20 + 25 * m)).date()
            when = datetime.combine(held, datetime.min.time(), now.tzinfo) + timedelta(hours=16)
            attendees = [p.id for p in members if self.rng.random() < 0.85] or [leader.id]
            unit.hold_meeting(self.ctx(as_leader, when), tenant_kind=tenant.kind, held_on=held,
                              agenda=[{"direction": self.rng.choice(level), "title": f"Отырыс {m + 1}"}],
                              minutes="Шешім қабылданды.", attendee_ids=attendees)
        self.touch(unit)

    # Documents (p.18 – p.21)

    def documents(self, tenant: Any, count: int, teachers: list[Any], council: Any, chair: Any,
                  deputy: Any, head: Any, units: list[tuple[Any, Any]], now: datetime) -> None:
        from domain.documents import AUTHOR, UNIT_LEADER, MethodicalDocument, ReviewingUnit

        council_step = ReviewingUnit(council.id, council.tenant, council.kind, council.name)
        for n in range(count):
            at = now + timedelta(days=self.rng.randrange(0, 60), minutes=n)
            by_unit = units and self.rng.random() < 0.15
            if by_unit:
                unit, leader = self.rng.choice(units)
                author = leader
                kind = "methodical_documentation"
                doc = MethodicalDocument.draft(self.ctx(self.actor(leader, UNIT_LEADER), at), tenant_id=tenant.id,
                                               kind=kind, title=f"{unit.name}: әдістемелік құжаттама {n + 1}",
                                               body="Құжаттың мәтіні. " * 8,
                                               unit=ReviewingUnit(unit.id, unit.tenant, unit.kind, unit.name))
                approver = self.rng.choice([head, deputy])
                route = [council_step]
            else:
                author = self.rng.choice(teachers)
                if not author.active:
                    continue
                kind = self.rng.choice(["working_program", "lesson_plan", "methodical_guidelines"])
                role = next(r for r in author.roles if r in ("teacher", "industrial_training_master",
                                                             "class_teacher", "preschool_educator", "librarian"))
                doc = MethodicalDocument.draft(self.ctx(self.actor(author, role), at), tenant_id=tenant.id,
                                               kind=kind, title=f"{author.subjects[0] if author.subjects else ''}: "
                                               f"бағдарлама {n + 1}", body="Мақсаты мен мазмұны. " * 10, unit=None)
                approver = deputy
                route = [council_step]
                if units and self.rng.random() < 0.3:
                    unit, leader = self.rng.choice(units)
                    if leader.id != author.id:
                        route = [ReviewingUnit(unit.id, unit.tenant, unit.kind, unit.name), council_step]
            self.touch(doc)
            self.stats[str(tenant.id)]["documents"] += 1
            as_author = self.actor(author, AUTHOR)
            if self.rng.random() < 0.05:
                content = f"%PDF-1.4\n% {doc.title}\n%%EOF\n".encode()
                digest = hashlib.sha256(content).hexdigest()
                self.files.append((tenant.id, digest, "application/pdf", len(content), content))
                doc.attach(self.ctx(as_author, at + timedelta(hours=2)),
                           {"id": UUID(int=self.rng.getrandbits(128), version=4), "filename": f"doc-{n + 1}.pdf",
                            "media_type": "application/pdf", "size": len(content), "sha256": digest})
            fate = self.rng.random()
            if fate < 0.08:
                continue  # still a draft
            if fate < 0.11:
                doc.withdraw(self.ctx(as_author, at + timedelta(days=1)), "Қайта жазылады.")
                continue
            doc.submit(self.ctx(as_author, at + timedelta(days=1)), route, ())
            if fate < 0.2:
                continue  # waiting for its first conclusion
            leaders = {council.id: chair}
            for step in route:
                if step.unit_id != council.id:
                    leaders[step.unit_id] = next(lead for u, lead in units if u.id == step.unit_id)
            day = 2
            for attempt in range(2):
                negative_at = None
                if attempt == 0 and self.rng.random() < 0.15:
                    negative_at = self.rng.randrange(len(route))
                for i, step in enumerate(route):
                    voice = self.actor(leaders[step.unit_id], UNIT_LEADER)
                    positive = i != negative_at
                    doc.conclude(self.ctx(voice, at + timedelta(days=day)), step.unit_id, positive,
                                 "" if positive else "Толықтыру қажет.", speaks_for_unit=True)
                    day += 1
                    if not positive:
                        break
                if negative_at is None:
                    break
                doc.revise(self.ctx(as_author, at + timedelta(days=day)), "Түзетілген мәтін. " * 10)
                day += 1
            if fate < 0.3:
                continue  # concluded, waiting for the approver
            who = self.actor(approver, "deputy_head" if approver is deputy else "head")
            if fate < 0.34:
                doc.reject(self.ctx(who, at + timedelta(days=day)), "Талаптарға сай емес.")
            else:
                doc.approve(self.ctx(who, at + timedelta(days=day)))

    # Whole tenants

    def organization(self, spec: TenantSpec, parent: Any, now: datetime) -> tuple[Any, dict[str, Any]]:
        kind = spec.kind
        if kind == "school":
            teachers, subjects, roles, level = int(44 * spec.size), SCHOOL_SUBJECTS, \
                ["teacher", "teacher", "teacher", "preschool_educator"], "school"
            unit_kind, methodists = "methodical_association", 1
        elif kind in ("tvet_college", "postsecondary_college"):
            teachers, subjects, roles, level = int(40 * spec.size), COLLEGE_SUBJECTS, \
                ["teacher", "teacher", "industrial_training_master"], "college"
            unit_kind = "subject_cycle_commission" if kind == "tvet_college" else "department"
            methodists = 2
        else:
            teachers, subjects, roles, level = int(70 * spec.size), UNIVERSITY_SUBJECTS, ["teacher"], "university"
            unit_kind, methodists = "department", 0
        from domain import directions

        codes = [d.code for d in directions.directions_for(level)] + [d.code for d in directions.directions_for("unit")]
        tenant = self.register(spec, parent, now)
        staff = self.staff(tenant, now + timedelta(hours=1), max(teachers, 6), subjects, roles, methodists)
        head, deputy, people = staff["head"], staff["deputy"], staff["teachers"]
        self.last_teachers = people
        by_head = self.actor(head, "head")
        if kind == "school" and self.rng.random() < 0.1:
            # The school's own quarters, which its association meetings are counted by (p.25).
            tenant.set_calendar(self.ctx(by_head, now + timedelta(days=2)),
                                [["09-01", "10-26"], ["11-03", "12-28"], ["01-08", "03-17"], ["03-30", "05-25"]])
            self.touch(tenant)
        later = now + timedelta(days=3)
        # Associations, commissions or departments: one per subject with at least three teachers (p.16, p.26).
        member_roles = {"methodical_association": ("teacher", "class_teacher", "preschool_educator"),
                        "subject_cycle_commission": ("teacher", "industrial_training_master"),
                        "department": ("teacher", "industrial_training_master")}[unit_kind]
        units: list[tuple[Any, Any]] = []
        for subject in subjects:
            members = [p for p in people if subject in p.subjects and set(p.roles) & set(member_roles)]
            if len(members) < 3:
                continue
            unit = self.form(tenant, by_head, later, unit_kind, f"{subject}: {unit_kind}", subject, members[:12])
            leader = members[0]
            self.lead(unit, by_head, later + timedelta(hours=1), leader)
            units.append((unit, leader))
            for extra in members[12:14]:
                unit.admit(self.ctx(by_head, later + timedelta(days=5)), self.candidate(extra, tenant.kind))
                self.touch(unit)
            self.plan_and_meet(tenant, unit, leader, head, later + timedelta(days=1), codes, members[:12],
                               meetings=3, plan=unit_kind == "methodical_association")
            if len(members) > 3 and self.rng.random() < 0.15:
                # A member leaves the unit after its meetings (it is kept, and reported if below its minimum:
                # p.16, p.26).
                unit.release(self.ctx(by_head, later + timedelta(days=75)), members[min(len(members), 14) - 1].id)
                self.touch(unit)
        council_members = [deputy] + people[:4]
        council = self.form(tenant, by_head, later, "methodical_council", "Әдістемелік кеңес", None, council_members)
        self.lead(council, by_head, later + timedelta(hours=2), deputy)
        self.plan_and_meet(tenant, council, deputy, head, later + timedelta(days=1), codes, council_members,
                           meetings=2, plan=False)
        if kind == "university":
            self.form(tenant, by_head, later, "methodical_section", "Әдістемелік секция", None, people[:5])
        self.flush()
        # Changes over the term: a few change subjects, a few leave (and so leave their units).
        leaders = {leader.id for _, leader in units} | {deputy.id}
        for person in people:
            draw = self.rng.random()
            when = now + timedelta(days=self.rng.randrange(30, 70))
            if draw < 0.06:
                person.change(self.ctx(by_head, when), tenant.kind,
                              subjects=person.subjects + [self.rng.choice(subjects)])
                self.touch(person)
            elif draw < 0.09 and person.id not in leaders:
                self.leavers.append((person, self.ctx(by_head, when)))
        docs = int(26 * spec.size) if kind == "school" else int(30 * spec.size)
        self.documents(tenant, docs, people, council, deputy, deputy, head, units, now + timedelta(days=10))
        self.flush()
        info = {"tenant_id": str(tenant.id), "kind": kind, "name": tenant.name, "language": tenant.language,
                "region": spec.region, "head_id": str(head.id), "head_name": head.full_name,
                "teachers": [str(p.id) for p in people[:3]]}
        return tenant, info

    def region(self, spec: TenantSpec) -> None:
        now = START + timedelta(hours=self.rng.randrange(0, 8))
        region = self.register(spec, None, now)
        staff = self.staff(region, now + timedelta(minutes=30), 0, [], ["teacher"], 3)
        self.regions.append({"tenant_id": str(region.id), "region": spec.region, "head_id": str(staff["head"].id),
                             "name": region.name})
        self.leavers: list[tuple[Any, Any]] = []
        for child in spec.children:
            if child.kind == "district_department":
                self.district(child, region, now + timedelta(hours=1))
            else:
                _, info = self.organization(child, region if child.kind != "university" else None,
                                            now + timedelta(hours=2))
                if child.kind != "school":
                    self.orgs.append(info)
        # People who leave do so once the units they are in exist (p.16, p.26: units kept and reported).
        self.flush(force=True)
        for person, ctx in self.leavers:
            person.leave(ctx)
            self.touch(person)
        self.flush(force=True)

    def district(self, spec: TenantSpec, region: Any, now: datetime) -> None:
        from domain import directions

        district = self.register(spec, region, now)
        staff = self.staff(district, now + timedelta(minutes=30), 0, [], ["teacher"], 2)
        by_head = self.actor(staff["head"], "head")
        schools = []
        for child in spec.children:
            tenant, _ = self.organization(child, district, now + timedelta(hours=1))
            schools.append((tenant, self.last_teachers))
        # Inter-school associations of the district (p.25), leaders appointed by the department (p.30).
        codes = [d.code for d in directions.directions_for("school")]
        for subject in SCHOOL_SUBJECTS[:2]:
            members = [p for _, teachers in schools for p in teachers if subject in p.subjects and p.active][:10]
            if len(members) < 3:
                continue
            kinds = {p.tenant: "school" for p in members}
            unit = self.form(district, by_head, now + timedelta(days=8), "interschool_association",
                             f"{subject}: мектепаралық бірлестік", subject, members, kinds)
            self.lead(unit, by_head, now + timedelta(days=8, hours=1), members[0])
            self.plan_and_meet(district, unit, members[0], staff["head"], now + timedelta(days=9), codes,
                               members, meetings=2, plan=True)
        self.flush()


def _seed_ids(rng: random.Random) -> Any:
    """Make the aggregates' ids come from the seeded generator (the modules' own uuid4); return the undo."""
    import domain.audit
    import domain.documents
    import domain.people
    import domain.tenants
    import domain.unions
    import domain.units

    def seeded() -> UUID:
        return UUID(int=rng.getrandbits(128), version=4)

    modules = [m for m in (domain.tenants, domain.people, domain.units, domain.documents, domain.unions,
                           domain.audit) if hasattr(m, "uuid4")]
    originals = [m.uuid4 for m in modules]
    for module in modules:
        module.uuid4 = seeded

    def restore() -> None:
        for module, original in zip(modules, originals):
            module.uuid4 = original

    return restore


def _app(database_url: str) -> Any:
    from services.applications import Platform
    from services.config import Settings

    env = {**os.environ, "DATABASE_URL": database_url}
    settings = Settings.from_env(env)
    # A small pool; a batch may wait its turn for the log's insert lock behind another worker's.
    # The tables exist (migrated): several workers creating them at once would collide.
    return Platform(env={**settings.eventsourcing_env(create_tables=False), "POSTGRES_POOL_SIZE": "2",
                         "POSTGRES_MAX_OVERFLOW": "1", "POSTGRES_LOCK_TIMEOUT": "120", "POOL_WAIT_SECONDS": ""})


def copy_stored_events(app: Any) -> None:
    """Let the application's recorder write a save's stored events with one binary COPY instead of its array insert.

    The rows are the recorder's own (the mapper made them: same topic, same state bytes), written under the same
    EXCLUSIVE table lock and NOTIFY in one transaction, so their notification ids are one contiguous block in
    commit order; the table's keys still refuse a duplicate version. Only the transport differs: the recorder's
    insert encodes every state into a text array of composites, which costs more than building the events.
    """
    recorder = app.recorder
    datastore = recorder.datastore
    copy_sql = (f"COPY {datastore.schema}.{recorder.events_table_name}"
                " (originator_id, originator_version, topic, state) FROM STDIN (FORMAT BINARY)")
    sequence = f"{datastore.schema}.{recorder.events_table_name}_notification_id_seq"

    def insert_events(stored_events: Any, **kwargs: Any) -> list[int]:
        if not stored_events:
            return []
        with datastore.get_connection() as conn, conn.transaction(), conn.cursor() as curs:
            recorder._lock_table(curs)
            recorder._notify_channel(curs)
            with curs.copy(copy_sql) as copy:
                copy.set_types(["uuid", "int8", "text", "bytea"])
                for e in stored_events:
                    copy.write_row((e.originator_id, e.originator_version, e.topic, e.state))
            curs.execute(f"SELECT currval('{sequence}') AS last")
            last = curs.fetchone()["last"]
        return list(range(last - len(stored_events) + 1, last + 1))

    recorder.insert_events = insert_events


def _work(args: tuple[str, list[TenantSpec], int]) -> dict[str, Any]:
    """A worker process: build the given regions; return what the main process needs."""
    database_url, regions, seed = args
    app = _app(database_url)
    copy_stored_events(app)
    out: dict[str, Any] = {"events": 0, "stats": {}, "orgs": [], "regions": [], "requests": 0}
    try:
        for spec in regions:
            rng = random.Random(f"{seed}:{spec.key}")
            restore = _seed_ids(rng)
            try:
                builder = Builder(app, rng)
                builder.region(spec)
            finally:
                restore()
            out["events"] += builder.events
            out["requests"] += builder.requests
            out["stats"].update(builder.stats)
            out["orgs"].extend(builder.orgs)
            out["regions"].extend(builder.regions)
    finally:
        app.close()
    return out


# Unions (main process, after the regions): cross-tenant


def build_unions(app: Any, scale: float, seed: int, orgs: list[dict[str, Any]], regions: list[dict[str, Any]],
                 engine: Any) -> tuple[int, int]:
    """Found unions among the colleges and universities, with chairs, decisions and their circulars."""
    rng = random.Random(f"{seed}:unions")
    restore = _seed_ids(rng)
    try:
        return _unions(app, scale, rng, orgs, regions, engine)
    finally:
        restore()


def _unions(app: Any, scale: float, rng: random.Random, orgs: list[dict[str, Any]], regions: list[dict[str, Any]],
            engine: Any) -> tuple[int, int]:
    from domain.base import Actor, Context
    from domain.unions import Circular, Recipient, Union
    from services.files import circular_documents

    orgs = sorted(orgs, key=lambda o: o["tenant_id"])
    by_region = {r["region"]: r for r in regions}
    founders = [o for o in orgs if o["kind"] in ("tvet_college", "postsecondary_college", "university")]
    count = max(1, round(50 * scale)) if founders else 0
    language = {o["tenant_id"]: o["language"] for o in orgs}
    names = {o["tenant_id"]: o["name"] for o in orgs}
    heads = {o["tenant_id"]: o["head_id"] for o in orgs}
    events = requests = 0
    now = START + timedelta(days=20)

    def ctx(actor: Any, at: datetime) -> Context:
        nonlocal requests
        requests += 1
        return Context(actor=actor, request_id=f"{rng.getrandbits(64):016x}", now=at, ids=uuid4)

    for n in range(count):
        founder = founders[n % len(founders)]
        coordinator = by_region[founder["region"]]
        head = Actor(role="head", person_id=UUID(founder["head_id"]), tenant_id=UUID(founder["tenant_id"]),
                     roles=("head",))
        by_coordinator = Actor(role="head", person_id=UUID(coordinator["head_id"]),
                               tenant_id=UUID(coordinator["tenant_id"]), roles=("head",))
        at = now + timedelta(days=n % 10, hours=n)
        specialties = rng.sample(SPECIALTIES, 5)
        union = Union.found(ctx(head, at), name=f"ОӘБ № {n + 1}",
                            sector=rng.choice(["Білім", "Денсаулық", "Өнеркәсіп"]),
                            specialties=specialties, founder_kind=founder["kind"], founder_name=founder["name"],
                            coordinator_id=UUID(coordinator["tenant_id"]), coordinator_kind="regional_department",
                            founder_in_region=True)
        # p.22: a union's members lie in its coordinator's region.
        neighbours = [f for f in founders if f["region"] == founder["region"]]
        members = rng.sample(neighbours, min(len(neighbours), 30))
        for member in members:
            if member["tenant_id"] == founder["tenant_id"]:
                continue
            union.admit_organization(ctx(by_coordinator, at + timedelta(hours=1)), tenant_id=UUID(member["tenant_id"]),
                                     tenant_kind=member["kind"], name=member["name"],
                                     specialties=rng.sample(specialties, rng.randrange(1, 4)), in_region=True)
        union.admit_external(ctx(by_coordinator, at + timedelta(hours=2)), name="ЖШС Жұмыс беруші",
                             kind="employer", specialties=specialties[:2])
        union.approve_chair(ctx(by_coordinator, at + timedelta(hours=3)), person_id=UUID(founder["head_id"]),
                            person_tenant_id=UUID(founder["tenant_id"]), full_name=founder["head_name"],
                            council_decision_number=f"{n + 1}-ОӘК",
                            council_decision_date=(at + timedelta(hours=3)).date())
        chair = head
        removable = [m for m in union.members.values()
                     if m.tenant_id is not None and str(m.tenant_id) != founder["tenant_id"]]
        if removable:
            union.remove_member(ctx(chair, at + timedelta(hours=4)), rng.choice(removable).member_id, withdrawal=False)
        pending: list[Any] = [union]
        stored_documents: list[dict[str, Any]] = []
        for d in range(12):
            when = at + timedelta(days=1 + d * 4)
            decision, recipients = union.adopt_decision(
                ctx(chair, when), title=f"Ұсыным № {d + 1}", text="Ұсынылады: " + "мазмұны. " * 20,
                direction=rng.choice([f"p.33.{i}" for i in range(1, 12)]), specialties=rng.sample(specialties, 2))
            pending.append(decision)
            for sequence, member in enumerate(recipients, start=1):
                tenant_id = str(member.tenant_id)
                recipient = Recipient(member.member_id, member.tenant_id, names[tenant_id], language[tenant_id])
                issued = ctx(chair, when)
                circular = Circular.issue(issued, decision, recipient, sequence)
                # The delivery job keeps the rendered document, then records the delivery (ADR 006).
                content = (f"%PDF-1.4\n% circular {circular.number} {decision.title}\n%%EOF\n").encode()
                sha = hashlib.sha256(content).hexdigest()
                stored_documents.append({"circular_id": circular.id, "tenant_id": member.tenant_id,
                                         "union_id": union.id, "content_type": "application/pdf",
                                         "filename": f"circular-{circular.number.replace('/', '-')}.pdf",
                                         "sha256": sha, "content": content})
                delivery = Actor(role="delivery")
                if rng.random() < 0.03:
                    # Delivery failed after every attempt; the chair retried it (p.34).
                    circular.fail(ctx(delivery, when + timedelta(minutes=1)), error="SMTP relay refused", attempts=4)
                    circular.retry(ctx(chair, when + timedelta(minutes=3)))
                circular.deliver(ctx(delivery, when + timedelta(minutes=5)), document_sha256=sha,
                                 document_size=len(content), notice_sent_to=None)
                if rng.random() < 0.7:
                    reader = Actor(role="head", person_id=UUID(heads[tenant_id]), tenant_id=member.tenant_id,
                                   roles=("head",))
                    circular.acknowledge(ctx(reader, when + timedelta(days=2)),
                                         response=rng.choice(["noted", "will_adopt", "adapted", "declined"]),
                                         note=None)
                pending.append(circular)
        if stored_documents:
            with engine.begin() as conn:
                conn.execute(circular_documents.insert(), stored_documents)
        events += len(app.save(*pending))
    return events, requests


# The whole run


def _migrate(database_url: str) -> None:
    env = {**os.environ, "DATABASE_URL": database_url}
    subprocess.run([sys.executable, "-m", "services.cli", "migrate"], env={**env, "LOG_LEVEL": "WARNING"}, cwd=ROOT,
                   check=True,
                   stdout=subprocess.DEVNULL)


def _split(regions: list[TenantSpec], processes: int) -> list[list[TenantSpec]]:
    """Deal the regions to the workers, largest first, so they finish together."""
    def weight(spec: TenantSpec) -> float:
        return sum(c.size * (1 + len(c.children)) for c in spec.children)

    shares: list[list[TenantSpec]] = [[] for _ in range(processes)]
    loads = [0.0] * processes
    for spec in sorted(regions, key=weight, reverse=True):
        i = loads.index(min(loads))
        shares[i].append(spec)
        loads[i] += weight(spec)
    return [s for s in shares if s]


def generate(database_url: str, scale: float = 1.0, processes: int = 2, seed: int = 583,
             tokens_path: str | Path | None = None, migrate: bool = True, build_read_models: bool = True
             ) -> dict[str, Any]:
    """Generate the country into the database; build read models and chain; return counts, rate and tokens.

    `migrate=False` when the database is migrated already; `build_read_models=False` leaves the read models and
    the chain unbuilt (for a caller that rebuilds them itself, as the rebuild benchmark does).
    """
    from projections.base import make_engine
    from services.config import Settings

    if migrate:
        _migrate(database_url)
    settings = Settings.from_env({**os.environ, "DATABASE_URL": database_url})
    engine = make_engine(settings.sqlalchemy_url(), 2)
    regions = plan_country(scale, seed)
    started = time.perf_counter()
    shares = _split(regions, max(1, processes))
    jobs = [(database_url, share, seed) for share in shares]
    if len(jobs) == 1:
        results = [_work(jobs[0])]
    else:
        with multiprocessing.get_context("spawn").Pool(len(jobs)) as pool:
            results = pool.map(_work, jobs)
    stats: dict[str, dict[str, Any]] = {}
    orgs, region_info = [], []
    events = requests = 0
    for result in results:
        events += result["events"]
        requests += result["requests"]
        stats.update(result["stats"])
        orgs.extend(result["orgs"])
        region_info.extend(result["regions"])
    app = _app(database_url)
    copy_stored_events(app)
    try:
        union_events, union_requests = build_unions(app, scale, seed, orgs, region_info, engine)
        events += union_events
        requests += union_requests
        seconds = time.perf_counter() - started
        busiest_id, busiest = max(stats.items(), key=lambda kv: (kv[1]["people"] + kv[1]["units"]
                                                                 + kv[1]["documents"], kv[0]))
        credentials = issue_credentials(app, UUID(busiest_id), UUID(busiest["head_id"]))
        with engine.connect() as conn:
            from sqlalchemy import text

            by_topic = {topic.rsplit(":", 1)[-1]: n for topic, n in conn.execute(text(
                "SELECT topic, count(*) FROM methodical_events GROUP BY topic ORDER BY topic"))}
            total = conn.execute(text("SELECT count(*) FROM methodical_events")).scalar_one()
        from projections.bulk import build_chain, rebuild_all

        rebuilt: dict[str, int] = {}
        chain: dict[str, Any] = {}
        rebuild_seconds = chain_seconds = 0.0
        if build_read_models:
            rebuild_started = time.perf_counter()
            rebuilt = rebuild_all(app, engine)
            rebuild_seconds = time.perf_counter() - rebuild_started
            chain_started = time.perf_counter()
            chain = build_chain(engine, settings.signing_key(), settings.checkpoint_interval)
            chain_seconds = time.perf_counter() - chain_started
    finally:
        app.close()
        engine.dispose()
    kinds = Counter(s["kind"] for s in stats.values())
    result = {
        "scale": scale, "processes": len(jobs), "seed": seed,
        "events": total, "events_generated": events, "commands": requests, "seconds": round(seconds, 2),
        "events_per_second": round(events / seconds, 1) if seconds else None,
        "counts": {"tenants": dict(kinds), "people": sum(s["people"] for s in stats.values()),
                   "units": sum(s["units"] for s in stats.values()),
                   "documents": sum(s["documents"] for s in stats.values()),
                   "unions": max(1, round(50 * scale))},
        "by_topic": by_topic,
        "busiest": {"tenant_id": busiest_id, **busiest, **credentials},
        "rebuild": {"seconds": round(rebuild_seconds, 2), "events": rebuilt},
        "chain": {**chain, "seconds": round(chain_seconds, 2)},
    }
    if tokens_path:
        Path(tokens_path).write_text(json.dumps(result, ensure_ascii=False, indent=2) + "\n")
        os.chmod(tokens_path, 0o600)
    return result


def issue_credentials(app: Any, tenant_id: UUID, head_id: UUID) -> dict[str, Any]:
    """Through the platform's commands: a token for the tenant's head, an auditor with a grant and a token."""
    from domain.base import Actor, Context

    tenant = app.get_tenant(tenant_id)
    head = app.get_person(tenant_id, head_id)
    now = datetime.now(timezone.utc)
    as_head = Context(actor=Actor(role="head", person_id=head.id, tenant_id=tenant.id, roles=tuple(head.roles)),
                      request_id="generate-credentials", now=now, ids=uuid4)
    head_token = app.issue_token(as_head, tenant.id, head.id)
    auditor = app.add_person(as_head, tenant.id, full_name="Аудитор Тексеруші", roles=["auditor"],
                             subjects=[]).aggregate
    # An earlier grant, revoked; then the live one.
    first = app.grant_audit(as_head, tenant.id, person_id=auditor.id, until=now.date() + timedelta(days=30)).aggregate
    app.revoke_audit(as_head, tenant.id, first.id)
    app.grant_audit(as_head, tenant.id, person_id=auditor.id, until=now.date().replace(year=now.year + 1))
    auditor_token = app.issue_token(as_head, tenant.id, auditor.id)
    return {"head_id": str(head.id), "head_token": head_token.token, "auditor_id": str(auditor.id),
            "auditor_token": auditor_token.token}
