"""Unions, their decisions and circulars (p.22–24, p.33–35): the commands, and who may give each."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from uuid import UUID

from domain import policy, rules
from domain.base import Actor, Context, InvalidValue, NotFound
from domain.people import Person
from domain.tenants import Tenant
from domain.unions import (
    Circular, Decision, Member, Recipient, Union, chair_refused, coordinator_refused, in_coordinators_region,
    member_refused,
)
from services.commands import Commands, Done

# The coordinator acts through the regional department's methodical cabinet (p.22).
COORDINATOR_ROLES = policy.COORDINATOR.roles
# The system itself, when a worker records a delivery.
DELIVERY = "delivery"


@dataclass(frozen=True)
class Admitted:
    """What admitting a member returns: the union, the new member, the position."""

    union: Union
    member: Member
    position: int


@dataclass(frozen=True)
class Adopted:
    """What adopting a decision returns: the decision, its circulars, the position of the last event."""

    decision: Decision
    circulars: list[Circular]
    position: int


def involves(union: Union, tenant_id: UUID | None, person_id: UUID | None) -> bool:
    """Return whether a person may know more of the union than its public facts: its chair, or a person of a member
    organization or of its coordinating department (p.22, p.24). To anyone else its decisions, commands and history
    answer 404, exactly as a missing union's (api.md, Conventions)."""
    if union.is_chair(person_id):
        return True
    if tenant_id is None:
        return False
    return tenant_id == union.coordinator_id or union.member_for_tenant(tenant_id) is not None


def is_coordinator(actor: Actor, union: Union) -> bool:
    """Return whether the actor acts for the union's coordinating regional department (p.22)."""
    return actor.tenant_id == union.coordinator_id and actor.role in COORDINATOR_ROLES


class UnionCommands(Commands):
    """Founds unions, manages their members and chair, adopts decisions and handles their circulars."""

    def get_union(self, union_id: UUID) -> Union:
        """Return the union, or raise NotFound."""
        return self.load(union_id, Union, "union")

    def found_union(self, ctx: Context, *, name: str, sector: str, specialties: list[str],
                    coordinator_id: UUID) -> Done:
        """Found a union (p.22, p.24); the founding organization is its first member."""
        if ctx.actor.tenant_id is None:
            raise policy.FOUND_UNION.refused()
        founder = self.load(ctx.actor.tenant_id, Tenant, "tenant")
        try:
            coordinator = self.load(coordinator_id, Tenant, "tenant")
        except NotFound:
            raise coordinator_refused() from None
        founder_in_region = founder.id == coordinator.id or in_coordinators_region(
            founder.parent_id, founder.region, coordinator.id, coordinator.region)
        union = Union.found(
            ctx, name=name, sector=sector, specialties=specialties, founder_kind=founder.kind,
            founder_name=founder.name, coordinator_id=coordinator.id, coordinator_kind=coordinator.kind,
            founder_in_region=founder_in_region,
        )
        return Done(union, self.commit(union))

    def admit_union_member(self, ctx: Context, union_id: UUID, *, specialties: list[str], tenant_id: UUID | None = None,
                     name: str | None = None, kind: str | None = None) -> Admitted:
        """Admit an organization of the platform, or an employer or social partner (p.24): chair or coordinator."""
        union = self.get_union(union_id)
        ctx = policy.ADMIT_UNION_MEMBER.permit(ctx, {policy.UNION_CHAIR: union.is_chair(ctx.actor.person_id),
                                                     policy.COORDINATOR: is_coordinator(ctx.actor, union)})
        if tenant_id is not None:
            try:
                tenant = self.load(tenant_id, Tenant, "tenant")
            except NotFound:
                raise member_refused() from None
            coordinator = self.load(union.coordinator_id, Tenant, "tenant")
            member = union.admit_organization(
                ctx, tenant_id=tenant.id, tenant_kind=tenant.kind, name=tenant.name, specialties=specialties,
                in_region=in_coordinators_region(tenant.parent_id, tenant.region, coordinator.id, coordinator.region))
        else:
            if not name or not kind:
                raise InvalidValue("Admit an organization by `tenant_id`, or an external member by `name` and `kind`.",
                                   field="tenant_id")
            member = union.admit_external(ctx, name=name, kind=kind, specialties=specialties)
        return Admitted(union, member, self.commit(union))

    def remove_union_member(self, ctx: Context, union_id: UUID, member_id: UUID) -> Done:
        """Remove a member (the chair), or withdraw one's own organization (its head) (p.24)."""
        union = self.get_union(union_id)
        member = union.member(member_id)
        if member is None:
            raise NotFound("member")
        own = member.tenant_id is not None and ctx.actor.tenant_id == member.tenant_id and ctx.actor.role == rules.HEAD
        ctx = policy.REMOVE_UNION_MEMBER.permit(ctx, {policy.UNION_CHAIR: union.is_chair(ctx.actor.person_id),
                                                      policy.MEMBER_HEAD: own})
        union.remove_member(ctx, member_id, withdrawal=own)
        return Done(union, self.commit(union))

    def approve_chair(self, ctx: Context, union_id: UUID, *, person_id: UUID, number: str, dated: date) -> Done:
        """Record the chair the council approved (p.35): the coordinator records it."""
        union = self.get_union(union_id)
        ctx = policy.RECORD_UNION_CHAIR.permit(ctx, {policy.COORDINATOR: is_coordinator(ctx.actor, union)})
        try:
            person = self.load(person_id, Person, "person")
        except NotFound:
            raise chair_refused() from None
        if union.member_for_tenant(person.tenant_id) is None:
            raise chair_refused()
        if not person.active:
            raise InvalidValue("This person has left their organization.", field="person_id")
        union.approve_chair(ctx, person_id=person.id, person_tenant_id=person.tenant_id, full_name=person.full_name,
                            council_decision_number=number, council_decision_date=dated)
        return Done(union, self.commit(union))

    def adopt_decision(self, ctx: Context, union_id: UUID, *, title: str, text: str, direction: str,
                       specialties: list[str]) -> Adopted:
        """Adopt a decision and issue its circulars in the same transaction (p.33, p.34).

        Nothing is queued here: the circulars are the recorded work (the outbox) that the
        dispatcher hands to the workers, so adopting never depends on Redis.
        """
        union = self.get_union(union_id)
        decision, members = union.adopt_decision(ctx, title=title, text=text, direction=direction,
                                                 specialties=specialties)
        circulars = []
        for sequence, member in enumerate(members, start=1):
            assert member.tenant_id is not None  # adopt_decision picks members with a tenant
            tenant = self.load(member.tenant_id, Tenant, "tenant")
            recipient = Recipient(member.member_id, tenant.id, tenant.name, tenant.language, tenant.email)
            circulars.append(Circular.issue(ctx, decision, recipient, sequence))
        position = self.commit(union, decision, *circulars)
        return Adopted(decision, circulars, position)

    def get_decision(self, union_id: UUID, decision_id: UUID) -> Decision:
        """Return the union's decision, or raise NotFound."""
        decision = self.load(decision_id, Decision, "decision")
        if decision.union_id != union_id:
            raise NotFound("decision")
        return decision

    # Circulars

    def get_circular(self, circular_id: UUID, tenant_id: UUID | None = None) -> Circular:
        """Return the circular (only the receiving tenant's, when one is named), or raise NotFound."""
        return self.load(circular_id, Circular, "circular", tenant_id)

    def acknowledge_circular(self, ctx: Context, tenant_id: UUID, circular_id: UUID, *, response: str,
                             note: str | None) -> Done:
        """Record the member's acknowledgement and response (p.34); acknowledging twice changes nothing."""
        circular = self.get_circular(circular_id, tenant_id)
        receiving = ctx.actor.tenant_id == circular.recipient_tenant_id
        ctx = policy.ACKNOWLEDGE_CIRCULAR.permit(ctx, {policy.RECIPIENT: receiving})
        circular.acknowledge(ctx, response=response, note=note)
        return Done(circular, self.commit(circular))

    def retry_circular(self, ctx: Context, union_id: UUID, decision_id: UUID, circular_id: UUID) -> Done:
        """Put a failed circular back to be delivered: the union's chair or the platform operator."""
        circular = self.get_circular(circular_id)
        if circular.union_id != union_id or circular.decision_id != decision_id:
            raise NotFound("circular")
        chair = ctx.actor.person_id is not None and self.get_union(union_id).is_chair(ctx.actor.person_id)
        ctx = policy.RETRY_CIRCULAR.permit(ctx, {policy.UNION_CHAIR: chair})
        circular.retry(ctx)
        return Done(circular, self.commit(circular))
