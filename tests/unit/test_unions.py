"""Unions, decisions and circulars as aggregates: given events, when a command, then the events or the refusal."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from uuid import uuid4

import pytest

from domain.base import Actor, Conflict, Context, InvalidValue, NotPermitted, RuleViolation
from domain.unions import Circular, Recipient, Union

NOW = datetime(2026, 9, 1, 9, 30, tzinfo=timezone(timedelta(hours=5)))
COLLEGE, DEPARTMENT, OTHER = uuid4(), uuid4(), uuid4()
HEAD = Actor("head", uuid4(), COLLEGE)
WELDING, ELECTRICS = "0911000", "1304000"


def ctx(actor: Actor = HEAD) -> Context:
    return Context(actor=actor, request_id="req-unions-1", now=NOW, ids=uuid4)


def found(**changes) -> Union:
    values = dict(name="Дәнекерлеу ОӘБ", sector="Өнеркәсіп", specialties=[WELDING, ELECTRICS], founder_kind="tvet_college",
                  founder_name="Алматы политехникалық колледжі", coordinator_id=DEPARTMENT,
                  coordinator_kind="regional_department", founder_in_region=True)
    values.update(changes)
    return Union.found(ctx(), **values)


def with_chair() -> Union:
    """Given: a union of the founding college (both specialties), college OTHER (welding), an employer; HEAD chairs."""
    union = found()
    coordinator = ctx(Actor("head", uuid4(), DEPARTMENT))
    union.admit_organization(coordinator, tenant_id=OTHER, tenant_kind="tvet_college", name="Колледж",
                             specialties=[WELDING], in_region=True)
    union.admit_external(coordinator, name="ТОО Монтаж", kind="employer", specialties=[WELDING])
    union.approve_chair(coordinator, person_id=HEAD.person_id, person_tenant_id=COLLEGE, full_name="Әсел",
                        council_decision_number="12", council_decision_date=date(2026, 8, 30))
    union.collect_events()
    return union


def test_founding_records_the_union_and_its_founder_as_first_member_each_scoped_by_the_union():
    union = found()
    founded, admitted = union.collect_events()
    assert isinstance(founded, Union.Founded) and isinstance(admitted, Union.MemberAdmitted)
    assert (founded.specialties, founded.coordinator_id) == ([WELDING, ELECTRICS], DEPARTMENT)
    assert (admitted.member_tenant_id, admitted.specialties) == (COLLEGE, [WELDING, ELECTRICS])
    assert founded.meta == {"tenant_id": None, "actor": {"person_id": str(HEAD.person_id), "role": "head"},
                            "clause": "p.24", "request_id": "req-unions-1", "union_id": str(union.id)}
    assert admitted.meta["union_id"] == str(union.id) and admitted.meta["clause"] == "p.24"


def test_a_school_cannot_found_a_union_and_the_coordinator_must_be_a_regional_department():
    with pytest.raises(RuleViolation) as refused:
        found(founder_kind="school")
    assert refused.value.clause == "p.22"
    with pytest.raises(RuleViolation) as refused:
        found(coordinator_kind="district_department")
    assert (refused.value.clause, refused.value.field) == ("p.22", "coordinator_id")


def test_a_teacher_does_not_found_a_union_for_the_college():
    with pytest.raises(NotPermitted):
        Union.found(ctx(Actor("teacher", uuid4(), COLLEGE)), name="X", sector="Y", specialties=[WELDING],
                    founder_kind="tvet_college", founder_name="C", coordinator_id=DEPARTMENT,
                    coordinator_kind="regional_department", founder_in_region=True)


def test_members_join_for_the_unions_own_specialties_only_and_once():
    union = found()
    union.collect_events()
    coordinator = ctx(Actor("head", uuid4(), DEPARTMENT))
    with pytest.raises(RuleViolation) as refused:
        union.admit_organization(coordinator, tenant_id=OTHER, tenant_kind="tvet_college", name="C",
                                 specialties=["9999999"], in_region=True)
    assert (refused.value.clause, refused.value.field) == ("p.24", "specialties")
    with pytest.raises(Conflict):
        union.admit_organization(coordinator, tenant_id=COLLEGE, tenant_kind="tvet_college", name="C",
                                 specialties=[WELDING], in_region=True)
    with pytest.raises(RuleViolation):
        union.admit_organization(coordinator, tenant_id=DEPARTMENT, tenant_kind="regional_department", name="D",
                                 specialties=[WELDING], in_region=True)
    assert union.collect_events() == []


def test_the_chair_is_a_person_of_a_member_organization_approved_by_the_council():
    union = found()
    with pytest.raises(RuleViolation) as refused:
        union.approve_chair(ctx(), person_id=uuid4(), person_tenant_id=OTHER, full_name="X",
                            council_decision_number="1", council_decision_date=date(2026, 8, 1))
    assert refused.value.clause == "p.35"
    union.approve_chair(ctx(), person_id=HEAD.person_id, person_tenant_id=COLLEGE, full_name="Әсел",
                        council_decision_number="12", council_decision_date=date(2026, 8, 30))
    event = union.collect_events()[-1]
    assert isinstance(event, Union.ChairApproved)
    assert (event.council_decision_number, event.council_decision_date, event.meta["clause"]) == (
        "12", date(2026, 8, 30), "p.35")


def test_the_chair_falls_vacant_when_the_chairs_organization_leaves():
    union = with_chair()
    union.remove_member(ctx(), COLLEGE, withdrawal=True)
    assert union.chair is None


def test_a_decision_concerns_the_member_organizations_of_its_specialties_not_external_members():
    union = with_chair()
    decision, members = union.adopt_decision(ctx(), title="Ұсыным", text="Мәтін", direction="p.33.4",
                                             specialties=[WELDING])
    assert sorted(m.tenant_id for m in members) == sorted([COLLEGE, OTHER])
    assert decision.circulars_expected == 2 and decision.number == 1
    adopted, created = union.collect_events()[-1], decision.collect_events()[0]
    assert isinstance(adopted, Union.DecisionAdopted) and adopted.meta["clause"] == "p.34"
    assert created.meta["union_id"] == str(union.id)
    _, electrics_only = union.adopt_decision(ctx(), title="T", text="X", direction="p.33.1", specialties=[ELECTRICS])
    assert [m.tenant_id for m in electrics_only] == [COLLEGE]


def test_a_decision_serves_a_direction_of_p33_and_only_the_chair_adopts_it():
    union = with_chair()
    with pytest.raises(RuleViolation) as refused:
        union.adopt_decision(ctx(), title="T", text="X", direction="p.8.3", specialties=[WELDING])
    assert (refused.value.clause, refused.value.field) == ("p.33", "direction")
    with pytest.raises(InvalidValue):
        union.adopt_decision(ctx(), title="T", text="X", direction="p.33.12", specialties=[WELDING])
    with pytest.raises(NotPermitted):
        union.adopt_decision(ctx(Actor("head", uuid4(), OTHER)), title="T", text="X", direction="p.33.1",
                             specialties=[WELDING])


def issued() -> Circular:
    union = with_chair()
    decision, _ = union.adopt_decision(ctx(), title="Ұсыным", text="Мәтін", direction="p.33.4", specialties=[WELDING])
    circular = Circular.issue(ctx(), decision, Recipient(OTHER, OTHER, "Колледж", "ru"), 2)
    circular.collect_events()
    return circular


def test_a_circulars_id_derives_from_decision_and_member_so_a_second_issue_is_the_same_aggregate():
    union = with_chair()
    decision, _ = union.adopt_decision(ctx(), title="T", text="X", direction="p.33.4", specialties=[WELDING])
    recipient = Recipient(OTHER, OTHER, "Колледж", "ru")
    first, second = Circular.issue(ctx(), decision, recipient, 1), Circular.issue(ctx(), decision, recipient, 1)
    assert first.id == second.id == Circular.id_for(decision.id, OTHER)
    [event] = first.collect_events()
    assert (event.meta["tenant_id"], event.meta["union_id"], event.meta["clause"]) == (
        str(OTHER), str(union.id), "p.34")


def test_delivering_twice_records_one_delivery():
    circular = issued()
    worker = ctx(Actor("delivery"))
    assert circular.deliver(worker, document_sha256="ab", document_size=10, notice_sent_to=None) is True
    assert circular.deliver(worker, document_sha256="cd", document_size=10, notice_sent_to=None) is False
    [event] = circular.collect_events()
    assert isinstance(event, Circular.Delivered) and event.document_sha256 == "ab"


def test_a_failed_circular_is_retried_then_delivered():
    circular = issued()
    worker = ctx(Actor("delivery"))
    circular.fail(worker, error="SMTPServerDisconnected", attempts=3)
    with pytest.raises(Conflict):
        circular.deliver(worker, document_sha256="ab", document_size=1, notice_sent_to=None)
    circular.retry(ctx(Actor("operator")))
    circular.deliver(worker, document_sha256="ab", document_size=1, notice_sent_to=None)
    assert [type(e).__name__ for e in circular.collect_events()] == ["DeliveryFailed", "DeliveryRetried", "Delivered"]


def test_the_receiving_head_acknowledges_once_with_a_response():
    circular = issued()
    circular.deliver(ctx(Actor("delivery")), document_sha256="ab", document_size=1, notice_sent_to=None)
    head = ctx(Actor("head", uuid4(), OTHER))
    with pytest.raises(NotPermitted):
        circular.acknowledge(ctx(Actor("teacher", uuid4(), OTHER)), response="noted", note=None)
    with pytest.raises(NotPermitted):
        circular.acknowledge(ctx(Actor("head", uuid4(), COLLEGE)), response="noted", note=None)
    assert circular.acknowledge(head, response="adapted", note="  Бейімдейміз ") is True
    assert circular.acknowledge(head, response="declined", note=None) is False
    events = circular.collect_events()
    assert (events[-1].response, events[-1].note, events[-1].meta["clause"]) == ("adapted", "Бейімдейміз", "p.34")
    assert circular.status == "acknowledged"


def test_only_colleges_and_universities_of_the_coordinators_region_are_admitted_p22_p24():
    union = found()
    union.collect_events()
    coordinator = ctx(Actor("head", uuid4(), DEPARTMENT))
    for kind, in_region in (("school", True), ("district_department", True), ("tvet_college", False)):
        with pytest.raises(RuleViolation) as refused:
            union.admit_organization(coordinator, tenant_id=uuid4(), tenant_kind=kind, name="X",
                                     specialties=[WELDING], in_region=in_region)
        assert (refused.value.clause, refused.value.field) == ("p.24", "tenant_id")
    with pytest.raises(RuleViolation) as refused:
        found(founder_in_region=False)
    assert (refused.value.clause, refused.value.field) == ("p.22", "coordinator_id")
    union.admit_organization(coordinator, tenant_id=OTHER, tenant_kind="postsecondary_college", name="Y",
                             specialties=[WELDING], in_region=True)
    assert [type(e).__name__ for e in union.collect_events()] == ["MemberAdmitted"]
