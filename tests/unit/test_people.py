"""People as an aggregate: given events, when a command, then the events recorded or the refusal."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta, timezone
from typing import Any
from uuid import UUID, uuid4

import pytest

from domain.base import Actor, Conflict, Context, InvalidValue, RuleViolation
from domain.people import Person, PersonHasLeft, UnknownToken
from services.api.errors import status_of

TENANT = UUID("0a0a0a0a-0000-4000-8000-000000000001")
HEAD_ID = UUID("0b0b0b0b-0000-4000-8000-000000000002")
DEPUTY_ID = UUID("0c0c0c0c-0000-4000-8000-000000000003")
T0 = datetime(2026, 9, 1, 8, 0, tzinfo=timezone.utc)


def as_head(request_id: str = "req-head", at: datetime = T0) -> Context:
    return Context(actor=Actor("head", HEAD_ID, TENANT), request_id=request_id, now=at, ids=uuid4)


def as_deputy(request_id: str = "req-deputy", at: datetime = T0) -> Context:
    return Context(actor=Actor("deputy_head", DEPUTY_ID, TENANT), request_id=request_id, now=at, ids=uuid4)


def join(kind: str = "school", roles: Sequence[str] = ("teacher",), subjects: Sequence[str] = ("Қазақ тілі",),
         full_name: str = "Әлия Нұрланқызы", ctx: Context | None = None) -> Person:
    return Person.join(ctx or as_head(), tenant_id=TENANT, tenant_kind=kind, full_name=full_name,
                       roles=list(roles), subjects=list(subjects))


def replay(events: Sequence[Any]) -> Person:
    """Given: a person rebuilt from stored events only, exactly as the repository would."""
    person = None
    for event in events:
        person = event.mutate(person)
    assert isinstance(person, Person)
    return person


def given(*commands: Any, kind: str = "school", roles: Sequence[str] = ("teacher",)) -> Person:
    """Return a person rebuilt from the events of joining and then the given commands."""
    person = join(kind, roles)
    for command in commands:
        command(person)
    return replay(person.collect_events())


# Joining (p.3)

def test_a_head_adding_a_teacher_records_a_joined_event_with_name_roles_and_subjects():
    person = join(roles=["teacher", "class_teacher"], subjects=["Қазақ тілі", "Әдебиет"])

    [event] = person.collect_events()
    assert isinstance(event, Person.Joined)
    assert event.originator_id == person.id
    assert event.tenant == TENANT
    assert event.full_name == "Әлия Нұрланқызы"
    assert event.roles == ["teacher", "class_teacher"]
    assert event.subjects == ["Қазақ тілі", "Әдебиет"]


def test_the_joined_event_carries_the_tenant_the_acting_head_clause_p3_and_the_request():
    [event] = join(ctx=as_head("req-42")).collect_events()
    assert event.meta == {
        "tenant_id": str(TENANT),
        "actor": {"person_id": str(HEAD_ID), "role": "head"},
        "clause": "p.3",
        "request_id": "req-42",
    }
    assert event.timestamp == T0


def test_names_and_subjects_are_trimmed_and_repeats_dropped_in_order():
    person = join(roles=["teacher", "teacher", "librarian"], subjects=[" Математика ", "Физика", "Математика"],
                  full_name="  Иван Петров  ")
    [event] = person.collect_events()
    assert event.full_name == "Иван Петров"
    assert event.roles == ["teacher", "librarian"]
    assert event.subjects == ["Математика", "Физика"]


def test_a_person_rebuilt_from_the_joined_event_is_active_with_no_tokens():
    person = given()
    assert person.active is True
    assert person.left_at is None
    assert person.tokens == {}
    assert person.tenant_id == TENANT
    assert person.roles == ["teacher"]


def test_a_methodist_in_a_university_is_refused_citing_p3():
    with pytest.raises(RuleViolation) as refused:
        join("university", roles=["methodist"])
    assert refused.value.clause == "p.3"
    assert refused.value.field == "roles"
    assert "methodist" in refused.value.detail


@pytest.mark.parametrize("kind", ["school", "tvet_college", "postsecondary_college", "district_department",
                                  "regional_department"])
def test_a_methodist_outside_a_university_is_accepted(kind):
    [event] = join(kind, roles=["methodist"]).collect_events()
    assert event.roles == ["methodist"]


def test_an_industrial_training_master_in_a_school_is_refused_citing_p16():
    with pytest.raises(RuleViolation) as refused:
        join("school", roles=["industrial_training_master"])
    assert refused.value.clause == "p.16"


@pytest.mark.parametrize("kind", ["tvet_college", "postsecondary_college"])
def test_an_industrial_training_master_in_a_college_is_accepted(kind):
    [event] = join(kind, roles=["teacher", "industrial_training_master"]).collect_events()
    assert event.roles == ["teacher", "industrial_training_master"]


@pytest.mark.parametrize("role", ["class_teacher", "preschool_educator"])
def test_class_teachers_and_preschool_educators_outside_a_school_are_refused_citing_p25(role):
    with pytest.raises(RuleViolation) as refused:
        join("tvet_college", roles=[role])
    assert refused.value.clause == "p.25"


def test_a_teacher_in_an_education_department_is_refused_citing_p20():
    with pytest.raises(RuleViolation) as refused:
        join("district_department", roles=["teacher"])
    assert refused.value.clause == "p.20"


def test_one_unfitting_role_among_fitting_ones_refuses_the_whole_person():
    person_roles = ["teacher", "methodist"]
    with pytest.raises(RuleViolation) as refused:
        join("university", roles=person_roles)
    assert refused.value.clause == "p.3"


@pytest.mark.parametrize("kind", ["school", "university", "regional_department"])
def test_an_auditor_may_sit_in_any_tenant(kind):
    [event] = join(kind, roles=["auditor"], subjects=[]).collect_events()
    assert event.roles == ["auditor"]


def test_an_unknown_role_is_invalid_not_a_rule_of_the_order():
    with pytest.raises(InvalidValue) as refused:
        join(roles=["janitor"])
    assert not isinstance(refused.value, RuleViolation)
    assert refused.value.field == "roles"
    assert refused.value.clause is None


def test_a_person_without_roles_is_refused():
    with pytest.raises(InvalidValue) as refused:
        join(roles=[])
    assert refused.value.field == "roles"


def test_a_blank_subject_is_refused():
    with pytest.raises(InvalidValue) as refused:
        join(subjects=["Физика", "   "])
    assert refused.value.field == "subjects"


def test_a_blank_full_name_is_refused():
    with pytest.raises(InvalidValue) as refused:
        join(full_name=" \t ")
    assert refused.value.field == "full_name"


# Changing roles and subjects (p.3)

def test_a_deputy_head_changing_subjects_records_a_changed_event_with_their_context():
    person = given()
    person.change(as_deputy("req-change", T0 + timedelta(hours=1)), "school", subjects=["Орыс тілі"])

    [event] = person.collect_events()
    assert isinstance(event, Person.Changed)
    assert event.subjects == ["Орыс тілі"]
    assert event.roles == ["teacher"]  # absent fields stay as they were
    assert event.full_name == "Әлия Нұрланқызы"
    assert event.meta == {
        "tenant_id": str(TENANT),
        "actor": {"person_id": str(DEPUTY_ID), "role": "deputy_head"},
        "clause": "p.3",
        "request_id": "req-change",
    }
    assert person.subjects == ["Орыс тілі"]


def test_a_person_rebuilt_from_joined_and_changed_events_has_the_changed_roles_and_subjects():
    person = join()
    person.change(as_head(), "school", roles=["teacher", "class_teacher"], subjects=["Тарих"])
    rebuilt = replay(person.collect_events())
    assert rebuilt.roles == ["teacher", "class_teacher"]
    assert rebuilt.subjects == ["Тарих"]
    assert rebuilt.version == 2


def test_a_change_that_changes_nothing_records_nothing():
    person = given()
    person.change(as_head(), "school", roles=["teacher"], subjects=["Қазақ тілі"])
    assert person.collect_events() == []


def test_changing_to_a_role_that_does_not_fit_the_tenant_is_refused_with_its_clause():
    person = given(kind="university")
    with pytest.raises(RuleViolation) as refused:
        person.change(as_head(), "university", roles=["methodist"])
    assert refused.value.clause == "p.3"
    assert person.collect_events() == []
    assert person.roles == ["teacher"]


# Leaving

def test_leaving_records_a_left_event_and_the_person_becomes_inactive_with_left_at():
    person = given()
    later = T0 + timedelta(days=30)
    person.leave(as_head("req-leave", later))

    [event] = person.collect_events()
    assert isinstance(event, Person.Left)
    assert event.meta["actor"] == {"person_id": str(HEAD_ID), "role": "head"}
    assert event.meta["request_id"] == "req-leave"
    assert event.meta["tenant_id"] == str(TENANT)
    assert person.active is False
    assert person.left_at == later


def test_leaving_revokes_every_token_of_the_person():
    person = given(lambda p: p.issue_token(as_head(), "hash-1"), lambda p: p.issue_token(as_head(), "hash-2"))
    assert sorted(person.active_token_hashes()) == ["hash-1", "hash-2"]

    person.leave(as_head())

    assert person.active_token_hashes() == []
    assert all(token["revoked"] for token in person.tokens.values())


def test_a_person_who_left_cannot_be_changed_leave_again_or_get_a_token():
    person = given(lambda p: p.leave(as_head()))
    with pytest.raises(PersonHasLeft) as refused:
        person.change(as_head(), "school", subjects=["Физика"])
    assert isinstance(refused.value, Conflict)
    assert status_of(refused.value) == 409
    with pytest.raises(PersonHasLeft):
        person.leave(as_head())
    with pytest.raises(PersonHasLeft):
        person.issue_token(as_head(), "hash")
    assert person.collect_events() == []


# Credentials

def test_issuing_a_token_records_only_its_hash_and_returns_its_id():
    person = given()
    token_id = person.issue_token(as_head("req-token"), "sha256-of-the-secret")

    [event] = person.collect_events()
    assert isinstance(event, Person.TokenIssued)
    assert event.token_id == token_id
    assert event.token_hash == "sha256-of-the-secret"
    assert event.meta["request_id"] == "req-token"
    assert person.active_token_hashes() == ["sha256-of-the-secret"]


def test_revoking_a_token_records_it_and_the_token_stops_counting():
    issued: list[UUID] = []
    person = given(lambda p: issued.append(p.issue_token(as_head(), "keep")),
                   lambda p: issued.append(p.issue_token(as_head(), "drop")))

    person.revoke_token(as_head("req-revoke"), issued[1])

    [event] = person.collect_events()
    assert isinstance(event, Person.TokenRevoked)
    assert event.token_id == issued[1]
    assert event.meta["request_id"] == "req-revoke"
    assert person.active_token_hashes() == ["keep"]


def test_revoking_a_revoked_token_again_records_nothing():
    issued: list[UUID] = []
    person = given(lambda p: issued.append(p.issue_token(as_head(), "h")),
                   lambda p: p.revoke_token(as_head(), issued[0]))
    person.revoke_token(as_head(), issued[0])
    assert person.collect_events() == []


def test_revoking_a_token_the_person_never_had_is_not_found():
    person = given()
    with pytest.raises(UnknownToken) as refused:
        person.revoke_token(as_head(), uuid4())
    assert status_of(refused.value) == 404
