"""Methodical units, leaders, plans, meetings and compliance through the HTTP API, on the real PostgreSQL.

A client that knows only api.md and domain.md: forms units, chooses leaders, drafts and approves plans,
records meetings and reads the compliance findings, with the clock moved where the Rules count time.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime, timedelta, timezone
from typing import Any

import pytest

from domain.units import academic_year_of
from support import Tour, platform_today

TENANTS = "/api/v1/tenants"
MATHS = "Математика"


def url(tenant_id: str, *rest: str) -> str:
    return "/".join([TENANTS, tenant_id, *rest])


def after(headers: dict[str, str], position: str) -> dict[str, str]:
    return {**headers, "X-Min-Position": position}


class Org:
    """A registered tenant with a head who holds a token, and helpers to staff it."""

    def __init__(self, tour: Tour, kind: str = "school", parent: Org | None = None):
        self.tour = tour
        self.tenant = tour.tenant(kind, **({"parent_id": parent.id} if parent else {}))
        self.id = self.tenant["id"]
        self.head_person, self.head = tour.head(self.id)

    def people(self, count: int, roles: list[str], subjects: list[str] | None = None
               ) -> list[tuple[dict[str, Any], dict[str, str]]]:
        return [self.tour.person(self.id, self.head, roles, subjects) for _ in range(count)]

    def teachers(self, count: int, subject: str = MATHS) -> list[tuple[dict[str, Any], dict[str, str]]]:
        return self.people(count, ["teacher"], [subject])

    def deputy(self) -> dict[str, str]:
        return self.people(1, ["deputy_head"])[0][1]


def ids(people: list[tuple[dict[str, Any], dict[str, str]]]) -> list[str]:
    return [person["id"] for person, _ in people]


def form(client: Any, org: Org, by: dict[str, str], member_ids: list[str], kind: str = "methodical_association",
         subject: str | None = MATHS, name: str = "МО учителей математики") -> Any:
    body: dict[str, Any] = {"kind": kind, "name": name, "member_ids": member_ids}
    if subject is not None:
        body["subject"] = subject
    return client.post(url(org.id, "units"), json=body, headers=by)


def created(response: Any, status: int = 201) -> dict[str, Any]:
    assert response.status_code == status, response.get_json()
    return response.get_json()


def refused(response: Any, status: int, clause: str | None) -> dict[str, Any]:
    assert response.status_code == status, response.get_json()
    assert response.mimetype == "application/problem+json"
    problem = response.get_json()
    assert problem.get("clause") == clause, problem
    return problem


def read(client: Any, path: str, headers: dict[str, str], position: str | None = None, **query: Any) -> Any:
    response = client.get(path, headers=after(headers, position) if position else headers, query_string=query)
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def findings(client: Any, org: Org, position: str, unit_id: str, headers: dict[str, str] | None = None
             ) -> dict[str, tuple[str, str]]:
    """Return the unit's compliance findings as code -> (clause, since)."""
    body = read(client, url(org.id, "compliance"), headers or org.head, position)
    return {f["code"]: (f["clause"], f["since"]) for f in body["items"] if f["unit_id"] == unit_id}


def all_findings(client: Any, org: Org, position: str, unit_id: str) -> list[tuple[str, str, str]]:
    body = read(client, url(org.id, "compliance"), org.head, position)
    return [(f["code"], f["clause"], f["since"]) for f in body["items"] if f["unit_id"] == unit_id]


@pytest.fixture
def school(tour: Tour) -> Org:
    return Org(tour)


@pytest.fixture
def district(tour: Tour) -> Org:
    return Org(tour, "district_department")


def today() -> date:
    return platform_today()


# Forming units (p.16, p.25, p.26)

def test_two_teachers_of_mathematics_do_not_form_an_association_citing_p26(client, school):
    problem = refused(form(client, school, school.head, ids(school.teachers(2))), 422, "p.26")
    assert "member_ids" in problem["errors"]


def test_three_teachers_of_mathematics_form_an_association_that_reads_back(client, school):
    teachers = school.teachers(3)
    unit = created(form(client, school, school.head, ids(teachers)))
    assert (unit["kind"], unit["subject"], unit["tenant_id"], unit["member_count"]) == (
        "methodical_association", MATHS, school.id, 3)
    assert uuid.UUID(unit["id"]) and unit["position"]

    body = read(client, url(school.id, "units", unit["id"]), school.head, unit["position"])
    assert body["name"] == "МО учителей математики"
    assert sorted(m["person_id"] for m in body["members"]) == sorted(ids(teachers))
    assert {m["tenant_id"] for m in body["members"]} == {school.id}
    assert (body["member_count"], body["leader"], body["below_minimum_since"]) == (3, None, None)
    assert body["plan"] == {"academic_year": academic_year_of(today()), "status": "none"}
    listed = read(client, url(school.id, "units"), school.head)["items"]
    assert unit["id"] in [u["id"] for u in listed]


def test_a_deputy_head_forms_units_too_but_a_teacher_may_not(client, school):
    teachers = school.teachers(3)
    created(form(client, school, school.deputy(), ids(teachers)))
    response = form(client, school, teachers[0][1], ids(teachers))
    assert response.status_code == 403


def test_subjects_match_whatever_the_case_of_cyrillic_letters(client, school):
    teachers = [school.tour.person(school.id, school.head, ["teacher"], [subject])[0]["id"]
                for subject in ("математика", "МАТЕМАТИКА", "МаТеМаТиКа")]
    unit = created(form(client, school, school.head, teachers, subject="Математика"))
    assert unit["member_count"] == 3


def test_a_teacher_of_another_subject_is_refused_citing_p26(client, school):
    members = ids(school.teachers(2)) + ids(school.teachers(1, "Физика"))
    refused(form(client, school, school.head, members), 422, "p.26")


def test_a_school_may_not_have_a_subject_cycle_commission_citing_p16(client, school):
    problem = refused(form(client, school, school.head, ids(school.teachers(3)), kind="subject_cycle_commission"),
                      422, "p.16")
    assert "kind" in problem["errors"]


def test_a_tvet_college_forms_a_subject_cycle_commission_with_an_industrial_training_master(client, tour):
    college = Org(tour, "tvet_college")
    members = college.people(2, ["teacher"], ["Дәнекерлеу ісі"]) + college.people(
        1, ["industrial_training_master"], ["дәнекерлеу ісі"])
    unit = created(form(client, college, college.head, ids(members), kind="subject_cycle_commission",
                        subject="Дәнекерлеу ісі", name="ПЦК"))
    assert unit["member_count"] == 3


def test_a_schools_association_takes_no_people_of_another_school(client, tour, school):
    stranger = Org(tour).teachers(1)
    problem = refused(form(client, school, school.head, ids(school.teachers(2)) + ids(stranger)), 422, "p.26")
    assert "member_ids" in problem["errors"]


# Inter-school associations (p.25, p.30)

class District:
    """A district department with two schools that report to it, each with teachers of mathematics."""

    def __init__(self, tour: Tour):
        self.department = Org(tour, "district_department")
        self.first = Org(tour, parent=self.department)
        self.second = Org(tour, parent=self.department)
        self.first_teachers = self.first.teachers(2)
        self.second_teachers = self.second.teachers(1)

    @property
    def member_ids(self) -> list[str]:
        return ids(self.first_teachers) + ids(self.second_teachers)


@pytest.fixture
def area(tour: Tour) -> District:
    return District(tour)


def interschool(client: Any, area: District) -> dict[str, Any]:
    return created(form(client, area.department, area.department.head, area.member_ids,
                        kind="interschool_association", name="Межшкольное МО математиков"))


def test_a_school_may_not_form_an_interschool_association_and_is_told_the_clause(client, area):
    school = area.first
    problem = refused(form(client, school, school.head, ids(school.teachers(3)), kind="interschool_association"),
                      422, "p.30")
    assert "kind" in problem["errors"]


def test_the_district_department_forms_an_interschool_association_of_its_schools_teachers(client, area):
    unit = interschool(client, area)
    assert (unit["tenant_id"], unit["member_count"]) == (area.department.id, 3)
    assert {m["tenant_id"] for m in unit["members"]} == {area.first.id, area.second.id}

    for school in (area.first, area.second):
        listed = read(client, url(school.id, "units"), school.head, unit["position"])["items"]
        assert [u["id"] for u in listed] == [unit["id"]]
        one = read(client, url(school.id, "units", unit["id"]), school.head)
        assert (one["kind"], one["tenant_id"]) == ("interschool_association", area.department.id)
    assert unit["id"] in [u["id"] for u in read(client, url(area.department.id, "units"), area.department.head)["items"]]


def test_an_unrelated_school_does_not_see_the_interschool_association(client, tour, area):
    unit = interschool(client, area)
    stranger = Org(tour)
    response = client.get(url(stranger.id, "units", unit["id"]), headers=after(stranger.head, unit["position"]))
    assert response.status_code == 404
    assert read(client, url(stranger.id, "units"), stranger.head)["items"] == []
    assert client.get(url(stranger.id, "units", unit["id"], "leaders"), headers=stranger.head).status_code == 404


def test_a_teacher_of_a_school_that_does_not_report_to_the_district_is_refused_citing_p25(client, tour, area):
    stranger, nobody = ids(Org(tour).teachers(1))[0], str(uuid.uuid4())
    problem = refused(form(client, area.department, area.department.head, area.member_ids[:2] + [stranger],
                           kind="interschool_association"), 422, "p.25")
    assert "member_ids" in problem["errors"]
    # Exactly as for an id that names nobody: the department learns nothing of another district's people.
    unknown = refused(form(client, area.department, area.department.head, area.member_ids[:2] + [nobody],
                           kind="interschool_association"), 422, "p.25")
    assert unknown["detail"].replace(nobody, "?") == problem["detail"].replace(stranger, "?")


def test_the_district_department_appoints_the_interschool_leader(client, area):
    unit = interschool(client, area)
    leader = area.second_teachers[0][0]["id"]
    response = client.post(url(area.department.id, "units", unit["id"], "leaders"),
                           json={"person_id": leader, "starts_on": today().isoformat()}, headers=area.department.head)
    chosen = created(response)
    assert chosen["leader"]["person_id"] == leader
    assert chosen["leader"]["method"] == "appointed"

    body = read(client, url(area.second.id, "units", unit["id"]), area.second.head, chosen["position"])
    assert body["leader"]["person_id"] == leader
    assert body["leader"]["term_active"] is True


def test_an_elected_interschool_leader_is_refused_citing_p30(client, area):
    unit = interschool(client, area)
    response = client.post(url(area.department.id, "units", unit["id"], "leaders"),
                           json={"person_id": area.member_ids[0], "starts_on": today().isoformat(),
                                 "method": "elected"}, headers=area.department.head)
    refused(response, 422, "p.30")


def test_a_member_schools_head_may_not_appoint_the_interschool_leader_citing_p30(client, area):
    unit = interschool(client, area)
    response = client.post(url(area.first.id, "units", unit["id"], "leaders"),
                           json={"person_id": area.member_ids[0], "starts_on": today().isoformat()},
                           headers=area.first.head)
    refused(response, 403, "p.30")


def test_the_appointed_interschool_leader_plans_and_meets_and_the_department_head_approves(client, area):
    unit = interschool(client, area)
    leader_person, leader = area.first_teachers[0]
    created(client.post(url(area.department.id, "units", unit["id"], "leaders"),
                        json={"person_id": leader_person["id"], "starts_on": today().isoformat()},
                        headers=area.department.head))

    plan = created(draft(client, area.first, unit, leader))
    refused(approve(client, area.first, unit, area.first.head), 403, "p.29")
    approved = created(approve(client, area.department, unit, area.department.head), 200)
    assert approved["status"] == "approved"

    meeting = created(meet(client, area.first, unit, leader, today(), area.member_ids))
    assert sorted(meeting["attendee_ids"]) == sorted(area.member_ids)
    listed = read(client, url(area.second.id, "units", unit["id"], "meetings"), area.second.head,
                  meeting["position"])["items"]
    assert [m["id"] for m in listed] == [meeting["id"]]
    found = findings(client, area.department, meeting["position"], unit["id"])
    assert not {"no_leader", "no_approved_plan", "below_minimum"} & set(found)
    assert plan["academic_year"] == academic_year_of(today())


# Leaders (p.30)

@pytest.fixture
def association(client: Any, school: Org) -> dict[str, Any]:
    teachers = school.teachers(3)
    unit = created(form(client, school, school.head, ids(teachers)))
    unit["teachers"] = teachers
    return unit


def elect(client: Any, org: Org, unit: dict[str, Any], person_id: str, starts_on: date,
          by: dict[str, str] | None = None) -> Any:
    return client.post(url(org.id, "units", unit["id"], "leaders"),
                       json={"person_id": person_id, "starts_on": starts_on.isoformat()}, headers=by or org.head)


def test_an_elected_leader_and_the_one_year_term_show_on_the_unit(client, school, association):
    leader = association["teachers"][0][0]["id"]
    starts = today()
    chosen = created(elect(client, school, association, leader, starts))

    body = read(client, url(school.id, "units", association["id"]), school.head, chosen["position"])
    assert body["leader"] == {"person_id": leader, "method": "elected", "starts_on": starts.isoformat(),
                              "ends_on": starts.replace(year=starts.year + 1).isoformat(), "term_active": True}
    assert "no_leader" not in findings(client, school, chosen["position"], association["id"])


def test_leaders_history_lists_every_term_oldest_first(client, school, association):
    first, second = (t[0]["id"] for t in association["teachers"][:2])
    created(elect(client, school, association, first, today() - timedelta(days=400)))
    chosen = created(elect(client, school, association, second, today()))

    history = read(client, url(school.id, "units", association["id"], "leaders"), school.head, chosen["position"])
    assert [(h["person_id"], h["term_active"]) for h in history["items"]] == [(first, False), (second, True)]
    assert read(client, url(school.id, "units", association["id"]), school.head)["leader"]["person_id"] == second


def test_a_leader_who_is_not_a_member_is_refused_citing_p30(client, school, association):
    outsider = school.teachers(1)[0][0]["id"]
    problem = refused(elect(client, school, association, outsider, today()), 422, "p.30")
    assert "person_id" in problem["errors"]
    refused(elect(client, school, association, str(uuid.uuid4()), today()), 422, "p.30")


def test_recording_the_same_term_twice_is_a_conflict_citing_p30(client, school, association):
    leader = association["teachers"][0][0]["id"]
    created(elect(client, school, association, leader, today()))
    refused(elect(client, school, association, leader, today()), 409, "p.30")


def test_a_unit_without_a_leader_is_a_finding_citing_p30(client, school, association):
    assert findings(client, school, association["position"], association["id"])["no_leader"][0] == "p.30"


def test_a_teacher_may_not_record_the_election(client, school, association):
    teacher_headers = association["teachers"][0][1]
    response = elect(client, school, association, association["teachers"][0][0]["id"], today(), teacher_headers)
    assert response.status_code == 403


# Membership (p.26)

def test_a_member_leaving_below_the_minimum_keeps_the_unit_and_is_reported_citing_p26(client, school, association):
    gone = association["teachers"][0][0]["id"]
    response = client.delete(url(school.id, "units", association["id"], "members", gone), headers=school.head)
    left = created(response, 200)

    body = read(client, url(school.id, "units", association["id"]), school.head, left["position"])
    assert body["member_count"] == 2
    assert gone not in [m["person_id"] for m in body["members"]]
    assert body["below_minimum_since"] == today().isoformat()
    assert findings(client, school, left["position"], association["id"])["below_minimum"] == (
        "p.26", today().isoformat())

    joined = created(client.post(url(school.id, "units", association["id"], "members"),
                                 json={"person_id": school.teachers(1)[0][0]["id"]}, headers=school.head))
    body = read(client, url(school.id, "units", association["id"]), school.head, joined["position"])
    assert (body["member_count"], body["below_minimum_since"]) == (3, None)
    assert "below_minimum" not in findings(client, school, joined["position"], association["id"])


def test_a_teacher_of_another_subject_may_not_join_citing_p26(client, school, association):
    physicist = school.teachers(1, "Физика")[0][0]["id"]
    problem = refused(client.post(url(school.id, "units", association["id"], "members"),
                                  json={"person_id": physicist}, headers=school.head), 422, "p.26")
    assert "person_id" in problem["errors"]


def test_admitting_a_member_twice_is_a_conflict_citing_p26(client, school, association):
    member = association["teachers"][0][0]["id"]
    refused(client.post(url(school.id, "units", association["id"], "members"), json={"person_id": member},
                        headers=school.head), 409, "p.26")


def test_removing_someone_who_is_not_a_member_is_not_found(client, school, association):
    response = client.delete(url(school.id, "units", association["id"], "members", str(uuid.uuid4())),
                             headers=school.head)
    assert response.status_code == 404


def test_a_teacher_who_leaves_the_organization_leaves_its_units(client, school, association):
    gone = association["teachers"][1][0]["id"]
    response = client.delete(url(school.id, "people", gone), headers=school.head)
    left = created(response, 200)

    body = read(client, url(school.id, "units", association["id"]), school.head, left["position"])
    assert body["member_count"] == 2
    assert gone not in [m["person_id"] for m in body["members"]]
    assert findings(client, school, left["position"], association["id"])["below_minimum"][0] == "p.26"


# Annual plans (p.29)

def plan_items() -> list[dict[str, Any]]:
    return [{"direction": "p.7.3", "title": "Открытые уроки", "due": None},
            {"direction": "p.13.3", "title": "Анализ методической работы"}]


@pytest.fixture
def led(client: Any, school: Org, association: dict[str, Any]) -> dict[str, Any]:
    chosen = created(elect(client, school, association, association["teachers"][0][0]["id"], today()))
    association["leader"] = association["teachers"][0][1]
    association["position"] = chosen["position"]
    return association


def draft(client: Any, org: Org, unit: dict[str, Any], by: dict[str, str], year: str | None = None,
          items: list[dict[str, Any]] | None = None) -> Any:
    return client.post(url(org.id, "units", unit["id"], "plans"),
                       json={"academic_year": year or academic_year_of(today()), "items": items or plan_items()},
                       headers=by)


def approve(client: Any, org: Org, unit: dict[str, Any], by: dict[str, str], year: str | None = None) -> Any:
    return client.post(url(org.id, "units", unit["id"], "plans", year or academic_year_of(today()), "approval"),
                       headers=by)


def test_the_leader_drafts_the_plan_and_only_the_head_approves_it_once_citing_p29(client, school, led):
    year = academic_year_of(today())
    plan = created(draft(client, school, led, led["leader"]))
    assert (plan["academic_year"], plan["status"]) == (year, "draft")
    assert [i["direction"] for i in plan["items"]] == ["p.7.3", "p.13.3"]
    assert findings(client, school, plan["position"], led["id"])["no_approved_plan"][0] == "p.29"

    refused(approve(client, school, led, school.deputy()), 403, "p.29")
    refused(approve(client, school, led, led["leader"]), 403, "p.29")

    approved = created(approve(client, school, led, school.head), 200)
    assert (approved["status"], approved["approved_by"]) == ("approved", school.head_person["id"])
    body = read(client, url(school.id, "units", led["id"]), school.head, approved["position"])
    assert body["plan"] == {"academic_year": year, "status": "approved"}
    assert "no_approved_plan" not in findings(client, school, approved["position"], led["id"])
    one = read(client, url(school.id, "units", led["id"], "plans", year), school.head)
    assert one["status"] == "approved"

    refused(approve(client, school, led, school.head), 409, "p.29")
    refused(draft(client, school, led, led["leader"]), 409, "p.29")


def test_a_teacher_who_does_not_lead_the_unit_may_not_draft_its_plan_citing_p29(client, school, led):
    refused(draft(client, school, led, led["teachers"][1][1]), 403, "p.29")


def test_the_deputy_head_drafts_a_plan_too_and_the_leader_revises_it_until_approved(client, school, led):
    created(draft(client, school, led, school.deputy()))
    revised = created(draft(client, school, led, led["leader"], items=[{"direction": "p.7.8", "title": "Пособие"}]))
    body = read(client, url(school.id, "units", led["id"], "plans", academic_year_of(today())), school.head,
                revised["position"])
    assert ([i["direction"] for i in body["items"]], body["status"]) == (["p.7.8"], "draft")


def test_a_plan_item_of_a_university_direction_is_refused_in_a_school(client, school, led):
    problem = refused(draft(client, school, led, led["leader"], items=[{"direction": "p.9.1", "title": "Вуз"}]),
                      422, "p.7")
    assert "p.9.1" in problem["detail"]


def test_approving_a_plan_never_drafted_is_not_found(client, school, led):
    assert approve(client, school, led, school.head).status_code == 404


# Meetings (p.25)

def meet(client: Any, org: Org, unit: dict[str, Any], by: dict[str, str], held_on: date,
         attendee_ids: list[str]) -> Any:
    return client.post(url(org.id, "units", unit["id"], "meetings"), json={
        "held_on": held_on.isoformat(),
        "agenda": [{"direction": "p.7.3", "title": "Открытые уроки"},
                   {"direction": "p.13.3", "title": "Итоги четверти"}],
        "minutes": "Слушали: руководителя МО. Постановили: провести открытые уроки.",
        "attendee_ids": attendee_ids,
    }, headers=by)


def test_the_leader_records_a_meeting_with_an_agenda_tagged_with_directions(client, school, led):
    attendees = ids(led["teachers"])
    meeting = created(meet(client, school, led, led["leader"], today(), attendees))
    assert meeting["unit_id"] == led["id"]
    assert [a["direction"] for a in meeting["agenda"]] == ["p.7.3", "p.13.3"]
    assert sorted(meeting["attendee_ids"]) == sorted(attendees)

    listed = read(client, url(school.id, "units", led["id"], "meetings"), school.head, meeting["position"])["items"]
    assert [(m["id"], m["held_on"], m["minutes"]) for m in listed] == [
        (meeting["id"], today().isoformat(), "Слушали: руководителя МО. Постановили: провести открытые уроки.")]


def test_an_attendee_who_is_not_a_member_is_refused_citing_p25(client, school, led):
    outsider = school.teachers(1)[0][0]["id"]
    problem = refused(meet(client, school, led, led["leader"], today(), [outsider]), 422, "p.25")
    assert "attendee_ids" in problem["errors"]
    refused(meet(client, school, led, led["leader"], today(), [str(uuid.uuid4())]), 422, "p.25")


def test_a_meeting_dated_in_the_future_is_refused(client, school, led):
    problem = refused(meet(client, school, led, led["leader"], today() + timedelta(days=1), ids(led["teachers"])),
                      422, "p.25")
    assert "held_on" in problem["errors"]


def test_a_member_who_does_not_lead_may_not_record_a_meeting_citing_p25(client, school, led):
    refused(meet(client, school, led, led["teachers"][1][1], today(), ids(led["teachers"])), 403, "p.25")


# The catalogue of directions (p.7, p.9)

def test_the_school_directions_are_the_eight_of_p7(client, tour):
    body = read(client, "/api/v1/catalogue/directions", tour.operator, level="school")
    assert [d["code"] for d in body["items"]] == [f"p.7.{n}" for n in range(1, 9)]
    assert all(d["clause"] == "p.7" and d["text_ru"] and d["label_en"] for d in body["items"])


def test_the_university_directions_mark_the_repeats_of_p9(client, tour):
    body = read(client, "/api/v1/catalogue/directions", tour.operator, level="university")
    assert len(body["items"]) == 26
    repeats = {d["code"]: d["duplicate_of"] for d in body["items"] if d["duplicate_of"]}
    assert repeats == {"p.9.12": "p.9.5", "p.9.19": "p.9.7", "p.9.23": "p.9.21", "p.9.24": "p.9.8",
                       "p.9.26": "p.9.11"}


def test_an_unknown_level_is_invalid(client, tour):
    response = client.get("/api/v1/catalogue/directions", headers=tour.operator, query_string={"level": "kindergarten"})
    assert response.status_code == 422


# The academic calendar (p.25)

QUARTERS = [["09-01", "10-31"], ["11-01", "12-31"], ["01-01", "03-20"], ["03-21", "05-25"]]


def test_the_calendar_is_the_national_default_until_set_and_then_reads_back(client, school):
    body = read(client, url(school.id, "calendar"), school.head, school.tenant["position"])
    assert body == {"quarters": [["09-01", "11-05"], ["11-06", "01-07"], ["01-08", "03-24"], ["03-25", "05-31"]],
                    "default": True}

    response = client.put(url(school.id, "calendar"), json={"quarters": QUARTERS}, headers=school.head)
    changed = created(response, 200)
    assert changed["quarters"] == QUARTERS
    assert read(client, url(school.id, "calendar"), school.head, changed["position"]) == {
        "quarters": QUARTERS, "default": False}


@pytest.mark.parametrize("quarters", [
    QUARTERS[:3],
    [["09-01", "11-05"], ["11-01", "01-07"], ["01-08", "03-24"], ["03-25", "05-31"]],
    [["09-01", "11-05"], ["11-06", "01-07"], ["01-08", "02-29"], ["03-01", "05-31"]],
    [["09-01", "11-05"], ["11-06", "01-07"], ["01-08", "03-24"], ["03-25", "05-32"]],
])
def test_a_malformed_calendar_is_refused_naming_quarters(client, school, quarters):
    response = client.put(url(school.id, "calendar"), json={"quarters": quarters}, headers=school.head)
    assert response.status_code == 422, response.get_json()
    assert any(k.startswith("quarters") for k in response.get_json()["errors"])


def test_a_teacher_may_not_set_the_calendar(client, school):
    teacher = school.teachers(1)[0][1]
    assert client.put(url(school.id, "calendar"), json={"quarters": QUARTERS}, headers=teacher).status_code == 403


def test_compliance_is_for_the_head_deputy_and_methodist_not_a_teacher(client, school):
    assert client.get(url(school.id, "compliance"), headers=school.teachers(1)[0][1]).status_code == 403
    methodist = school.people(1, ["methodist"])[0][1]
    assert client.get(url(school.id, "compliance"), headers=methodist).status_code == 200


def test_compliance_says_which_rules_it_checked_on_which_kinds_of_unit(client, tour):
    college = tour.tenant("tvet_college")
    _, head = tour.head(college["id"])
    teachers = [tour.person(college["id"], head, ["teacher"], ["Электротехника"])[0]["id"] for _ in range(3)]
    unit = client.post(url(college["id"], "units"), headers=head, json={
        "kind": "subject_cycle_commission", "name": "ПЦК электротехники", "subject": "Электротехника",
        "member_ids": teachers}).get_json()
    report = client.get(url(college["id"], "compliance"), headers={**head, "X-Min-Position": unit["position"]})
    checked = {(r["clause"], r["code"]): r["unit_kinds"] for r in report.get_json()["checked"]}
    assert checked == {("p.16", "below_minimum"): ["subject_cycle_commission"],
                       ("p.17", "no_leader"): ["subject_cycle_commission"],
                       ("p.17", "leader_term_expired"): ["subject_cycle_commission"]}
    # p.29 asks a plan of associations only: a commission's missing plan is not a finding, and it says so.
    assert [f["code"] for f in report.get_json()["items"]] == ["no_leader"]


def test_compliance_of_a_school_checks_the_associations_plan_and_meetings(client, school, association):
    report = client.get(url(school.id, "compliance"),
                        headers={**school.head, "X-Min-Position": association["position"]}).get_json()
    codes = {r["code"]: (r["clause"], r["unit_kinds"]) for r in report["checked"]}
    assert codes["no_approved_plan"] == ("p.29", ["methodical_association"])
    assert codes["no_meeting_in_quarter"] == ("p.25", ["methodical_association"])
    assert codes["below_minimum"] == ("p.26", ["methodical_association"])


# Moving the clock: leader terms, quarters and plans as time passes (p.25, p.29, p.30)

START = datetime(2026, 9, 10, 9, tzinfo=timezone.utc)


@pytest.fixture(scope="module")
def clock() -> dict[str, datetime]:
    return {"now": START}


@pytest.fixture(scope="module")
def timed_app(settings, platform, engine, projector, clock):
    from services.api import create_app

    return create_app({"TESTING": True, "SETTINGS": settings, "PLATFORM": platform, "ENGINE": engine,
                       "CLOCK": lambda: clock["now"]})


@pytest.fixture
def timed(timed_app, clock, settings) -> Tour:
    """A tour of the app whose clock starts at 2026-09-10 09:00 UTC and moves when the test says."""
    clock["now"] = START
    return Tour(timed_app.test_client(), settings.operator_token)


def at(clock: dict[str, datetime], day: date) -> None:
    clock["now"] = datetime(day.year, day.month, day.day, 9, tzinfo=timezone.utc)


def timed_association(tour: Tour) -> tuple[Org, dict[str, Any]]:
    school = Org(tour)
    unit = created(form(tour.client, school, school.head, ids(teachers := school.teachers(3))))
    unit["teachers"] = teachers
    return school, unit


def test_a_leader_term_expires_a_year_later_and_a_new_election_closes_the_finding(timed, clock):
    client = timed.client
    school, unit = timed_association(timed)
    first, second = (t[0]["id"] for t in unit["teachers"][:2])
    chosen = created(elect(client, school, unit, first, date(2026, 9, 10)))
    body = read(client, url(school.id, "units", unit["id"]), school.head, chosen["position"])
    assert (body["leader"]["ends_on"], body["leader"]["term_active"]) == ("2027-09-10", True)
    assert not {"no_leader", "leader_term_expired"} & set(findings(client, school, chosen["position"], unit["id"]))

    at(clock, date(2027, 9, 9))
    assert "leader_term_expired" not in findings(client, school, chosen["position"], unit["id"])
    at(clock, date(2027, 9, 10))
    assert findings(client, school, chosen["position"], unit["id"])["leader_term_expired"] == ("p.30", "2027-09-10")
    body = read(client, url(school.id, "units", unit["id"]), school.head)
    assert body["leader"]["term_active"] is False
    # The former leader no longer leads: recording a meeting is refused.
    refused(meet(client, school, unit, unit["teachers"][0][1], date(2027, 9, 10), [first]), 403, "p.25")

    again = created(elect(client, school, unit, second, date(2027, 9, 10)))
    assert "leader_term_expired" not in findings(client, school, again["position"], unit["id"])
    history = read(client, url(school.id, "units", unit["id"], "leaders"), school.head, again["position"])["items"]
    assert [(h["person_id"], h["starts_on"], h["term_active"]) for h in history] == [
        (first, "2026-09-10", False), (second, "2027-09-10", True)]


def test_a_quarter_without_a_meeting_is_a_finding_and_a_meeting_closes_the_next_one(timed, clock):
    client = timed.client
    school, unit = timed_association(timed)
    chosen = created(elect(client, school, unit, unit["teachers"][0][0]["id"], date(2026, 9, 10)))
    leader = unit["teachers"][0][1]

    at(clock, date(2026, 11, 5))
    assert "no_meeting_in_quarter" not in findings(client, school, chosen["position"], unit["id"])
    at(clock, date(2026, 11, 6))
    assert findings(client, school, chosen["position"], unit["id"])["no_meeting_in_quarter"] == (
        "p.25", "2026-11-06")

    at(clock, date(2026, 12, 2))
    meeting = created(meet(client, school, unit, leader, date(2026, 12, 1), ids(unit["teachers"])))
    at(clock, date(2027, 1, 8))
    quarters = [(c, clause, since) for c, clause, since in all_findings(client, school, meeting["position"], unit["id"])
                if c == "no_meeting_in_quarter"]
    assert quarters == [("no_meeting_in_quarter", "p.25", "2026-11-06")]


def test_a_custom_calendar_moves_the_quarter_end(timed, clock):
    client = timed.client
    school, unit = timed_association(timed)
    changed = created(client.put(url(school.id, "calendar"), json={"quarters": QUARTERS}, headers=school.head), 200)

    at(clock, date(2026, 11, 1))
    assert findings(client, school, changed["position"], unit["id"])["no_meeting_in_quarter"] == ("p.25", "2026-11-01")


def test_no_approved_plan_is_a_finding_until_the_head_approves(timed, clock):
    client = timed.client
    school, unit = timed_association(timed)
    chosen = created(elect(client, school, unit, unit["teachers"][0][0]["id"], date(2026, 9, 10)))
    assert findings(client, school, chosen["position"], unit["id"])["no_approved_plan"] == ("p.29", "2026-09-10")

    at(clock, date(2026, 9, 20))
    plan = created(draft(client, school, unit, unit["teachers"][0][1], "2026-2027"))
    assert "no_approved_plan" in findings(client, school, plan["position"], unit["id"])
    refused(approve(client, school, unit, school.deputy(), "2026-2027"), 403, "p.29")
    approved = created(approve(client, school, unit, school.head, "2026-2027"), 200)
    assert "no_approved_plan" not in findings(client, school, approved["position"], unit["id"])

    at(clock, date(2027, 9, 1))
    assert findings(client, school, approved["position"], unit["id"])["no_approved_plan"] == ("p.29", "2027-09-01")


def test_a_leader_who_leaves_the_unit_is_reported_since_that_day(timed, clock):
    client = timed.client
    school, unit = timed_association(timed)
    extra = school.teachers(1)[0][0]["id"]
    created(client.post(url(school.id, "units", unit["id"], "members"), json={"person_id": extra},
                        headers=school.head))
    leader = unit["teachers"][0][0]["id"]
    created(elect(client, school, unit, leader, date(2026, 9, 10)))

    at(clock, date(2026, 9, 20))
    gone = created(client.delete(url(school.id, "units", unit["id"], "members", leader), headers=school.head), 200)
    assert findings(client, school, gone["position"], unit["id"])["no_leader"] == ("p.30", "2026-09-20")

    at(clock, date(2026, 10, 1))
    other = created(client.delete(url(school.id, "units", unit["id"], "members", extra), headers=school.head), 200)
    assert findings(client, school, other["position"], unit["id"])["no_leader"] == ("p.30", "2026-09-20")


def test_a_leader_who_leaves_the_organization_leaves_the_unit_without_a_leader(timed, clock):
    client = timed.client
    school, unit = timed_association(timed)
    leader = unit["teachers"][0][0]["id"]
    created(elect(client, school, unit, leader, date(2026, 9, 10)))

    at(clock, date(2026, 9, 15))
    left = created(client.delete(url(school.id, "people", leader), headers=school.head), 200)
    found = findings(client, school, left["position"], unit["id"])
    assert found["no_leader"] == ("p.30", "2026-09-15")
    assert found["below_minimum"] == ("p.26", "2026-09-15")


def test_an_intercollege_commission_takes_only_colleges_with_fewer_than_three_teachers_of_its_discipline(
    client, tour
):
    region = tour.tenant("regional_department")
    _, region_head = tour.head(region["id"])
    small, big = (tour.tenant("tvet_college", parent_id=region["id"]) for _ in range(2))
    _, small_head = tour.head(small["id"])
    _, big_head = tour.head(big["id"])
    lone = [tour.person(small["id"], small_head, ["teacher"], ["Электротехника"])[0] for _ in range(2)]
    many = [tour.person(big["id"], big_head, ["industrial_training_master"], ["электротехника"])[0]
            for _ in range(3)]
    body = {"kind": "intercollege_commission", "name": "Межколледжная комиссия", "subject": "Электротехника"}

    refused = client.post(f"/api/v1/tenants/{region['id']}/units", headers=region_head, json={
        **body, "member_ids": [lone[0]["id"], many[0]["id"]]})
    assert refused.status_code == 422
    assert refused.get_json()["clause"] == "p.16"
    assert many[0]["id"] in refused.get_json()["detail"]

    formed = client.post(f"/api/v1/tenants/{region['id']}/units", headers=region_head, json={
        **body, "member_ids": [p["id"] for p in lone]})
    assert formed.status_code == 201


def test_a_units_command_answers_the_members_joining_times_the_read_shows(client, school):
    teachers = school.teachers(4)
    unit = created(form(client, school, school.head, ids(teachers[:3])))
    read = client.get(url(school.id, "units", unit["id"]), headers={**school.head, "X-Min-Position": unit["position"]})
    assert all(m["joined_at"] for m in unit["members"])
    assert sorted(unit["members"], key=lambda m: m["person_id"]) == \
        sorted(read.get_json()["members"], key=lambda m: m["person_id"])
    added = created(client.post(url(school.id, "units", unit["id"], "members"), headers=school.head,
                                json={"person_id": teachers[3][0]["id"]}))
    read = client.get(url(school.id, "units", unit["id"]), headers={**school.head, "X-Min-Position": added["position"]})
    assert sorted(added["members"], key=lambda m: m["person_id"]) == \
        sorted(read.get_json()["members"], key=lambda m: m["person_id"])
