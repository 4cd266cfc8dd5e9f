"""The whole journey of the web application, in a real browser, in Kazakh and in Russian, knowing only the pages'
addresses, form fields and roles: the operator registers a college and invites its head; the head signs in, adds
three teachers and forms a subject-cycle commission (two are refused with p.16), invites a teacher; the teacher
sets a password through the link, drafts a working program and submits it; the methodical council's chair
concludes; the deputy head approves; a union's chair adopts a decision and watches its board mark it delivered
without a reload; the college's head acknowledges the circular from the inbox; an auditor finds all of it on the
timeline, and the college as of yesterday (nothing yet) and today. Every page is screenshotted at a phone's and a
desktop's width (var/screenshots/journey-*) and checked by axe-core."""

from __future__ import annotations

import secrets
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit
from uuid import UUID

import pytest
from playwright.sync_api import expect

from conftest import Shots, accept_invitation, context_of, go, invited, new_page, sign_in
from support import invalid_bin, platform_today, valid_bin
from unions_support import WELDING, UnionScenario, delivery, smtp  # noqa: F401 - fixtures

PDF = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\n%%EOF\n"
SUBJECT = "Дәнекерлеу"
TEXT = {
    "ru": {"college": "Темиртауский высший политехнический колледж", "head": "Гульнар Асхатовна Бекова",
           "teachers": ["Анна Сергеевна Ли", "Бекзат Ерланович Омаров", "Дана Маратовна Жунусова"],
           "deputy": "Марат Сапарович Исаев", "commission": "Предметно-цикловая комиссия сварочного дела",
           "council": "Методический совет колледжа",
           "title": "Рабочая учебная программа «Технология сварочных работ»",
           "decision": "О виртуальных сварочных тренажёрах", "note": "Внедрим со следующего учебного года",
           "remarks": "Рекомендуется к утверждению"},
    "kk": {"college": "Теміртау жоғары политехникалық колледжі", "head": "Гүлнар Асхатқызы Бекова",
           "teachers": ["Әсел Қайратқызы Нұрғалиева", "Ерлан Бауыржанұлы Омаров", "Гүлнар Серікқызы Әбдіхалық"],
           "deputy": "Марат Сапарұлы Исаев", "commission": "Дәнекерлеу ісінің пәндік-циклдік комиссиясы",
           "council": "Колледждің әдістемелік кеңесі",
           "title": "«Дәнекерлеу жұмыстарының технологиясы» жұмыс оқу бағдарламасы",
           "decision": "Виртуалды дәнекерлеу тренажерлері туралы", "note": "Келесі оқу жылынан енгіземіз",
           "remarks": "Бекітуге ұсынылады"},
}
# How the pages of each language write a clause (domain/clauses.py), and the words of the events an auditor
# reads on the timeline ("what: happened") and of the board's statuses.
CLAUSE = {"ru": lambda n: f"п. {n}", "kk": lambda n: f"{n}-тармақ"}
WORDS = {
    "ru": {"registered": "Организация: регистрация", "joined": "Человек: вступление",
           "formed": "Методическое подразделение: создание",
           "submitted": "Методический документ: направление на рассмотрение",
           "concluded": "Методический документ: выдача заключения", "approved": "Методический документ: утверждение",
           "acknowledged": "Циркуляр: ознакомление", "delivered": "доставлен", "nothing": "ничего не было записано",
           "three": "участников: 3", "author": "(автор документа)"},
    "kk": {"registered": "Ұйым: тіркелді", "joined": "Адам: қосылды", "formed": "Әдістемелік бөлім: құрылды",
           "submitted": "Әдістемелік құжат: қарауға жіберілді", "concluded": "Әдістемелік құжат: қорытынды берілді",
           "approved": "Әдістемелік құжат: бекітілді", "acknowledged": "Циркуляр: танысты", "delivered": "жеткізілді",
           "nothing": "ештеңе жазылмаған", "three": "мүшелері: 3", "author": "(құжат авторы)"},
}


def add_person(page: Any, base: str, lang: str, name: str, role: str, subject: str | None = None) -> str:
    """Add a person on the people page; return their id (from the person's page it leads to)."""
    page.goto(f"{base}/{lang}/people")
    page.fill("#full_name", name)
    page.check(f"input[name=roles][value={role}]")
    if subject:
        page.fill("#subjects", subject)
    go(page, "form:has(#full_name) button[type=submit]")
    assert page.locator("h1").inner_text() == name
    return page.url.split("?")[0].rstrip("/").rsplit("/", 1)[1]


def invite_from_person_page(page: Any, base: str, lang: str, person_id: str) -> tuple[str, str]:
    """Invite a person from their page; return their new login and the invitation's path the page shows."""
    page.goto(f"{base}/{lang}/people/{person_id}")
    login = f"p-{secrets.token_hex(4)}@temirtau-college.kz"
    page.fill("#email", login)
    go(page, "form:has(#email) button[type=submit]")
    link = page.input_value("#invitation-link")
    assert f"/{lang}/invitations/" in link
    return login, urlsplit(link).path


def form_unit(page: Any, base: str, lang: str, kind: str, name: str, members: list[str],
              subject: str | None = None) -> None:
    page.goto(f"{base}/{lang}/units")
    page.select_option("#kind", kind)
    page.fill("#name", name)
    if subject:
        page.fill("#subject", subject)
    for member in members:
        page.get_by_label(member, exact=True).check()
    go(page, "form:has(#kind) button[type=submit]:not([name=section])")


def choose_leader(page: Any, name: str) -> None:
    """On a unit's page, choose its leader from today."""
    page.select_option("#leader_person_id", label=name)
    page.fill("#starts_on", platform_today().isoformat())
    go(page, "form:has(#starts_on) button[type=submit]")
    assert name in page.locator("section[aria-labelledby=leader-title]").inner_text()


def submit_form(page: Any, action: str) -> None:
    go(page, f"form:has(input[name=action][value={action}]) button[type=submit]")


def timeline_texts(page: Any) -> str:
    """Return the text of every row of the timeline, following its pages."""
    texts = []
    while True:
        texts += page.locator("tbody tr").all_inner_texts()
        following = page.locator("nav.pager a[rel=next]")
        if not following.count():
            return "\n".join(texts)
        go(page, "nav.pager a[rel=next]")


@pytest.mark.parametrize("lang", ["kk", "ru"])
def test_the_journey_of_web_md(chromium, served, tour, platform, settings, engine, delivery, lang):  # noqa: F811
    from projections import tenants as tenants_rm
    from projections.base import wait_for_position

    text, words = TEXT[lang], WORDS[lang]
    shots = Shots(f"journey-{lang}")
    suffix = secrets.token_hex(2)
    teachers = [f"{n} {suffix}" for n in text["teachers"]]
    deputy_name = f"{text['deputy']} {suffix}"

    # Set-up the pages cannot do: the regional education department that coordinates a union of colleges (p.22),
    # the union itself with its chair (college A's head) and members, through the API (tests/unions_support.py).
    union = UnionScenario(tour.client, tour)
    wait_for_position(engine, tenants_rm.read_model, platform.recorder.max_notification_id(), 10)

    # 1. The operator signs in with the token, registers the college (a wrong BIN first) and invites its head.
    browser, page = new_page(chromium, lang)
    sign_in(page, served, lang, "operator", settings.operator_token)
    go(page, f"a[href='/{lang}/tenants']")
    shots.check(page, "01-operator-tenants")
    college_name = f"{text['college']} {suffix}"
    page.fill("#name", college_name)
    page.select_option("#kind", "tvet_college")
    page.fill("#bin", invalid_bin())
    page.fill("#region", "Қарағанды облысы")
    page.select_option("#parent_id", union.department["id"])
    page.select_option("#language", lang)
    go(page, "form:has(#bin) button[type=submit]")
    expect(page.locator("#bin-error")).to_be_visible()
    assert page.input_value("#name") == college_name  # what was typed is kept
    shots.check(page, "02-tenant-bin-refused")
    page.fill("#bin", valid_bin())
    go(page, "form:has(#bin) button[type=submit]")
    expect(page.locator(".notice.success")).to_be_visible()
    college_id = page.url.split("?")[0].rstrip("/").rsplit("/", 1)[1]
    page.fill("#full_name", text["head"])
    go(page, "form:has(#full_name) button[type=submit]")
    expect(page.locator(".notice.success")).to_be_visible()
    shots.check(page, "03-tenant-head-added")
    head_id = page.locator("#person_id option").first.get_attribute("value")
    head_login = f"head-{suffix}@temirtau-college.kz"
    page.fill("form:has(#person_id) #email", head_login)
    page.select_option("form:has(#person_id) #language", lang)
    go(page, "form:has(#person_id) button[type=submit]")
    head_link = urlsplit(page.locator(".notice.invitation").inner_text().rsplit(" ", 1)[1]).path
    assert head_link.startswith(f"/{lang}/invitations/")
    shots.check(page, "04-tenant-head-invited")
    browser.close()

    # Set-up: the coordinating department admits the college to the union for welding (p.24), as its head would
    # on the union's page; the journey is the college's, not the coordinator's.
    coordinator_head = tour.client.get(f"/api/v1/tenants/{union.department['id']}/people",
                                       headers=union.coordinator).get_json()["items"][0]
    platform.admit_union_member(context_of(platform, union.department["id"], coordinator_head["id"], "head"),
                                UUID(union.id), specialties=[WELDING], tenant_id=UUID(college_id))

    # 2. The head sets a password through the link and signs in; adds three teachers and a deputy head.
    browser, page = new_page(chromium, lang)
    page.goto(served + head_link)
    shots.check(page, "05-head-invitation")
    accept_invitation(page, served, lang, head_login, head_link)
    assert page.locator("html").get_attribute("lang") == lang
    shots.check(page, "06-head-dashboard")
    teacher_ids = [add_person(page, served, lang, name, "teacher", SUBJECT) for name in teachers]
    expect(page.locator(".notice.success")).to_be_visible()
    shots.check(page, "07-teacher-added")
    deputy_id = add_person(page, served, lang, deputy_name, "deputy_head")
    page.goto(f"{served}/{lang}/people")
    assert all(name in page.locator("table").inner_text() for name in [*teachers, deputy_name])
    shots.check(page, "08-people")

    # The commission of two teachers is refused beside its members, citing p.16; of three it is formed.
    form_unit(page, served, lang, "subject_cycle_commission", text["commission"], teachers[:2], SUBJECT)
    refusal = page.locator("#member_ids-error")
    expect(refusal).to_be_visible()
    assert CLAUSE[lang]("16") in refusal.inner_text()
    assert page.input_value("#name") == text["commission"]  # what was typed is kept
    shots.check(page, "09-commission-refused-p16")
    page.get_by_label(teachers[2], exact=True).check()
    go(page, "form:has(#kind) button[type=submit]:not([name=section])")
    assert page.locator("h1").inner_text() == text["commission"]
    expect(page.locator(".notice.success")).to_be_visible()
    shots.check(page, "10-commission-formed")
    choose_leader(page, teachers[0])

    # The methodical council reviews working programs (p.20): the second teacher chairs it, the deputy sits in it.
    form_unit(page, served, lang, "methodical_council", text["council"], [teachers[1], deputy_name])
    assert page.locator("h1").inner_text() == text["council"]
    council_id = page.url.split("?")[0].rstrip("/").rsplit("/", 1)[1]
    choose_leader(page, teachers[1])
    shots.check(page, "11-council-chair-chosen")

    # The head invites the teacher (and the council's chair and the deputy, who act later).
    author_login, author_link = invite_from_person_page(page, served, lang, teacher_ids[2])
    shots.check(page, "12-teacher-invited")
    chair_login, chair_link = invite_from_person_page(page, served, lang, teacher_ids[1])
    deputy_login, deputy_link = invite_from_person_page(page, served, lang, deputy_id)
    browser.close()

    # 3. The teacher sets a password through the link, signs in, drafts a working program and submits it.
    browser, page = new_page(chromium, lang)
    accept_invitation(page, served, lang, author_login, author_link)
    shots.check(page, "13-teacher-dashboard")
    page.goto(f"{served}/{lang}/documents/new")
    page.select_option("#kind", "working_program")
    page.fill("#title", text["title"])
    page.fill("#body", "1. Дәнекерлеу түрлері.\n2. Қауіпсіздік техникасы.")
    page.set_input_files("#file", files=[{"name": "бағдарлама.pdf", "mimeType": "application/pdf", "buffer": PDF}])
    go(page, "main form button[type=submit]")
    assert "бағдарлама.pdf" in page.locator("main").inner_text()
    document_url = page.url.split("?")[0]
    shots.check(page, "14-document-draft")
    page.select_option("#route-0", council_id)
    submit_form(page, "submit")
    expect(page.locator(".notice.success")).to_be_visible()
    expect(page.locator("#conclude-yes")).to_have_count(0)  # the author is offered no conclusion to give
    shots.check(page, "15-document-submitted")
    browser.close()

    # 4. The council's chair finds it waiting on the dashboard and gives a positive conclusion.
    browser, page = new_page(chromium, lang)
    accept_invitation(page, served, lang, chair_login, chair_link)
    assert text["title"] in page.locator("main").inner_text()
    shots.check(page, "16-chair-dashboard")
    page.goto(document_url)
    page.check("#conclude-yes")
    page.fill("#conclude-remarks", text["remarks"])
    submit_form(page, "conclude")
    expect(page.locator(".notice.success")).to_be_visible()
    shots.check(page, "17-document-concluded")
    browser.close()

    # 5. The deputy head approves it from the documents waiting for her.
    browser, page = new_page(chromium, lang)
    accept_invitation(page, served, lang, deputy_login, deputy_link)
    page.goto(f"{served}/{lang}/documents?waiting=me")
    shots.check(page, "18-deputy-waiting")
    go(page, f"table a:has-text('{text['title'][:20]}')")
    submit_form(page, "approve")
    expect(page.locator(".notice.success")).to_be_visible()
    expect(page.locator("dl .status.ok")).to_be_visible()
    shots.check(page, "19-document-approved")
    browser.close()

    # 6. The union's chair (set up through the API: the chair's invitation) adopts a decision for welding and
    # watches the board: it marks the three circulars delivered without a reload, then the acknowledgement.
    chair_context, board = new_page(chromium, lang, 1100)
    accept_invitation(board, served, lang, *invited(tour, union.a["id"], union.a_head_person["id"], lang))
    board.goto(f"{served}/{lang}/unions/{union.id}/decisions/new")
    board.fill("#title", f"{text['decision']} {suffix}")
    board.fill("#text", "Колледждерге виртуалды дәнекерлеу тренажерлерін енгізу ұсынылады.")
    board.check("input[name=direction][value='p.33.4']")
    board.uncheck("input[name=specialties][value='1304000']")  # welding only: colleges A, B and this one
    go(board, "main form button:not([name=count])")
    rows = board.locator("#board tbody tr")
    assert rows.count() == 3 and college_name in board.locator("#board").inner_text()
    shots.check(board, "20-board-issued")
    board.evaluate("() => { window.sameDocument = true; }")
    delivery.run(platform.recorder.max_notification_id())  # what the dispatcher and the workers do
    board.wait_for_function("word => [...document.querySelectorAll('#board [data-field=status_text]')]"
                            ".every(e => e.textContent === word)", arg=words["delivered"], timeout=20_000)
    assert board.evaluate("() => window.sameDocument === true")
    shots.check(board, "21-board-delivered")

    # 7. The college's head acknowledges it from the inbox (the chair's board still open).
    browser, page = new_page(chromium, lang)
    sign_in(page, served, lang, head_login)
    page.goto(f"{served}/{lang}/circulars")
    shots.check(page, "22-head-circulars")
    go(page, f"table a:has-text('{text['decision'][:15]}')")
    page.check("#response-will_adopt")
    page.fill("#note", text["note"])
    go(page, "form:has(#note) button[type=submit]")
    expect(page.locator(".notice.success")).to_be_visible()
    shots.check(page, "23-circular-acknowledged")
    board.wait_for_function("note => document.querySelector('#board').textContent.includes(note)",
                            arg=text["note"], timeout=20_000)
    assert board.evaluate("() => window.sameDocument === true")
    shots.check(board, "24-board-acknowledged")
    chair_context.close()

    # Set-up: the department's auditor (added and invited through the API by the department's head); the
    # college's head grants the auditor its history on the audit-grants page.
    auditor, _ = tour.person(union.department["id"], union.coordinator, ["auditor"], full_name=f"Дина Аудиторова {suffix}")
    page.goto(f"{served}/{lang}/audit-grants")
    page.fill("#person_id", auditor["id"])
    page.fill("#until", (platform_today() + timedelta(days=365)).isoformat())
    go(page, "main form button[type=submit]")
    expect(page.locator(".notice.success")).to_be_visible()
    shots.check(page, "25-audit-granted")
    browser.close()

    # 8. The auditor signs in, finds every act of the journey on the college's timeline, and the college as of
    # yesterday (it was registered today: nothing) and as of today (its commission, its approved program).
    browser, page = new_page(chromium, lang, 1100)
    accept_invitation(page, served, lang,
                      *invited(tour, union.department["id"], auditor["id"], lang, union.coordinator))
    go(page, f"main a[href='/{lang}/audit']")
    go(page, f"a[href$='/audit/{college_id}/timeline']")
    shots.check(page, "26-timeline")
    seen = timeline_texts(page)
    for act in ("registered", "joined", "formed", "submitted", "concluded", "approved", "acknowledged"):
        assert words[act] in seen, act
    assert text["head"] in seen and teachers[1] in seen and deputy_name in seen  # who acted, by name
    # What each act was done to, by its name (the submitted program), and the capacity its author acted in.
    assert f'{words["submitted"]}\n{text["title"]}' in seen and words["author"] in seen

    yesterday = platform_today() - timedelta(days=1)
    page.goto(f"{served}/{lang}/audit/{college_id}/as-of?at={yesterday.isoformat()}")
    assert words["nothing"] in page.locator("main").inner_text()
    assert text["commission"] not in page.locator("main").inner_text()
    shots.check(page, "27-as-of-yesterday")
    page.fill("#at", platform_today().isoformat())
    go(page, "main form button")
    state = page.locator("main").inner_text()
    assert text["commission"] in state and text["title"] in state and words["nothing"] not in state
    assert words["three"] in page.locator("tr", has_text=text["commission"]).inner_text()
    shots.check(page, "28-as-of-today")
    browser.close()

    assert not shots.violations(), "\n".join(shots.violations())
