"""The pages of unions and of the audit, through the Flask test client: each page renders, a refusal of the Order
re-renders its form with the clause beside the field, a success redirects and shows its effect, and another
organization's or union's object is the 404 page exactly as a missing one."""

from __future__ import annotations

import re
import secrets
import uuid
from datetime import date, timedelta
from typing import Any

import pytest

from test_signin import GOOD, csrf_of, invite, token_of, web  # noqa: F401 - fixture
from unions_support import ELECTRICS, WELDING, Delivery, UnionScenario, delivery, ok, smtp, wait_until  # noqa: F401
from support import platform_today

# A grant ends within five years of today (domain/audit.py).
UNTIL = (platform_today() + timedelta(days=400)).isoformat()


def sign_in(web: Any, tour: Any, tenant_id: str, person_id: str, by: dict[str, str], lang: str = "ru") -> Any:
    """Invite an existing person, set their password through the page, sign in; return their browser."""
    login = f"p-{secrets.token_hex(5)}@college.kz"
    issued = invite(tour.client, tenant_id, person_id, by, email=login)
    assert issued.status_code == 201, issued.get_json()
    browser = web.test_client()
    path = f"/{lang}/invitations/{token_of(issued.get_json()['url'])}"
    assert send(browser, path, password=GOOD, password_confirm=GOOD).status_code == 302
    assert send(browser, f"/{lang}/login", login=login, password=GOOD).status_code == 302
    return browser


def send(browser: Any, path: str, **fields: Any) -> Any:
    """Open the page, then post its form with the CSRF token, as a browser does."""
    html = browser.get(path).get_data(as_text=True)
    return browser.post(path, data={"csrf_token": csrf_of(html), **fields})


def html(response: Any) -> str:
    return response.get_data(as_text=True)


def follow(browser: Any, response: Any) -> str:
    assert response.status_code == 302, html(response)[:3000]
    return html(browser.get(response.headers["Location"]))


@pytest.fixture(scope="module")
def scene(app: Any, settings: Any, web: Any) -> dict[str, Any]:
    """A union of three colleges with its chair and coordinator signed in on the pages."""
    from support import Tour

    client = app.test_client()
    tour = Tour(client, settings.operator_token)
    s = UnionScenario(client, tour)
    chair = sign_in(web, tour, s.a["id"], s.a_head_person["id"], tour.operator)
    coordinator_person = client.get(f"/api/v1/tenants/{s.department['id']}/people", headers=s.coordinator
                                    ).get_json()["items"][0]
    coordinator = sign_in(web, tour, s.department["id"], coordinator_person["id"], tour.operator)
    return {"s": s, "chair": chair, "coordinator": coordinator}


def missing_page(response: Any) -> bool:
    return response.status_code == 404 and "<h1>" in html(response)


def test_the_chair_sees_the_unions_and_founding_one_refuses_a_coordinator_that_is_no_regional_department(
        scene, tour):
    chair, s = scene["chair"], scene["s"]
    page = chair.get("/ru/unions")
    assert page.status_code == 200 and s.union["name"] in html(page)
    assert 'href="/kk/unions" hreflang="kk"' in html(page)  # the language switch keeps the page
    kazakh = html(chair.get("/kk/unions"))
    assert '<html lang="kk">' in kazakh and "Оқу-әдістемелік бірлестіктер" in kazakh
    english = html(chair.get("/en/unions"))
    assert "Educational-methodical unions" in english
    assert chair.get("/ru/unions?q=" + "ДӘНЕКЕРЛЕУ").status_code == 200
    assert s.union["name"] in html(chair.get("/ru/unions?q=ДӘНЕКЕРЛЕУ"))  # Kazakh capitals fold
    assert s.union["name"] not in html(chair.get("/ru/unions?q=nothing-like-it"))
    # A coordinator that is not a regional department: refused with p.22 beside the field, what was typed kept.
    refused = send(chair, "/ru/unions", name="Жаңа ОӘБ", sector="Құрылыс", specialties="0911000",
                   coordinator_id=s.b["id"])
    assert refused.status_code == 422
    text = html(refused)
    assert "п. 22" in text and 'id="coordinator_id-error"' in text and 'value="Жаңа ОӘБ"' in text
    assert 'aria-describedby="coordinator_id-error"' in text
    done = send(chair, "/ru/unions", name="Құрылыс ОӘБ " + secrets.token_hex(2), sector="Құрылыс",
                specialties="0911000, 1304000", coordinator_id=s.department["id"])
    shown = follow(chair, done)
    assert "Құрылыс ОӘБ" in shown and "0911000, 1304000" in shown


def test_the_coordinator_admits_members_and_records_the_chair_refusals_named_by_clause(scene, tour):
    coordinator, s = scene["coordinator"], scene["s"]
    path = f"/ru/unions/{s.id}"
    page = coordinator.get(path)
    assert page.status_code == 200 and "Алматинский колледж энергетики" in html(page)
    outside = send(coordinator, path, section="external", name="ТОО «Құрылыс»", kind="employer",
                   specialties="9999999")
    assert outside.status_code == 422 and "п. 24" in html(outside) and 'id="specialties-error"' in html(outside)
    joined = send(coordinator, path, section="external", name="ТОО «Құрылыс»", kind="social_partner",
                  specialties=WELDING)
    assert "ТОО «Құрылыс»" in follow(coordinator, joined)
    college = tour.tenant("tvet_college", name="Қарасай колледжі", parent_id=s.department["id"])
    admitted = send(coordinator, path, section="organization", tenant_id=college["id"], specialties=ELECTRICS)
    assert "Қарасай колледжі" in follow(coordinator, admitted)
    future = (platform_today() + timedelta(days=30)).isoformat()
    refused = send(coordinator, path, section="chair", person_id=s.a_head_person["id"],
                   council_decision_number="13", council_decision_date=future)
    assert refused.status_code == 422 and 'id="council_decision_date-error"' in html(refused)
    recorded = send(coordinator, path, section="chair", person_id=s.a_head_person["id"],
                    council_decision_number="14", council_decision_date="2025-09-02")
    assert "№ 14" in follow(coordinator, recorded)
    # A member's head may not admit: the form is not theirs (the same 404 as for a stranger).
    b_browser = sign_in(scene["coordinator"].application, tour, s.b["id"],
                        tour.client.get(f"/api/v1/tenants/{s.b['id']}/people", headers=s.b_head
                                        ).get_json()["items"][0]["id"], tour.operator)
    assert b_browser.get(path).status_code == 200
    assert missing_page(send(b_browser, path, section="external", name="X", kind="employer", specialties=WELDING))


def test_the_chair_adopts_a_decision_and_the_board_follows_delivery_and_acknowledgement(
        scene, tour, delivery, client, platform):
    chair, s = scene["chair"], scene["s"]
    path = f"/ru/unions/{s.id}/decisions/new"
    page = chair.get(path)
    assert page.status_code == 200 and "p.33.4" in html(page)
    counted = send(chair, path, title="Т", text="Т", direction="p.33.4", specialties=[WELDING], count="1")
    assert counted.status_code == 200 and "циркуляров: 2 " in html(counted)  # A and B for welding; no employer
    both = send(chair, path, title="Т", text="Т", direction="p.33.4", specialties=[WELDING, ELECTRICS], count="1")
    assert "циркуляров: 4 " in html(both)  # A, B, C and the college admitted for electrics
    wrong = send(chair, path, title="Тренажёры", text="Текст", direction="p.7.1", specialties=[WELDING])
    assert wrong.status_code == 422 and "p.33" in html(wrong) and 'id="direction-error"' in html(wrong)
    assert 'value="Тренажёры"' in html(wrong)
    adopted = send(chair, path, title="Цифровые тренажёры сварщиков", text="Рекомендуется внедрить.",
                   direction="p.33.4", specialties=[WELDING])
    assert adopted.status_code == 302
    board_path = adopted.headers["Location"].split("?")[0]
    board = html(chair.get(adopted.headers["Location"]))
    assert "Цифровые тренажёры сварщиков" in board and "выпущен" in board
    assert "unions-board.js" in board and "<script>" not in board
    decid = board_path.rsplit("/", 1)[1]
    position = client.get(f"/api/v1/unions/{s.id}/decisions/{decid}", headers=s.chair).get_json()
    delivery.run(platform.recorder.max_notification_id())
    rows = wait_until(lambda: (lambda rows: rows if {r["status"] for r in rows} == {"delivered"} else None)(
        chair.get(board_path + "/board.json").get_json()["rows"]))
    assert len(rows) == 2 and {r["status_text"] for r in rows} == {"доставлен"}
    b_circular = next(c for c in position["circulars"] if c["tenant_id"] == s.b["id"])
    ack = client.post(f"/api/v1/tenants/{s.b['id']}/circulars/{b_circular['id']}/acknowledgement", headers=s.b_head,
                      json={"response": "will_adopt", "note": "Внедрим в 2027 году"})
    assert ack.status_code == 200, ack.get_json()
    data = wait_until(lambda: (lambda d: d if d["counts"]["acknowledged"] == 1 else None)(
        chair.get(board_path + "/board.json").get_json()))
    row = next(r for r in data["rows"] if r["id"] == b_circular["id"])
    assert row["response"] == "внедрит" and row["note"] == "Внедрим в 2027 году"
    shown = html(chair.get(board_path))
    assert "Внедрим в 2027 году" in shown and "circular-acknowledged" in shown
    dashboard = html(chair.get("/ru/"))
    assert "Цифровые тренажёры сварщиков" in dashboard
    # A member organization's head sees its own circular only; a stranger gets the 404 page, as for no decision.
    stranger = sign_in(chair.application, tour, *_stranger(tour))
    assert missing_page(stranger.get(board_path)) and missing_page(stranger.get(board_path + "/board.json"))
    assert missing_page(chair.get(f"/ru/unions/{s.id}/decisions/{uuid.uuid4()}"))
    assert missing_page(stranger.get(f"/ru/unions/{s.id}")) and missing_page(chair.get(f"/ru/unions/{uuid.uuid4()}"))
    assert missing_page(stranger.get(f"/ru/unions/{s.id}/decisions/new"))


def _stranger(tour: Any) -> tuple[str, str, dict[str, str]]:
    college = tour.tenant("tvet_college")
    person, _ = tour.head(college["id"], "Бөтен адам")
    return college["id"], person["id"], tour.operator


def test_a_failed_circular_is_retried_by_the_chair_through_the_same_service(scene, tour, delivery, platform):
    import dataclasses

    from services import jobs
    from support import free_port

    chair, s = scene["chair"], scene["s"]
    adopted = send(chair, f"/ru/unions/{s.id}/decisions/new", title="Электр қауіпсіздігі", text="Мәтін",
                   direction="p.33.2", specialties=[ELECTRICS])
    assert adopted.status_code == 302
    board_path = adopted.headers["Location"].split("?")[0]
    broken = dataclasses.replace(delivery.settings, smtp_port=free_port(), smtp_timeout=1)
    jobs.configure(jobs.JobRuntime(broken, platform, delivery.engine))
    try:
        delivery.run(platform.recorder.max_notification_id())
    finally:
        jobs.configure(jobs.JobRuntime(delivery.settings, platform, delivery.engine))
    failed = wait_until(lambda: [r for r in chair.get(board_path + "/board.json").get_json()["rows"]
                                 if r["status"] == "failed"])
    page = html(chair.get(board_path))
    assert "доставка не удалась" in page and "circular-failed" in page
    retry_path = f"{board_path}/circulars/{failed[0]['id']}/retry"
    assert f'action="{retry_path}"' in page
    outsider = sign_in(chair.application, tour, *_stranger(tour))
    assert missing_page(outsider.post(retry_path, data={"csrf_token": csrf_of(html(outsider.get("/ru/")))}))
    retried = chair.post(retry_path, data={"csrf_token": csrf_of(page)})
    assert retried.status_code == 302
    shown = html(chair.get(retried.headers["Location"]))
    assert "выпущен" in shown
    again = chair.post(retry_path, data={"csrf_token": csrf_of(shown)})  # no longer failed: told, nothing done
    assert again.status_code == 302
    assert "Повторяется только недоставленный циркуляр; этот — выпущен." in html(chair.get(board_path))
    delivery.run(platform.recorder.max_notification_id())
    assert wait_until(lambda: {r["id"]: r["status"] for r in chair.get(board_path + "/board.json").get_json()["rows"]}
                      [failed[0]["id"]] == "delivered")


def _auditor(tour: Any) -> tuple[dict[str, Any], dict[str, Any], dict[str, str]]:
    authority = tour.tenant("regional_department")
    head_person, head = tour.head(authority["id"])
    auditor, _ = tour.person(authority["id"], head, ["auditor"], full_name="Аудитор Сәуле")
    return authority, auditor, head


def test_the_head_grants_an_auditor_who_reads_the_timeline_the_state_and_the_changes(scene, tour, web, client):
    s = scene["s"]
    head = sign_in(web, tour, s.b["id"], client.get(f"/api/v1/tenants/{s.b['id']}/people", headers=s.b_head
                                                    ).get_json()["items"][0]["id"], tour.operator)
    authority, auditor, authority_head = _auditor(tour)
    grants = head.get("/ru/audit-grants")
    assert grants.status_code == 200
    bad = send(head, "/ru/audit-grants", section="grant", person_id="not an id", until=UNTIL)
    assert bad.status_code == 422 and 'id="person_id-error"' in html(bad)
    not_auditor = send(head, "/ru/audit-grants", section="grant", person_id=s.a_head_person["id"], until=UNTIL)
    assert not_auditor.status_code == 422
    granted = send(head, "/ru/audit-grants", section="grant", person_id=auditor["id"], until=UNTIL)
    assert str(date.fromisoformat(UNTIL).year) in follow(head, granted)
    as_auditor = sign_in(web, tour, authority["id"], auditor["id"], authority_head)
    listed = html(as_auditor.get("/ru/audit"))
    assert "Алматинский колледж энергетики" in listed
    timeline = as_auditor.get(f"/ru/audit/{s.b['id']}/timeline")
    assert timeline.status_code == 200
    text = html(timeline)
    assert "п. 34" in text and "Ирина Петрова (Руководитель организации)" in text and "Циркуляр: ознакомление" in text
    # Each line names what it was done to: the person who joined, the circular's decision, the grant's auditor.
    assert 'Человек: вступление<br><span class="object">Ирина Петрова</span>' in text
    assert re.search(r'Циркуляр: ознакомление<br><span class="object">[^<]+</span>', text)
    assert '<br><span class="object">Аудитор Сәуле</span>' in text
    for typed in ("p.34", "п. 34", "34"):  # the code, or as the page writes it
        clause = html(as_auditor.get(f"/ru/audit/{s.b['id']}/timeline", query_string={"clause": typed}))
        assert "Циркуляр: ознакомление" in clause and "п. 22" not in clause.split("<tbody>")[-1], typed
    refused = as_auditor.get(f"/ru/audit/{s.b['id']}/timeline?from=yesterday")
    assert refused.status_code == 422 and 'id="from-error"' in html(refused)
    # Days as the API takes them (domain/days.py): not compact, not outside 2000-2099.
    for day in ("20261203", "9999-12-31", "0001-01-01"):
        assert as_auditor.get(f"/ru/audit/{s.b['id']}/as-of?at={day}").status_code == 422, day
        assert as_auditor.get(f"/ru/audit/{s.b['id']}/timeline?from={day}").status_code == 422, day
    today = platform_today().isoformat()
    state = html(as_auditor.get(f"/ru/audit/{s.b['id']}/as-of?at={today}"))
    assert "Ирина Петрова" in state and "Алматинский колледж энергетики" in state
    assert "Аудитор Сәуле" in state and auditor["id"] not in state  # a grant is named by its auditor
    before = html(as_auditor.get(f"/ru/audit/{s.b['id']}/as-of?at=2000-01-01"))
    assert "Ирина Петрова" not in before
    changes = html(as_auditor.get(f"/ru/audit/{s.b['id']}/changes?from={today}&to={today}"))
    assert "<tbody>" in changes and 'Человек<br><span class="object">Ирина Петрова</span>' in changes
    assert as_auditor.get(f"/ru/audit/{s.b['id']}/changes?from={today}&to=2000-01-01").status_code == 422
    verify = html(as_auditor.get("/ru/audit/verify"))
    assert "status ok" in verify
    # Another tenant (no grant) is the 404 page, as a tenant that does not exist; so is every audit page for a head.
    assert missing_page(as_auditor.get(f"/ru/audit/{s.a['id']}/timeline"))
    assert missing_page(as_auditor.get(f"/ru/audit/{uuid.uuid4()}/as-of?at={today}"))
    assert missing_page(head.get(f"/ru/audit/{s.b['id']}/timeline")) and missing_page(head.get("/ru/audit/verify"))
    # The reads are recorded as the API records them.
    assert wait_until(lambda: any(e["actor"]["person_id"] == auditor["id"] for e in client.get(
        f"/api/v1/audit/tenants/{s.b['id']}/events?type=AuditRead&limit=500", headers=tour.operator
    ).get_json()["items"]))
    page = html(head.get("/ru/audit-grants"))
    grant_id = re.search(r'name="grant_id" value="([^"]+)"', page).group(1)
    revoked = head.post("/ru/audit-grants", data={"csrf_token": csrf_of(page), "section": "revoke",
                                                   "grant_id": grant_id})
    assert "отозван" in follow(head, revoked)
    assert wait_until(lambda: missing_page(as_auditor.get(f"/ru/audit/{s.b['id']}/timeline")))


def test_the_timeline_shows_fifty_events_a_page_with_next_and_previous_links(web, tour, client):
    school = tour.tenant("school", name="Мектеп " + secrets.token_hex(2))
    _, head = tour.head(school["id"], "Директор")
    for i in range(30):  # each person: added, and a token issued
        tour.person(school["id"], head, ["teacher"], full_name=f"Мұғалім {i}")
    authority, auditor, authority_head = _auditor(tour)
    granted = client.post(f"/api/v1/tenants/{school['id']}/audit-grants", headers=head,
                          json={"person_id": auditor["id"], "until": UNTIL})
    assert granted.status_code == 201, granted.get_json()
    browser = sign_in(web, tour, authority["id"], auditor["id"], authority_head)
    path = f"/ru/audit/{school['id']}/timeline"
    first = wait_until(lambda: (lambda text: text if 'rel="next"' in text else None)(html(browser.get(path))))
    assert first.count('<td data-label="Когда">') == 50 and 'rel="prev"' not in first
    following = re.search(r'href="([^"]+)" rel="next"', first).group(1).replace("&amp;", "&")
    second = html(browser.get(following))
    assert 0 < second.count('<td data-label="Когда">') <= 50 and 'rel="prev"' in second
    back = re.search(r'href="([^"]+)" rel="prev"', second).group(1).replace("&amp;", "&")
    assert html(browser.get(back)).count('<td data-label="Когда">') == 50
    # A filter is kept from page to page.
    teachers = html(browser.get(path + "?kind=Person"))
    assert "Организация: регистрация" not in teachers and 'rel="next"' in teachers
    assert "kind=Person" in re.search(r'href="([^"]+)" rel="next"', teachers).group(1)
