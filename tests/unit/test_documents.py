"""Methodical documents as an aggregate: given events, when a command, then the events recorded or the refusal."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from datetime import datetime, timezone
from typing import Any
from uuid import UUID, uuid4

import pytest

from domain.base import Actor, Conflict, Context, InvalidValue, NotPermitted, RuleViolation
from domain.documents import (
    AUTHOR, PDF, UNIT_LEADER, MethodicalDocument, ReviewingUnit, UnsupportedFile, content_hash,
)
from services.api.errors import status_of

TENANT = UUID("0a0a0a0a-0000-4000-8000-000000000001")
OTHER_TENANT = UUID("0a0a0a0a-0000-4000-8000-000000000009")
TEACHER = UUID("0b0b0b0b-0000-4000-8000-000000000002")
DEPUTY = UUID("0c0c0c0c-0000-4000-8000-000000000003")
HEAD = UUID("0d0d0d0d-0000-4000-8000-000000000004")
CHAIR = UUID("0e0e0e0e-0000-4000-8000-000000000005")
LEADER = UUID("0f0f0f0f-0000-4000-8000-000000000006")  # the association's leader
T0 = datetime(2026, 10, 1, 8, 0, tzinfo=timezone.utc)

ASSOCIATION = ReviewingUnit(UUID("1a000000-0000-4000-8000-000000000001"), TENANT, "methodical_association", "МО")
COUNCIL = ReviewingUnit(UUID("1c000000-0000-4000-8000-000000000001"), TENANT, "methodical_council", "Әдістемелік кеңес")
COUNCIL_2 = ReviewingUnit(UUID("1c000000-0000-4000-8000-000000000002"), TENANT, "methodical_council", "Совет 2")
FOREIGN = ReviewingUnit(UUID("1f000000-0000-4000-8000-000000000001"), OTHER_TENANT, "methodical_council", "Чужой")


def ctx(person: UUID, role: str, roles: Sequence[str] = (), request_id: str = "req") -> Context:
    return Context(actor=Actor(role, person, TENANT, tuple(roles) or (role,)), request_id=request_id, now=T0, ids=uuid4)


def as_teacher(request_id: str = "req-teacher") -> Context:
    return ctx(TEACHER, "teacher", request_id=request_id)


def as_author() -> Context:
    return ctx(TEACHER, "teacher").as_role(AUTHOR)


def as_chair() -> Context:
    return ctx(CHAIR, "teacher").as_role(UNIT_LEADER)


def as_association_leader() -> Context:
    return ctx(LEADER, "teacher").as_role(UNIT_LEADER)


def as_deputy() -> Context:
    return ctx(DEPUTY, "deputy_head")


def as_head() -> Context:
    return ctx(HEAD, "head")


def draft(kind: str = "working_program", body: str = "Мақсаты: оқушылардың функционалдық сауаттылығы.",
          unit: ReviewingUnit | None = None, context: Context | None = None) -> MethodicalDocument:
    return MethodicalDocument.draft(context or as_teacher(), tenant_id=TENANT, kind=kind,
                                    title="Алгебра, 7-сынып: жұмыс бағдарламасы", body=body, unit=unit)


def replay(events: Sequence[Any]) -> MethodicalDocument:
    """A document rebuilt from stored events only, exactly as the repository would."""
    doc = None
    for event in events:
        doc = event.mutate(doc)
    assert isinstance(doc, MethodicalDocument)
    return doc


def given(*commands: Any, kind: str = "working_program", unit: ReviewingUnit | None = None,
          context: Context | None = None) -> MethodicalDocument:
    doc = draft(kind, unit=unit, context=context)
    for command in commands:
        command(doc)
    return replay(doc.collect_events())


def submitted(route: Sequence[ReviewingUnit] = (ASSOCIATION, COUNCIL)) -> Any:
    return lambda doc: doc.submit(as_author(), list(route), ())


def concluded(unit: ReviewingUnit, positive: bool = True, remarks: str = "") -> Any:
    return lambda doc: doc.conclude(as_chair(), unit.unit_id, positive, remarks, speaks_for_unit=True)


def new_events(doc: MethodicalDocument) -> list[Any]:
    return list(doc.collect_events())


def pdf_file(data: bytes = b"%PDF-1.4 test") -> dict[str, Any]:
    return {"id": uuid4(), "filename": "бағдарлама.pdf", "media_type": PDF, "size": len(data),
            "sha256": hashlib.sha256(data).hexdigest()}


# Drafting (p.18 – p.21)

def test_a_teacher_drafting_a_working_program_records_version_1_with_its_hash_under_p20():
    doc = draft(context=as_teacher("req-7"))

    [event] = doc.collect_events()
    assert isinstance(event, MethodicalDocument.Drafted)
    assert (event.kind, event.author_id, event.body) == ("working_program", TEACHER,
                                                         "Мақсаты: оқушылардың функционалдық сауаттылығы.")
    assert event.content_hash == content_hash(event.body, [])
    assert event.meta == {"tenant_id": str(TENANT), "actor": {"person_id": str(TEACHER), "role": "teacher"},
                          "clause": "p.20", "request_id": "req-7"}
    assert (doc.status, doc.current_version) == ("draft", 1)


def test_the_content_hash_is_the_sha256_of_the_body_and_the_files_hashes_in_order():
    files = [pdf_file(b"%PDF-1"), pdf_file(b"%PDF-2")]
    canonical = json.dumps({"body": "Мәтін", "files": [f["sha256"] for f in files]}, ensure_ascii=False,
                           separators=(",", ":"))
    assert content_hash("Мәтін", files) == hashlib.sha256(canonical.encode()).hexdigest()
    assert content_hash("Мәтін", files) != content_hash("Мәтін", files[::-1])


def test_a_head_is_not_the_author_of_a_working_program_p20():
    with pytest.raises(NotPermitted) as refused:
        draft(context=as_head())
    assert refused.value.clause == "p.20"


def test_a_working_curriculum_is_developed_by_a_unit_and_needs_one_p19():
    with pytest.raises(RuleViolation) as refused:
        draft("working_curriculum", context=as_chair())
    assert (refused.value.clause, refused.value.field) == ("p.19", "unit_id")


def test_a_units_leader_drafts_its_working_curriculum_but_a_teacher_alone_does_not():
    doc = draft("working_curriculum", unit=ASSOCIATION, context=as_chair())
    assert doc.unit_id == ASSOCIATION.unit_id
    with pytest.raises(NotPermitted) as refused:
        draft("working_curriculum", unit=ASSOCIATION, context=as_teacher())
    assert refused.value.clause == "p.19"


def test_an_unknown_kind_is_refused_naming_the_field():
    with pytest.raises(InvalidValue) as refused:
        draft("essay")
    assert refused.value.field == "kind"


# Routes (p.18 – p.21)

def test_submission_fixes_the_route_in_order_under_the_kinds_clause():
    doc = given()
    doc.submit(as_author(), [ASSOCIATION, COUNCIL], ())
    [event] = new_events(doc)
    assert isinstance(event, MethodicalDocument.Submitted)
    assert event.route == [ASSOCIATION.unit_id, COUNCIL.unit_id]
    assert event.meta["clause"] == "p.20"
    assert event.meta["actor"]["role"] == AUTHOR


def test_a_working_program_route_without_a_methodical_council_is_refused_p20():
    doc = given()
    with pytest.raises(RuleViolation) as refused:
        doc.submit(as_author(), [ASSOCIATION], ())
    assert (refused.value.clause, refused.value.field) == ("p.20", "route")


@pytest.mark.parametrize("kind, clause", [("methodical_guidelines", "p.21"), ("lesson_plan", "p.20")])
def test_guidelines_and_lesson_plans_also_reach_a_council(kind, clause):
    doc = given(kind=kind)
    with pytest.raises(RuleViolation) as refused:
        doc.submit(as_author(), [ASSOCIATION], ())
    assert refused.value.clause == clause


def test_a_working_curriculum_route_that_skips_one_of_the_councils_is_refused_p19():
    doc = given(kind="working_curriculum", unit=ASSOCIATION, context=as_chair())
    with pytest.raises(RuleViolation) as refused:
        doc.submit(as_author(), [ASSOCIATION, COUNCIL], [COUNCIL.unit_id, COUNCIL_2.unit_id])
    assert refused.value.clause == "p.19"
    assert str(COUNCIL_2.unit_id) in refused.value.detail
    doc.submit(as_author(), [ASSOCIATION, COUNCIL, COUNCIL_2], [COUNCIL.unit_id, COUNCIL_2.unit_id])
    assert doc.status == "submitted"


def test_a_working_curriculum_in_an_organization_without_a_council_cannot_be_submitted_p19():
    doc = given(kind="working_curriculum", unit=ASSOCIATION, context=as_chair())
    with pytest.raises(RuleViolation) as refused:
        doc.submit(as_author(), [ASSOCIATION], ())
    assert refused.value.clause == "p.19"


def test_a_route_through_another_organizations_unit_or_twice_through_one_is_refused():
    doc = given()
    with pytest.raises(InvalidValue) as foreign:
        doc.submit(as_author(), [FOREIGN, COUNCIL], ())
    with pytest.raises(InvalidValue) as twice:
        doc.submit(as_author(), [COUNCIL, COUNCIL], ())
    assert foreign.value.field == twice.value.field == "route"


def test_only_the_author_submits_and_only_once():
    doc = given()
    with pytest.raises(NotPermitted):
        doc.submit(as_deputy(), [COUNCIL], ())
    doc = given(submitted())
    with pytest.raises(Conflict):
        doc.submit(as_author(), [COUNCIL], ())


# Conclusions, in route order, bound to the version

def test_a_conclusion_is_bound_to_the_current_version_and_its_hash():
    doc = given(submitted())
    doc.conclude(as_chair(), ASSOCIATION.unit_id, True, "Ұсынылады", speaks_for_unit=True)
    [event] = new_events(doc)
    assert isinstance(event, MethodicalDocument.ConclusionIssued)
    assert (event.unit_id, event.step, event.version, event.positive, event.remarks) == (
        ASSOCIATION.unit_id, 0, 1, True, "Ұсынылады")
    assert event.content_hash == doc.current["content_hash"]
    assert event.meta["clause"] == "p.20" and event.meta["actor"] == {"person_id": str(CHAIR), "role": UNIT_LEADER}


def test_the_second_step_does_not_conclude_before_the_first_p20():
    doc = given(submitted())
    with pytest.raises(RuleViolation) as refused:
        doc.conclude(as_chair(), COUNCIL.unit_id, True, "", speaks_for_unit=True)
    assert refused.value.clause == "p.20"


def test_after_a_negative_conclusion_the_next_step_waits_for_a_revision():
    doc = given(submitted(), concluded(ASSOCIATION, False, "Мақсаттарын нақтылау керек"))
    with pytest.raises(RuleViolation):
        doc.conclude(as_chair(), COUNCIL.unit_id, True, "", speaks_for_unit=True)
    with pytest.raises(Conflict):
        doc.conclude(as_chair(), ASSOCIATION.unit_id, True, "", speaks_for_unit=True)


def test_someone_who_does_not_speak_for_the_unit_gives_no_conclusion():
    doc = given(submitted())
    with pytest.raises(NotPermitted) as refused:
        doc.conclude(as_chair(), ASSOCIATION.unit_id, True, "", speaks_for_unit=False)
    assert refused.value.clause == "p.20"


def test_a_unit_off_the_route_gives_no_conclusion_and_a_negative_one_states_remarks():
    doc = given(submitted())
    with pytest.raises(RuleViolation):
        doc.conclude(as_chair(), COUNCIL_2.unit_id, True, "", speaks_for_unit=True)
    with pytest.raises(InvalidValue) as refused:
        doc.conclude(as_chair(), ASSOCIATION.unit_id, False, "  ", speaks_for_unit=True)
    assert refused.value.field == "remarks"


def test_a_draft_gets_no_conclusions():
    with pytest.raises(Conflict):
        given().conclude(as_chair(), COUNCIL.unit_id, True, "", speaks_for_unit=True)


# Approval (p.18 – p.21)

def test_the_deputy_head_approves_a_program_every_step_of_whose_route_concluded_positively_p20():
    doc = given(submitted(), concluded(ASSOCIATION), concluded(COUNCIL))
    doc.approve(as_deputy())
    [event] = new_events(doc)
    assert isinstance(event, MethodicalDocument.Approved)
    assert (event.version, event.approved_by) == (1, DEPUTY)
    assert event.meta["clause"] == "p.20" and event.meta["actor"]["role"] == "deputy_head"
    assert doc.status == "approved"


def test_approval_with_a_missing_conclusion_is_refused_citing_p20():
    doc = given(submitted(), concluded(ASSOCIATION))
    with pytest.raises(RuleViolation) as refused:
        doc.approve(as_deputy())
    assert refused.value.clause == "p.20" and status_of(refused.value) == 422
    assert str(COUNCIL.unit_id) in refused.value.detail


def test_approval_with_a_negative_conclusion_is_refused():
    doc = given(submitted([COUNCIL]), concluded(COUNCIL, False, "Толықтыру керек"))
    with pytest.raises(RuleViolation) as refused:
        doc.approve(as_deputy())
    assert "negative" in refused.value.detail


def test_a_revision_voids_earlier_conclusions_and_restarts_the_route():
    doc = given(submitted(), concluded(ASSOCIATION), concluded(COUNCIL))
    doc.revise(as_author(), "Жаңа нұсқа")
    [event] = new_events(doc)
    assert isinstance(event, MethodicalDocument.Revised) and event.version == 2
    doc = given(submitted(), concluded(ASSOCIATION), concluded(COUNCIL), lambda d: d.revise(as_author(), "Жаңа"))
    assert doc.next_step() == 0 and doc.current_conclusions() == {}
    with pytest.raises(RuleViolation) as refused:
        doc.approve(as_deputy())
    assert refused.value.clause == "p.20"
    with pytest.raises(RuleViolation):  # the route starts again from its first step
        doc.conclude(as_chair(), COUNCIL.unit_id, True, "", speaks_for_unit=True)
    assert [v["body"] for v in doc.versions] == ["Мақсаты: оқушылардың функционалдық сауаттылығы.", "Жаңа"]


def test_the_head_does_not_approve_a_working_program_403_p20():
    doc = given(submitted(), concluded(ASSOCIATION), concluded(COUNCIL))
    with pytest.raises(NotPermitted) as refused:
        doc.approve(as_head())
    assert (status_of(refused.value), refused.value.clause) == (403, "p.20")


def test_the_author_does_not_approve_their_own_document_even_as_deputy_head():
    author_deputy = ctx(TEACHER, "teacher", roles=("teacher", "deputy_head"))
    doc = given(submitted(), concluded(ASSOCIATION), concluded(COUNCIL), context=author_deputy)
    with pytest.raises(NotPermitted) as refused:
        doc.approve(author_deputy)
    assert refused.value.clause == "p.20"


@pytest.mark.parametrize("kind, approver, refused_role", [
    ("working_curriculum", as_head, as_deputy), ("methodical_documentation", as_deputy, None),
    ("methodical_documentation", as_head, None), ("methodical_guidelines", as_deputy, as_head),
])
def test_each_kind_is_approved_by_the_role_its_clause_names(kind, approver, refused_role):
    unit_kind = kind in ("working_curriculum", "methodical_documentation")
    author = as_association_leader() if unit_kind else as_teacher()
    doc = given(lambda d: d.submit(as_author(), [COUNCIL], [COUNCIL.unit_id]), concluded(COUNCIL), kind=kind,
                unit=ASSOCIATION if unit_kind else None, context=author)
    if refused_role is not None:
        with pytest.raises(NotPermitted):
            doc.approve(refused_role())
    doc.approve(approver())
    assert doc.status == "approved"


def test_approving_a_draft_is_refused_with_the_clause_and_an_approved_one_is_final():
    with pytest.raises(RuleViolation) as refused:
        given().approve(as_deputy())
    assert refused.value.clause == "p.20"
    doc = given(submitted([COUNCIL]), concluded(COUNCIL), lambda d: d.approve(as_deputy()))
    with pytest.raises(Conflict):
        doc.approve(as_deputy())
    with pytest.raises(Conflict):
        doc.revise(as_author(), "late")
    with pytest.raises(Conflict):
        doc.withdraw(as_author())


# Rejection and withdrawal

def test_the_approving_role_rejects_with_a_reason_and_the_document_ends():
    doc = given(submitted())
    with pytest.raises(InvalidValue):
        doc.reject(as_deputy(), " ")
    doc.reject(as_deputy(), "Үлгілік бағдарламаға сәйкес емес")
    [event] = new_events(doc)
    assert isinstance(event, MethodicalDocument.Rejected) and event.meta["clause"] == "p.20"
    doc = replay([*draft().collect_events()])
    assert doc.status == "draft"


def test_the_author_withdraws_before_approval_and_nobody_else_does():
    doc = given(submitted())
    with pytest.raises(NotPermitted):
        doc.withdraw(as_deputy())
    doc.withdraw(as_author(), "Қайта жазамын")
    assert doc.status == "withdrawn"


# Files

def test_a_file_attached_to_a_draft_belongs_to_its_first_version_and_changes_its_hash():
    doc = given()
    file = pdf_file()
    doc.attach(as_author(), file)
    [event] = new_events(doc)
    assert isinstance(event, MethodicalDocument.FileAttached) and event.version == 1
    assert event.content_hash == content_hash(doc.current["body"], [file])
    assert doc.current_version == 1 and doc.current["attachments"][0]["sha256"] == file["sha256"]


def test_a_file_attached_after_submission_makes_a_new_version_that_keeps_the_old_one():
    doc = given(submitted(), lambda d: d.attach(as_author(), pdf_file(b"%PDF-1.4 one")))
    assert doc.current_version == 2 and doc.versions[0]["attachments"] == []
    assert len(doc.versions[1]["attachments"]) == 1


def test_a_revision_may_drop_files_and_names_only_files_of_the_current_version():
    first = pdf_file()
    doc = given(lambda d: d.attach(as_author(), first))
    with pytest.raises(InvalidValue):
        doc.revise(as_author(), "x", keep=[uuid4()])
    doc.revise(as_author(), "x", keep=[])
    assert doc.current["attachments"] == [] and doc.versions[0]["attachments"][0]["id"] == str(first["id"])


def test_only_pdf_docx_and_odt_files_of_a_name_without_folders_are_attached():
    doc = given()
    with pytest.raises(UnsupportedFile) as refused:
        doc.attach(as_author(), {**pdf_file(), "media_type": "text/plain"})
    assert status_of(refused.value) == 415
    with pytest.raises(InvalidValue):
        doc.attach(as_author(), {**pdf_file(), "filename": "../etc/passwd.pdf"})


# Nobody reviews their own work (p.18 - p.21)

def test_the_author_gives_no_conclusion_on_their_own_document_even_as_the_reviewing_units_chair():
    chair_drafted = given(lambda d: d.submit(as_author(), [COUNCIL], []), context=ctx(CHAIR, "teacher"))
    with pytest.raises(NotPermitted) as refused:
        chair_drafted.conclude(as_chair(), COUNCIL.unit_id, True, "", speaks_for_unit=True)
    assert refused.value.clause == "p.20" and "never the document's author" in refused.value.detail
    # Nor does the leader speaking for the unit that develops a document conclude on it as another unit's chair.
    unit_drafted = given(lambda d: d.submit(as_author(), [COUNCIL], [COUNCIL.unit_id]), kind="methodical_documentation",
                         unit=ASSOCIATION, context=as_association_leader())
    with pytest.raises(NotPermitted):
        unit_drafted.conclude(as_chair(), COUNCIL.unit_id, True, "", speaks_for_unit=True, by_author=True)
    assert unit_drafted.current_conclusions() == {}
