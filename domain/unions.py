"""Educational-methodical unions (УМО), their decisions and the circulars that carry them (p.22–24, p.33–35).

A union spans tenants: it is founded by sector for a group of specialties (p.24), coordinated by a
regional department's methodical cabinet (p.22), led by a chair whom the educational-methodical
council approves (p.35), and adopts decisions in the directions of p.33. Its decisions are
recommendations brought to the attention of every member organization of the specialty concerned
(p.34): one `Circular` per such member, whose id derives from (decision, member) so that a second
circular for the same pair cannot be stored.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any
from uuid import NAMESPACE_URL, UUID, uuid5

from domain import directions, policy, rules
from domain.base import Conflict, Context, InvalidValue, Recorded, RuleViolation, Term
from domain.days import check_within

# Who may found a union (p.22, p.24): the head of an organization that trains by specialty, or the
# regional department whose methodical cabinet coordinates unions.
FOUNDING_KINDS = (rules.TVET_COLLEGE, rules.POSTSECONDARY_COLLEGE, rules.UNIVERSITY)
# Members that are education organizations (p.24) of the sector the unions serve: the TVET and post-secondary
# organizations whose unions p.33 describes, and universities, which found them too (p.24). Schools are not of
# the sector; authorities coordinate, they are not members (p.22).
MEMBER_KINDS = FOUNDING_KINDS
ORGANIZATION = "organization"
EMPLOYER = "employer"
SOCIAL_PARTNER = "social_partner"
EXTERNAL_KINDS = (EMPLOYER, SOCIAL_PARTNER)

# What a member answers to a recommendation (p.34: it binds nobody).
RESPONSES = ("noted", "will_adopt", "adapted", "declined")

ISSUED = "issued"
DELIVERED = "delivered"
ACKNOWLEDGED = "acknowledged"
FAILED = "failed"
CIRCULAR_STATUSES = (ISSUED, DELIVERED, ACKNOWLEDGED, FAILED)

_CIRCULAR_NAMESPACE = uuid5(NAMESPACE_URL, "urn:methodical:circular")
_MAX_SPECIALTIES = 100


def check_specialties(specialties: Iterable[str], field: str = "specialties") -> list[str]:
    """Return the specialty codes trimmed and without repeats; raise if there is none or one is blank."""
    checked: list[str] = []
    for code in specialties:
        code = code.strip()
        if not code or len(code) > 32:
            raise InvalidValue("A specialty code is 1 to 32 characters.", field=field)
        if code not in checked:
            checked.append(code)
    if not checked:
        raise InvalidValue("Name at least one specialty.", field=field)
    if len(checked) > _MAX_SPECIALTIES:
        raise InvalidValue("At most %(most)s specialties.", field=field, most=_MAX_SPECIALTIES)
    return checked


def _text(value: str, field: str, what: str) -> str:
    value = value.strip()
    if not value:
        raise InvalidValue("The %(what)s must not be blank.", field=field, what=Term(what))
    return value


@dataclass(frozen=True)
class Member:
    """A member of a union: an organization of the platform, or an employer or social partner (p.24)."""

    member_id: UUID
    kind: str
    name: str
    specialties: tuple[str, ...]
    tenant_id: UUID | None = None

    def concerned_by(self, specialties: Iterable[str]) -> bool:
        """Return whether the member joined for any of these specialties (p.34)."""
        return bool(set(self.specialties) & set(specialties))



# The refusals of an id that names another organization or person. A missing id answers exactly the same, so
# that the answer never tells whether another tenant's object exists, nor what kind it is (api.md, Conventions).

def coordinator_refused() -> RuleViolation:
    """`coordinator_id` names no regional department (or nothing at all)."""
    return RuleViolation(
        "A union is coordinated by the methodical cabinet of a regional (city) education department: "
        "coordinator_id must name one.", "p.22", "coordinator_id",
    )


def member_refused() -> RuleViolation:
    """`tenant_id` names no organization that may be a member (or nothing at all)."""
    return RuleViolation(
        "Members are colleges and universities of the sector in the coordinating department's region (p.22), "
        "employers and social partners (p.24): tenant_id must name such an organization.", "p.24", "tenant_id",
    )


def in_coordinators_region(reports_to: UUID | None, region: str, coordinator_id: UUID,
                           coordinator_region: str) -> bool:
    """Return whether an organization lies where the union's coordinator works (p.22): it reports to the
    coordinating department, or is registered in the department's region."""
    return reports_to == coordinator_id or region.strip().casefold() == coordinator_region.strip().casefold()


def chair_refused() -> RuleViolation:
    """`person_id` names no person of a member organization (or nobody at all)."""
    return RuleViolation(
        "The chair organizes the union's work from one of its member organizations: person_id must name a "
        "person of a member organization.", "p.35", "person_id",
    )


class Union(Recorded):
    """An educational-methodical union (УМО): a cross-tenant aggregate, every event scoped by the union."""

    class Founded(Recorded.Created):
        name: str
        sector: str
        specialties: list[str]
        coordinator_id: UUID

    class MemberAdmitted(Recorded.Event):
        member_id: UUID
        kind: str
        name: str
        specialties: list[str]
        member_tenant_id: UUID | None

        def apply(self, union: Union) -> None:
            union.members[self.member_id.hex] = Member(
                self.member_id, self.kind, self.name, tuple(self.specialties), self.member_tenant_id
            )

    class MemberLeft(Recorded.Event):
        member_id: UUID
        withdrawal: bool

        def apply(self, union: Union) -> None:
            member = union.members.pop(self.member_id.hex)
            # p.35: the chair comes from a member organization; when it leaves, the chair falls vacant.
            if union.chair and member.tenant_id is not None and union.chair["tenant_id"] == str(member.tenant_id):
                union.chair = None

    class ChairApproved(Recorded.Event):
        person_id: UUID
        person_tenant_id: UUID
        full_name: str
        council_decision_number: str
        council_decision_date: date

        def apply(self, union: Union) -> None:
            union.chair = {
                "person_id": str(self.person_id),
                "tenant_id": str(self.person_tenant_id),
                "full_name": self.full_name,
                "council_decision": {"number": self.council_decision_number,
                                     "date": self.council_decision_date.isoformat()},
            }

    class DecisionAdopted(Recorded.Event):
        decision_id: UUID
        number: int

        def apply(self, union: Union) -> None:
            union.decisions_adopted = self.number

    def __init__(self, name: str, sector: str, specialties: list[str], coordinator_id: UUID, meta: dict[str, Any]):
        self.name = name
        self.sector = sector
        self.specialties = list(specialties)
        self.coordinator_id = coordinator_id
        self.members: dict[str, Member] = {}
        self.chair: dict[str, Any] | None = None
        self.decisions_adopted = 0

    def meta_scope(self) -> dict[str, Any]:
        return {"union_id": self.id}

    @classmethod
    def found(
        cls,
        ctx: Context,
        *,
        name: str,
        sector: str,
        specialties: list[str],
        founder_kind: str,
        founder_name: str,
        coordinator_id: UUID,
        coordinator_kind: str,
        founder_in_region: bool,
    ) -> Union:
        """Found a union by sector (p.24); a founding organization becomes its first member.

        The founder is the head of a college or university, or a regional department (p.22), whose
        person is ctx.actor. The coordinator is a regional department (p.22).
        """
        actor = ctx.actor
        if founder_kind in FOUNDING_KINDS:
            policy.FOUND_UNION_FOR_ORGANIZATION.insist(ctx)
        elif founder_kind == rules.REGIONAL_DEPARTMENT:
            policy.FOUND_UNION_FOR_DEPARTMENT.insist(ctx)
        else:
            raise RuleViolation(
                "Unions are founded by TVET and post-secondary colleges, universities, or the regional "
                "department that coordinates them, not by a %(kind)s.", "p.22", None, kind=Term(founder_kind),
            )
        # p.22: the regional department coordinates the organizations of its own region.
        if coordinator_kind != rules.REGIONAL_DEPARTMENT or not founder_in_region:
            raise coordinator_refused()
        union_id = ctx.new_id()
        union = cls._create(
            cls.Founded,
            id=union_id,
            timestamp=ctx.at,
            meta=ctx.meta(None, "p.24", union_id=union_id),
            name=_text(name, "name", "name"),
            sector=_text(sector, "sector", "sector"),
            specialties=check_specialties(specialties),
            coordinator_id=coordinator_id,
        )
        if founder_kind in FOUNDING_KINDS and actor.tenant_id is not None:
            union.record(
                cls.MemberAdmitted, ctx, "p.24", member_id=actor.tenant_id, kind=ORGANIZATION,
                name=founder_name, specialties=list(union.specialties), member_tenant_id=actor.tenant_id,
            )
        return union

    # Members (p.24)

    def admit_organization(self, ctx: Context, *, tenant_id: UUID, tenant_kind: str, name: str,
                           specialties: list[str], in_region: bool) -> Member:
        """Admit a college or university of the coordinator's region for some of the union's specialties (p.22,
        p.24); any other organization is refused exactly as a missing one."""
        if tenant_kind not in MEMBER_KINDS or not in_region:
            raise member_refused()
        if tenant_id.hex in self.members:
            raise Conflict("This organization is already a member of the union.", field="tenant_id")
        return self._admit(ctx, tenant_id, ORGANIZATION, name, specialties, tenant_id)

    def admit_external(self, ctx: Context, *, name: str, kind: str, specialties: list[str]) -> Member:
        """Admit an employer or social partner that has no tenant of its own (p.24)."""
        if kind not in EXTERNAL_KINDS:
            raise InvalidValue("An external member is one of %(kinds)s.", field="kind", kinds=", ".join(EXTERNAL_KINDS))
        return self._admit(ctx, ctx.new_id(), kind, _text(name, "name", "name"), specialties, None)

    def _admit(self, ctx: Context, member_id: UUID, kind: str, name: str, specialties: list[str],
               tenant_id: UUID | None) -> Member:
        codes = check_specialties(specialties)
        outside = [c for c in codes if c not in self.specialties]
        if outside:
            raise RuleViolation(
                "The union works for its own group of specialties; not for %(specialties)s.",
                "p.24", "specialties", specialties=", ".join(outside),
            )
        self.record(self.MemberAdmitted, ctx, "p.24", member_id=member_id, kind=kind, name=name,
                    specialties=codes, member_tenant_id=tenant_id)
        return self.members[member_id.hex]

    def member(self, member_id: UUID) -> Member | None:
        """Return the current member with this id, or None."""
        return self.members.get(member_id.hex)

    def member_for_tenant(self, tenant_id: UUID | None) -> Member | None:
        """Return the member organization that is this tenant, or None."""
        if tenant_id is None:
            return None
        found = self.members.get(tenant_id.hex)
        return found if found is not None and found.tenant_id == tenant_id else None

    def remove_member(self, ctx: Context, member_id: UUID, *, withdrawal: bool) -> None:
        """Record that a member leaves: removed by the chair, or withdrawn by its own head (p.24)."""
        if member_id.hex not in self.members:
            raise Conflict("No current member has this id.", field="member_id")
        self.record(self.MemberLeft, ctx, "p.24", member_id=member_id, withdrawal=withdrawal)

    # Chair (p.35)

    def approve_chair(self, ctx: Context, *, person_id: UUID, person_tenant_id: UUID, full_name: str,
                      council_decision_number: str, council_decision_date: date) -> None:
        """Record the chair the educational-methodical council approved (p.35), a person of a member organization."""
        if self.member_for_tenant(person_tenant_id) is None:
            raise chair_refused()
        number = _text(council_decision_number, "council_decision.number", "council decision's number")
        if council_decision_date > ctx.today:
            raise InvalidValue("The council's decision cannot be dated in the future.", field="council_decision.date")
        # p.35: the council approves a chair for the union's work now, not decades ago.
        check_within(council_decision_date, "council_decision.date", ctx.today, back=10, ahead=0,
                     what="The council's decision", clause="p.35")
        self.record(self.ChairApproved, ctx, "p.35", person_id=person_id, person_tenant_id=person_tenant_id,
                    full_name=full_name, council_decision_number=number, council_decision_date=council_decision_date)

    def is_chair(self, person_id: UUID | None) -> bool:
        """Return whether this person is the union's chair."""
        return person_id is not None and self.chair is not None and self.chair["person_id"] == str(person_id)

    # Decisions (p.33, p.34)

    def adopt_decision(self, ctx: Context, *, title: str, text: str, direction: str,
                       specialties: list[str]) -> tuple[Decision, list[Member]]:
        """Adopt a decision as the chair (p.35) in a direction of p.33; return it and the members it concerns (p.34)."""
        if not self.is_chair(ctx.actor.person_id):
            raise policy.ADOPT_DECISION.refused()
        found = directions.direction(direction)
        if found.level != directions.UNION:
            raise RuleViolation(
                "A union's decision serves one of the 11 directions of p.33, not %(direction)s (%(its)s).", "p.33",
                "direction", direction=direction, its=directions.CLAUSE_OF_LEVEL[found.level],
            )
        codes = check_specialties(specialties)
        outside = [c for c in codes if c not in self.specialties]
        if outside:
            raise RuleViolation(
                "The union decides for its own group of specialties; not for %(specialties)s.",
                "p.24", "specialties", specialties=", ".join(outside),
            )
        # p.34: brought to the attention of each member organization for the specialty concerned;
        # employers and social partners without a tenant have no inbox on the platform.
        recipients = [m for m in self.members.values() if m.tenant_id is not None and m.concerned_by(codes)]
        decision_id = ctx.new_id()
        number = self.decisions_adopted + 1
        self.record(self.DecisionAdopted, ctx, "p.34", decision_id=decision_id, number=number)
        decision = Decision.adopt(
            ctx, decision_id=decision_id, union=self, number=number, title=_text(title, "title", "title"),
            text=_text(text, "text", "text"), direction=found.code, specialties=codes,
            recipients=[m.member_id for m in recipients],
        )
        return decision, recipients


class Decision(Recorded):
    """A union's decision (p.33, p.34): a recommendation, numbered in its union, with the circulars it issues."""

    class Adopted(Recorded.Created):
        union_id: UUID
        union_name: str
        number: int
        title: str
        text: str
        direction: str
        specialties: list[str]
        recipients: list[UUID]
        circulars_expected: int

    def __init__(self, union_id: UUID, union_name: str, number: int, title: str, text: str, direction: str,
                 specialties: list[str], recipients: list[UUID], circulars_expected: int, meta: dict[str, Any]):
        self.union_id = union_id
        self.union_name = union_name
        self.number = number
        self.title = title
        self.text = text
        self.direction = direction
        self.specialties = list(specialties)
        self.recipients = list(recipients)
        self.circulars_expected = circulars_expected

    def meta_scope(self) -> dict[str, Any]:
        return {"union_id": self.union_id}

    @classmethod
    def adopt(cls, ctx: Context, *, decision_id: UUID, union: Union, number: int, title: str, text: str,
              direction: str, specialties: list[str], recipients: list[UUID]) -> Decision:
        """Record an adopted decision (called by Union.adopt_decision, which checks the rules)."""
        return cls._create(
            cls.Adopted, id=decision_id, timestamp=ctx.at,
            meta=ctx.meta(None, "p.34", union_id=union.id),
            union_id=union.id, union_name=union.name, number=number, title=title, text=text,
            direction=direction, specialties=specialties, recipients=recipients,
            circulars_expected=len(recipients),
        )


@dataclass(frozen=True)
class Recipient:
    """The member organization a circular is addressed to, as it stood when the decision was adopted."""

    member_id: UUID
    tenant_id: UUID
    name: str
    language: str
    email: str | None = None  # where its notice goes (a registration's email never changes)


class Circular(Recorded):
    """One decision brought to one member organization's attention (p.34): issued, delivered, acknowledged.

    Its id derives from (decision, member): a second circular for the same pair cannot be stored.
    """

    class Issued(Recorded.Created):
        union_id: UUID
        union_name: str
        decision_id: UUID
        decision_number: int
        number: str
        title: str
        text: str
        direction: str
        specialties: list[str]
        member_id: UUID
        recipient_tenant_id: UUID
        recipient_name: str
        language: str
        issued_on: date
        recipient_email: str | None = None  # absent from circulars issued before it was recorded

    class Delivered(Recorded.Event):
        document_sha256: str
        document_size: int
        notice_sent_to: str | None

        def apply(self, circular: Circular) -> None:
            circular.status = DELIVERED
            circular.delivered_at = self.timestamp
            circular.document_sha256 = self.document_sha256
            circular.error = None

    class DeliveryFailed(Recorded.Event):
        error: str
        attempts: int

        def apply(self, circular: Circular) -> None:
            circular.status = FAILED
            circular.error = self.error

    class DeliveryRetried(Recorded.Event):
        def apply(self, circular: Circular) -> None:
            circular.status = ISSUED
            circular.error = None

    class Acknowledged(Recorded.Event):
        response: str
        note: str | None

        def apply(self, circular: Circular) -> None:
            circular.status = ACKNOWLEDGED
            circular.acknowledged_at = self.timestamp
            circular.response = self.response
            circular.note = self.note

    def __init__(self, union_id: UUID, union_name: str, decision_id: UUID, decision_number: int, number: str,
                 title: str, text: str, direction: str, specialties: list[str], member_id: UUID,
                 recipient_tenant_id: UUID, recipient_name: str, language: str, issued_on: date,
                 meta: dict[str, Any], recipient_email: str | None = None):
        self.union_id = union_id
        self.union_name = union_name
        self.decision_id = decision_id
        self.decision_number = decision_number
        self.number = number
        self.title = title
        self.text = text
        self.direction = direction
        self.specialties = list(specialties)
        self.member_id = member_id
        self.recipient_tenant_id = recipient_tenant_id
        self.recipient_name = recipient_name
        self.recipient_email = recipient_email
        self.language = language
        self.issued_on = issued_on
        self.status = ISSUED
        self.delivered_at: datetime | None = None
        self.acknowledged_at: datetime | None = None
        self.document_sha256: str | None = None
        self.error: str | None = None
        self.response: str | None = None
        self.note: str | None = None

    @property
    def tenant_id(self) -> UUID:
        return self.recipient_tenant_id

    def meta_scope(self) -> dict[str, Any]:
        return {"union_id": self.union_id}

    @staticmethod
    def id_for(decision_id: UUID, member_id: UUID) -> UUID:
        """Return the id of the circular of this decision to this member: one per pair, by construction."""
        return uuid5(_CIRCULAR_NAMESPACE, f"{decision_id}:{member_id}")

    @classmethod
    def issue(cls, ctx: Context, decision: Decision, recipient: Recipient, sequence: int) -> Circular:
        """Issue the circular that brings the decision to one member organization's attention (p.34)."""
        if recipient.language not in rules.LANGUAGES:
            raise InvalidValue("The language is 'ru' or 'kk'.", field="language")
        circular_id = cls.id_for(decision.id, recipient.member_id)
        return cls._create(
            cls.Issued, id=circular_id, timestamp=ctx.at,
            meta=ctx.meta(recipient.tenant_id, "p.34", union_id=decision.union_id),
            union_id=decision.union_id, union_name=decision.union_name, decision_id=decision.id,
            decision_number=decision.number, number=f"{decision.number}/{sequence}", title=decision.title,
            text=decision.text, direction=decision.direction, specialties=list(decision.specialties),
            member_id=recipient.member_id, recipient_tenant_id=recipient.tenant_id,
            recipient_name=recipient.name, language=recipient.language, issued_on=ctx.today,
            recipient_email=recipient.email,
        )

    @property
    def in_inbox(self) -> bool:
        """Return whether the circular has reached the member's inbox."""
        return self.status in (DELIVERED, ACKNOWLEDGED)

    def deliver(self, ctx: Context, *, document_sha256: str, document_size: int, notice_sent_to: str | None) -> bool:
        """Record the circular in the member's inbox with its rendered document; False if it already was."""
        if self.in_inbox:
            return False
        if self.status == FAILED:
            raise Conflict("Delivery of this circular failed; retry it first.")
        self.record(self.Delivered, ctx, "p.34", document_sha256=document_sha256, document_size=document_size,
                    notice_sent_to=notice_sent_to)
        return True

    def fail(self, ctx: Context, *, error: str, attempts: int) -> None:
        """Record that delivery failed after every attempt; the chair or the operator may retry it."""
        if self.status == ISSUED:
            self.record(self.DeliveryFailed, ctx, "p.34", error=error[:2000], attempts=attempts)

    def retry(self, ctx: Context) -> None:
        """Put a failed circular back to be delivered."""
        if self.status != FAILED:
            raise Conflict("Only a failed circular is retried; this one is %(status)s.", status=Term(self.status))
        self.record(self.DeliveryRetried, ctx, "p.34")

    def acknowledge(self, ctx: Context, *, response: str, note: str | None) -> bool:
        """Record the member's answer to the recommendation (p.34); a second acknowledgement changes nothing."""
        policy.ACKNOWLEDGE_CIRCULAR.insist(ctx)
        if ctx.actor.tenant_id != self.recipient_tenant_id:
            raise policy.ACKNOWLEDGE_CIRCULAR.refused()
        if response not in RESPONSES:
            raise InvalidValue("The response is one of %(responses)s.", field="response", responses=", ".join(RESPONSES))
        if self.status == ACKNOWLEDGED:
            return False
        if self.status != DELIVERED:
            raise Conflict("The circular has not reached the inbox yet.")
        note = note.strip() if note else None
        self.record(self.Acknowledged, ctx, "p.34", response=response, note=note or None)
        return True
