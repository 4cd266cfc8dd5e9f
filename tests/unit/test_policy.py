"""The policy: who may do what, in which capacity, and what a refusal says."""

from __future__ import annotations

from datetime import datetime, timezone
from uuid import uuid4

import pytest

from domain import policy
from domain.base import Actor, Context, NotPermitted

TENANT = uuid4()


def ctx(*roles: str) -> Context:
    actor = Actor(roles[0], uuid4(), TENANT, roles) if roles else Actor.operator()
    return Context(actor=actor, request_id="policy", now=datetime(2026, 9, 1, tzinfo=timezone.utc), ids=uuid4)


def test_a_refusal_names_the_action_the_roles_and_the_clause():
    with pytest.raises(NotPermitted) as refused:
        policy.APPROVE_WORKING_CURRICULUM.permit(ctx("deputy_head", "teacher"))
    assert refused.value.clause == "p.19"
    assert refused.value.detail == "Approving a working curriculum needs the role: head (p.19)."


def test_a_relation_refusal_names_the_relation_and_may_cite_the_objects_own_clause():
    with pytest.raises(NotPermitted) as refused:
        policy.HOLD_MEETING.permit(ctx("teacher"), {policy.UNIT_LEADER: False, policy.UNIT_DEPUTY: True}, "p.27")
    assert refused.value.clause == "p.27"
    assert refused.value.detail == ("Recording a unit's meeting needs the unit's current leader or the deputy head "
                                    "of the organization that formed the unit (p.27).")


def test_the_first_allowed_role_held_is_the_one_acted_in():
    assert policy.FORM_UNIT.permit(ctx("teacher", "deputy_head", "head")).actor.role == "head"
    assert policy.FORM_UNIT.permit(ctx("teacher", "deputy_head")).actor.role == "deputy_head"


def test_a_relation_allows_only_in_its_roles_and_acts_in_its_capacity():
    leader = policy.DRAFT_PLAN.permit(ctx("teacher"), {policy.UNIT_LEADER: True})
    assert leader.actor.role == policy.UNIT_LEADER_CAPACITY
    # The deputy head of the unit's organization drafts it too, in that role; a teacher of it does not.
    assert policy.DRAFT_PLAN.permit(ctx("deputy_head"), {policy.UNIT_DEPUTY: True}).actor.role == "deputy_head"
    with pytest.raises(NotPermitted):
        policy.DRAFT_PLAN.permit(ctx("teacher"), {policy.UNIT_DEPUTY: True})
    # A tie the service says holds in a capacity of its own (a leaderless unit's member) is recorded as that.
    member = policy.CONCLUDE_ON_DOCUMENT.permit(ctx("methodist"),
                                                {policy.DOCUMENT_REVIEWER: policy.UNIT_MEMBER_CAPACITY})
    assert member.actor.role == policy.UNIT_MEMBER_CAPACITY


def test_the_operator_is_allowed_only_where_an_action_names_it():
    assert policy.REGISTER_TENANT.permit(ctx()).actor.role == "operator"
    assert not policy.FORM_UNIT.allows(ctx().actor)
    assert not policy.ISSUE_TOKEN.allows(ctx().actor, {policy.FOR_A_HEAD: False})
    assert policy.ISSUE_TOKEN.allows(ctx().actor, {policy.FOR_A_HEAD: True})


def test_before_anything_is_loaded_a_caller_no_role_of_whom_could_be_allowed_is_refused():
    # Chairing a union holds in any role: everyone may ask; the coordinator acts through three roles only.
    assert policy.ADOPT_DECISION.admits(ctx("librarian").actor) == "librarian"
    assert policy.RECORD_UNION_CHAIR.admits(ctx("teacher").actor) is None
    assert policy.RECORD_UNION_CHAIR.admits(ctx("teacher", "methodist").actor) == "methodist"


def test_an_aggregates_own_guard_checks_the_capacity_the_service_chose():
    policy.APPROVE_PLAN.insist(ctx("head"))
    with pytest.raises(NotPermitted) as refused:
        policy.APPROVE_PLAN.insist(ctx("deputy_head"))
    assert refused.value.clause == "p.29"


def test_each_document_kind_is_approved_by_its_own_action_under_its_clause():
    from domain.documents import DOCUMENT_KINDS

    for kind in DOCUMENT_KINDS.values():
        assert kind.approval.clause == kind.clause and kind.approvers == kind.approval.roles
