"""Annual work plans of methodical units (p.29): one per unit and academic year, approved by the head."""

from __future__ import annotations

import re
from datetime import date
from typing import Any
from uuid import NAMESPACE_URL, UUID, uuid5

from domain import policy
from domain.base import Conflict, Context, InvalidValue, Recorded
from domain.units import check_item

_PLAN_NAMESPACE = uuid5(NAMESPACE_URL, "urn:methodical:annual-plan")
_ACADEMIC_YEAR = re.compile(r"^(\d{4})-(\d{4})$")
PLAN_YEARS_BACK, PLAN_YEARS_AHEAD = 5, 2


def check_academic_year(value: str) -> tuple[date, date]:
    """Return the first and last day of an academic year written "2026-2027"; raise if malformed."""
    match = _ACADEMIC_YEAR.match(value)
    if not match or int(match.group(2)) != int(match.group(1)) + 1:
        raise InvalidValue("An academic year is written like 2026-2027.", field="academic_year")
    start = int(match.group(1))
    return date(start, 9, 1), date(start + 1, 8, 31)


class AnnualPlan(Recorded):
    """A unit's work plan for one academic year; its items name the directions they serve."""

    class Drafted(Recorded.Created):
        tenant: UUID
        unit_id: UUID
        academic_year: str
        items: list[dict[str, str]]

    class Revised(Recorded.Event):
        items: list[dict[str, str]]

        def apply(self, plan: AnnualPlan) -> None:
            plan.items = list(self.items)

    class Approved(Recorded.Event):
        approved_by: UUID | None

        def apply(self, plan: AnnualPlan) -> None:
            plan.approved_at = self.timestamp
            plan.approved_by = self.approved_by

    def __init__(self, tenant: UUID, unit_id: UUID, academic_year: str, items: list[dict[str, str]],
                 meta: dict[str, Any]):
        self.tenant = tenant
        self.unit_id = unit_id
        self.academic_year = academic_year
        self.items = list(items)
        self.approved_at = None
        self.approved_by: UUID | None = None

    @property
    def tenant_id(self) -> UUID:
        return self.tenant

    @property
    def approved(self) -> bool:
        """Return True once the head has approved the plan."""
        return self.approved_at is not None

    @staticmethod
    def id_for(unit_id: UUID, academic_year: str) -> UUID:
        """Return the id of the unit's plan for that year (one per unit and year, p.29)."""
        return uuid5(_PLAN_NAMESPACE, f"{unit_id}/{academic_year}")

    @classmethod
    def draft(cls, ctx: Context, *, tenant_id: UUID, tenant_kind: str, unit_id: UUID, academic_year: str,
              items: list[dict[str, Any]]) -> AnnualPlan:
        """Draft the unit's plan for an academic year."""
        first, _ = check_academic_year(academic_year)
        # p.29: the plan of the year's work is drafted for this year or one soon before or after it.
        this_year = ctx.today.year
        if not this_year - PLAN_YEARS_BACK <= first.year <= this_year + PLAN_YEARS_AHEAD:
            raise InvalidValue("A plan is drafted for an academic year starting from %(first)s to %(last)s.", "p.29",
                               "academic_year", first=this_year - PLAN_YEARS_BACK, last=this_year + PLAN_YEARS_AHEAD)
        checked = _check_items(items, tenant_kind, academic_year)
        return cls._create(
            cls.Drafted, id=cls.id_for(unit_id, academic_year), timestamp=ctx.at,
            meta=ctx.meta(tenant_id, "p.29", unit_id=unit_id), tenant=tenant_id, unit_id=unit_id,
            academic_year=academic_year, items=checked,
        )

    def revise(self, ctx: Context, tenant_kind: str, items: list[dict[str, Any]]) -> None:
        """Replace the items of a plan not yet approved."""
        if self.approved:
            raise Conflict("The plan for %(year)s is approved; it no longer changes.", "p.29", year=self.academic_year)
        self.record(self.Revised, ctx, "p.29", items=_check_items(items, tenant_kind, self.academic_year))

    def approve(self, ctx: Context) -> None:
        """Approve the plan: the head of the organization does, once (p.29)."""
        policy.APPROVE_PLAN.insist(ctx)
        if self.approved:
            raise Conflict("The plan for %(year)s is already approved.", "p.29", year=self.academic_year)
        self.record(self.Approved, ctx, "p.29", approved_by=ctx.actor.person_id)

    def meta_scope(self) -> dict[str, Any]:
        return {"unit_id": str(self.unit_id)}


def _check_items(items: list[dict[str, Any]], tenant_kind: str, academic_year: str) -> list[dict[str, str]]:
    first, last = check_academic_year(academic_year)
    if not items:
        raise InvalidValue("A plan has at least one item.", field="items")
    checked = []
    for item in items:
        entry = check_item(item, tenant_kind, ("direction", "title"))
        due = item.get("due")
        if due is not None:
            due_day = due if isinstance(due, date) else date.fromisoformat(str(due))
            if not first <= due_day <= last:
                raise InvalidValue("Each item is due within the academic year %(year)s.", field="items.due",
                                   year=academic_year)
            entry["due"] = due_day.isoformat()
        checked.append(entry)
    return checked
