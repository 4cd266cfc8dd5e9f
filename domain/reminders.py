"""Reminders: what the Rules expect of a unit, a document or a circular, said to the people who must act, before
it is late (p.16, p.18–21, p.25–30, p.34).

Pure functions over facts the read models keep; "today" is the tenant's own day (its time zone), passed in. Each
reminder is one `Reminder` aggregate whose id derives from (rule, subject, period): a second pass, a second
scheduler or a retried job that finds the same reminder due records nothing new (ADR 023).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any
from uuid import NAMESPACE_URL, UUID, uuid5
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from domain.base import TIME_ZONE, Context, InvalidValue, Recorded
from domain.compliance import DEFAULT_QUARTERS, quarter_dates
from domain.units import INTERSCHOOL_ASSOCIATION, UNIT_KINDS, academic_year_of

# How a person wants reminders by email: each at once, a daily digest, a weekly digest, or none.
AT_ONCE, DAILY, WEEKLY, NO_MAIL = "at_once", "daily", "weekly", "none"
MAIL_CHOICES = (AT_ONCE, DAILY, WEEKLY, NO_MAIL)
DEFAULT_MAIL = DAILY

# The platform's zone (domain/base.py), unless the tenant sets another for its reminders.
DEFAULT_TIME_ZONE = TIME_ZONE
DEFAULT_PLAN_DUE = "09-15"  # p.29: the annual plan approved by the middle of September, unless the tenant says
DEFAULT_DOCUMENT_DAYS = 7
DEFAULT_CIRCULAR_DAYS = 5
# The hour of the tenant's day the daily pass runs at.
PASS_HOUR = 7

# Why setting the reminders' calendar cites no clause: the Order sets the duties, not when the platform reminds.
REMINDER_SETTINGS = "when the platform reminds of the Order's duties, which the Order leaves to the organization"
_MONTH_DAY = re.compile(r"^(\d{2})-(\d{2})$")
_NAMESPACE = uuid5(NAMESPACE_URL, "urn:methodical:reminder")

# The rules: code -> (clause, what the Order expects).
LEADER_TERM_ENDING = "leader_term_ending"
LEADER_TERM_ENDS = "leader_term_ends"
NO_MEETING_THIS_QUARTER = "no_meeting_this_quarter"
FEW_MEETINGS_THIS_YEAR = "few_meetings_this_year"
PLAN_NOT_APPROVED = "plan_not_approved"
BELOW_MINIMUM = "below_minimum"
DOCUMENT_WAITING = "document_waiting"
CIRCULAR_UNACKNOWLEDGED = "circular_unacknowledged"
RULES: dict[str, tuple[str, str]] = {
    LEADER_TERM_ENDING: ("p.30", "a leader's one-year term ends within 30 days"),
    LEADER_TERM_ENDS: ("p.30", "a leader's one-year term ends today"),
    NO_MEETING_THIS_QUARTER: ("p.25", "an association meets once a quarter; 14 days of this one are left"),
    FEW_MEETINGS_THIS_YEAR: ("p.27", "a district association meets at least twice a year"),
    PLAN_NOT_APPROVED: ("p.29", "the annual work plan is approved by the head"),
    BELOW_MINIMUM: ("p.26", "a unit keeps its minimum of members"),
    DOCUMENT_WAITING: ("p.18", "a document's reviewers and approver act on it"),
    CIRCULAR_UNACKNOWLEDGED: ("p.34", "a union's decision is brought to each member's attention"),
}
QUARTER_WARNING_DAYS = 14  # p.25
TERM_WARNING_DAYS = 30  # p.30
# p.27: the academic year's last two months (July and August) are when too few meetings is still mendable.
LAST_MONTHS_FROM = (7, 1)


@dataclass(frozen=True)
class ReminderSettings:
    """A tenant's calendar for reminders: its time zone, the day its plans are due, how long things may wait."""

    time_zone: str = DEFAULT_TIME_ZONE
    plan_due: str = DEFAULT_PLAN_DUE
    document_days: int = DEFAULT_DOCUMENT_DAYS
    circular_days: int = DEFAULT_CIRCULAR_DAYS
    quarters: tuple[tuple[str, str], ...] = DEFAULT_QUARTERS

    def zone(self) -> ZoneInfo:
        """Return the tenant's time zone."""
        return ZoneInfo(self.time_zone)

    def today(self, now: datetime) -> date:
        """Return the tenant's own day at this moment."""
        return now.astimezone(self.zone()).date()

    def pass_due(self, now: datetime) -> bool:
        """Return whether the tenant's daily pass is due at this moment (07:00 of its own day or later)."""
        return now.astimezone(self.zone()).hour >= PASS_HOUR

    def plan_due_on(self, academic_year: str) -> date:
        """Return the day the plan of the academic year is due."""
        month, dom = int(self.plan_due[:2]), int(self.plan_due[3:])
        start = int(academic_year[:4])
        return date(start if month >= 9 else start + 1, month, dom)


def check_settings(*, time_zone: str, plan_due: str, document_days: int, circular_days: int) -> dict[str, Any]:
    """Return the settings as stored; raise InvalidValue, naming the field, on one the platform cannot use."""
    try:
        if not time_zone or time_zone != time_zone.strip():
            raise ZoneInfoNotFoundError(time_zone)
        ZoneInfo(time_zone)
    except (ZoneInfoNotFoundError, ValueError):
        raise InvalidValue("%(zone)r is not a time zone of the tz database (e.g. Asia/Almaty).",
                           field="time_zone", zone=time_zone) from None
    match = _MONTH_DAY.match(plan_due)
    try:
        if not match:
            raise ValueError
        date(2023, int(match.group(1)), int(match.group(2)))
    except ValueError:
        raise InvalidValue("The plan's due day is written MM-DD, a day of every year.", field="plan_due") from None
    for name, value in (("document_days", document_days), ("circular_days", circular_days)):
        if not 1 <= value <= 365:
            raise InvalidValue("Days to wait are between 1 and 365.", field=name)
    return {"time_zone": time_zone, "plan_due": plan_due, "document_days": document_days,
            "circular_days": circular_days}


# Facts the rules read


@dataclass
class UnitState:
    """What the reminders need to know of one unit."""

    unit_id: UUID
    kind: str
    name: str
    members: int
    below_minimum_since: date | None = None
    leader_id: UUID | None = None
    leader_starts_on: date | None = None
    leader_ends_on: date | None = None
    # This academic year's plan: None (none drafted), "draft" or "approved".
    plan_status: str | None = None
    meetings: list[date] = field(default_factory=list)


@dataclass(frozen=True)
class WaitingDocument:
    """A document whose next step (a unit's conclusion, or the approval) has waited since `since`."""

    document_id: UUID
    title: str
    clause: str
    awaiting: str  # "review" or "approval"
    version: int
    since: date
    unit_id: UUID | None
    # Who must act: the reviewing unit's leader, or the people in the approving role.
    recipients: tuple[UUID, ...]


@dataclass(frozen=True)
class UnacknowledgedCircular:
    """A circular delivered to the tenant on `delivered_on` and not acknowledged yet."""

    circular_id: UUID
    number: str
    title: str
    union_name: str
    delivered_on: date
    chair_id: UUID | None


@dataclass
class TenantFacts:
    """All a tenant's pass reads: its heads and deputies, its units, documents waiting, circulars unacknowledged."""

    tenant_id: UUID
    heads: tuple[UUID, ...] = ()
    deputies: tuple[UUID, ...] = ()
    units: list[UnitState] = field(default_factory=list)
    documents: list[WaitingDocument] = field(default_factory=list)
    circulars: list[UnacknowledgedCircular] = field(default_factory=list)


@dataclass(frozen=True)
class Recipient:
    """A person a reminder is for; `summary`: they hear of it in their digest only (the union's chair, p.34)."""

    person_id: UUID
    summary: bool = False


@dataclass(frozen=True)
class Due:
    """A reminder due today: which rule, about what, for which period, for whom, with the facts to say it."""

    rule: str
    clause: str
    subject_id: UUID
    period: str
    recipients: tuple[Recipient, ...]
    facts: dict[str, Any]

    @property
    def reminder_id(self) -> UUID:
        return reminder_id(self.rule, self.subject_id, self.period)


def reminder_id(rule: str, subject_id: UUID, period: str) -> UUID:
    """Return the id of the one reminder of this rule about this subject in this period."""
    return uuid5(_NAMESPACE, f"{rule}|{subject_id}|{period}")


def _people(*groups: Iterable[UUID | None]) -> tuple[Recipient, ...]:
    seen: dict[UUID, Recipient] = {}
    for group in groups:
        for person in group:
            if person is not None and person not in seen:
                seen[person] = Recipient(person)
    return tuple(seen.values())


def due_reminders(facts: TenantFacts, today: date, settings: ReminderSettings = ReminderSettings()) -> list[Due]:
    """Return every reminder due in the tenant today, in a stable order."""
    found: list[Due] = []
    managers = (*facts.heads, *facts.deputies)
    for unit in facts.units:
        found.extend(_unit_reminders(unit, today, settings, facts.heads, managers))
    for document in facts.documents:
        if document.recipients and document.since + timedelta(days=settings.document_days) <= today:
            found.append(Due(DOCUMENT_WAITING, document.clause, document.document_id,
                             f"{document.awaiting}:{document.unit_id or '-'}:v{document.version}:{document.since}",
                             _people(document.recipients),
                             {"title": document.title, "awaiting": document.awaiting,
                              "since": document.since.isoformat(), "days": (today - document.since).days}))
    for circular in facts.circulars:
        if circular.delivered_on + timedelta(days=settings.circular_days) <= today:
            recipients = _people(facts.heads or facts.deputies)
            if circular.chair_id is not None and circular.chair_id not in {r.person_id for r in recipients}:
                recipients += (Recipient(circular.chair_id, summary=True),)
            found.append(Due(CIRCULAR_UNACKNOWLEDGED, "p.34", circular.circular_id, "delivered", recipients,
                             {"number": circular.number, "title": circular.title, "union": circular.union_name,
                              "since": circular.delivered_on.isoformat(),
                              "days": (today - circular.delivered_on).days}))
    return [d for d in found if d.recipients]


def _unit_reminders(unit: UnitState, today: date, settings: ReminderSettings, heads: Sequence[UUID],
                    managers: Sequence[UUID]) -> Iterable[Due]:
    kind = UNIT_KINDS[unit.kind]
    named = {"unit": unit.name}
    if kind.has_leader and unit.leader_id and unit.leader_starts_on and unit.leader_ends_on:
        clause = kind.leader_clause or "p.30"
        term = f"term:{unit.leader_starts_on}"
        left = (unit.leader_ends_on - today).days
        facts = {**named, "ends_on": unit.leader_ends_on.isoformat(), "days": left}
        if 0 < left <= TERM_WARNING_DAYS:
            yield Due(LEADER_TERM_ENDING, clause, unit.unit_id, term, _people(heads, [unit.leader_id]), facts)
        elif left == 0:
            yield Due(LEADER_TERM_ENDS, clause, unit.unit_id, term, _people(heads, [unit.leader_id]), facts)
    acting = _people([unit.leader_id], managers) if kind.has_leader else _people(managers)
    if kind.minimum and unit.below_minimum_since is not None and unit.below_minimum_since <= today:
        yield Due(BELOW_MINIMUM, kind.minimum_clause or kind.clause, unit.unit_id,
                  f"since:{unit.below_minimum_since}", _people(managers),
                  {**named, "members": unit.members, "minimum": kind.minimum,
                   "since": unit.below_minimum_since.isoformat()})
    year = academic_year_of(today)
    if kind.plans_yearly and unit.plan_status != "approved" and settings.plan_due_on(year) <= today:
        # Not drafted: the leader's to draft; drafted: the head's to approve (p.29).
        recipients = _people(heads) if unit.plan_status == "draft" else acting
        yield Due(PLAN_NOT_APPROVED, "p.29", unit.unit_id, year, recipients,
                  {**named, "year": year, "drafted": unit.plan_status == "draft",
                   "due": settings.plan_due_on(year).isoformat()})
    if kind.meets == "quarter":
        start_year = int(year[:4])
        for number, quarter in enumerate(settings.quarters, start=1):
            start, end = quarter_dates(start_year, quarter)
            if end - timedelta(days=QUARTER_WARNING_DAYS) <= today <= end and \
                    not any(start <= held <= end for held in unit.meetings):
                yield Due(NO_MEETING_THIS_QUARTER, kind.meets_clause or "p.25", unit.unit_id, f"{year}:q{number}",
                          acting, {**named, "quarter": number, "ends_on": end.isoformat(),
                                   "days": (end - today).days})
    if kind.meets == "year" or unit.kind == INTERSCHOOL_ASSOCIATION:
        # p.27: district associations meet two or three times a year; the platform holds inter-school ones, which
        # serve several schools' teachers as district ones do, to the same two a year besides their quarters.
        minimum = kind.min_meetings_per_year or 2
        start_year = int(year[:4])
        first, last = date(start_year, 9, 1), date(start_year + 1, 8, 31)
        held = sum(1 for day in unit.meetings if first <= day <= last)
        if today >= date(start_year + 1, *LAST_MONTHS_FROM) and held < minimum:
            yield Due(FEW_MEETINGS_THIS_YEAR, "p.27", unit.unit_id, year, acting,
                      {**named, "held": held, "minimum": minimum, "year": year})


def period_of_digest(choice: str, today: date) -> str | None:
    """Return the digest period a day falls in: the day for a daily digest, the ISO week for a weekly one."""
    if choice == DAILY:
        return today.isoformat()
    if choice == WEEKLY:
        year, week, _ = today.isocalendar()
        return f"{year}-W{week:02d}"
    return None


class Reminder(Recorded):
    """One reminder of a rule about a subject in a period: recorded once, whoever finds it due again."""

    class Raised(Recorded.Created):
        tenant: UUID
        rule: str
        subject_id: UUID
        period: str
        due_on: date
        recipients: list[dict[str, Any]]
        facts: dict[str, Any]

    def __init__(self, tenant: UUID, rule: str, subject_id: UUID, period: str, due_on: date,
                 recipients: list[dict[str, Any]], facts: dict[str, Any], meta: dict[str, Any]):
        self.tenant = tenant
        self.rule = rule
        self.subject_id = subject_id
        self.period = period
        self.due_on = due_on
        self.recipients = recipients
        self.facts = facts

    @property
    def tenant_id(self) -> UUID:
        return self.tenant

    @classmethod
    def raise_due(cls, ctx: Context, tenant_id: UUID, due: Due, today: date) -> Reminder:
        """Record a reminder due today, under the clause of its rule."""
        return cls._create(
            cls.Raised, id=due.reminder_id, timestamp=ctx.at, meta=ctx.meta(tenant_id, due.clause, rule=due.rule),
            tenant=tenant_id, rule=due.rule, subject_id=due.subject_id, period=due.period, due_on=today,
            recipients=[{"person_id": str(r.person_id), "summary": r.summary} for r in due.recipients],
            facts=dict(due.facts),
        )


class Inbox(Recorded):
    """What a person has read of their notifications (reminders, and what waits for them)."""

    class Opened(Recorded.Created):
        tenant: UUID
        person: UUID

    class Read(Recorded.Event):
        person: UUID
        keys: list[str]

    def __init__(self, tenant: UUID, person: UUID, meta: dict[str, Any]):
        self.tenant = tenant
        self.person = person

    @property
    def tenant_id(self) -> UUID:
        return self.tenant

    @staticmethod
    def id_for(person_id: UUID) -> UUID:
        """Return the id of the person's inbox."""
        return uuid5(_NAMESPACE, f"inbox|{person_id}")

    @classmethod
    def open(cls, ctx: Context, tenant_id: UUID, person_id: UUID) -> Inbox:
        """Open the person's inbox (on their first read)."""
        return cls._create(cls.Opened, id=cls.id_for(person_id), timestamp=ctx.at,
                           meta=ctx.meta(tenant_id, None, READING), tenant=tenant_id, person=person_id)

    def read(self, ctx: Context, keys: Sequence[str]) -> None:
        """Mark notifications read."""
        if keys:
            self.record(self.Read, ctx, None, READING, person=self.person, keys=sorted(set(keys)))


READING = "a person marking their notifications read: the platform's own business, not the Order's"
