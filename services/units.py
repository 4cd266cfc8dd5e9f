"""Methodical units, their leaders, annual plans and meetings (p.10–p.17, p.22, p.25–p.32, p.36)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import date
from typing import Any
from uuid import UUID

from domain import policy
from domain.base import Context, InvalidValue, NotFound
from domain.people import Person
from domain.plans import AnnualPlan
from domain.tenants import Tenant
from domain.units import INTERCOLLEGE_COMMISSION, Candidate, Unit, UnitKind, check_kind, membership_clause
from services.commands import Commands, Done



class UnitCommands(Commands):
    """Forms units and records their members, leaders, plans and meetings (uses TenancyCommands.get_tenant)."""

    get_tenant: Any
    # Counts a college's active teachers of a discipline (the people read model); set by the app factory.
    roster: Callable[[UUID, str], int] | None = None

    # Units

    def form_unit(self, ctx: Context, tenant_id: UUID, *, kind: str, name: str, subject: str | None,
                  member_ids: Sequence[UUID]) -> Done:
        """Form a unit; its kind must fit the tenant and its members the kind's rules (p.16, p.25–p.28)."""
        tenant = self.get_tenant(tenant_id)
        unit_kind = check_kind(kind, tenant.kind)
        candidates = [self._candidate(pid, tenant, unit_kind, subject=subject) for pid in member_ids]
        unit = Unit.form(
            ctx, tenant_id=tenant.id, tenant_kind=tenant.kind, kind=kind, name=name, subject=subject,
            candidates=candidates, reporting_tenants=self._reporting(tenant, candidates),
        )
        return Done(unit, self.commit(unit))

    def visible_unit(self, tenant_id: UUID, unit_id: UUID) -> Unit:
        """Return a unit the tenant owns or has members in (cross-organization units), or raise NotFound."""
        unit = self.load(unit_id, Unit, "unit")
        if unit.tenant != tenant_id and tenant_id not in set(unit.members.values()):
            raise NotFound("unit")
        return unit

    def add_member(self, ctx: Context, tenant_id: UUID, unit_id: UUID, person_id: UUID) -> Done:
        """Admit a member to the unit (head or deputy head of the unit's organization)."""
        unit = self.visible_unit(tenant_id, unit_id)
        ctx = policy.ADMIT_UNIT_MEMBER.permit(ctx, _ties(ctx, unit), unit.rules.clause)
        tenant = self.get_tenant(unit.tenant)
        candidate = self._candidate(person_id, tenant, unit.rules, field="person_id", subject=unit.subject)
        unit.admit(ctx, candidate, self._reporting(tenant, [candidate]))
        return Done(unit, self.commit(unit))

    def remove_member(self, ctx: Context, tenant_id: UUID, unit_id: UUID, person_id: UUID) -> Done:
        """Let a member leave; the unit is kept even below its minimum, and reported (p.16, p.26)."""
        unit = self.visible_unit(tenant_id, unit_id)
        ctx = policy.RELEASE_UNIT_MEMBER.permit(ctx, _ties(ctx, unit), unit.rules.clause)
        if person_id.hex not in unit.members:
            raise NotFound("member")
        unit.release(ctx, person_id)
        return Done(unit, self.commit(unit))

    def choose_leader(self, ctx: Context, tenant_id: UUID, unit_id: UUID, *, person_id: UUID, starts_on: date,
                      method: str | None = None) -> Done:
        """Record the unit's elected or appointed leader for a one-year term (p.30; p.17 for chairs)."""
        unit = self.visible_unit(tenant_id, unit_id)
        # p.30: an inter-school association's organization is the district department that appoints its leader.
        ctx = policy.CHOOSE_UNIT_LEADER.permit(ctx, _ties(ctx, unit), unit.rules.leader_clause or "p.30")
        self._active_person(person_id, "person_id", unit.rules.leader_clause or unit.rules.clause, _tenants_of(unit))
        unit.choose_leader(ctx, person_id, starts_on, method, by_unit_tenant=True)
        return Done(unit, self.commit(unit))

    def hold_meeting(self, ctx: Context, tenant_id: UUID, unit_id: UUID, *, held_on: date,
                     agenda: list[dict[str, Any]], minutes: str, attendee_ids: Sequence[UUID]) -> Done:
        """Record a meeting held by the unit (its leader, or the deputy head who leads methodical work)."""
        unit = self.visible_unit(tenant_id, unit_id)
        ctx = policy.HOLD_MEETING.permit(ctx, _ties(ctx, unit), unit.rules.meets_clause or "p.25")
        for person_id in attendee_ids:
            self._active_person(person_id, "attendee_ids", unit.rules.meets_clause or unit.rules.clause,
                                _tenants_of(unit))
        tenant = self.get_tenant(unit.tenant)
        unit.hold_meeting(ctx, tenant_kind=tenant.kind, held_on=held_on, agenda=agenda, minutes=minutes,
                          attendee_ids=attendee_ids)
        return Done(unit, self.commit(unit))

    # Annual plans (p.29)

    def draft_plan(self, ctx: Context, tenant_id: UUID, unit_id: UUID, *, academic_year: str,
                   items: list[dict[str, Any]]) -> Done:
        """Draft (or, until approved, redraft) the unit's plan for an academic year (p.29)."""
        unit = self.visible_unit(tenant_id, unit_id)
        ctx = policy.DRAFT_PLAN.permit(ctx, _ties(ctx, unit))
        tenant = self.get_tenant(unit.tenant)
        try:
            plan = self.load(AnnualPlan.id_for(unit.id, academic_year), AnnualPlan, "plan")
        except NotFound:
            plan = AnnualPlan.draft(ctx, tenant_id=unit.tenant, tenant_kind=tenant.kind, unit_id=unit.id,
                                    academic_year=academic_year, items=items)
        else:
            plan.revise(ctx, tenant.kind, items)
        return Done(plan, self.commit(plan))

    def approve_plan(self, ctx: Context, tenant_id: UUID, unit_id: UUID, academic_year: str) -> Done:
        """Approve the unit's plan: the head of the organization that formed the unit (p.29)."""
        unit = self.visible_unit(tenant_id, unit_id)
        plan = self.load(AnnualPlan.id_for(unit.id, academic_year), AnnualPlan, "plan")
        plan.approve(policy.APPROVE_PLAN.permit(ctx, _ties(ctx, unit)))
        return Done(plan, self.commit(plan))

    # The academic calendar meetings are counted by (p.25)

    def set_calendar(self, ctx: Context, tenant_id: UUID, quarters: list[list[str]]) -> Done:
        """Set the academic quarters of the organization."""
        tenant = self.load(tenant_id, Tenant, "tenant")
        tenant.set_calendar(ctx, quarters)
        return Done(tenant, self.commit(tenant))

    # Helpers

    def _active_person(self, person_id: UUID, field: str, clause: str | None, within: set[UUID]) -> Person:
        # A person of an organization the unit does not span is answered as a missing one (api.md, Conventions).
        try:
            person = self.load(person_id, Person, "person")
        except NotFound:
            person = None
        if person is None or person.tenant_id not in within:
            raise InvalidValue("No person has the id %(person)s.", clause, field, person=str(person_id))
        if not person.active:
            raise InvalidValue("The person %(person)s has left their organization.", clause, field,
                               person=str(person_id))
        return person

    def _candidate(self, person_id: UUID, tenant: Tenant, unit_kind: UnitKind,
                   field: str = "member_ids", subject: str | None = None) -> Candidate:
        # The clause that says whose people the members are; a person the caller may not know is as if unknown.
        template = ("No person of this organization or those reporting to it has the id %(person)s."
                    if unit_kind.cross_organization else "No person of this organization has the id %(person)s.")
        unknown = InvalidValue(template, membership_clause(unit_kind), field, person=str(person_id))
        try:
            person = self.load(person_id, Person, "person", read_only=True)  # read into a Candidate only
        except NotFound:
            raise unknown from None
        if person.tenant_id == tenant.id:
            home = tenant
        else:
            home = self.get_tenant(person.tenant_id)
            # Another tenant's person is named only if it reports to this one: otherwise, as if unknown.
            if home.parent_id != tenant.id:
                raise unknown
        colleagues = None
        if unit_kind.code == INTERCOLLEGE_COMMISSION and subject and self.roster is not None:
            colleagues = self.roster(person.tenant_id, subject)
        return Candidate(person_id=person.id, tenant_id=person.tenant_id, tenant_kind=home.kind,
                         roles=tuple(person.roles), subjects=tuple(person.subjects), active=person.active,
                         colleagues_teaching=colleagues)

    def _reporting(self, tenant: Tenant, candidates: Sequence[Candidate]) -> set[UUID]:
        reporting = set()
        for candidate in candidates:
            if candidate.tenant_id != tenant.id:
                reporting.add(candidate.tenant_id)  # _candidate has checked it reports to the tenant
        return reporting


def _ties(ctx: Context, unit: Unit) -> dict[policy.Relation, bool]:
    """Return which of the policy's relations to a unit the actor has (the roles they need are the policy's)."""
    own = ctx.actor.tenant_id == unit.tenant
    leads = ctx.actor.person_id is not None and unit.is_leader(ctx.actor.person_id, ctx.today)
    return {policy.UNIT_MANAGER: own, policy.UNIT_HEAD: own, policy.UNIT_DEPUTY: own, policy.UNIT_LEADER: leads}


def _tenants_of(unit: Unit) -> set[UUID]:
    """Return the organizations a unit spans: its own, and its members' (a cross-organization unit)."""
    return {unit.tenant, *unit.members.values()}
