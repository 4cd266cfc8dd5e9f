"""In a real browser, in Russian and Kazakh, at a phone's and a desktop's width: the head signs in, adds three
teachers, tries to form a methodical association of two (refused beside the members with p.26), forms it of
three, chooses its leader and invites them; the leader sets a password, signs in and drafts the plan with two
directions; the head approves it (p.29); the leader records a meeting. Every page is screenshotted and checked by
axe-core."""

from __future__ import annotations

import secrets
from typing import Any
from urllib.parse import urlsplit

import pytest

from conftest import Pages
from domain.units import academic_year_of
from support import platform_today

PASSWORD = {"ru": "зелёный чайник под дождём", "kk": "жасыл шәйнек жаңбыр астында"}
HEAD = {"ru": "Ольга Викторовна Ким", "kk": "Айгүл Сәрсенбайқызы Нұрланова"}
TEACHERS = {"ru": ["Анна Сергеевна Ли", "Бекзат Ерланович Омаров", "Дана Маратовна Жунусова"],
            "kk": ["Әсел Қайратқызы Нұрғалиева", "Ерлан Бауыржанұлы Омаров", "Гүлнар Серікқызы Әбдіхалық"]}
UNIT = {"ru": "Методическое объединение учителей математики", "kk": "Математика пәні мұғалімдерінің әдістемелік бірлестігі"}
WIDTHS = {"phone": 360, "desktop": 1100}


# A clause as each language writes it (domain/clauses.py).
CLAUSE = {"ru": lambda n: f"п. {n}", "kk": lambda n: f"{n}-тармақ", "en": lambda n: f"p.{n}"}

def school_with_a_head(tour: Any, lang: str) -> tuple[str, str]:
    """Register a school; invite its head; return the head's login and the invitation's path."""
    school = tour.tenant(language=lang, name={"ru": "Школа-гимназия № 12 имени Абая Кунанбаева",
                                              "kk": "Абай Құнанбаев атындағы № 12 мектеп-гимназия"}[lang])
    head, _ = tour.head(school["id"], HEAD[lang])
    login = f"head-{secrets.token_hex(4)}@mektep.kz"
    invited = tour.client.post(f"/api/v1/tenants/{school['id']}/people/{head['id']}/invitations",
                               headers=tour.operator, json={"email": login, "language": lang})
    assert invited.status_code == 201, invited.get_json()
    return login, urlsplit(invited.get_json()["url"]).path


@pytest.mark.parametrize("width_name", list(WIDTHS))
@pytest.mark.parametrize("lang", ["ru", "kk"])
def test_the_head_forms_a_unit_and_its_leader_plans_and_meets(chromium, served, tour, lang, width_name):
    login, invitation = school_with_a_head(tour, lang)
    pages = Pages(f"org-{lang}-{width_name}")
    context = chromium.new_context(viewport={"width": WIDTHS[width_name], "height": 800}, bypass_csp=True,
                                   locale={"ru": "ru-RU", "kk": "kk-KZ"}[lang])
    page = context.new_page()
    walk(page, pages, served, lang, login, invitation)
    context.close()
    assert not pages.violations, "\n".join(pages.violations)
    assert len(pages.seen) >= 14


def set_password_and_sign_in(page: Any, base: str, lang: str, invitation: str, login: str) -> None:
    page.goto(base + invitation)
    page.fill("#password", PASSWORD[lang])
    page.fill("#password_confirm", PASSWORD[lang])
    page.click("main button[type=submit]")
    sign_in(page, lang, login)


def sign_in(page: Any, lang: str, login: str) -> None:
    assert page.url.split("?")[0].endswith(f"/{lang}/login")
    page.fill("#login", login)
    page.fill("#password", PASSWORD[lang])
    page.click("main button[type=submit]")
    assert page.url.endswith(f"/{lang}/"), page.url


def sign_out(page: Any, lang: str) -> None:
    page.click("header .signout button")
    assert page.url.endswith(f"/{lang}/login")


def walk(page: Any, pages: Pages, base: str, lang: str, login: str, invitation: str) -> None:
    """The head's and the leader's journey through the organization's pages."""
    year = academic_year_of(platform_today())
    suffix = secrets.token_hex(2)
    names = [f"{n} {suffix}" for n in TEACHERS[lang]]
    set_password_and_sign_in(page, base, lang, invitation, login)
    pages.check(page, "01-head-dashboard")

    page.click("main nav.org-links a[href$='/people']")
    assert page.url.endswith(f"/{lang}/people")
    pages.check(page, "02-people-empty")
    for name in names:
        page.goto(f"{base}/{lang}/people")
        page.fill("#full_name", name)
        page.check("input[name=roles][value=teacher]")
        page.fill("#subjects", "Математика")
        page.click("form:has(#full_name) button[type=submit]")
        assert page.locator("h1").inner_text() == name
    pages.check(page, "03-person-added")
    page.goto(f"{base}/{lang}/people?q={names[1].split()[0].upper()}")
    assert page.locator("table").inner_text().count(suffix) == 1
    pages.check(page, "04-people-search")

    page.goto(f"{base}/{lang}/units")
    pages.check(page, "05-units-empty")
    page.select_option("#kind", "methodical_association")
    page.fill("#name", UNIT[lang])
    page.fill("#subject", "Математика")
    for name in names[:2]:
        page.get_by_label(name, exact=True).check()
    page.click("form:has(#kind) button[type=submit]:not([name=section])")
    refusal = page.locator("#member_ids-error")
    assert refusal.is_visible() and CLAUSE[lang]("26") in refusal.inner_text()
    assert page.input_value("#name") == UNIT[lang]  # what was typed is kept
    assert "member_ids-error" in (page.get_by_label(names[0], exact=True).get_attribute("aria-describedby") or "")
    pages.check(page, "06-unit-refused-p26")
    page.get_by_label(names[2], exact=True).check()
    page.click("form:has(#kind) button[type=submit]:not([name=section])")
    assert page.locator("h1").inner_text() == UNIT[lang]
    assert CLAUSE[lang]("30") in page.locator("main").inner_text()  # no leader yet: the finding and its clause
    pages.check(page, "07-unit-formed")

    page.select_option("#leader_person_id", label=names[0])
    page.fill("#starts_on", platform_today().isoformat())
    page.click("form:has(#starts_on) button[type=submit]")
    assert names[0] in page.locator("section[aria-labelledby=leader-title]").inner_text()
    pages.check(page, "08-leader-chosen")

    page.goto(f"{base}/{lang}/units")
    assert names[0] in page.locator("table").inner_text()
    pages.check(page, "09-units-list")

    page.goto(f"{base}/{lang}/people")
    page.click(f"text={names[0]}")
    leader_login = f"leader-{secrets.token_hex(4)}@mektep.kz"
    page.fill("#email", leader_login)
    page.click("form:has(#email) button[type=submit]")
    link = page.input_value("#invitation-link")
    assert f"/{lang}/invitations/" in link
    pages.check(page, "10-leader-invited")
    sign_out(page, lang)

    set_password_and_sign_in(page, base, lang, urlsplit(link).path, leader_login)
    mine = page.locator("section[aria-labelledby=mine-title]")
    assert UNIT[lang] in mine.inner_text()
    pages.check(page, "11-leader-dashboard")
    mine.locator(f"a[href$='/plans/{year}']").click()
    pages.check(page, "12-plan-editor")
    page.select_option("#items-0-direction", "p.7.2")
    page.fill("#items-0-title", {"ru": "Изучение нормативных документов", "kk": "Нормативтік құжаттарды зерделеу"}[lang])
    page.fill("#items-0-due", f"{year[:4]}-10-15")
    page.select_option("#items-1-direction", "p.13.1")
    page.fill("#items-1-title", {"ru": "Открытые уроки", "kk": "Ашық сабақтар"}[lang])
    page.click("main form button[type=submit]")
    assert page.locator(".notice.success").is_visible()
    pages.check(page, "13-plan-drafted")
    sign_out(page, lang)

    sign_in(page, lang, login)
    waiting = page.locator("section[aria-labelledby=waiting-title]")
    assert UNIT[lang] in waiting.inner_text()
    pages.check(page, "14-head-plans-waiting")
    waiting.locator("a").first.click()
    page.click("form:has(input[value=approve]) button[type=submit]")
    assert page.locator(".status.ok").is_visible()
    pages.check(page, "15-plan-approved")
    sign_out(page, lang)

    sign_in(page, lang, leader_login)
    page.locator("section[aria-labelledby=mine-title] a[href$='/meetings/new']").click()
    pages.check(page, "16-meeting-form")
    page.fill("#held_on", platform_today().isoformat())
    page.select_option("#agenda-0-direction", "p.7.3")
    page.fill("#agenda-0-title", {"ru": "Формы и методы преподавания", "kk": "Оқыту түрлері мен әдістері"}[lang])
    page.fill("#minutes", {"ru": "Решили провести открытые уроки.", "kk": "Ашық сабақтар өткізуге шешім қабылданды."}[lang])
    for name in names:
        page.get_by_label(name, exact=True).check()
    page.click("main form button[type=submit]")
    assert page.locator("h1").inner_text() == UNIT[lang]
    assert CLAUSE[lang]("7.3") in page.locator("section[aria-labelledby=meetings-title]").inner_text()
    pages.check(page, "17-meeting-recorded")
