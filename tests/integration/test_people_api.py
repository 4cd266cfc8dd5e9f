"""People and their credentials inside a tenant, through the HTTP API, against the real PostgreSQL."""

from __future__ import annotations

import base64
import unicodedata
import uuid
from typing import Any

import pytest

from support import Tour, bearer

TENANTS = "/api/v1/tenants"


def people_url(tenant_id: str, *rest: str) -> str:
    return "/".join([TENANTS, tenant_id, "people", *rest])


def after(headers: dict[str, str], position: str) -> dict[str, str]:
    return {**headers, "X-Min-Position": position}


class School:
    """A registered tenant with a head who holds a token."""

    def __init__(self, tour: Tour, kind: str = "school"):
        self.tenant = tour.tenant(kind)
        self.id = self.tenant["id"]
        self.head_person, self.head = tour.head(self.id)


@pytest.fixture
def school(tour: Tour) -> School:
    return School(tour)


def add(client: Any, school: School, by: dict[str, str], roles: list[str], subjects: list[str] | None = None,
        full_name: str = "Person") -> Any:
    return client.post(people_url(school.id), json={"full_name": full_name, "roles": roles,
                                                    "subjects": subjects or []}, headers=by)


def issue(client: Any, school: School, person_id: str, by: dict[str, str] | None = None) -> dict[str, Any]:
    response = client.post(people_url(school.id, person_id, "tokens"), headers=by or school.head)
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def own_tenant_status(client: Any, school: School, headers: dict[str, str]) -> int:
    """Return the status of a read of the school by these credentials (200 works, 401 does not)."""
    return client.get(f"{TENANTS}/{school.id}", headers=after(headers, school.tenant["position"])).status_code


def list_ids(client: Any, school: School, headers: dict[str, str], **query: Any) -> list[str]:
    response = client.get(people_url(school.id), query_string=query, headers=headers)
    assert response.status_code == 200, response.get_json()
    return [p["id"] for p in response.get_json()["items"]]


# Adding people

def test_the_operator_adds_a_tenants_first_head(client, tour):
    tenant = tour.tenant()
    response = client.post(people_url(tenant["id"]), json={"full_name": "Сәуле Ахметова", "roles": ["head"]},
                           headers=tour.operator)
    assert response.status_code == 201
    head = response.get_json()
    assert uuid.UUID(head["id"])
    assert int(head["position"]) > int(tenant["position"])
    assert (head["tenant_id"], head["roles"], head["status"], head["left_at"]) == (tenant["id"], ["head"], "active",
                                                                                   None)


def test_the_operator_cannot_add_a_teacher(client, tour, school):
    response = add(client, school, tour.operator, ["teacher"], ["Математика"])
    assert response.status_code == 403
    assert response.mimetype == "application/problem+json"


def test_the_operator_adding_people_to_a_missing_tenant_gets_not_found(client, tour):
    response = client.post(people_url(str(uuid.uuid4())), json={"full_name": "X", "roles": ["head"]},
                           headers=tour.operator)
    assert response.status_code == 404


def test_a_head_adds_a_teacher_with_subjects_that_read_back_unchanged(client, school):
    response = add(client, school, school.head, ["teacher"], ["Қазақ тілі", "Қазақ әдебиеті"], "Айгүл Серікқызы")
    assert response.status_code == 201
    teacher = response.get_json()
    assert teacher["roles"] == ["teacher"]
    assert teacher["subjects"] == ["Қазақ тілі", "Қазақ әдебиеті"]

    read = client.get(people_url(school.id, teacher["id"]), headers=after(school.head, teacher["position"]))
    assert read.status_code == 200
    body = read.get_json()
    assert (body["full_name"], body["roles"], body["subjects"], body["status"]) == (
        "Айгүл Серікқызы", ["teacher"], ["Қазақ тілі", "Қазақ әдебиеті"], "active")


@pytest.mark.parametrize("form", ["NFC", "NFD"])
def test_kazakh_text_round_trips_byte_for_byte_in_either_normal_form(client, school, form):
    # "й" and "ё" decompose under NFD, so the two forms really are different byte strings.
    name = unicodedata.normalize(form, "Ерлан Бейсенұлы Жолдасбеков")
    subjects = [unicodedata.normalize(form, s) for s in ("Қазақ тілі", "Бейнелеу өнері", "Ёлка ойындары")]
    assert unicodedata.normalize("NFC", name) != unicodedata.normalize("NFD", name)

    response = add(client, school, school.head, ["teacher"], subjects, name)
    assert response.status_code == 201
    created = response.get_json()
    read = client.get(people_url(school.id, created["id"]), headers=after(school.head, created["position"]))
    listed = [p for p in client.get(people_url(school.id), headers=school.head).get_json()["items"]
              if p["id"] == created["id"]]

    for body in (created, read.get_json(), *listed):
        assert body["full_name"].encode("utf-8") == name.encode("utf-8")
        assert [s.encode("utf-8") for s in body["subjects"]] == [s.encode("utf-8") for s in subjects]
    assert name.encode("utf-8") in read.data  # sent as UTF-8, not as \u escapes


def test_a_methodist_in_a_university_is_refused_citing_p3(client, tour):
    university = School(tour, "university")
    response = add(client, university, university.head, ["methodist"])
    assert response.status_code == 422
    problem = response.get_json()
    assert problem["clause"] == "p.3"
    assert "roles" in problem["errors"]


def test_an_industrial_training_master_in_a_school_is_refused_citing_p16(client, school):
    response = add(client, school, school.head, ["industrial_training_master"])
    assert response.status_code == 422
    assert response.get_json()["clause"] == "p.16"


def test_an_industrial_training_master_in_a_college_is_added(client, tour):
    college = School(tour, "tvet_college")
    response = add(client, college, college.head, ["industrial_training_master"], ["Дәнекерлеу ісі"])
    assert response.status_code == 201


def test_an_unknown_role_is_refused_naming_roles(client, school):
    response = add(client, school, school.head, ["teacher", "janitor"])
    assert response.status_code == 422
    problem = response.get_json()
    assert any(field == "roles" or field.startswith("roles.") for field in problem["errors"]), problem


def test_a_person_needs_a_name_and_at_least_one_role(client, school):
    response = client.post(people_url(school.id), json={"full_name": "", "roles": []}, headers=school.head)
    assert response.status_code == 422
    assert {"full_name", "roles"} <= set(response.get_json()["errors"])
    blank = add(client, school, school.head, ["teacher"], full_name="   ")
    assert blank.status_code == 422
    assert "full_name" in blank.get_json()["errors"]


def test_a_teacher_cannot_add_people(client, tour, school):
    _, teacher = tour.person(school.id, school.head, ["teacher"], ["Физика"])
    response = add(client, school, teacher, ["teacher"])
    assert response.status_code == 403


def test_a_deputy_head_adds_a_teacher_but_not_a_head(client, tour, school):
    _, deputy = tour.person(school.id, school.head, ["deputy_head"])
    assert add(client, school, deputy, ["teacher"], ["Химия"]).status_code == 201
    assert add(client, school, deputy, ["head"]).status_code == 403


# Changing people

def test_a_head_changes_a_persons_roles_and_subjects(client, tour, school):
    person, _ = tour.person(school.id, school.head, ["teacher"], ["Физика"])
    response = client.patch(people_url(school.id, person["id"]),
                            json={"roles": ["teacher", "class_teacher"], "subjects": ["Физика", "Астрономия"]},
                            headers=school.head)
    assert response.status_code == 200
    changed = response.get_json()
    assert int(changed["position"]) > int(person["position"])
    read = client.get(people_url(school.id, person["id"]), headers=after(school.head, changed["position"]))
    assert read.get_json()["roles"] == ["teacher", "class_teacher"]
    assert read.get_json()["subjects"] == ["Физика", "Астрономия"]


def test_a_deputy_head_changes_a_teachers_subjects_and_leaves_the_roles_alone(client, tour, school):
    person, _ = tour.person(school.id, school.head, ["teacher"], ["Физика"])
    _, deputy = tour.person(school.id, school.head, ["deputy_head"])
    response = client.patch(people_url(school.id, person["id"]), json={"subjects": ["Информатика"]}, headers=deputy)
    assert response.status_code == 200
    read = client.get(people_url(school.id, person["id"]), headers=after(deputy, response.get_json()["position"]))
    assert (read.get_json()["roles"], read.get_json()["subjects"]) == (["teacher"], ["Информатика"])


def test_a_deputy_head_cannot_grant_the_heads_role(client, tour, school):
    person, _ = tour.person(school.id, school.head, ["teacher"], ["Физика"])
    _, deputy = tour.person(school.id, school.head, ["deputy_head"])
    response = client.patch(people_url(school.id, person["id"]), json={"roles": ["teacher", "head"]}, headers=deputy)
    assert response.status_code == 403
    read = client.get(people_url(school.id, person["id"]), headers=after(school.head, person["position"]))
    assert read.get_json()["roles"] == ["teacher"]


def test_a_deputy_head_cannot_change_the_heads_roles(client, tour, school):
    _, deputy = tour.person(school.id, school.head, ["deputy_head"])
    response = client.patch(people_url(school.id, school.head_person["id"]), json={"roles": ["head", "teacher"]},
                            headers=deputy)
    assert response.status_code == 403


def test_a_teacher_cannot_change_people(client, tour, school):
    person, teacher = tour.person(school.id, school.head, ["teacher"], ["Физика"])
    response = client.patch(people_url(school.id, person["id"]), json={"subjects": ["Всё"]}, headers=teacher)
    assert response.status_code == 403


def test_changing_to_a_role_that_does_not_fit_the_tenant_is_refused_with_its_clause(client, tour, school):
    person, _ = tour.person(school.id, school.head, ["teacher"], ["Физика"])
    response = client.patch(people_url(school.id, person["id"]), json={"roles": ["industrial_training_master"]},
                            headers=school.head)
    assert response.status_code == 422
    assert response.get_json()["clause"] == "p.16"


# Leaving

def test_a_person_who_leaves_is_kept_with_left_at_and_drops_out_of_the_default_list(client, tour, school):
    person, _ = tour.person(school.id, school.head, ["teacher"], ["Тарих"])
    stayer, _ = tour.person(school.id, school.head, ["teacher"], ["География"])
    response = client.delete(people_url(school.id, person["id"]), headers=school.head)
    assert response.status_code == 200
    left = response.get_json()
    assert left["status"] == "left"
    assert left["left_at"] is not None

    headers = after(school.head, left["position"])
    read = client.get(people_url(school.id, person["id"]), headers=headers)
    assert read.status_code == 200
    assert read.get_json()["status"] == "left"
    assert read.get_json()["left_at"] == left["left_at"]
    assert read.get_json()["subjects"] == ["Тарих"]

    active = list_ids(client, school, headers)
    assert person["id"] not in active and stayer["id"] in active
    everyone = list_ids(client, school, headers, status="all")
    assert {person["id"], stayer["id"], school.head_person["id"]} <= set(everyone)
    assert list_ids(client, school, headers, status="left") == [person["id"]]


def test_the_token_of_a_person_who_left_stops_working(client, tour, school):
    person, own = tour.person(school.id, school.head, ["teacher"])
    assert own_tenant_status(client, school, own) == 200
    client.delete(people_url(school.id, person["id"]), headers=school.head)
    response = client.get(f"{TENANTS}/{school.id}", headers=after(own, school.tenant["position"]))
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


def test_a_person_who_left_cannot_be_changed_removed_again_or_given_a_token(client, tour, school):
    person, _ = tour.person(school.id, school.head, ["teacher"])
    assert client.delete(people_url(school.id, person["id"]), headers=school.head).status_code == 200
    patch = client.patch(people_url(school.id, person["id"]), json={"subjects": ["Музыка"]}, headers=school.head)
    assert patch.status_code == 409
    again = client.delete(people_url(school.id, person["id"]), headers=school.head)
    assert again.status_code == 409
    token = client.post(people_url(school.id, person["id"], "tokens"), headers=school.head)
    assert token.status_code == 409
    assert patch.mimetype == again.mimetype == "application/problem+json"


def test_only_the_head_removes_people(client, tour, school):
    person, own = tour.person(school.id, school.head, ["teacher"])
    _, deputy = tour.person(school.id, school.head, ["deputy_head"])
    assert client.delete(people_url(school.id, person["id"]), headers=deputy).status_code == 403
    assert client.delete(people_url(school.id, person["id"]), headers=own).status_code == 403
    assert client.delete(people_url(school.id, person["id"]), headers=tour.operator).status_code == 403


# Credentials

def test_a_token_is_shown_once_and_works_at_once(client, school):
    teacher = add(client, school, school.head, ["teacher"], ["Биология"]).get_json()
    issued = issue(client, school, teacher["id"])
    assert issued["person_id"] == teacher["id"]
    assert uuid.UUID(issued["token_id"])
    secret = issued["token"]

    # Works immediately, for a read that needs no waiting.
    mine = client.get(f"{TENANTS}/{school.id}", headers=after(bearer(secret), school.tenant["position"]))
    assert mine.status_code == 200
    assert mine.get_json()["id"] == school.id

    read = client.get(people_url(school.id, teacher["id"]), headers=after(bearer(secret), issued["position"]))
    assert read.status_code == 200
    [token] = read.get_json()["tokens"]
    assert token["id"] == issued["token_id"] and token["revoked"] is False
    assert set(token) == {"id", "issued_at", "revoked"}
    secret_part = secret.partition(".")[2]
    assert secret_part not in read.get_data(as_text=True)
    listing = client.get(people_url(school.id), query_string={"status": "all"},
                         headers=after(school.head, issued["position"]))
    assert secret_part not in listing.get_data(as_text=True)


def test_each_token_is_a_different_secret(client, school):
    teacher = add(client, school, school.head, ["teacher"]).get_json()
    first, second = issue(client, school, teacher["id"]), issue(client, school, teacher["id"])
    assert first["token"] != second["token"] and first["token_id"] != second["token_id"]
    assert own_tenant_status(client, school, bearer(first["token"])) == 200
    assert own_tenant_status(client, school, bearer(second["token"])) == 200


def test_a_revoked_token_stops_working_and_the_others_do_not(client, school):
    teacher = add(client, school, school.head, ["teacher"]).get_json()
    kept, revoked = issue(client, school, teacher["id"]), issue(client, school, teacher["id"])

    response = client.delete(people_url(school.id, teacher["id"], "tokens", revoked["token_id"]), headers=school.head)
    assert response.status_code == 200

    assert own_tenant_status(client, school, bearer(revoked["token"])) == 401
    assert own_tenant_status(client, school, bearer(kept["token"])) == 200
    read = client.get(people_url(school.id, teacher["id"]), headers=after(school.head, response.get_json()["position"]))
    states = {t["id"]: t["revoked"] for t in read.get_json()["tokens"]}
    assert states == {kept["token_id"]: False, revoked["token_id"]: True}


def test_a_person_revokes_their_own_token(client, school):
    teacher = add(client, school, school.head, ["teacher"]).get_json()
    own = issue(client, school, teacher["id"])
    response = client.delete(people_url(school.id, teacher["id"], "tokens", own["token_id"]),
                             headers=bearer(own["token"]))
    assert response.status_code == 200
    assert own_tenant_status(client, school, bearer(own["token"])) == 401


def test_revoking_a_token_the_person_does_not_have_is_not_found(client, school):
    response = client.delete(people_url(school.id, school.head_person["id"], "tokens", str(uuid.uuid4())),
                             headers=school.head)
    assert response.status_code == 404


def test_the_operator_issues_tokens_to_heads_only(client, tour, school):
    teacher, _ = tour.person(school.id, school.head, ["teacher"])
    assert client.post(people_url(school.id, teacher["id"], "tokens"), headers=tour.operator).status_code == 403
    assert client.post(people_url(school.id, school.head_person["id"], "tokens"),
                       headers=tour.operator).status_code == 201


def test_a_teacher_cannot_issue_tokens(client, tour, school):
    teacher, own = tour.person(school.id, school.head, ["teacher"])
    assert client.post(people_url(school.id, teacher["id"], "tokens"), headers=own).status_code == 403


# Tenancy

def test_another_tenants_person_is_not_found_to_a_head_of_tenant_a(client, tour, platform):
    a, b = School(tour), School(tour)
    person_b, _ = tour.person(b.id, b.head, ["teacher"], ["Физика"])
    missing = str(uuid.uuid4())

    def same_as_missing(method: str, path_for: Any, **kwargs: Any) -> None:
        foreign = client.open(path_for(person_b["id"]), method=method, headers=a.head, **kwargs)
        absent = client.open(path_for(missing), method=method, headers=a.head, **kwargs)
        assert foreign.status_code == absent.status_code == 404, (method, foreign.get_json())
        assert foreign.get_json() == absent.get_json()

    for tenant_id in (b.id, a.id):  # in B's path and smuggled into A's path
        same_as_missing("GET", lambda pid: people_url(tenant_id, pid))
        same_as_missing("PATCH", lambda pid: people_url(tenant_id, pid), json={"subjects": ["Хакинг"]})
        same_as_missing("DELETE", lambda pid: people_url(tenant_id, pid))
        same_as_missing("POST", lambda pid: people_url(tenant_id, pid, "tokens"))
    assert client.get(people_url(b.id), headers=a.head).status_code == 404

    # Nothing A tried reached B's person: the history holds only B's own decisions.
    events = list(platform.events.get(uuid.UUID(person_b["id"])))
    assert [type(e).__name__ for e in events] == ["Joined", "TokenIssued"]
    assert {e.meta["actor"]["person_id"] for e in events} == {b.head_person["id"]}


def test_another_tenants_token_id_cannot_be_revoked(client, tour):
    a, b = School(tour), School(tour)
    person_b, _ = tour.person(b.id, b.head, ["teacher"])
    token = issue(client, b, person_b["id"], b.head)
    response = client.delete(people_url(b.id, person_b["id"], "tokens", token["token_id"]), headers=a.head)
    assert response.status_code == 404
    assert own_tenant_status(client, b, bearer(token["token"])) == 200


def test_the_operator_does_not_read_a_tenants_people(client, tour, school):
    assert client.get(people_url(school.id), headers=tour.operator).status_code == 403


# Lists

def test_the_people_list_filters_by_role_and_subject(client, tour, school):
    physics, _ = tour.person(school.id, school.head, ["teacher"], ["Физика", "Астрономия"])
    kazakh, _ = tour.person(school.id, school.head, ["teacher", "class_teacher"], ["Қазақ тілі"])
    librarian, _ = tour.person(school.id, school.head, ["librarian"])
    headers = after(school.head, librarian["position"])

    assert list_ids(client, school, headers, role="teacher") == [physics["id"], kazakh["id"]]
    assert list_ids(client, school, headers, role="class_teacher") == [kazakh["id"]]
    assert list_ids(client, school, headers, role="librarian") == [librarian["id"]]
    assert list_ids(client, school, headers, subject="Астрономия") == [physics["id"]]
    assert list_ids(client, school, headers, subject="қазақ тілі") == [kazakh["id"]]  # any case
    assert list_ids(client, school, headers, subject="Химия") == []
    assert list_ids(client, school, headers, role="teacher", subject="Қазақ тілі") == [kazakh["id"]]
    unknown = client.get(people_url(school.id), query_string={"role": "janitor"}, headers=school.head)
    assert unknown.status_code == 422
    assert "role" in unknown.get_json()["errors"]


def test_pages_of_two_over_five_people_are_three_without_repeats_or_skips(client, tour, school):
    added = [tour.person(school.id, school.head, ["teacher"], full_name=f"Teacher {n}")[0] for n in range(4)]
    expected = [school.head_person["id"], *(p["id"] for p in added)]
    headers = after(school.head, added[-1]["position"])

    pages: list[list[str]] = []
    cursors: list[str | None] = []
    cursor = None
    for _ in range(5):
        query = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        response = client.get(people_url(school.id), query_string=query, headers=headers)
        assert response.status_code == 200
        body = response.get_json()
        pages.append([p["id"] for p in body["items"]])
        cursor = body["next_cursor"]
        cursors.append(cursor)
        if cursor is None:
            break

    assert [len(p) for p in pages] == [2, 2, 1]
    assert cursors[0] and cursors[1] and cursors[2] is None
    assert [pid for page in pages for pid in page] == expected


@pytest.mark.parametrize("limit", ["0", "501", "-1", "ten"])
def test_a_limit_outside_one_to_five_hundred_is_refused_naming_limit(client, school, limit):
    response = client.get(people_url(school.id), query_string={"limit": limit}, headers=school.head)
    assert response.status_code == 422
    assert response.mimetype == "application/problem+json"
    assert "limit" in response.get_json()["errors"]


def test_limits_of_one_and_five_hundred_are_accepted(client, school):
    for limit in (1, 500):
        response = client.get(people_url(school.id), query_string={"limit": limit}, headers=school.head)
        assert response.status_code == 200


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


@pytest.mark.parametrize("cursor", [
    "garbage!", "AAAA", "////", _b64(b"x12"), _b64(b"s"), _b64(b"s-5"),
    _b64("s²".encode()),  # a digit to str.isdigit(), not to int()
    _b64(b"s" + b"9" * 40),  # beyond any sequence number PostgreSQL can compare
])
def test_a_cursor_this_service_did_not_issue_is_refused_naming_cursor(client, school, cursor):
    response = client.get(people_url(school.id), query_string={"cursor": cursor}, headers=school.head)
    assert response.status_code == 422, response.get_json()
    assert response.mimetype == "application/problem+json"
    assert "cursor" in response.get_json()["errors"]


# Consistency between what a command answers and what a read shows

def test_a_person_reads_back_exactly_as_the_last_command_answered(client, tour, school):
    teacher, _ = tour.person(school.id, school.head, ["teacher"], ["Қазақ тілі"], "Асқар Бекұлы")
    token = issue(client, school, teacher["id"])
    client.delete(people_url(school.id, teacher["id"], "tokens", token["token_id"]), headers=school.head)
    left = client.delete(people_url(school.id, teacher["id"]), headers=school.head).get_json()
    read = client.get(people_url(school.id, teacher["id"]), headers=after(school.head, left["position"])).get_json()
    assert read == {k: v for k, v in left.items() if k != "position"}
    assert read["left_at"].endswith("+00:00") and read["joined_at"].endswith("+00:00")
    assert all(t["revoked"] for t in read["tokens"]) and len(read["tokens"]) == 2


def test_concurrent_changes_of_one_person_are_saved_or_refused_as_stale_never_lost(client, tour, school, platform):
    import threading

    person, _ = tour.person(school.id, school.head, ["teacher"], ["Начало"])
    app = client.application
    start = threading.Barrier(8)
    results: list[tuple[int, dict[str, Any]]] = []
    lock = threading.Lock()

    def change(n: int) -> None:
        own = app.test_client()
        start.wait()
        response = own.patch(people_url(school.id, person["id"]), json={"subjects": [f"Пән {n}"]}, headers=school.head)
        with lock:
            results.append((response.status_code, response.get_json()))

    threads = [threading.Thread(target=change, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    assert {status for status, _ in results} <= {200, 409}, results
    saved = sorted((int(body["position"]), body) for status, body in results if status == 200)
    assert saved
    last = saved[-1][1]
    read = client.get(people_url(school.id, person["id"]), headers=after(school.head, last["position"])).get_json()
    assert read["subjects"] == last["subjects"]
    changes = [e for e in platform.events.get(uuid.UUID(person["id"])) if type(e).__name__ == "Changed"]
    assert [e.subjects for e in changes] == [body["subjects"] for _, body in saved]


def test_a_teacher_cannot_revoke_someone_elses_token(client, tour, school):
    other, _ = tour.person(school.id, school.head, ["teacher"])
    _, teacher = tour.person(school.id, school.head, ["teacher"])
    token = issue(client, school, other["id"])
    response = client.delete(people_url(school.id, other["id"], "tokens", token["token_id"]), headers=teacher)
    assert response.status_code == 403
    assert own_tenant_status(client, school, bearer(token["token"])) == 200
