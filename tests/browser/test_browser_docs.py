"""In a real browser, in Russian and Kazakh: the operator registers a college and invites its head; a teacher
drafts a working program and submits it to the methodical council; the council's chair gives a conclusion; the
deputy head approves; the college's head acknowledges a union's circular from the inbox. Every page is
screenshotted at a phone's and a desktop's width and checked by axe-core."""

from __future__ import annotations

import secrets
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit
from uuid import UUID

import pytest
from playwright.sync_api import expect

from conftest import Shots, accept_invitation, context_of, invited, new_page
from support import invalid_bin, platform_today, valid_bin
from unions_support import WELDING, UnionScenario, delivery, smtp  # noqa: F401 - fixtures

PDF = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\n%%EOF\n"
TEXT = {
    "ru": {"college": "Карагандинский политехнический колледж", "head": "Бауыржан Сейтказиевич Омаров",
           "title": "Рабочая учебная программа по дисциплине «Сварочное производство»",
           "note": "Внедрим тренажёры со следующего учебного года"},
    "kk": {"college": "Қарағанды политехникалық колледжі", "head": "Бауыржан Сейітқазыұлы Омаров",
           "title": "«Дәнекерлеу өндірісі» пәні бойынша жұмыс оқу бағдарламасы",
           "note": "Тренажерлерді келесі оқу жылынан енгіземіз"},
}


def submit_form(page: Any, action: str) -> None:
    page.click(f"form:has(input[name=action][value={action}]) button[type=submit]")
    page.wait_for_load_state()


@pytest.mark.parametrize("lang", ["ru", "kk"])
def test_a_document_goes_from_draft_to_approval_and_a_circular_is_acknowledged(
        chromium, served, tour, platform, settings, engine, delivery, lang):  # noqa: F811 - fixture
    from projections import tenants as tenants_rm
    from projections.base import wait_for_position

    text = TEXT[lang]
    union = UnionScenario(tour.client, tour)  # the regional department the college reports to, and its union
    wait_for_position(engine, tenants_rm.read_model, platform.recorder.max_notification_id(), 10)
    shots = Shots(f"docs-{lang}")
    browser, page = new_page(chromium, lang)

    # The operator signs in with the token, registers the college (a wrong BIN first) and invites its head.
    page.goto(f"{served}/{lang}/tenants")
    page.wait_for_url(f"**/{lang}/login**")  # the operator's pages ask the operator to sign in
    shots.check(page, "01-operator-login")
    page.fill("#login", "operator")
    page.fill("#password", settings.operator_token)
    page.click("main button[type=submit]")
    page.wait_for_url(f"**/{lang}/tenants")
    page.fill("#name", f"{text['college']} {secrets.token_hex(2)}")
    page.select_option("#kind", "tvet_college")
    page.fill("#bin", invalid_bin())
    page.fill("#region", "Қарағанды облысы")
    page.select_option("#parent_id", union.department["id"])
    page.select_option("#language", lang)
    page.click("form:has(#bin) button[type=submit]")
    expect(page.locator("#bin-error")).to_be_visible()
    assert "bin-error" in page.locator("#bin").get_attribute("aria-describedby")
    assert page.input_value("#region") == "Қарағанды облысы"  # what was typed is kept
    shots.check(page, "03-tenants-bin-refused")
    page.fill("#bin", valid_bin())
    page.click("form:has(#bin) button[type=submit]")
    page.wait_for_url(f"**/{lang}/tenants/*")
    college_id = page.url.rstrip("/").rsplit("/", 1)[1]
    shots.check(page, "04-tenant-registered")
    page.fill("#full_name", text["head"])
    page.click("form:has(#full_name) button[type=submit]")
    head_id = page.locator("#person_id option").first.get_attribute("value")
    head_login = f"head-{secrets.token_hex(4)}@college.kz"
    page.fill("form:has(#person_id) #email", head_login)
    page.select_option("form:has(#person_id) #language", lang)
    page.click("form:has(#person_id) button[type=submit]")
    notice = page.locator(".notice.invitation").inner_text()
    head_link = urlsplit(notice.rsplit(" ", 1)[1]).path
    assert head_link.startswith(f"/{lang}/invitations/") and head_login in page.locator("table").inner_text()
    shots.check(page, "05-tenant-head-invited")
    page.goto(f"{served}/{lang}/tenants?q={text['college'][:12].upper()}")
    assert text["college"] in page.locator("table").inner_text()
    shots.check(page, "06-tenants-search")
    browser.close()

    # Set up through the services: the college's people, its methodical council and chair; the union admits
    # the college and its chair adopts a decision, delivered as a circular to the college's inbox.
    head = tour.token(college_id, head_id, tour.operator)
    deputy, _ = tour.person(college_id, head, ["deputy_head"], full_name="Дәурен Әлиев")
    teacher, _ = tour.person(college_id, head, ["teacher"], ["Дәнекерлеу"], full_name="Сәуле Қайратқызы")
    chair, _ = tour.person(college_id, head, ["teacher"], ["Дәнекерлеу"], full_name="Ольга Ким")
    council = tour.client.post(f"/api/v1/tenants/{college_id}/units", headers=head, json={
        "kind": "methodical_council", "name": {"ru": "Методический совет колледжа", "kk": "Колледждің әдістемелік кеңесі"}[lang],
        "member_ids": [chair["id"], deputy["id"]]})
    assert council.status_code == 201, council.get_json()
    leader = tour.client.post(f"/api/v1/tenants/{college_id}/units/{council.get_json()['id']}/leaders",
                              headers=head, json={"person_id": chair["id"],
                                                  "starts_on": (platform_today() - timedelta(days=1)).isoformat()})
    assert leader.status_code == 201, leader.get_json()
    coordinator_head = union.tour.client.get(f"/api/v1/tenants/{union.department['id']}/people",
                                             headers=union.coordinator).get_json()["items"][0]
    platform.admit_union_member(context_of(platform, union.department["id"], coordinator_head["id"], "head"),
                                UUID(union.id), specialties=[WELDING], tenant_id=UUID(college_id))
    adopted = platform.adopt_decision(
        context_of(platform, union.a["id"], union.a_head_person["id"], "head"), UUID(union.id),
        title={"ru": "О внедрении виртуальных сварочных тренажёров", "kk": "Виртуалды дәнекерлеу тренажерлерін енгізу туралы"}[lang],
        text="Колледждерге виртуалды дәнекерлеу тренажерлерін енгізу ұсынылады.", direction="p.33.4",
        specialties=[WELDING])
    delivery.run(adopted.position)

    # The teacher drafts the working program with its file and submits it to the council.
    browser, page = new_page(chromium, lang)
    accept_invitation(page, served, lang, *invited(tour, college_id, teacher["id"], lang, head))
    shots.check(page, "07-teacher-home")
    page.goto(f"{served}/{lang}/documents/new")
    shots.check(page, "08-document-new")
    page.select_option("#kind", "working_program")
    page.fill("#title", text["title"])
    page.fill("#body", "1. Дәнекерлеу түрлері.\n2. Қауіпсіздік техникасы.\n3. Тренажерде жаттығу.")
    page.set_input_files("#file", files=[{"name": "бағдарлама.pdf", "mimeType": "application/pdf", "buffer": PDF}])
    page.click("main form button[type=submit]")
    page.wait_for_url(f"**/{lang}/documents/*")
    assert "бағдарлама.pdf" in page.locator("main").inner_text()
    document_url = page.url
    shots.check(page, "09-document-draft")
    page.select_option("#route-0", council.get_json()["id"])
    submit_form(page, "submit")
    expect(page.locator(".notice.success")).to_be_visible()
    shots.check(page, "10-document-submitted")
    page.goto(f"{served}/{lang}/documents?q={text['title'][:10]}")
    assert text["title"] in page.locator("table").inner_text()
    shots.check(page, "11-documents-list")
    browser.close()

    # The council's chair gives a positive conclusion (after trying a negative one without remarks).
    browser, page = new_page(chromium, lang)
    accept_invitation(page, served, lang, *invited(tour, college_id, chair["id"], lang, head))
    assert text["title"] in page.locator("#docs-waiting-title + ul").inner_text()
    shots.check(page, "12-chair-home")
    page.goto(document_url)
    page.check("#conclude-no")
    submit_form(page, "conclude")
    expect(page.locator("#conclude-remarks-error")).to_be_visible()
    shots.check(page, "13-conclusion-refused")
    page.check("#conclude-yes")
    page.fill("#conclude-remarks", {"ru": "Рекомендуется к утверждению", "kk": "Бекітуге ұсынылады"}[lang])
    submit_form(page, "conclude")
    expect(page.locator(".notice.success")).to_be_visible()
    shots.check(page, "14-document-concluded")
    browser.close()

    # The deputy head approves it from the documents waiting for her.
    browser, page = new_page(chromium, lang)
    accept_invitation(page, served, lang, *invited(tour, college_id, deputy["id"], lang, head))
    page.goto(f"{served}/{lang}/documents?waiting=me")
    shots.check(page, "15-deputy-waiting")
    page.click(f"table a:has-text('{text['title'][:20]}')")
    page.wait_for_url(f"**/{lang}/documents/*")
    submit_form(page, "approve")
    expect(page.locator(".notice.success")).to_be_visible()
    expect(page.locator("dl .status.ok")).to_be_visible()  # the document's status: approved
    shots.check(page, "16-document-approved")
    browser.close()

    # The head signs in with the operator's invitation and acknowledges the circular from the inbox.
    browser, page = new_page(chromium, lang)
    accept_invitation(page, served, lang, head_login, head_link)
    expect(page.locator("#circulars-title")).to_be_visible()
    shots.check(page, "17-head-home")
    page.goto(f"{served}/{lang}/circulars")
    shots.check(page, "18-circulars")
    page.click("table a")
    page.wait_for_url(f"**/{lang}/circulars/*")
    shots.check(page, "19-circular")
    pdf = page.request.get(served + page.locator("a[type='application/pdf']").get_attribute("href"))
    assert pdf.status == 200 and pdf.body().startswith(b"%PDF")
    page.check("#response-will_adopt")
    page.fill("#note", text["note"])
    page.click("form:has(#note) button[type=submit]")
    expect(page.locator(".notice.success")).to_be_visible()
    assert text["note"] in page.locator("dl").inner_text()
    shots.check(page, "20-circular-acknowledged")
    page.click("form:has(#note) button[type=submit]")
    expect(page.locator(".notice.info")).to_be_visible()  # twice changes nothing, and says so
    shots.check(page, "21-circular-acknowledged-again")
    browser.close()

    assert not shots.violations(), "\n".join(shots.violations())
