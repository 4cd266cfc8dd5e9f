"""Methodical units inside a tenant and across organizations (p.10 – p.17, p.25 – p.32, p.36).

A unit has members, a leader with a one-year term (p.30), and meetings (p.25, p.27). Its annual
plan is its own aggregate (domain/plans.py).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any
from uuid import UUID

from domain import directions, rules
from domain.base import Conflict, Context, InvalidValue, Recorded, RuleViolation, Series, Term, day_of
from domain.days import check_within, years_from

METHODICAL_ASSOCIATION = "methodical_association"
INTERSCHOOL_ASSOCIATION = "interschool_association"
DISTRICT_ASSOCIATION = "district_association"
SUBJECT_CYCLE_COMMISSION = "subject_cycle_commission"
DEPARTMENT = "department"
INTERCOLLEGE_COMMISSION = "intercollege_commission"
METHODICAL_SECTION = "methodical_section"
METHODICAL_COUNCIL = "methodical_council"
METHODICAL_CABINET = "methodical_cabinet"
METHODICAL_OFFICE = "methodical_office"

ELECTED, APPOINTED = "elected", "appointed"


@dataclass(frozen=True)
class UnitKind:
    """What the Rules say of one kind of unit: where it may exist, who may join, who leads it."""

    code: str
    tenant_kinds: tuple[str, ...]
    clause: str
    needs_subject: bool = False
    minimum: int = 0
    minimum_clause: str | None = None
    # Cross-organization units take members from the organizations that report to their tenant.
    cross_organization: bool = False
    has_leader: bool = False
    leader_clause: str | None = None
    # Leaders only appointed by the unit's tenant (p.30: inter-school heads by the district department).
    appointed_only: bool = False
    plans_yearly: bool = False
    # Meeting cadence: "quarter" (p.25) or a minimum per academic year (p.27).
    meets: str | None = None
    meets_clause: str | None = None
    min_meetings_per_year: int = 0
    member_roles: tuple[str, ...] = rules.TEACHING_ROLES


_COLLEGE_TEACHERS = (rules.TEACHER, rules.INDUSTRIAL_TRAINING_MASTER)  # p.16: masters count with teachers

UNIT_KINDS: dict[str, UnitKind] = {
    k.code: k
    for k in (
        UnitKind(METHODICAL_ASSOCIATION, (rules.SCHOOL,), "p.25", needs_subject=True, minimum=3,
                 minimum_clause="p.26", has_leader=True, leader_clause="p.30", plans_yearly=True,
                 meets="quarter", meets_clause="p.25"),
        UnitKind(INTERSCHOOL_ASSOCIATION, (rules.DISTRICT_DEPARTMENT,), "p.25", needs_subject=True, minimum=3,
                 minimum_clause="p.26", cross_organization=True, has_leader=True, leader_clause="p.30",
                 appointed_only=True, plans_yearly=True, meets="quarter", meets_clause="p.25"),
        UnitKind(DISTRICT_ASSOCIATION, (rules.DISTRICT_DEPARTMENT,), "p.27", cross_organization=True,
                 has_leader=True, leader_clause="p.27", appointed_only=True, plans_yearly=True, meets="year",
                 meets_clause="p.27", min_meetings_per_year=2,
                 member_roles=rules.TEACHING_ROLES + (rules.LIBRARIAN,)),
        UnitKind(SUBJECT_CYCLE_COMMISSION, (rules.TVET_COLLEGE,), "p.16", needs_subject=True, minimum=3,
                 minimum_clause="p.16", has_leader=True, leader_clause="p.17", member_roles=_COLLEGE_TEACHERS),
        UnitKind(DEPARTMENT, (rules.POSTSECONDARY_COLLEGE, rules.UNIVERSITY), "p.16", needs_subject=True,
                 minimum=3, minimum_clause="p.16", has_leader=True, leader_clause="p.17",
                 member_roles=_COLLEGE_TEACHERS),
        UnitKind(INTERCOLLEGE_COMMISSION, (rules.REGIONAL_DEPARTMENT,), "p.16", needs_subject=True,
                 cross_organization=True, has_leader=True, leader_clause="p.17", member_roles=_COLLEGE_TEACHERS),
        UnitKind(METHODICAL_SECTION, (rules.UNIVERSITY,), "p.36", member_roles=rules.ROLES),
        UnitKind(METHODICAL_COUNCIL, rules.TENANT_KINDS, "p.14", has_leader=True, leader_clause="p.14",
                 member_roles=rules.ROLES),
        UnitKind(METHODICAL_CABINET, rules.TENANT_KINDS, "p.3", member_roles=rules.ROLES),
        UnitKind(METHODICAL_OFFICE, rules.TENANT_KINDS, "p.10", member_roles=rules.ROLES),
    )
}


@dataclass(frozen=True)
class Candidate:
    """What a unit needs to know of a person to admit them: whose they are, what they do and teach."""

    person_id: UUID
    tenant_id: UUID
    tenant_kind: str
    roles: tuple[str, ...]
    subjects: tuple[str, ...]
    active: bool = True
    # For an inter-college commission: how many teachers of its discipline the person's college has.
    colleagues_teaching: int | None = None


def teaches(candidate: Candidate, subject: str | None, member_roles: Sequence[str]) -> bool:
    """Return True if the person holds a role the unit admits and (where it has one) teaches its subject."""
    if not any(role in member_roles for role in candidate.roles):
        return False
    if subject is None:
        return True
    folded = subject.casefold().strip()
    return any(s.casefold().strip() == folded for s in candidate.subjects)


def academic_year_of(day: date) -> str:
    """Return the academic year a day falls in ("2026-2027" from 1 September 2026 to 31 August 2027)."""
    start = day.year if day.month >= 9 else day.year - 1
    return f"{start}-{start + 1}"


def term_end(starts_on: date) -> date:
    """Return the day a one-year term ends (p.30): the same day a year later."""
    return years_from(starts_on, 1)


class UnitKindNotAllowed(RuleViolation):
    """Raised when a tenant may not have a unit of this kind."""


class Unit(Recorded):
    """A methodical unit: association, commission, department, section, council, cabinet or office."""

    class Formed(Recorded.Created):
        tenant: UUID
        kind: str
        name: str
        subject: str | None
        members: list[dict[str, Any]]

    class MemberJoined(Recorded.Event):
        person_id: UUID
        member_tenant_id: UUID

        def apply(self, unit: Unit) -> None:
            unit.members[self.person_id.hex] = self.member_tenant_id
            unit.joined = {**_joined(unit), self.person_id.hex: self.timestamp}

    class MemberLeft(Recorded.Event):
        person_id: UUID
        members_left: int

        def apply(self, unit: Unit) -> None:
            unit.members.pop(self.person_id.hex, None)
            unit.joined = {pid: at for pid, at in _joined(unit).items() if pid != self.person_id.hex}

    class LeaderChosen(Recorded.Event):
        person_id: UUID
        method: str
        starts_on: date
        ends_on: date

        def apply(self, unit: Unit) -> None:
            unit.leaders.append(
                {"person_id": self.person_id, "method": self.method, "starts_on": self.starts_on,
                 "ends_on": self.ends_on}
            )

    class MeetingHeld(Recorded.Event):
        meeting_id: UUID
        held_on: date
        agenda: list[dict[str, str]]
        minutes: str
        attendee_ids: list[UUID]

        def apply(self, unit: Unit) -> None:
            # The unit keeps its last meeting only (for the command's answer): its meetings are the read model's
            # (rm_meetings), so the aggregate, its copies and its snapshots do not grow with every meeting.
            unit.last_meeting = {"id": self.meeting_id, "held_on": self.held_on, "agenda": self.agenda,
                                 "minutes": self.minutes, "attendee_ids": list(self.attendee_ids)}

    def __init__(self, tenant: UUID, kind: str, name: str, subject: str | None, members: list[dict[str, Any]],
                 meta: dict[str, Any]):
        self.tenant = tenant
        self.kind = kind
        self.name = name
        self.subject = subject
        # person id (hex) -> the member's own tenant
        self.members: dict[str, UUID] = {UUID(m["person_id"]).hex: UUID(m["tenant_id"]) for m in members}
        # person id (hex) -> when they joined: the founding members when the unit was formed.
        self.joined: dict[str, datetime] = {pid: self.created_on for pid in self.members}
        self.leaders: list[dict[str, Any]] = []
        self.last_meeting: dict[str, Any] | None = None

    def joined_at(self, person_hex: str) -> datetime | None:
        """Return when a member joined (None for one a snapshot taken before joining times were kept left out)."""
        return _joined(self).get(person_hex)

    @property
    def tenant_id(self) -> UUID:
        return self.tenant

    @property
    def rules(self) -> UnitKind:
        """Return what the Rules say of this unit's kind."""
        return UNIT_KINDS[self.kind]

    @classmethod
    def form(
        cls,
        ctx: Context,
        *,
        tenant_id: UUID,
        tenant_kind: str,
        kind: str,
        name: str,
        subject: str | None,
        candidates: Iterable[Candidate],
        reporting_tenants: Iterable[UUID] = (),
    ) -> Unit:
        """Form a unit of a kind the tenant may have, with members who fit it and its minimum (p.16, p.26)."""
        unit_kind = check_kind(kind, tenant_kind)
        if not name.strip():
            raise InvalidValue("The name must not be blank.", field="name")
        subject = (subject or "").strip() or None
        if unit_kind.needs_subject and subject is None:
            clause = unit_kind.minimum_clause or unit_kind.clause
            raise InvalidValue("A %(kind)s unites teachers of one subject or discipline: name it (%(cited)s).",
                               clause, "subject", kind=Term(kind), cited=clause)
        members = []
        seen: set[UUID] = set()
        reporting = set(reporting_tenants)
        for candidate in candidates:
            if candidate.person_id in seen:
                continue
            seen.add(candidate.person_id)
            members.append(_admit(unit_kind, tenant_id, subject, candidate, reporting))
        if len(members) < unit_kind.minimum:
            raise RuleViolation(
                "A %(kind)s is formed when at least %(minimum)s teachers of one subject (%(subject)s) join it; "
                "%(count)s do.", unit_kind.minimum_clause, "member_ids", kind=Term(kind), minimum=unit_kind.minimum,
                subject=subject, count=len(members),
            )
        unit_id = ctx.new_id()
        return cls._create(
            cls.Formed,
            id=unit_id,
            timestamp=ctx.at,
            meta=ctx.meta(tenant_id, unit_kind.minimum_clause or unit_kind.clause),
            tenant=tenant_id,
            kind=kind,
            name=name.strip(),
            subject=subject,
            members=members,
        )

    def admit(self, ctx: Context, candidate: Candidate, reporting_tenants: Iterable[UUID] = ()) -> None:
        """Admit a member who fits the unit."""
        if candidate.person_id.hex in self.members:
            raise Conflict("This person is already a member of the unit.", self.rules.minimum_clause or self.rules.clause,
                           "person_id")
        member = _admit(self.rules, self.tenant, self.subject, candidate, set(reporting_tenants), "person_id")
        self.record(self.MemberJoined, ctx, self.rules.minimum_clause or self.rules.clause,
                    person_id=candidate.person_id, member_tenant_id=UUID(member["tenant_id"]))

    def release(self, ctx: Context, person_id: UUID) -> None:
        """Let a member leave; a unit that falls below its minimum is kept and reported (p.16, p.26)."""
        if person_id.hex not in self.members:
            raise InvalidValue("This person is not a member of the unit.", self.rules.minimum_clause or self.rules.clause,
                               "person_id")
        self.record(self.MemberLeft, ctx, self.rules.minimum_clause or self.rules.clause, person_id=person_id,
                    members_left=len(self.members) - 1)

    def choose_leader(self, ctx: Context, person_id: UUID, starts_on: date, method: str | None,
                      by_unit_tenant: bool) -> None:
        """Record an elected or appointed leader with a one-year term (p.30; chairs p.17)."""
        unit_kind = self.rules
        if not unit_kind.has_leader:
            raise RuleViolation("A %(kind)s has no leader under the Rules.", unit_kind.clause, "person_id",
                                kind=Term(self.kind))
        if person_id.hex not in self.members:
            clause = unit_kind.leader_clause or "p.30"
            raise RuleViolation("The leader is chosen from the unit's members (%(cited)s).", clause, "person_id",
                                cited=clause)
        # A term is recorded when it is elected or appointed: it starts within a few years of today (p.30).
        check_within(starts_on, "starts_on", ctx.today, back=5, ahead=1, what="A leader's term start",
                     clause=unit_kind.leader_clause or "p.30")
        method = method or (APPOINTED if unit_kind.appointed_only else ELECTED)
        if method not in (ELECTED, APPOINTED):
            raise InvalidValue("The method is 'elected' or 'appointed'.", field="method")
        if unit_kind.appointed_only and (method != APPOINTED or not by_unit_tenant):
            raise RuleViolation(
                "The leader of a %(kind)s is appointed by the education department.",
                unit_kind.leader_clause, "method", kind=Term(self.kind),
            )
        current = self.current_leader(starts_on)
        if current and current["person_id"] == person_id and current["starts_on"] == starts_on:
            raise Conflict("This leader's term is already recorded.", unit_kind.leader_clause, "person_id")
        self.record(self.LeaderChosen, ctx, unit_kind.leader_clause or unit_kind.clause, person_id=person_id, method=method,
                    starts_on=starts_on, ends_on=term_end(starts_on))

    def hold_meeting(
        self, ctx: Context, *, tenant_kind: str, held_on: date, agenda: list[dict[str, str]], minutes: str,
        attendee_ids: Sequence[UUID],
    ) -> UUID:
        """Record a meeting: its date, agenda tagged with directions, minutes and attendees (who are members)."""
        clause = self.rules.meets_clause or self.rules.clause
        if held_on > ctx.today:
            raise InvalidValue("A meeting is recorded once it has been held; this date is in the future.",
                               clause, "held_on")
        if held_on < day_of(self.created_on):
            raise InvalidValue("The unit was formed on %(day)s; it held no meeting before.",
                               clause, "held_on", day=str(day_of(self.created_on)))
        strangers = [str(p) for p in attendee_ids if p.hex not in self.members]
        if strangers:
            raise RuleViolation("Only members attend the unit's meetings; not members: %(people)s.",
                                self.rules.meets_clause or self.rules.clause, "attendee_ids",
                                people=", ".join(strangers))
        checked_agenda = [check_item(item, tenant_kind, ("direction", "title")) for item in agenda]
        meeting_id = ctx.new_id()
        self.record(self.MeetingHeld, ctx, self.rules.meets_clause or self.rules.clause, meeting_id=meeting_id,
                    held_on=held_on, agenda=checked_agenda, minutes=minutes, attendee_ids=list(dict.fromkeys(attendee_ids)))
        return meeting_id

    def current_leader(self, today: date) -> dict[str, Any] | None:
        """Return the leader whose term was the last to start on or before today, if any."""
        started = [leader for leader in self.leaders if leader["starts_on"] <= today]
        return max(started, key=lambda leader: leader["starts_on"]) if started else None

    def is_leader(self, person_id: UUID, today: date) -> bool:
        """Return True if the person leads the unit today (within the term)."""
        leader = self.current_leader(today)
        return bool(leader and leader["person_id"] == person_id and today < leader["ends_on"])


def membership_clause(unit_kind: UnitKind) -> str:
    """Return the clause that says who a unit's members are: the organizations reporting to the department
    for a cross-organization unit (p.16, p.25, p.27), the organization's own teachers otherwise (p.16, p.26)."""
    if unit_kind.cross_organization:
        return unit_kind.clause
    return unit_kind.minimum_clause or unit_kind.clause


def check_kind(kind: str, tenant_kind: str) -> UnitKind:
    """Return the unit kind if the tenant may have it; refuse it citing the clause otherwise."""
    unit_kind = UNIT_KINDS.get(kind)
    if unit_kind is None:
        raise InvalidValue("Unknown unit kind %(kind)r; one of %(kinds)s.", field="kind", kind=kind,
                           kinds=", ".join(UNIT_KINDS))
    if tenant_kind not in unit_kind.tenant_kinds:
        where = Series(Term(k) for k in unit_kind.tenant_kinds)
        clause = unit_kind.leader_clause if unit_kind.appointed_only and kind == INTERSCHOOL_ASSOCIATION else unit_kind.clause
        raise UnitKindNotAllowed("A %(tenant_kind)s cannot have a %(kind)s; it is formed in: %(where)s.", clause, "kind",
                                 tenant_kind=Term(tenant_kind), kind=Term(kind), where=where)
    return unit_kind


def check_item(item: dict[str, Any], tenant_kind: str, required: Sequence[str]) -> dict[str, str]:
    """Return a plan or agenda item whose direction is one the tenant's level works in (p.7–p.9, p.13)."""
    for name in required:
        if not str(item.get(name) or "").strip():
            raise InvalidValue("Each item needs a %(what)s.", field=f"items.{name}", what=Term(name))
    code = str(item["direction"])
    found = directions.direction(code)
    if not directions.fits(code, tenant_kind):
        # Refused by the clause that lists this organization's directions, not by the one the code names.
        own = directions.CLAUSE_OF_LEVEL[directions.LEVEL_OF_TENANT_KIND[tenant_kind]]
        raise RuleViolation(
            "The direction %(code)s (%(its)s) is not one of this organization's: it works in the directions of "
            "%(own)s and p.13.",
            own, "direction", code=code, its=found.clause, own=own,
        )
    return {k: str(v) for k, v in item.items() if v is not None}


def _admit(unit_kind: UnitKind, unit_tenant: UUID, subject: str | None, candidate: Candidate,
           reporting: set[UUID], field: str = "member_ids") -> dict[str, Any]:
    if not candidate.active:
        raise InvalidValue("This person has left their organization.", membership_clause(unit_kind), field)
    if unit_kind.cross_organization:
        # p.16, p.25, p.27: members come from the organizations that report to the department.
        if candidate.tenant_id not in reporting:
            raise RuleViolation(
                "Members of a %(kind)s are people of the organizations that report to this department.",
                unit_kind.clause, field, kind=Term(unit_kind.code),
            )
        # p.16: a commission shared by several colleges is for colleges with fewer than three such teachers.
        if (unit_kind.code == INTERCOLLEGE_COMMISSION and candidate.colleagues_teaching is not None
                and candidate.colleagues_teaching >= 3):
            raise RuleViolation(
                "The college of person %(person)s has %(count)s teachers of %(subject)s: it forms its own "
                "commission; an inter-college commission is for colleges with fewer than three.",
                "p.16", field, person=str(candidate.person_id), count=candidate.colleagues_teaching, subject=subject,
            )
    elif candidate.tenant_id != unit_tenant:
        raise InvalidValue("Members are people of the unit's own organization.", membership_clause(unit_kind), field)
    if not teaches(candidate, subject, unit_kind.member_roles):
        if subject:
            raise RuleViolation("Members of a %(kind)s teach %(subject)s; person %(person)s does not.",
                                unit_kind.minimum_clause or unit_kind.clause, field, kind=Term(unit_kind.code),
                                subject=subject, person=str(candidate.person_id))
        raise RuleViolation("Members of a %(kind)s hold a role this unit admits; person %(person)s does not.",
                            unit_kind.minimum_clause or unit_kind.clause, field, kind=Term(unit_kind.code),
                            person=str(candidate.person_id))
    return {"person_id": str(candidate.person_id), "tenant_id": str(candidate.tenant_id)}


def _joined(unit: Unit) -> dict[str, datetime]:
    # A unit restored from a snapshot taken before joining times were kept has none.
    return vars(unit).get("joined", {})
