"""In a real browser, in Russian, Kazakh and English: a head opens the invitation, sets a password, signs in through the
form, sees the dashboard with the findings, the profile, and signs out; the pages of a stranger (reset, a
forged link, a missing page) too. Every page is screenshotted at a phone's and a desktop's width and checked
by axe-core."""

from __future__ import annotations

import secrets
from typing import Any
from urllib.parse import urlsplit

import pytest

from conftest import Pages

GOOD = {"ru": "зелёный чайник под дождём", "kk": "жасыл шәйнек жаңбыр астында", "en": "green kettle in the rain"}
NAMES = {"ru": "Ольга Викторовна Ким", "kk": "Айгүл Сәрсенбайқызы Нұрланова", "en": "Ерлан Бауыржанұлы Омаров"}
WIDTHS = {"phone": 360, "desktop": 1100}


def school_with_a_head(tour: Any, lang: str) -> tuple[dict[str, Any], str, str]:
    """Register a school whose association falls short of the Rules; invite its head; return school, login, token."""
    school = tour.tenant(language="ru" if lang == "en" else lang, name={
        "ru": "Школа-гимназия № 12 имени Абая Кунанбаева", "kk": "Абай Құнанбаев атындағы № 12 мектеп-гимназия",
        "en": "Ақсу қаласының № 3 жалпы білім беретін мектебі"}[lang])
    head, head_headers = tour.head(school["id"], NAMES[lang])
    teachers = [tour.person(school["id"], head_headers, ["teacher"], ["Математика"], full_name=f"Мұғалім {i}")[0]
                for i in range(3)]
    unit = tour.client.post(f"/api/v1/tenants/{school['id']}/units", headers=head_headers, json={
        "kind": "methodical_association", "name": "Математика пәні мұғалімдерінің әдістемелік бірлестігі",
        "subject": "Математика", "member_ids": [t["id"] for t in teachers]})
    assert unit.status_code == 201, unit.get_json()
    login = f"head-{secrets.token_hex(4)}@mektep.kz"
    invited = tour.client.post(f"/api/v1/tenants/{school['id']}/people/{head['id']}/invitations",
                               headers=tour.operator, json={"email": login, "language": lang})
    assert invited.status_code == 201, invited.get_json()
    return school, login, urlsplit(invited.get_json()["url"]).path.rsplit("/", 1)[1]


@pytest.mark.parametrize("lang", ["ru", "kk", "en"])
def test_a_head_signs_in_through_the_pages_and_every_page_reads_well(chromium, served, tour, lang):
    school, login, token = school_with_a_head(tour, lang)
    for width_name, width in WIDTHS.items():
        if width_name == "desktop":
            school, login, token = school_with_a_head(tour, lang)  # the invitation works once
        pages = Pages(f"{lang}-{width_name}")
        context = chromium.new_context(viewport={"width": width, "height": 800}, bypass_csp=True,
                                       locale={"ru": "ru-RU", "kk": "kk-KZ", "en": "en-GB"}[lang])
        page = context.new_page()
        walk(page, pages, served, lang, login, token)
        context.close()
        assert not pages.violations, "\n".join(pages.violations)
        assert len(pages.seen) >= 12


def walk(page: Any, pages: Pages, base: str, lang: str, login: str, token: str) -> None:
    """Go through the pages of signing in as a person would, checking each one."""
    page.goto(f"{base}/{lang}/invitations/{token}")
    assert page.locator("html").get_attribute("lang") == lang
    pages.check(page, "01-invitation")
    page.fill("#password", "qwerty12345")
    page.fill("#password_confirm", "qwerty12345")
    page.click("button[type=submit]:not(header *)")
    assert page.locator("#password-error").is_visible()
    assert "password-error" in page.locator("#password").get_attribute("aria-describedby")
    pages.check(page, "02-invitation-refused")
    page.fill("#password", GOOD[lang])
    page.fill("#password_confirm", GOOD[lang])
    page.click("button[type=submit]:not(header *)")
    assert page.url.endswith(f"/{lang}/login")
    pages.check(page, "03-login-after-invitation")

    page.fill("#login", login)
    page.fill("#password", "not the password at all")
    page.click("main button[type=submit]")
    assert page.locator("#login-error").is_visible()
    assert page.input_value("#login") == login  # what was typed is kept
    pages.check(page, "04-login-refused")
    page.fill("#password", GOOD[lang])
    page.click("main button[type=submit]")
    assert page.url.endswith(f"/{lang}/")
    assert page.locator("h1").inner_text() == NAMES[lang]
    # The association has no leader: p.30, written as the page's language writes a clause.
    assert {"ru": "п. 30", "kk": "30-тармақ", "en": "p.30"}[lang] in page.locator("table").inner_text()
    pages.check(page, "05-dashboard")
    # The keyboard's first stop is a link past the header's; Enter on it lands on the page's own content.
    page.keyboard.press("Tab")
    assert page.evaluate("() => document.activeElement.className") == "skip"
    assert page.locator("a.skip").is_visible()
    page.keyboard.press("Enter")
    assert page.evaluate("() => document.activeElement.id") == "content"

    other = "kk" if lang == "ru" else "ru"
    page.click(f"header a[hreflang={other}]")
    assert page.url.endswith(f"/{other}/") and page.locator("html").get_attribute("lang") == other
    pages.check(page, f"06-dashboard-switched-to-{other}")
    page.click(f"header a[hreflang={lang}]")

    page.goto(f"{base}/{lang}/profile")
    assert page.input_value("#email") == login
    pages.check(page, "07-profile")
    page.fill("#current_password", "wrong current password")
    page.fill("form:has(#current_password) #password", "another long pass phrase")
    page.fill("form:has(#current_password) #password_confirm", "another long pass phrase")
    page.click("form:has(#current_password) button[type=submit]")
    assert page.locator("#current_password-error").is_visible()
    pages.check(page, "08-profile-refused")

    page.goto(f"{base}/{lang}/logout")
    pages.check(page, "09-logout")
    page.click("main button[type=submit]")
    assert page.url.endswith(f"/{lang}/login")
    pages.check(page, "10-signed-out")

    page.goto(f"{base}/{lang}/password-reset")
    pages.check(page, "11-password-reset")
    page.fill("#login", login)
    page.click("main button[type=submit]")
    page.locator(".notice").wait_for()  # the answer's page may still be loading
    pages.check(page, "12-password-reset-sent")

    page.goto(f"{base}/{lang}/invitations/{token}")
    assert page.locator("h1").is_visible()
    pages.check(page, "13-invitation-used")
    page.goto(f"{base}/{lang}/password-reset/{token[:-4]}abcd")
    pages.check(page, "14-reset-link-forged")
    response = page.goto(f"{base}/{lang}/no-such-page")
    assert response is not None and response.status == 404
    pages.check(page, "15-not-found")
    page.goto(f"{base}/{lang}/profile")
    assert page.url.split("?")[0].endswith(f"/{lang}/login")
    pages.check(page, "16-sign-in-to-continue")


@pytest.mark.parametrize("lang", ["ru", "kk"])
def test_the_operator_signs_in_through_the_form(chromium, served, settings, lang):
    pages = Pages(f"{lang}-operator")
    context = chromium.new_context(viewport={"width": 360, "height": 800}, bypass_csp=True)
    page = context.new_page()
    page.goto(f"{served}/{lang}/login")
    page.fill("#login", "operator")
    page.fill("#password", settings.operator_token)
    page.click("main button[type=submit]")
    assert page.url.endswith(f"/{lang}/")
    pages.check(page, "01-home")
    page.goto(f"{served}/{lang}/profile")
    pages.check(page, "02-profile")
    page.click("main button[type=submit]")  # sign out everywhere
    assert page.url.endswith(f"/{lang}/login")
    context.close()
    assert not pages.violations, "\n".join(pages.violations)
