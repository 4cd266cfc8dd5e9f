"""Annual work plans (p.29) as an aggregate: given events, when a command, then the events or the refusal."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime, timezone
from typing import Any
from uuid import UUID, uuid4

import pytest

from domain.base import Actor, Conflict, Context, InvalidValue, NotPermitted, RuleViolation
from domain.directions import UnknownDirection
from domain.plans import AnnualPlan, check_academic_year
from services.api.errors import status_of

SCHOOL = UUID("3a3a3a3a-0000-4000-8000-000000000001")
UNIT = UUID("3b3b3b3b-0000-4000-8000-000000000002")
LEADER_ID = UUID("3c3c3c3c-0000-4000-8000-000000000003")
HEAD_ID = UUID("3d3d3d3d-0000-4000-8000-000000000004")
DEPUTY_ID = UUID("3e3e3e3e-0000-4000-8000-000000000005")
T0 = datetime(2026, 9, 12, 10, 0, tzinfo=timezone.utc)

ITEMS = [
    {"direction": "p.7.3", "title": "Открытые уроки по математике", "due": "2026-12-20"},
    {"direction": "p.13.3", "title": "Анализ методической работы", "due": date(2027, 5, 25)},
    {"direction": "p.7.6", "title": "Анализ качества преподавания"},
]


def acting(role: str, person_id: UUID, request_id: str = "req-plan") -> Context:
    return Context(actor=Actor(role, person_id, SCHOOL, (role,)), request_id=request_id, now=T0, ids=uuid4)


LEADER = acting("unit_leader", LEADER_ID, "req-draft")
HEAD = acting("head", HEAD_ID, "req-approve")
DEPUTY = acting("deputy_head", DEPUTY_ID)


def draft(items: Sequence[dict[str, Any]] = ITEMS, year: str = "2026-2027", tenant_kind: str = "school",
          ctx: Context = LEADER) -> AnnualPlan:
    return AnnualPlan.draft(ctx, tenant_id=SCHOOL, tenant_kind=tenant_kind, unit_id=UNIT, academic_year=year,
                            items=list(items))


def replay(events: Sequence[Any]) -> AnnualPlan:
    plan = None
    for event in events:
        plan = event.mutate(plan)
    assert isinstance(plan, AnnualPlan)
    return plan


class Given:
    """A plan whose events are stored; `then()` collects what a command recorded and rebuilds the plan."""

    def __init__(self, *commands: Any):
        plan = draft()
        for command in commands:
            command(plan)
        self.history = list(plan.collect_events())
        self.plan = replay(self.history)

    def then(self) -> tuple[list[Any], AnnualPlan]:
        new = list(self.plan.collect_events())
        self.history += new
        return new, replay(self.history)


def test_the_leader_drafting_a_plan_records_drafted_with_items_tenant_actor_and_p29():
    plan = draft()
    [event] = plan.collect_events()
    assert isinstance(event, AnnualPlan.Drafted)
    assert (event.tenant, event.unit_id, event.academic_year) == (SCHOOL, UNIT, "2026-2027")
    assert event.items == [
        {"direction": "p.7.3", "title": "Открытые уроки по математике", "due": "2026-12-20"},
        {"direction": "p.13.3", "title": "Анализ методической работы", "due": "2027-05-25"},
        {"direction": "p.7.6", "title": "Анализ качества преподавания"},
    ]
    assert event.meta == {
        "tenant_id": str(SCHOOL),
        "actor": {"person_id": str(LEADER_ID), "role": "unit_leader"},
        "clause": "p.29",
        "request_id": "req-draft",
        "unit_id": str(UNIT),
    }


def test_there_is_one_plan_per_unit_and_academic_year():
    assert draft().id == AnnualPlan.id_for(UNIT, "2026-2027")
    assert AnnualPlan.id_for(UNIT, "2026-2027") != AnnualPlan.id_for(UNIT, "2027-2028")


def test_a_drafted_plan_is_not_approved():
    assert not Given().plan.approved


def test_the_head_approving_records_approved_with_who_and_p29():
    given = Given()
    given.plan.approve(HEAD)

    [event], plan = given.then()
    assert isinstance(event, AnnualPlan.Approved)
    assert event.approved_by == HEAD_ID
    assert event.meta["actor"] == {"person_id": str(HEAD_ID), "role": "head"}
    assert (event.meta["tenant_id"], event.meta["clause"], event.meta["unit_id"]) == (str(SCHOOL), "p.29", str(UNIT))
    assert plan.approved
    assert (plan.approved_at, plan.approved_by) == (T0, HEAD_ID)


@pytest.mark.parametrize("role", ["deputy_head", "methodist", "unit_leader", "teacher"])
def test_approval_by_anyone_but_the_head_is_not_permitted_citing_p29(role):
    given = Given()
    with pytest.raises(NotPermitted) as error:
        given.plan.approve(acting(role, DEPUTY_ID))
    assert (status_of(error.value), error.value.clause) == (403, "p.29")
    assert given.plan.collect_events() == []


def test_approving_twice_is_a_conflict_citing_p29():
    given = Given(lambda plan: plan.approve(HEAD))
    with pytest.raises(Conflict) as error:
        given.plan.approve(HEAD)
    assert (status_of(error.value), error.value.clause) == (409, "p.29")


def test_a_draft_is_revised_until_approved():
    given = Given()
    given.plan.revise(DEPUTY, "school", [{"direction": "p.7.8", "title": "Методическая продукция"}])
    [event], plan = given.then()
    assert isinstance(event, AnnualPlan.Revised)
    assert plan.items == [{"direction": "p.7.8", "title": "Методическая продукция"}]
    assert event.meta["clause"] == "p.29"


def test_an_approved_plan_no_longer_changes_citing_p29():
    given = Given(lambda plan: plan.approve(HEAD))
    with pytest.raises(Conflict) as error:
        given.plan.revise(DEPUTY, "school", ITEMS)
    assert error.value.clause == "p.29"


def test_a_university_direction_in_a_school_plan_is_refused_citing_the_schools_clause_p7():
    with pytest.raises(RuleViolation) as error:
        draft([{"direction": "p.9.1", "title": "Вузовское направление"}])
    assert (error.value.clause, error.value.field) == ("p.7", "direction")
    assert "p.9.1" in error.value.detail


def test_a_union_direction_is_for_union_decisions_not_a_colleges_plan():
    with pytest.raises(RuleViolation) as error:
        draft([{"direction": "p.33.4", "title": "Решение УМО"}], tenant_kind="tvet_college")
    assert error.value.clause == "p.8"


def test_a_district_department_plans_by_the_school_directions():
    [event] = draft([{"direction": "p.7.1", "title": "Семинар"}], tenant_kind="district_department").collect_events()
    assert event.items[0]["direction"] == "p.7.1"


def test_an_unknown_direction_is_invalid():
    with pytest.raises(UnknownDirection):
        draft([{"direction": "p.7.99", "title": "Нет такого"}])


def test_an_item_due_outside_the_academic_year_is_invalid():
    with pytest.raises(InvalidValue) as error:
        draft([{"direction": "p.7.1", "title": "Поздно", "due": "2027-09-01"}])
    assert error.value.field == "items.due"


def test_a_plan_needs_at_least_one_item_with_a_title():
    with pytest.raises(InvalidValue):
        draft([])
    with pytest.raises(InvalidValue) as error:
        draft([{"direction": "p.7.1", "title": "  "}])
    assert error.value.field == "items.title"


@pytest.mark.parametrize("year", ["2026/2027", "2026-2028", "26-27", "2027-2026"])
def test_an_academic_year_is_written_like_2026_2027(year):
    with pytest.raises(InvalidValue) as error:
        check_academic_year(year)
    assert error.value.field == "academic_year"


def test_an_academic_year_runs_from_1_september_to_31_august():
    assert check_academic_year("2026-2027") == (date(2026, 9, 1), date(2027, 8, 31))
