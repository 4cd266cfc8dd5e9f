"""The organization's pages: people, units, leaders, annual plans and meetings, through the Flask test client
signed in through the form; the Order's refusals beside their field with the clause; another tenant's objects
answer the same 404 page as missing ones."""

from __future__ import annotations

import functools
import re
import uuid
from datetime import timedelta
from html import unescape
from typing import Any

import pytest

from domain.units import academic_year_of
from test_signin import csrf_of, email, signed_in_person, token_of, web_app, without_csrf  # noqa: F401 - shared
from unions_support import smtp  # noqa: F401 - fixture
from support import platform_today

YEAR = academic_year_of(platform_today())


@pytest.fixture(scope="module")
def web(settings: Any, platform: Any, web_engine: Any, projector: Any) -> Any:
    return web_app(settings, platform, web_engine)


def text_of(answer: Any) -> str:
    return unescape(answer.get_data(as_text=True))


def send(browser: Any, path: str, data: dict[str, Any]) -> Any:
    """Open the page, then post its form with the page's CSRF token, as a browser does."""
    token = csrf_of(browser.get(path).get_data(as_text=True))
    return browser.post(path, data={"csrf_token": token, **data})


def plain(answer: Any) -> str:
    """Return a page's text without its CSRF token (signed with the moment it was made)."""
    return without_csrf(text_of(answer))


def error_beside(html: str, field_id: str) -> str:
    """Return the refusal shown beside a field, after checking the field points at it (aria-describedby)."""
    found = re.search(rf'<span class="error" id="{re.escape(field_id)}-error">([^<]*)</span>', html)
    assert found, f"no error beside {field_id}"
    assert re.search(rf'aria-describedby="[^"]*{re.escape(field_id)}-error', html), "the field does not name it"
    return unescape(found.group(1))


def teachers(tour: Any, tenant_id: str, head: dict[str, str], count: int, subject: str = "Математика"
             ) -> list[dict[str, Any]]:
    """Add teachers through the API; return once the people read model shows them (the pages' lists read it)."""
    added = [tour.person(tenant_id, head, ["teacher"], [subject], full_name=f"Мұғалім {uuid.uuid4().hex[:6]}")[0]
             for _ in range(count)]
    tour.client.get(f"/api/v1/tenants/{tenant_id}/people", headers={**head, "X-Min-Position": added[-1]["position"]})
    return added


@pytest.fixture
def school(web: Any, tour: Any) -> dict[str, Any]:
    """A school whose head is signed in through the form (in Russian), and the head's API headers."""
    tenant = tour.tenant()
    head_person, head_headers = tour.head(tenant["id"], "Айгүл Сәрсенбайқызы")
    login = email()
    issued = tour.client.post(f"/api/v1/tenants/{tenant['id']}/people/{head_person['id']}/invitations",
                              json={"email": login}, headers=head_headers).get_json()
    browser = web.test_client()
    path = f"/ru/invitations/{token_of(issued['url'])}"
    password = "жасыл алма терезе 2026"
    assert send(browser, path, {"password": password, "password_confirm": password}).status_code == 302
    assert send(browser, "/ru/login", {"login": login, "password": password}).status_code == 302
    return {"tenant": tenant, "browser": browser, "head": head_person, "headers": head_headers}


def form_unit(tour: Any, school: dict[str, Any], members: list[dict[str, Any]]) -> dict[str, Any]:
    answer = tour.client.post(f"/api/v1/tenants/{school['tenant']['id']}/units", headers=school["headers"], json={
        "kind": "methodical_association", "name": "Математика ӘБ", "subject": "Математика",
        "member_ids": [m["id"] for m in members]})
    assert answer.status_code == 201, answer.get_json()
    return answer.get_json()


# People

def test_the_head_adds_a_person_and_finds_them_by_name_in_any_case(school):
    browser = school["browser"]
    page = browser.get("/ru/people")
    assert page.status_code == 200 and "<h1>" in text_of(page) and 'name="full_name"' in text_of(page)
    added = send(browser, "/ru/people", {"section": "add", "full_name": "Әсел Қайратқызы Нұрғалиева",
                                         "roles": ["teacher"], "subjects": "Математика, Физика"})
    assert added.status_code == 302
    shown = text_of(browser.get(added.headers["Location"]))
    assert "Әсел Қайратқызы Нұрғалиева" in shown and "Математика, Физика" in shown
    # Kazakh and Russian capitals fold as PostgreSQL's lower() folds them.
    found = text_of(browser.get("/ru/people", query_string={"q": "ӘСЕЛ ҚАЙРАТ"}))
    assert "Нұрғалиева" in found
    assert "Нұрғалиева" not in text_of(browser.get("/ru/people", query_string={"q": "Бекжан"}))


def test_a_role_the_organization_has_not_is_refused_beside_the_roles_with_its_clause(school):
    answer = send(school["browser"], "/ru/people", {"section": "add", "full_name": "Иван Петров",
                                                    "roles": ["industrial_training_master"]})
    assert answer.status_code == 422
    html = answer.get_data(as_text=True)
    said = error_beside(html, "roles")
    assert re.search(r"\(п\. \d+", said), said  # the clause as Russian writes it
    assert 'value="Иван Петров"' in html  # what was typed is kept


def test_the_head_changes_roles_invites_and_after_a_confirmation_marks_a_person_as_left(school, tour):
    browser = school["browser"]
    teacher = teachers(tour, school["tenant"]["id"], school["headers"], 1)[0]
    path = f"/ru/people/{teacher['id']}"
    changed = send(browser, path, {"section": "edit", "full_name": teacher["full_name"],
                                   "roles": ["teacher", "methodist"], "subjects": "Химия"})
    assert changed.status_code == 302
    assert "Химия" in text_of(browser.get(path))
    login = email()
    invited = send(browser, path, {"section": "invite", "email": login})
    html = text_of(invited)
    assert invited.status_code == 201 and "/invitations/" in html and login in html
    link = re.search(r'id="invitation-link"[^>]*>([^<]+)</textarea>', html).group(1)
    assert "/invitations/" not in text_of(browser.get(path))  # the link is shown once
    assert web_open(browser, link).status_code == 200  # and works
    asked = send(browser, path, {"section": "leave"})
    assert asked.status_code == 200 and 'name="confirm"' in text_of(asked)
    gone = send(browser, path, {"section": "leave", "confirm": "yes"})
    assert gone.status_code == 302
    listed = tour.client.get(f"/api/v1/tenants/{school['tenant']['id']}/people/{teacher['id']}",
                             headers=school["headers"]).get_json()
    assert listed["status"] == "left"


def web_open(browser: Any, url: str) -> Any:
    from urllib.parse import urlsplit

    return browser.get(urlsplit(url).path)


def test_a_teacher_reads_the_people_but_adds_nobody_and_cannot_mark_anyone_as_left(web, tour):
    browser, teacher, _login, tenant = signed_in_person(web, tour, ["teacher"])
    home = text_of(browser.get("/ru/"))
    assert "Вы пока не состоите ни в одном методическом объединении." in home
    assert "Планы, ждущие утверждения" not in home  # the head's and deputy's part only
    listed = browser.get("/ru/people")
    assert listed.status_code == 200 and 'name="full_name"' not in text_of(listed)
    refused = send(browser, "/ru/people", {"section": "add", "full_name": "X", "roles": ["teacher"]})
    assert refused.status_code == 403
    assert send(browser, f"/ru/people/{teacher['id']}", {"section": "leave", "confirm": "yes"}).status_code == 403


def test_another_tenants_person_or_unit_is_the_same_404_as_a_missing_one(school, tour):
    other = tour.tenant()
    _, other_head = tour.head(other["id"])
    stranger = teachers(tour, other["id"], other_head, 3)
    unit = tour.client.post(f"/api/v1/tenants/{other['id']}/units", headers=other_head, json={
        "kind": "methodical_association", "name": "Чужое", "subject": "Математика",
        "member_ids": [s["id"] for s in stranger]}).get_json()
    browser = school["browser"]
    browser.get("/ru/")  # the flash message of signing in is shown once, here
    missing = uuid.uuid4()
    for theirs, nobody in ((f"/ru/people/{stranger[0]['id']}", f"/ru/people/{missing}"),
                           (f"/ru/units/{unit['id']}", f"/ru/units/{missing}"),
                           (f"/ru/units/{unit['id']}/plans/{YEAR}", f"/ru/units/{missing}/plans/{YEAR}"),
                           (f"/ru/units/{unit['id']}/meetings/new", f"/ru/units/{missing}/meetings/new")):
        a, b = browser.get(theirs), browser.get(nobody)
        assert a.status_code == b.status_code == 404
        ids = (stranger[0]["id"], unit["id"])
        assert functools.reduce(lambda t, i: t.replace(i, "ID"), ids, plain(a)) == plain(b).replace(str(missing), "ID")
    token = csrf_of(browser.get("/ru/people").get_data(as_text=True))
    answer = browser.post(f"/ru/people/{stranger[0]['id']}", data={"csrf_token": token, "section": "leave",
                                                                    "confirm": "yes"})
    assert answer.status_code == 404
    after = tour.client.get(f"/api/v1/tenants/{other['id']}/people/{stranger[0]['id']}", headers=other_head)
    assert after.get_json()["status"] == "active"


# Units

def test_forming_a_unit_with_two_teachers_is_refused_beside_the_members_with_p26(school, tour):
    two = teachers(tour, school["tenant"]["id"], school["headers"], 2)
    answer = send(school["browser"], "/ru/units", {"kind": "methodical_association", "name": "Математика ӘБ",
                                                   "subject": "Математика", "member_ids": [t["id"] for t in two]})
    assert answer.status_code == 422
    html = answer.get_data(as_text=True)
    said = error_beside(html, "member_ids")
    assert "п. 26" in said and "3" in said
    assert 'value="Математика ӘБ"' in html and html.count("checked") >= 2  # what was chosen is kept


def test_a_kind_the_school_does_not_form_is_refused_beside_the_kind_with_its_clause(school, tour):
    three = teachers(tour, school["tenant"]["id"], school["headers"], 3)
    answer = send(school["browser"], "/ru/units", {"kind": "subject_cycle_commission", "name": "ПЦК",
                                                   "subject": "Математика", "member_ids": [t["id"] for t in three]})
    assert answer.status_code == 422
    assert "п. 16" in error_beside(answer.get_data(as_text=True), "kind")


def test_the_head_forms_a_unit_adds_and_removes_a_member_and_records_its_leader(school, tour):
    browser = school["browser"]
    three = teachers(tour, school["tenant"]["id"], school["headers"], 4)
    formed = send(browser, "/ru/units", {"kind": "methodical_association", "name": "Математика пәні ӘБ",
                                         "subject": "Математика", "member_ids": [t["id"] for t in three[:3]]})
    assert formed.status_code == 302
    path = formed.headers["Location"]
    page = text_of(browser.get(path))
    assert "Математика пәні ӘБ" in page and "п. 30" in page  # no leader yet: the finding with its clause
    assert "Математика пәні ӘБ" in text_of(browser.get("/ru/units", query_string={"q": "математика ПӘНІ"}))
    assert send(browser, path, {"section": "add_member", "person_id": three[3]["id"]}).status_code == 302
    assert three[3]["full_name"] in text_of(browser.get(path))
    assert send(browser, path, {"section": "remove_member", "person_id": three[3]["id"]}).status_code == 302
    # A leader who is not a member is refused beside the field (p.30).
    outsider = teachers(tour, school["tenant"]["id"], school["headers"], 1)[0]
    refused = send(browser, path, {"section": "leader", "person_id": outsider["id"],
                                   "starts_on": platform_today().isoformat()})
    assert refused.status_code == 422 and "п. 30" in error_beside(refused.get_data(as_text=True), "leader_person_id")
    chosen = send(browser, path, {"section": "leader", "person_id": three[0]["id"],
                                  "starts_on": platform_today().isoformat()})
    assert chosen.status_code == 302
    unit_id = path.rstrip("/").rsplit("/", 1)[1]
    body = tour.client.get(f"/api/v1/tenants/{school['tenant']['id']}/units/{unit_id}",
                           headers=school["headers"]).get_json()
    assert body["leader"]["person_id"] == three[0]["id"] and body["member_count"] == 3
    listed = text_of(browser.get("/ru/units"))
    assert three[0]["full_name"] in listed


# Plans and meetings

def leader_signed_in(web: Any, tour: Any, school: dict[str, Any]) -> tuple[Any, dict[str, Any]]:
    """A unit whose leader signs in through the form; return the leader's browser and the unit."""
    from test_signin import post_form

    members = teachers(tour, school["tenant"]["id"], school["headers"], 3)
    unit = form_unit(tour, school, members)
    chosen = tour.client.post(f"/api/v1/tenants/{school['tenant']['id']}/units/{unit['id']}/leaders",
                              headers=school["headers"], json={"person_id": members[0]["id"],
                                                               "starts_on": platform_today().isoformat()})
    assert chosen.status_code == 201, chosen.get_json()
    login = email()
    issued = tour.client.post(f"/api/v1/tenants/{school['tenant']['id']}/people/{members[0]['id']}/invitations",
                              json={"email": login}, headers=school["headers"]).get_json()
    browser = web.test_client()
    password = "көк теңіз жағасы 2026"
    path = f"/ru/invitations/{token_of(issued['url'])}"
    assert post_form(browser, path, password=password, password_confirm=password).status_code == 302
    assert post_form(browser, "/ru/login", login=login, password=password).status_code == 302
    return browser, {**unit, "members": members}


def test_the_leader_drafts_the_plan_a_foreign_direction_is_refused_and_the_head_approves_it(web, tour, school):
    browser, unit = leader_signed_in(web, tour, school)
    home = text_of(browser.get("/ru/"))
    assert unit["name"] in home  # my units
    path = f"/ru/units/{unit['id']}/plans/{YEAR}"
    editor = text_of(browser.get(path))
    assert 'value="p.7.1"' in editor and 'value="p.13.1"' in editor and 'value="p.9.1"' not in editor
    start = int(YEAR[:4])
    refused = send(browser, path, {"section": "save", "items-0-direction": "p.9.1", "items-0-title": "Семинар",
                                   "items-1-direction": "p.7.3", "items-1-title": "Ашық сабақтар"})
    assert refused.status_code == 422
    assert "п. 7" in error_beside(refused.get_data(as_text=True), "items-0-direction")
    saved = send(browser, path, {"section": "save", "items-0-direction": "p.7.1", "items-0-title": "Семинар",
                                 "items-0-due": f"{start}-11-15", "items-1-direction": "p.13.1",
                                 "items-1-title": "Ашық сабақтар", "items-2-direction": "", "items-2-title": ""})
    assert saved.status_code == 302
    draft = text_of(browser.get(path))
    assert f"15.11.{start}" in draft and f"{start}-11-15)" not in draft  # the due day as Russian writes it
    assert send(browser, path, {"section": "approve"}).status_code == 403  # the leader does not approve (p.29)
    head = school["browser"]
    waiting = text_of(head.get("/ru/"))
    assert unit["name"] in waiting and path in waiting  # plans waiting for approval
    approved = send(head, path, {"section": "approve"})
    assert approved.status_code == 302
    body = tour.client.get(f"/api/v1/tenants/{school['tenant']['id']}/units/{unit['id']}/plans/{YEAR}",
                           headers=school["headers"]).get_json()
    assert body["status"] == "approved" and [i["direction"] for i in body["items"]] == ["p.7.1", "p.13.1"]
    assert path not in text_of(head.get("/ru/"))
    again = send(browser, path, {"section": "save", "items-0-direction": "p.7.1", "items-0-title": "X"})
    assert again.status_code in (403, 422)  # an approved plan is not edited (p.29)


def test_the_leader_records_a_meeting_and_a_future_date_is_refused_beside_it(web, tour, school):
    browser, unit = leader_signed_in(web, tour, school)
    path = f"/ru/units/{unit['id']}/meetings/new"
    assert browser.get(path).status_code == 200
    members = [m["id"] for m in unit["members"]]
    tomorrow = (platform_today() + timedelta(days=1)).isoformat()
    refused = send(browser, path, {"held_on": tomorrow, "agenda-0-direction": "p.7.2",
                                   "agenda-0-title": "Нормативтік құжаттар", "minutes": "Хаттама",
                                   "attendee_ids": members[:2]})
    assert refused.status_code == 422
    assert "п. 25" in error_beside(refused.get_data(as_text=True), "held_on")
    recorded = send(browser, path, {"held_on": platform_today().isoformat(), "agenda-0-direction": "p.7.2",
                                    "agenda-0-title": "Нормативтік құжаттар", "minutes": "Хаттама",
                                    "attendee_ids": members[:2]})
    assert recorded.status_code == 302
    assert "Нормативтік құжаттар" in text_of(browser.get(recorded.headers["Location"]))


def test_the_pages_speak_kazakh_and_keep_the_page_when_the_language_is_switched(school, tour):
    browser = school["browser"]
    page = text_of(browser.get("/kk/units"))
    assert 'lang="kk"' in page and "<h1>Әдістемелік бірлестіктер</h1>" in page and "Бірлестік құру" in page
    assert 'href="/ru/units"' in page and 'href="/en/units"' in page


def test_a_list_shows_fifty_rows_with_next_and_previous_links(school, tour):
    tenant_id = school["tenant"]["id"]
    last = None
    for number in range(52):
        answer = tour.client.post(f"/api/v1/tenants/{tenant_id}/people", headers=school["headers"], json={
            "full_name": f"Оқытушы {number:02d}", "roles": ["teacher"], "subjects": []})
        last = answer.get_json()["position"]
    tour.client.get(f"/api/v1/tenants/{tenant_id}/people", headers={**school["headers"], "X-Min-Position": last})
    first = text_of(school["browser"].get("/ru/people", query_string={"q": "оқытушы"}))
    assert first.count("<tr><td") == 50 and 'rel="next"' in first and 'rel="prev"' not in first
    assert "Оқытушы 00" in first and "Оқытушы 50" not in first
    second = text_of(school["browser"].get("/ru/people", query_string={"q": "оқытушы", "page": "2"}))
    assert second.count("<tr><td") == 2 and 'rel="prev"' in second and 'rel="next"' not in second
    assert "Оқытушы 50" in second and "Оқытушы 51" in second
    assert school["browser"].get("/ru/people", query_string={"page": "nonsense"}).status_code == 200


def test_typed_text_with_a_nul_character_is_stored_without_it(school):
    added = send(school["browser"], "/ru/people", {"section": "add", "full_name": "Нұр\x00лан Әлиев",
                                                   "roles": ["teacher"], "subjects": "Тарих\x00"})
    assert added.status_code == 302
    assert "Нұрлан Әлиев" in text_of(school["browser"].get(added.headers["Location"]))


def test_with_smtp_the_page_says_the_invitation_was_emailed_and_it_was(settings, platform, web_engine, projector,
                                                                       tour, smtp):
    mailbox, port = smtp
    mailing = web_app(settings, platform, web_engine, changed={
        "smtp_host": "127.0.0.1", "smtp_port": port, "smtp_from": "platform@methodical.kz"})
    browser, head, _login, tenant = signed_in_person(mailing, tour)
    head_headers = tour.token(tenant["id"], head["id"], tour.operator)
    teacher = teachers(tour, tenant["id"], head_headers, 1)[0]
    login = email()
    answer = send(browser, f"/ru/people/{teacher['id']}", {"section": "invite", "email": login})
    html = text_of(answer)
    assert answer.status_code == 201 and f"Приглашение отправлено на {login}" in html
    link = re.search(r'id="invitation-link"[^>]*>([^<]+)</textarea>', html).group(1)
    (message,) = mailbox.to(login)
    assert link in message.get_body().get_content()


# The web's isolation matrix of the organization's pages: every role x every page that takes an object's id x
# GET and POST, for another tenant's object, answers the 404 page, the same as for a missing id. A page of this
# module that takes an id and is missing here fails test_every_page_is_declared_with_what_it_shows (test_signin).

ORG_PAGES = {
    "/<lang>/people": "the person's own organization's people",
    "/<lang>/units": "the units the person's organization formed or its people belong to",
    "/<lang>/people/<uuid:pid>": "isolation matrix below",
    "/<lang>/units/<uuid:uid>": "isolation matrix below",
    "/<lang>/units/<uuid:uid>/plans/<year>": "isolation matrix below",
    "/<lang>/units/<uuid:uid>/meetings/new": "isolation matrix below",
}
MATRIX = {
    "/<lang>/people/<uuid:pid>": ("/ru/people/{person}", [{"section": "edit", "full_name": "X", "roles": ["teacher"]},
                                                         {"section": "invite", "email": "x@mektep.kz"},
                                                         {"section": "leave", "confirm": "yes"}]),
    "/<lang>/units/<uuid:uid>": ("/ru/units/{unit}", [{"section": "add_member", "person_id": "{person}"},
                                                     {"section": "remove_member", "person_id": "{person}"},
                                                     {"section": "leader", "person_id": "{person}",
                                                      "starts_on": platform_today().isoformat()}]),
    "/<lang>/units/<uuid:uid>/plans/<year>": (f"/ru/units/{{unit}}/plans/{YEAR}", [
        {"section": "save", "items-0-direction": "p.7.1", "items-0-title": "X"}, {"section": "approve"}]),
    "/<lang>/units/<uuid:uid>/meetings/new": ("/ru/units/{unit}/meetings/new", [
        {"held_on": platform_today().isoformat(), "agenda-0-direction": "p.7.1", "agenda-0-title": "X",
         "attendee_ids": ["{person}"]}]),
}


def test_every_page_of_an_object_is_in_the_isolation_matrix(web):
    with_ids = {re.sub(r"<any\([^)]*\):lang>", "<lang>", r.rule) for r in web.url_map.iter_rules()
                if r.endpoint.startswith("web_org.") and "<uuid:" in r.rule}
    assert with_ids == set(MATRIX)
    assert set(ORG_PAGES) == {re.sub(r"<any\([^)]*\):lang>", "<lang>", r.rule) for r in web.url_map.iter_rules()
                              if r.endpoint.startswith("web_org.")}


@pytest.mark.parametrize("roles", [None, ["deputy_head"], ["teacher"], ["methodist"]], ids=lambda r: (r or ["head"])[0])
def test_every_role_gets_the_same_404_for_another_tenants_object_as_for_a_missing_one(web, tour, roles):
    other = tour.tenant()
    _, other_head = tour.head(other["id"])
    theirs = teachers(tour, other["id"], other_head, 3)
    unit = form_unit(tour, {"tenant": other, "headers": other_head}, theirs)
    draft = tour.client.post(f"/api/v1/tenants/{other['id']}/units/{unit['id']}/leaders", headers=other_head,
                             json={"person_id": theirs[0]["id"], "starts_on": platform_today().isoformat()})
    assert draft.status_code == 201
    browser, _person, _login, _tenant = signed_in_person(web, tour, roles)
    browser.get("/ru/")  # the flash message of signing in is shown once, here
    ids = {"person": theirs[0]["id"], "unit": unit["id"]}
    nobody = {"person": str(uuid.uuid4()), "unit": str(uuid.uuid4())}
    for path, bodies in MATRIX.values():
        foreign, missing = path.format(**ids), path.format(**nobody)
        for body in [None, *bodies]:
            answers = []
            for target, names in ((foreign, ids), (missing, nobody)):
                if body is None:
                    answers.append(browser.get(target))
                else:
                    token = csrf_of(browser.get("/ru/people").get_data(as_text=True))
                    filled = {k: ([v.format(**names) for v in value] if isinstance(value, list)
                                  else value.format(**names)) for k, value in body.items()}
                    answers.append(browser.post(target, data={"csrf_token": token, **filled}))
            a, b = answers
            assert a.status_code == b.status_code == 404, (foreign, body, a.status_code, b.status_code)
            shown = functools.reduce(lambda t, i: t.replace(i, "ID"), ids.values(), plain(a))
            assert shown == functools.reduce(lambda t, i: t.replace(i, "ID"), nobody.values(), plain(b))
    after = tour.client.get(f"/api/v1/tenants/{other['id']}/units/{unit['id']}", headers=other_head).get_json()
    assert after["member_count"] == 3 and after["leader"]["person_id"] == theirs[0]["id"]
    person = tour.client.get(f"/api/v1/tenants/{other['id']}/people/{theirs[0]['id']}", headers=other_head).get_json()
    assert person["status"] == "active" and person["full_name"] == theirs[0]["full_name"]


def test_the_unit_form_offers_the_teachers_of_the_subject_typed(school, tour):
    history = teachers(tour, school["tenant"]["id"], school["headers"], 1, subject="Қазақстан тарихы")[0]
    maths = teachers(tour, school["tenant"]["id"], school["headers"], 1)[0]
    shown = send(school["browser"], "/ru/units", {"section": "show", "kind": "methodical_association",
                                                  "name": "Тарих ӘБ", "subject": "ҚАЗАҚСТАН ТАРИХЫ"})
    html = text_of(shown)
    assert shown.status_code == 200 and history["full_name"] in html and maths["full_name"] not in html
    assert 'value="Тарих ӘБ"' in html  # nothing typed is lost, nothing formed
