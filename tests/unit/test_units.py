"""Methodical units as an aggregate: given events, when a command, then the events recorded or the refusal."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime, timedelta, timezone
from typing import Any
from uuid import UUID, uuid4

import pytest

from domain.base import Actor, Conflict, Context, InvalidValue, RuleViolation
from domain.units import Candidate, Unit, UnitKindNotAllowed, academic_year_of, teaches, term_end
from services.api.errors import status_of

SCHOOL = UUID("1a1a1a1a-0000-4000-8000-000000000001")
OTHER_SCHOOL = UUID("1b1b1b1b-0000-4000-8000-000000000002")
DISTRICT = UUID("1c1c1c1c-0000-4000-8000-000000000003")
STRAY_SCHOOL = UUID("1d1d1d1d-0000-4000-8000-000000000004")
HEAD_ID = UUID("2a2a2a2a-0000-4000-8000-000000000005")
DEPARTMENT_HEAD_ID = UUID("2b2b2b2b-0000-4000-8000-000000000006")
T0 = datetime(2026, 9, 10, 9, 0, tzinfo=timezone.utc)
MATHS = "Математика"


def as_head(at: datetime = T0, request_id: str = "req-units") -> Context:
    return Context(actor=Actor("head", HEAD_ID, SCHOOL, ("head",)), request_id=request_id, now=at, ids=uuid4)


def as_department(at: datetime = T0) -> Context:
    return Context(actor=Actor("head", DEPARTMENT_HEAD_ID, DISTRICT, ("head",)), request_id="req-dept", now=at,
                   ids=uuid4)


def teacher(subjects: Sequence[str] = (MATHS,), tenant: UUID = SCHOOL, roles: Sequence[str] = ("teacher",),
            kind: str = "school", active: bool = True) -> Candidate:
    return Candidate(person_id=uuid4(), tenant_id=tenant, tenant_kind=kind, roles=tuple(roles),
                     subjects=tuple(subjects), active=active)


def form(candidates: Sequence[Candidate], *, kind: str = "methodical_association", subject: str | None = MATHS,
         tenant_id: UUID = SCHOOL, tenant_kind: str = "school", reporting: Sequence[UUID] = (),
         ctx: Context | None = None) -> Unit:
    return Unit.form(ctx or as_head(), tenant_id=tenant_id, tenant_kind=tenant_kind, kind=kind,
                     name="МО учителей математики", subject=subject, candidates=candidates,
                     reporting_tenants=reporting)


def replay(events: Sequence[Any]) -> Unit:
    """Given: a unit rebuilt from stored events only, exactly as the repository would."""
    unit = None
    for event in events:
        unit = event.mutate(unit)
    assert isinstance(unit, Unit)
    return unit


HISTORY: dict[UUID, list[Any]] = {}


def given_association(size: int = 3, formed_at: datetime = T0) -> tuple[Unit, list[Candidate]]:
    """Given: a school association of `size` mathematics teachers, its events already stored."""
    members = [teacher() for _ in range(size)]
    events = form(members, ctx=as_head(formed_at)).collect_events()
    unit = replay(events)
    HISTORY[unit.id] = list(events)
    return unit, members


def stored(unit: Unit) -> tuple[list[Any], Unit]:
    """Then: the events the command recorded, and the unit rebuilt from all its stored events."""
    new = unit.collect_events()
    HISTORY[unit.id] = HISTORY.get(unit.id, []) + list(new)
    return new, replay(HISTORY[unit.id])


def refusal(error: pytest.ExceptionInfo[Any]) -> tuple[type, str | None, str | None]:
    return type(error.value), error.value.clause, error.value.field


# Forming (p.16, p.25, p.26)

def test_three_teachers_of_a_subject_form_a_school_association_recorded_as_one_formed_event():
    members = [teacher() for _ in range(3)]
    unit = form(members)

    [event] = unit.collect_events()
    assert isinstance(event, Unit.Formed)
    assert (event.tenant, event.kind, event.subject) == (SCHOOL, "methodical_association", MATHS)
    assert event.members == [{"person_id": str(m.person_id), "tenant_id": str(SCHOOL)} for m in members]
    assert event.timestamp == T0


def test_the_formed_event_carries_the_tenant_the_actor_and_clause_p26():
    [event] = form([teacher() for _ in range(3)]).collect_events()
    assert event.meta == {
        "tenant_id": str(SCHOOL),
        "actor": {"person_id": str(HEAD_ID), "role": "head"},
        "clause": "p.26",
        "request_id": "req-units",
    }


def test_a_unit_rebuilt_from_its_events_has_its_members_and_no_leader_or_meetings():
    unit, members = given_association()
    assert set(unit.members) == {m.person_id.hex for m in members}
    assert set(unit.members.values()) == {SCHOOL}
    assert (unit.leaders, unit.last_meeting) == ([], None)


def test_two_teachers_of_a_subject_are_refused_citing_p26():
    with pytest.raises(RuleViolation) as error:
        form([teacher(), teacher()])
    assert refusal(error) == (RuleViolation, "p.26", "member_ids")
    assert "2" in error.value.detail


def test_a_teacher_named_twice_counts_once_towards_the_minimum():
    twice = teacher()
    with pytest.raises(RuleViolation) as error:
        form([twice, twice, teacher()])
    assert error.value.clause == "p.26"


def test_a_member_who_does_not_teach_the_subject_is_refused_citing_p26():
    with pytest.raises(RuleViolation) as error:
        form([teacher(), teacher(), teacher(["Физика"])])
    assert refusal(error) == (RuleViolation, "p.26", "member_ids")


def test_a_head_who_teaches_nothing_is_not_a_member_of_an_association():
    with pytest.raises(RuleViolation) as error:
        form([teacher(), teacher(), teacher(roles=["head"])])
    assert error.value.clause == "p.26"


def test_subjects_match_whatever_their_case_and_surrounding_spaces():
    unit = form([teacher(["МАТЕМАТИКА"]), teacher([" математика "]), teacher(["Алгебра", "Математика"])],
                subject="  математика ")
    [event] = unit.collect_events()
    assert event.subject == "математика"
    assert len(event.members) == 3


def test_teaches_folds_kazakh_letters_too():
    assert teaches(teacher(["ҚАЗАҚ ТІЛІ"]), "қазақ тілі", ("teacher",))
    assert not teaches(teacher(["Қазақ әдебиеті"]), "қазақ тілі", ("teacher",))


def test_a_school_cannot_have_a_subject_cycle_commission_citing_p16():
    with pytest.raises(UnitKindNotAllowed) as error:
        form([teacher() for _ in range(3)], kind="subject_cycle_commission")
    assert refusal(error) == (UnitKindNotAllowed, "p.16", "kind")
    assert isinstance(error.value, RuleViolation)


def test_a_school_cannot_form_an_interschool_association_and_is_told_the_clause():
    with pytest.raises(UnitKindNotAllowed) as error:
        form([teacher() for _ in range(3)], kind="interschool_association")
    assert error.value.clause in ("p.25", "p.30")
    assert error.value.field == "kind"


def test_an_unknown_kind_is_invalid_naming_the_kind_field():
    with pytest.raises(InvalidValue) as error:
        form([teacher() for _ in range(3)], kind="club")
    assert error.value.field == "kind"


def test_an_association_without_a_subject_is_invalid():
    with pytest.raises(InvalidValue) as error:
        form([teacher() for _ in range(3)], subject="   ")
    assert (error.value.clause, error.value.field) == ("p.26", "subject")


def test_a_blank_name_is_invalid():
    with pytest.raises(InvalidValue) as error:
        Unit.form(as_head(), tenant_id=SCHOOL, tenant_kind="school", kind="methodical_association", name=" ",
                  subject=MATHS, candidates=[teacher() for _ in range(3)])
    assert error.value.field == "name"


def test_a_person_who_has_left_cannot_be_a_member():
    with pytest.raises(InvalidValue) as error:
        form([teacher(), teacher(), teacher(active=False)])
    assert (error.value.clause, error.value.field) == ("p.26", "member_ids")


def test_a_school_association_takes_only_the_schools_own_people():
    with pytest.raises(InvalidValue) as error:
        form([teacher(), teacher(), teacher(tenant=OTHER_SCHOOL)])
    assert (error.value.clause, error.value.field) == ("p.26", "member_ids")


def test_a_district_department_forms_an_interschool_association_of_teachers_of_two_reporting_schools():
    members = [teacher(), teacher(), teacher(tenant=OTHER_SCHOOL)]
    unit = form(members, kind="interschool_association", tenant_id=DISTRICT, tenant_kind="district_department",
                reporting=[SCHOOL, OTHER_SCHOOL], ctx=as_department())

    [event] = unit.collect_events()
    assert event.tenant == DISTRICT
    assert {m["tenant_id"] for m in event.members} == {str(SCHOOL), str(OTHER_SCHOOL)}
    assert event.meta["tenant_id"] == str(DISTRICT)
    assert event.meta["actor"] == {"person_id": str(DEPARTMENT_HEAD_ID), "role": "head"}
    assert event.meta["clause"] == "p.26"


def test_a_member_from_a_school_that_does_not_report_to_the_district_is_refused_citing_p25():
    members = [teacher(), teacher(), teacher(tenant=STRAY_SCHOOL)]
    with pytest.raises(RuleViolation) as error:
        form(members, kind="interschool_association", tenant_id=DISTRICT, tenant_kind="district_department",
             reporting=[SCHOOL], ctx=as_department())
    assert refusal(error) == (RuleViolation, "p.25", "member_ids")


def test_a_district_association_admits_school_librarians_and_has_no_minimum():
    librarian = teacher([], roles=["librarian"])
    unit = form([librarian], kind="district_association", subject=None, tenant_id=DISTRICT,
                tenant_kind="district_department", reporting=[SCHOOL], ctx=as_department())
    [event] = unit.collect_events()
    assert event.meta["clause"] == "p.27"
    assert len(event.members) == 1


# Membership later (p.16, p.26)

def test_admitting_a_teacher_of_the_subject_records_member_joined():
    unit, _ = given_association()
    newcomer = teacher()
    unit.admit(as_head(), newcomer)

    [event], rebuilt = stored(unit)
    assert isinstance(event, Unit.MemberJoined)
    assert (event.person_id, event.member_tenant_id) == (newcomer.person_id, SCHOOL)
    assert event.meta["clause"] == "p.26"
    assert rebuilt.members[newcomer.person_id.hex] == SCHOOL


def test_admitting_someone_already_a_member_is_a_conflict():
    unit, members = given_association()
    with pytest.raises(Conflict) as error:
        unit.admit(as_head(), members[0])
    assert (status_of(error.value), error.value.clause) == (409, "p.26")


def test_admitting_a_teacher_of_another_subject_is_refused_citing_p26():
    unit, _ = given_association()
    with pytest.raises(RuleViolation) as error:
        unit.admit(as_head(), teacher(["Химия"]))
    assert (error.value.clause, error.value.field) == ("p.26", "person_id")


def test_a_member_leaving_below_the_minimum_keeps_the_unit_and_records_how_many_are_left():
    unit, members = given_association()
    unit.release(as_head(), members[0].person_id)

    [event], rebuilt = stored(unit)
    assert isinstance(event, Unit.MemberLeft)
    assert (event.person_id, event.members_left) == (members[0].person_id, 2)
    assert event.meta["clause"] == "p.26"
    assert len(rebuilt.members) == 2


def test_releasing_someone_who_is_not_a_member_is_invalid():
    unit, _ = given_association()
    with pytest.raises(InvalidValue):
        unit.release(as_head(), uuid4())


# Leaders (p.30; chairs p.17)

def test_an_elected_leader_has_a_one_year_term_recorded_with_clause_p30():
    unit, members = given_association()
    unit.choose_leader(as_head(), members[0].person_id, date(2026, 9, 10), None, by_unit_tenant=True)

    [event], rebuilt = stored(unit)
    assert isinstance(event, Unit.LeaderChosen)
    assert (event.person_id, event.method) == (members[0].person_id, "elected")
    assert (event.starts_on, event.ends_on) == (date(2026, 9, 10), date(2027, 9, 10))
    assert event.meta["clause"] == "p.30"
    assert event.meta["actor"] == {"person_id": str(HEAD_ID), "role": "head"}
    assert rebuilt.current_leader(date(2026, 9, 10))["person_id"] == members[0].person_id


def test_the_leader_leads_until_the_day_before_the_term_ends():
    unit, members = given_association()
    leader = members[0].person_id
    unit.choose_leader(as_head(), leader, date(2026, 9, 10), "elected", by_unit_tenant=True)
    assert not unit.is_leader(leader, date(2026, 9, 9))
    assert unit.is_leader(leader, date(2026, 9, 10))
    assert unit.is_leader(leader, date(2027, 9, 9))
    assert not unit.is_leader(leader, date(2027, 9, 10))
    assert not unit.is_leader(members[1].person_id, date(2026, 10, 1))


def test_a_new_election_makes_the_new_leader_current():
    unit, members = given_association()
    unit.choose_leader(as_head(), members[0].person_id, date(2026, 9, 10), None, by_unit_tenant=True)
    unit.choose_leader(as_head(), members[1].person_id, date(2027, 9, 10), None, by_unit_tenant=True)
    assert unit.current_leader(date(2027, 9, 10))["person_id"] == members[1].person_id
    assert unit.current_leader(date(2027, 1, 1))["person_id"] == members[0].person_id


def test_a_term_starting_on_29_february_ends_on_28_february():
    assert term_end(date(2028, 2, 29)) == date(2029, 2, 28)


def test_recording_the_same_term_twice_is_a_conflict():
    unit, members = given_association()
    unit.choose_leader(as_head(), members[0].person_id, date(2026, 9, 10), None, by_unit_tenant=True)
    with pytest.raises(Conflict) as error:
        unit.choose_leader(as_head(), members[0].person_id, date(2026, 9, 10), None, by_unit_tenant=True)
    assert error.value.clause == "p.30"


def test_a_leader_who_is_not_a_member_is_refused_citing_p30():
    unit, _ = given_association()
    with pytest.raises(RuleViolation) as error:
        unit.choose_leader(as_head(), uuid4(), date(2026, 9, 10), None, by_unit_tenant=True)
    assert refusal(error) == (RuleViolation, "p.30", "person_id")


def test_an_elected_leader_of_an_interschool_association_is_refused_citing_p30():
    members = [teacher(), teacher(), teacher(tenant=OTHER_SCHOOL)]
    unit = replay(form(members, kind="interschool_association", tenant_id=DISTRICT,
                       tenant_kind="district_department", reporting=[SCHOOL, OTHER_SCHOOL],
                       ctx=as_department()).collect_events())
    with pytest.raises(RuleViolation) as error:
        unit.choose_leader(as_department(), members[0].person_id, date(2026, 9, 10), "elected",
                           by_unit_tenant=True)
    assert refusal(error) == (RuleViolation, "p.30", "method")

    with pytest.raises(RuleViolation) as error:
        unit.choose_leader(as_head(), members[0].person_id, date(2026, 9, 10), "appointed", by_unit_tenant=False)
    assert error.value.clause == "p.30"


def test_the_district_department_appoints_the_interschool_leader_by_default():
    members = [teacher(), teacher(), teacher(tenant=OTHER_SCHOOL)]
    unit = replay(form(members, kind="interschool_association", tenant_id=DISTRICT,
                       tenant_kind="district_department", reporting=[SCHOOL, OTHER_SCHOOL],
                       ctx=as_department()).collect_events())
    unit.choose_leader(as_department(), members[2].person_id, date(2026, 9, 10), None, by_unit_tenant=True)
    [event] = unit.collect_events()
    assert (event.method, event.meta["clause"], event.meta["tenant_id"]) == ("appointed", "p.30", str(DISTRICT))


def test_a_methodical_cabinet_has_no_leader_under_the_rules():
    unit = replay(Unit.form(as_head(), tenant_id=SCHOOL, tenant_kind="school", kind="methodical_cabinet",
                            name="Кабинет", subject=None, candidates=[teacher()]).collect_events())
    with pytest.raises(RuleViolation) as error:
        unit.choose_leader(as_head(), next(iter(unit.members.values())), date(2026, 9, 10), None, True)
    assert error.value.clause == "p.3"


def test_the_chair_of_a_subject_cycle_commission_comes_from_its_members_citing_p17():
    college = uuid4()
    members = [teacher(["Сварка"], tenant=college, kind="tvet_college") for _ in range(2)]
    members.append(teacher(["Сварка"], tenant=college, roles=["industrial_training_master"], kind="tvet_college"))
    ctx = Context(actor=Actor("head", HEAD_ID, college, ("head",)), request_id="r", now=T0, ids=uuid4)
    unit = replay(Unit.form(ctx, tenant_id=college, tenant_kind="tvet_college", kind="subject_cycle_commission",
                            name="ПЦК сварки", subject="сварка", candidates=members).collect_events())
    with pytest.raises(RuleViolation) as error:
        unit.choose_leader(ctx, uuid4(), date(2026, 9, 10), None, by_unit_tenant=True)
    assert error.value.clause == "p.17"


# Meetings (p.25, p.27)

def test_a_meeting_with_an_agenda_tagged_with_directions_is_recorded_citing_p25():
    unit, members = given_association()
    leader = Context(actor=Actor("unit_leader", members[0].person_id, SCHOOL, ("teacher",)), request_id="m",
                     now=datetime(2026, 10, 20, 12, tzinfo=timezone.utc), ids=uuid4)
    meeting_id = unit.hold_meeting(
        leader, tenant_kind="school", held_on=date(2026, 10, 20),
        agenda=[{"direction": "p.7.3", "title": "Формы и методы преподавания"},
                {"direction": "p.13.3", "title": "Анализ методической работы"}],
        minutes="Решили: провести открытые уроки.", attendee_ids=[m.person_id for m in members],
    )

    [event] = unit.collect_events()
    assert isinstance(event, Unit.MeetingHeld)
    assert event.meeting_id == meeting_id
    assert event.held_on == date(2026, 10, 20)
    assert [item["direction"] for item in event.agenda] == ["p.7.3", "p.13.3"]
    assert event.attendee_ids == [m.person_id for m in members]
    assert event.meta == {"tenant_id": str(SCHOOL), "actor": {"person_id": str(members[0].person_id),
                                                               "role": "unit_leader"},
                          "clause": "p.25", "request_id": "m"}


def test_an_attendee_who_is_not_a_member_is_refused_citing_p25():
    unit, members = given_association()
    with pytest.raises(RuleViolation) as error:
        unit.hold_meeting(as_head(), tenant_kind="school", held_on=date(2026, 9, 10),
                          agenda=[{"direction": "p.7.2", "title": "Нормативные документы"}], minutes="",
                          attendee_ids=[members[0].person_id, uuid4()])
    assert refusal(error) == (RuleViolation, "p.25", "attendee_ids")


def test_a_meeting_dated_after_today_is_invalid():
    unit, members = given_association()
    with pytest.raises(InvalidValue) as error:
        unit.hold_meeting(as_head(), tenant_kind="school", held_on=date(2026, 9, 11),
                          agenda=[{"direction": "p.7.2", "title": "Нормативные документы"}], minutes="",
                          attendee_ids=[members[0].person_id])
    assert (error.value.clause, error.value.field) == ("p.25", "held_on")


def test_a_meeting_dated_before_the_unit_was_formed_is_invalid():
    unit, members = given_association()
    later = Context(actor=Actor("head", HEAD_ID, SCHOOL, ("head",)), request_id="m",
                    now=datetime(2026, 10, 1, tzinfo=timezone.utc), ids=uuid4)
    with pytest.raises(InvalidValue) as error:
        unit.hold_meeting(later, tenant_kind="school", held_on=date(2026, 9, 9),
                          agenda=[{"direction": "p.7.2", "title": "Нормативные документы"}], minutes="",
                          attendee_ids=[members[0].person_id])
    assert (error.value.clause, error.value.field) == ("p.25", "held_on")


def test_today_is_kazakhstans_day_a_meeting_held_at_2_am_there_is_recorded_and_the_next_day_is_not():
    # 21:00 UTC on 10 September is 02:00 on 11 September in Kazakhstan (UTC+5): a meeting held there on the 11th
    # is held today, not in the future; the 12th is still tomorrow (p.25).
    night = Context(actor=Actor("head", HEAD_ID, SCHOOL, ("head",)), request_id="m",
                    now=datetime(2026, 9, 10, 21, tzinfo=timezone.utc), ids=uuid4)
    assert night.today == date(2026, 9, 11)
    unit, members = given_association()
    unit.hold_meeting(night, tenant_kind="school", held_on=date(2026, 9, 11),
                      agenda=[{"direction": "p.7.2", "title": "Нормативные документы"}], minutes="",
                      attendee_ids=[members[0].person_id])
    with pytest.raises(InvalidValue) as error:
        unit.hold_meeting(night, tenant_kind="school", held_on=date(2026, 9, 12),
                          agenda=[{"direction": "p.7.2", "title": "Нормативные документы"}], minutes="",
                          attendee_ids=[members[0].person_id])
    assert (error.value.clause, error.value.field) == ("p.25", "held_on")


def test_a_unit_formed_at_2_am_in_kazakhstan_was_formed_that_day_not_the_utc_day_before():
    # Formed at 21:00 UTC on 9 September: on the 10th in Kazakhstan; a meeting dated the 9th came before it.
    unit, members = given_association(formed_at=datetime(2026, 9, 9, 21, tzinfo=timezone.utc))
    with pytest.raises(InvalidValue) as error:
        unit.hold_meeting(as_head(), tenant_kind="school", held_on=date(2026, 9, 9),
                          agenda=[{"direction": "p.7.2", "title": "Нормативные документы"}], minutes="",
                          attendee_ids=[members[0].person_id])
    assert (error.value.clause, error.value.field) == ("p.25", "held_on")
    assert "2026-09-10" in str(error.value)


def test_an_agenda_item_of_a_university_direction_is_refused_in_a_school():
    unit, members = given_association()
    with pytest.raises(RuleViolation) as error:
        unit.hold_meeting(as_head(), tenant_kind="school", held_on=date(2026, 9, 10),
                          agenda=[{"direction": "p.9.1", "title": "Вузовское"}], minutes="",
                          attendee_ids=[members[0].person_id])
    assert error.value.clause == "p.7"
    assert error.value.field == "direction"


def test_meetings_rebuild_from_their_events():
    unit, members = given_association()
    unit.hold_meeting(as_head(), tenant_kind="school", held_on=date(2026, 9, 10),
                      agenda=[{"direction": "p.7.2", "title": "Нормативные документы"}], minutes="Протокол №1",
                      attendee_ids=[members[0].person_id, members[0].person_id])
    [event], rebuilt = stored(unit)
    assert event.attendee_ids == [members[0].person_id]  # named twice, attended once
    assert rebuilt.last_meeting["minutes"] == "Протокол №1"


def test_a_unit_keeps_its_last_meeting_only_so_its_state_does_not_grow_with_meetings():
    unit, members = given_association()
    for day in (12, 18, 24):
        unit.hold_meeting(as_head(T0 + timedelta(days=20)), tenant_kind="school", held_on=date(2026, 9, day),
                          agenda=[{"direction": "p.7.2", "title": "Нормативные документы"}], minutes=f"Протокол {day}",
                          attendee_ids=[members[0].person_id])
    events, rebuilt = stored(unit)
    assert len(events) == 3
    assert (rebuilt.last_meeting["held_on"], rebuilt.last_meeting["minutes"]) == (date(2026, 9, 24), "Протокол 24")
    assert not any(isinstance(value, list) and len(value) == 3 for value in vars(rebuilt).values())


def test_the_academic_year_runs_from_september_to_august():
    assert academic_year_of(date(2026, 9, 1)) == "2026-2027"
    assert academic_year_of(date(2027, 8, 31)) == "2026-2027"
    assert academic_year_of(date(2027, 9, 1)) == "2027-2028"

