"""People sign in: invitations (API), passwords, sessions as events, limits, and the pages that carry them."""

from __future__ import annotations

import dataclasses
import re
import secrets
from datetime import datetime, timedelta, timezone
from typing import Any
from urllib.parse import urlsplit

import pytest
from sqlalchemy import text

from unions_support import smtp  # noqa: F401 - fixture

GOOD = "жасыл алма терезе 2026"  # several unrelated words: long and not among the first guessed


def web_app(settings: Any, platform: Any, web_engine: Any, **changes: Any) -> Any:
    """Return the application serving plain HTTP (as on loopback), with settings changed as given."""
    from services.api import create_app

    config: dict[str, Any] = {"TESTING": True, "PLATFORM": platform, "ENGINE": web_engine, "CREATE_SCHEMA": False,
                              "SETTINGS": dataclasses.replace(settings, web_cookie_secure=False,
                                                              **changes.pop("changed", {}))}
    config.update(changes)
    return create_app(config)


@pytest.fixture(scope="module")
def web(settings: Any, platform: Any, web_engine: Any, projector: Any) -> Any:
    return web_app(settings, platform, web_engine)


def email() -> str:
    return f"person-{secrets.token_hex(5)}@mektep.kz"


CSRF_VALUE = re.compile(r'(name="csrf_token" value=")[^"]+(")')


def without_csrf(html: str) -> str:
    """The page with its CSRF token masked: the token carries the second it was signed in, so two pages differ."""
    return CSRF_VALUE.sub(r"\1…\2", html)


def csrf_of(html: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert found, html[:500]
    return found.group(1)


def post_form(browser: Any, path: str, **fields: str) -> Any:
    """Open the form's page, then send it with its CSRF token, as a browser does."""
    page = browser.get(path)
    return browser.post(path, data={"csrf_token": csrf_of(page.get_data(as_text=True)), **fields})


def invite(client: Any, tenant_id: str, person_id: str, headers: dict[str, str], **body: Any) -> Any:
    return client.post(f"/api/v1/tenants/{tenant_id}/people/{person_id}/invitations", json=body, headers=headers)


def token_of(url: str) -> str:
    return urlsplit(url).path.rsplit("/", 1)[1]


def signed_in_person(web: Any, tour: Any, roles: list[str] | None = None, lang: str = "ru",
                     tenant: dict[str, Any] | None = None) -> tuple[Any, dict[str, Any], str, dict[str, Any]]:
    """Make a person with a password, sign them in through the form; return their browser, record, login, tenant."""
    tenant = tenant or tour.tenant()
    head, head_headers = tour.head(tenant["id"], "Айгүл Сәрсенбайқызы")
    if roles:
        person, _ = tour.person(tenant["id"], head_headers, roles, full_name="Ерлан Омаров")
    else:
        person = head
    login = email()
    issued = invite(tour.client, tenant["id"], person["id"], head_headers, email=login)
    assert issued.status_code == 201, issued.get_json()
    browser = web.test_client()
    path = f"/{lang}/invitations/{token_of(issued.get_json()['url'])}"
    assert post_form(browser, path, password=GOOD, password_confirm=GOOD).status_code == 302
    answer = post_form(browser, f"/{lang}/login", login=login, password=GOOD)
    assert answer.status_code == 302, answer.get_data(as_text=True)
    return browser, person, login, tenant


# The invitation API

def test_the_head_invites_a_teacher_and_gets_a_link_that_works_for_seven_days(client, tour):
    school = tour.tenant(language="kk")
    _, head = tour.head(school["id"])
    teacher, _ = tour.person(school["id"], head, ["teacher"])
    before = datetime.now(timezone.utc)
    answer = invite(client, school["id"], teacher["id"], head, email="  Teacher." + secrets.token_hex(3) + "@Mektep.KZ ")
    assert answer.status_code == 201, answer.get_json()
    body = answer.get_json()
    assert set(body) >= {"url", "expires_at", "position"}
    assert urlsplit(body["url"]).path.startswith("/kk/invitations/")  # the organization's language
    expires = datetime.fromisoformat(body["expires_at"])
    assert timedelta(days=7) - timedelta(minutes=1) < expires - before < timedelta(days=7, minutes=1)
    assert body["login"] == body["login"].strip().lower() and body["mailed"] is False


def test_only_the_head_deputy_head_or_for_a_head_the_operator_invites(client, tour):
    school = tour.tenant()
    head_person, head = tour.head(school["id"])
    deputy_person, deputy = tour.person(school["id"], head, ["deputy_head"])
    teacher_person, teacher = tour.person(school["id"], head, ["teacher"])
    assert invite(client, school["id"], teacher_person["id"], deputy, email=email()).status_code == 201
    assert invite(client, school["id"], deputy_person["id"], teacher, email=email()).status_code == 403
    # The operator opens a tenant's head's account, nobody else's; a deputy never the head's.
    assert invite(client, school["id"], head_person["id"], tour.operator, email=email()).status_code == 201
    assert invite(client, school["id"], teacher_person["id"], tour.operator, email=email()).status_code == 403
    refused = invite(client, school["id"], head_person["id"], deputy, email=email())
    assert refused.status_code == 403 and "head" in refused.get_json()["detail"]
    other = tour.tenant()
    _, other_head = tour.head(other["id"])
    assert invite(client, school["id"], teacher_person["id"], other_head, email=email()).status_code == 404


def test_a_login_is_unique_on_the_platform_and_an_invitation_needs_one(client, tour):
    first, second = tour.tenant(), tour.tenant()
    a, a_head = tour.head(first["id"])
    b, b_head = tour.head(second["id"])
    login = email()
    assert invite(client, first["id"], a["id"], a_head, email=login).status_code == 201
    taken = invite(client, second["id"], b["id"], b_head, email=login.upper())
    assert taken.status_code == 409 and "email" in taken.get_json()["errors"]
    teacher, _ = tour.person(first["id"], a_head, ["teacher"])
    nameless = invite(client, first["id"], teacher["id"], a_head)
    assert nameless.status_code == 422 and "email" in nameless.get_json()["errors"]
    bad = invite(client, first["id"], teacher["id"], a_head, email="not an address")
    assert bad.status_code == 422 and "email" in bad.get_json()["errors"]
    # Once a second invitation without an email reuses the login already set.
    assert invite(client, first["id"], a["id"], a_head).status_code == 201


def test_with_smtp_the_invitation_is_mailed_in_the_persons_language(settings, platform, web_engine, projector, tour,
                                                                  smtp):
    mailbox, port = smtp
    app = web_app(settings, platform, web_engine, changed={
        "smtp_host": "127.0.0.1", "smtp_port": port, "smtp_from": "platform@methodical.kz"})
    client = app.test_client()
    school = tour.tenant(language="kk")
    _, head = tour.head(school["id"])
    teacher, _ = tour.person(school["id"], head, ["teacher"], full_name="Сәуле Қайратқызы")
    login = email()
    answer = invite(client, school["id"], teacher["id"], head, email=login)
    assert answer.status_code == 201 and answer.get_json()["mailed"] is True
    (message,) = mailbox.to(login)
    body = message.get_body().get_content()
    assert answer.get_json()["url"] in body
    assert "Сәуле Қайратқызы" in body and "платформа" in message["Subject"].lower()
    assert "Қайырлы" in body or "Сәлеметсіз" in body  # Kazakh, not the Russian or English text


# Passwords and sessions

def test_an_invitation_sets_the_password_once_and_the_person_signs_in(web, tour, platform, engine):
    browser, person, login, _ = signed_in_person(web, tour, ["teacher"])
    page = browser.get("/ru/")
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and "Ерлан Омаров" in html and "Учитель" in html
    stored = platform.load(__import__("uuid").UUID(person["id"]), __import__("domain.people", fromlist=["Person"]).Person,
                           "person")
    assert stored.password_set_at is not None and len(stored.sessions()) == 1
    with engine.connect() as conn:
        hashes = conn.execute(text("SELECT hash FROM person_passwords WHERE person_id = :p"),
                              {"p": person["id"]}).scalars().all()
        logged = conn.execute(text(
            "SELECT count(*) FROM methodical_events WHERE convert_from(state, 'UTF8') LIKE '%argon2%' "
            "OR convert_from(state, 'UTF8') LIKE :pw"), {"pw": f"%{GOOD}%"}).scalar()
    assert len(hashes) == 1 and hashes[0].startswith("$argon2id$") and GOOD not in hashes[0]
    assert logged == 0  # neither the password nor its hash is in the event log


def test_sign_in_and_sign_out_are_events_with_who_when_and_the_address(web, tour, platform):
    browser, person, login, _ = signed_in_person(web, tour, ["teacher"])
    home = browser.get("/ru/").get_data(as_text=True)
    assert browser.post("/ru/logout", data={"csrf_token": csrf_of(home)}).status_code == 302
    events = list(platform.events.get(__import__("uuid").UUID(person["id"])))
    signed_in = [e for e in events if type(e).__name__ == "SignedIn"]
    signed_out = [e for e in events if type(e).__name__ == "SignedOut"]
    assert len(signed_in) == 1 and len(signed_out) == 1
    assert signed_in[0].address == "127.0.0.1" and signed_in[0].meta["actor"]["person_id"] == person["id"]
    assert signed_out[0].session_ids == [signed_in[0].session_id]
    assert GOOD not in repr(events)
    after = browser.get("/ru/")
    assert after.status_code == 302 and "/ru/login" in after.headers["Location"]


def test_a_used_expired_or_forged_invitation_is_a_clear_page_and_changes_nothing(web, tour, settings, platform,
                                                                                 web_engine):
    school = tour.tenant()
    _, head = tour.head(school["id"])
    teacher, _ = tour.person(school["id"], head, ["teacher"])
    url = invite(tour.client, school["id"], teacher["id"], head, email=email()).get_json()["url"]
    path = f"/kk/invitations/{token_of(url)}"
    browser = web.test_client()
    weak = post_form(browser, path, password="password123", password_confirm="password123")
    assert weak.status_code == 422 and 'aria-describedby="password-error password-hint"' in weak.get_data(
        as_text=True)
    assert post_form(browser, path, password=GOOD, password_confirm=GOOD).status_code == 302
    used = browser.get(path)
    assert used.status_code == 404 and "<html lang=\"kk\">" in used.get_data(as_text=True)
    assert "қолданылған" in used.get_data(as_text=True)
    forged = browser.get(path[:-3] + "abc")
    assert forged.status_code == 404 and "қате" in forged.get_data(as_text=True).lower()
    fresh = invite(tour.client, school["id"], teacher["id"], head).get_json()["url"]
    later = web_app(settings, platform, web_engine, CLOCK=lambda: datetime.now(timezone.utc) + timedelta(days=8))
    expired = later.test_client().get(f"/ru/invitations/{token_of(fresh)}")
    assert expired.status_code == 404 and "истёк" in expired.get_data(as_text=True)


def test_a_wrong_pair_says_one_thing_and_repeated_failures_are_limited(settings, platform, web_engine, projector,
                                                                       tour):
    limited = web_app(settings, platform, web_engine, changed={"signin_login_limit": "3 per 15 minutes"})
    login = email()
    school = tour.tenant()
    head, head_headers = tour.head(school["id"])
    url = invite(tour.client, school["id"], head["id"], head_headers, email=login).get_json()["url"]
    browser = limited.test_client()
    post_form(browser, f"/ru/invitations/{token_of(url)}", password=GOOD, password_confirm=GOOD)
    wrong_password = post_form(browser, "/ru/login", login=login, password="не тот пароль")
    unknown_login = post_form(browser, "/ru/login", login=email(), password="не тот пароль")
    message = "Неверный адрес электронной почты или пароль."
    assert wrong_password.status_code == unknown_login.status_code == 422
    assert message in wrong_password.get_data(as_text=True) and message in unknown_login.get_data(as_text=True)
    assert 'value="' + login + '"' in wrong_password.get_data(as_text=True)  # what was typed is kept
    assert GOOD not in wrong_password.get_data(as_text=True)
    post_form(browser, "/ru/login", login=login, password="опять не тот")
    post_form(browser, "/ru/login", login=login, password="и снова не тот")
    refused = post_form(browser, "/ru/login", login=login, password=GOOD)  # right, but the login is locked a while
    assert refused.status_code == 429 and "Слишком много" in refused.get_data(as_text=True)


def test_a_person_who_left_or_changed_roles_loses_the_sessions_rights_on_the_next_request(web, tour):
    tenant = tour.tenant()
    browser, head, login, _ = signed_in_person(web, tour, None, tenant=tenant)
    assert "Где подразделения" in browser.get("/ru/").get_data(as_text=True)  # a head sees the findings
    deputy_browser, deputy, _, _ = signed_in_person(web, tour, ["deputy_head"], tenant=tour.tenant())
    assert "Где подразделения" in deputy_browser.get("/ru/").get_data(as_text=True)
    # The deputy's head takes the deputy's role away: the next page shows a teacher's home.
    head_headers = tour.head(deputy["tenant_id"], "Another head")[1]
    changed = tour.client.patch(f"/api/v1/tenants/{deputy['tenant_id']}/people/{deputy['id']}",
                                json={"roles": ["teacher"]}, headers=head_headers)
    assert changed.status_code == 200
    page = deputy_browser.get("/ru/").get_data(as_text=True)
    assert "Где подразделения" not in page and "Учитель" in page
    left = tour.client.delete(f"/api/v1/tenants/{deputy['tenant_id']}/people/{deputy['id']}", headers=head_headers)
    assert left.status_code == 200
    gone = deputy_browser.get("/ru/profile")
    assert gone.status_code == 302 and "/ru/login" in gone.headers["Location"]
    assert "Сеанс завершён" in deputy_browser.get(gone.headers["Location"]).get_data(as_text=True)


def test_a_form_without_its_csrf_token_or_a_tampered_cookie_changes_nothing(web, tour, platform):
    browser, person, login, _ = signed_in_person(web, tour, ["teacher"], lang="kk")
    before = len(list(platform.events.get(__import__("uuid").UUID(person["id"]))))
    forged = browser.post("/kk/profile", data={"section": "sessions"})
    assert forged.status_code == 400 and "<html lang=\"kk\">" in forged.get_data(as_text=True)
    assert len(list(platform.events.get(__import__("uuid").UUID(person["id"])))) == before
    assert browser.get("/kk/profile").status_code == 200  # still signed in
    tampered = web.test_client()
    tampered.set_cookie("methodical_session", person["id"].replace("-", "") + ".forged", domain="localhost")
    answer = tampered.get("/kk/profile")
    assert answer.status_code == 302 and "/kk/login" in answer.headers["Location"]
    assert "methodical_session=;" in answer.headers.get("Set-Cookie", "")
    junk = web.test_client()
    junk.set_cookie("methodical_session", "\x00" * 300 + "é", domain="localhost")
    assert junk.get("/ru/login").status_code == 200


def test_a_password_reset_never_says_whether_the_login_exists_and_its_link_signs_out_everywhere(
        settings, platform, web_engine, projector, tour, smtp):
    mailbox, port = smtp
    app = web_app(settings, platform, web_engine, changed={
        "smtp_host": "127.0.0.1", "smtp_port": port, "smtp_from": "platform@methodical.kz"})
    browser, person, login, _ = signed_in_person(app, tour, ["teacher"])
    stranger = app.test_client()
    answers = []
    for asked in (login, email()):
        sent = post_form(stranger, "/ru/password-reset", login=asked)
        assert sent.status_code == 302
        page = stranger.get(sent.headers["Location"]).get_data(as_text=True)
        answers.append(re.sub(r'name="csrf_token" value="[^"]+"', "", page))
    assert answers[0] == answers[1] and answers[0].count("Если этот адрес") == 1
    (message,) = mailbox.to(login)
    body = message.get_body().get_content()
    link = re.search(r"https?://\S+/password-reset/\S+", body).group(0)
    path = urlsplit(link).path
    new = "синий кит под луной"
    assert post_form(stranger, path, password=new, password_confirm=new).status_code == 302
    assert browser.get("/ru/").status_code == 302  # the old session was signed out
    assert post_form(stranger, "/ru/login", login=login, password=GOOD).status_code == 422
    assert post_form(stranger, "/ru/login", login=login, password=new).status_code == 302


def test_the_profile_changes_language_email_and_password_and_signs_out_everywhere(web, tour):
    browser, person, login, _ = signed_in_person(web, tour, ["teacher"])
    other = web.test_client()
    assert post_form(other, "/ru/login", login=login, password=GOOD).status_code == 302
    moved = post_form(browser, "/ru/profile", section="language", language="kk")
    assert moved.status_code == 302 and moved.headers["Location"].endswith("/kk/profile")
    assert browser.get("/").headers["Location"].endswith("/kk/")  # remembered for the person
    new_login = email()
    assert post_form(browser, "/kk/profile", section="email", email=new_login).status_code == 302
    refused = post_form(browser, "/kk/profile", section="password", current_password="wrong one",
                        password="жаңа құпия сөз бар", password_confirm="жаңа құпия сөз бар")
    assert refused.status_code == 422 and 'id="current_password-error"' in refused.get_data(as_text=True)
    new = "жаңа құпия сөз бар"
    assert post_form(browser, "/kk/profile", section="password", current_password=GOOD, password=new,
                     password_confirm=new).status_code == 302
    assert other.get("/ru/").status_code == 302  # the other session was signed out, this one kept
    assert browser.get("/kk/profile").status_code == 200
    assert post_form(web.test_client(), "/ru/login", login=new_login, password=new).status_code == 302
    assert post_form(browser, "/kk/profile", section="sessions").status_code == 302
    assert browser.get("/kk/").status_code == 302


# What every page shares

def test_the_root_follows_the_browsers_language_and_pages_say_their_language(web):
    client = web.test_client()
    assert client.get("/", headers={"Accept-Language": "kk-KZ,kk;q=0.9,ru;q=0.8"}).headers["Location"] == "/kk/"
    assert client.get("/", headers={"Accept-Language": "de"}).headers["Location"] == "/ru/"
    assert client.get("/").headers["Location"] == "/ru/"
    page = client.get("/en/login")
    html = page.get_data(as_text=True)
    assert '<html lang="en">' in html and html.count("<h1>") == 1
    for code in ("ru", "kk", "en"):
        assert f'href="/{code}/login" hreflang="{code}"' in html
    assert re.search(r'<label for="login">', html) and re.search(r'<label for="password">', html)
    headers = page.headers
    assert "frame-ancestors 'none'" in headers["Content-Security-Policy"]
    assert "unsafe-inline" not in headers["Content-Security-Policy"] and "<script" not in html
    assert headers["X-Content-Type-Options"] == "nosniff"
    missing = client.get("/kk/no-such-page")
    assert missing.status_code == 404 and '<html lang="kk">' in missing.get_data(as_text=True)


def test_the_api_is_untouched_by_the_webs_cookies_csrf_and_headers(web, tour):
    browser, *_ = signed_in_person(web, tour, ["teacher"])
    answer = browser.get("/api/v1/tenants")
    assert answer.status_code == 401  # a session cookie is not an API credential
    assert "Set-Cookie" not in answer.headers and "Content-Security-Policy" not in answer.headers
    created = web.test_client().post("/api/v1/tenants", json={}, headers=tour.operator)
    assert created.status_code == 422  # no CSRF token asked of an API command


# Pages without another tenant's object to point at: each shows the signed-in person only their own account
# and organization (or nothing of anyone's). A page that takes an object's id belongs in an isolation matrix of
# the web (every role x another tenant's object answers the 404 page): a new page fails here until it is listed.
OWN_PAGES = {
    "/": "redirects to the home page in a language",
    "/static/<path:filename>": "the vendored stylesheet",
    "/<lang>/": "the person's own name, roles, organization and its findings",
    "/<lang>/login": "a form",
    "/<lang>/logout": "ends the person's own session",
    "/<lang>/invitations/<token>": "the secret names the person; a wrong one is the same page as a used one",
    "/<lang>/password-reset": "the same answer whether or not the login exists",
    "/<lang>/password-reset/<token>": "as an invitation",
    "/<lang>/profile": "the person's own language, email, password and sessions",
    "/<lang>/notifications": "the person's own reminders and what waits for them (tests/integration/test_reminders.py)",
    "/<lang>/<path:rest>": "the 404 page",
}
# Pages of the unions and the audit: another tenant's or union's object is the 404 page (test_web_unions.py).
OWN_PAGES.update({f"/<lang>/{path}": "tests/integration/test_web_unions.py" for path in (
    "unions", "unions/<uuid:nid>", "unions/<uuid:nid>/decisions/new", "unions/<uuid:nid>/decisions/<uuid:decid>",
    "unions/<uuid:nid>/decisions/<uuid:decid>/board.json",
    "unions/<uuid:nid>/decisions/<uuid:decid>/circulars/<uuid:cid>/retry", "audit", "audit/<uuid:tid>/timeline",
    "audit/<uuid:tid>/as-of", "audit/<uuid:tid>/changes", "audit/verify", "audit-grants")})


def test_every_page_is_declared_with_what_it_shows(web):
    pattern = re.compile(r"<any\([^)]*\):lang>")
    served = {pattern.sub("<lang>", rule.rule) for rule in web.url_map.iter_rules()
              if not rule.rule.startswith("/api/")}
    from test_web_docs import DOCS_PAGES  # documents, circulars and the operator's pages, declared there
    from test_web_org import ORG_PAGES  # the organization's pages; their isolation matrix is in that module

    declared = set(OWN_PAGES) | set(ORG_PAGES) | set(DOCS_PAGES)
    assert served == declared, f"undeclared: {served - declared}; stale: {declared - served}"


def test_a_session_cookie_of_another_person_or_a_person_who_left_opens_nothing(web, tour):
    browser, person, _, tenant = signed_in_person(web, tour, ["teacher"])
    cookie = browser.get_cookie("methodical_session").value
    stranger = web.test_client()
    other = signed_in_person(web, tour, ["teacher"])[1]
    stranger.set_cookie("methodical_session", other["id"].replace("-", "") + "." + cookie.split(".", 1)[1],
                        domain="localhost")
    assert stranger.get("/ru/profile").status_code == 302  # another person's id with this secret: nobody


def test_a_signed_in_person_snapshots_and_replays_for_the_audit(web, tour, platform, client, settings):
    from uuid import UUID

    from support import bearer

    browser, person, login, tenant = signed_in_person(web, tour, ["teacher"])
    person_id = UUID(person["id"])
    platform.take_snapshot(person_id)
    version = platform.repository.get(person_id).version
    replayed = platform.repository.get(person_id, version=version)  # from the snapshot just taken
    assert len(replayed.sessions()) == 1 and replayed.login == login and replayed.password_set_at is not None
    assert browser.get("/ru/").status_code == 200
    state = client.get(f"/api/v1/audit/aggregates/{person_id}", headers=bearer(settings.operator_token))
    assert state.status_code == 200, state.get_json()
    assert GOOD not in state.get_data(as_text=True) and "argon2" not in state.get_data(as_text=True)


def test_a_forged_csrf_token_or_an_expired_session_is_a_clear_page_and_changes_nothing(
        web, tour, platform, settings, web_engine):
    from uuid import UUID

    browser, person, login, _ = signed_in_person(web, tour, ["teacher"], lang="kk")
    before = len(list(platform.events.get(UUID(person["id"]))))
    forged = browser.post("/kk/profile", data={"csrf_token": "forged." + secrets.token_hex(8), "section": "email",
                                               "email": email()})
    assert forged.status_code == 400 and "Пішіннің мерзімі өтті" in forged.get_data(as_text=True)
    assert len(list(platform.events.get(UUID(person["id"])))) == before
    later = web_app(settings, platform, web_engine, CLOCK=lambda: datetime.now(timezone.utc) + timedelta(hours=13))
    late = later.test_client()
    late.set_cookie("methodical_session", browser.get_cookie("methodical_session").value, domain="localhost")
    answer = late.get("/kk/profile")
    assert answer.status_code == 302 and "/kk/login" in answer.headers["Location"]
    assert "Сеанс аяқталды" in late.get(answer.headers["Location"]).get_data(as_text=True)
    assert len(list(platform.events.get(UUID(person["id"])))) == before


def test_a_person_whose_invitation_expired_gets_a_reset_link_instead(settings, platform, web_engine, projector,
                                                                     tour, smtp):
    mailbox, port = smtp
    app = web_app(settings, platform, web_engine, changed={
        "smtp_host": "127.0.0.1", "smtp_port": port, "smtp_from": "platform@methodical.kz"})
    school = tour.tenant(language="kk")
    _, head = tour.head(school["id"])
    teacher, _ = tour.person(school["id"], head, ["teacher"])
    login = email()
    assert invite(tour.client, school["id"], teacher["id"], head, email=login).status_code == 201
    stranger = app.test_client()
    assert post_form(stranger, "/kk/password-reset", login=login).status_code == 302
    (message,) = mailbox.to(login)
    body = message.get_body().get_content()
    assert "/password-reset/" in body and "құпиясөз" in body.lower()
    path = urlsplit(re.search(r"https?://\S+/password-reset/\S+", body).group(0)).path
    assert post_form(stranger, path, password=GOOD, password_confirm=GOOD).status_code == 302
    assert post_form(stranger, "/kk/login", login=login, password=GOOD).status_code == 302


def test_no_password_link_or_session_secret_reaches_a_log_record(web, tour, caplog):
    import logging

    caplog.set_level(logging.DEBUG)
    school = tour.tenant()
    head, head_headers = tour.head(school["id"])
    login = email()
    url = invite(tour.client, school["id"], head["id"], head_headers, email=login).get_json()["url"]
    browser = web.test_client()
    path = f"/ru/invitations/{token_of(url)}"
    post_form(browser, path, password="password123", password_confirm="password123")  # refused
    post_form(browser, path, password=GOOD, password_confirm=GOOD)
    post_form(browser, "/ru/login", login=login, password="wrong " + GOOD)
    post_form(browser, "/ru/login", login=login, password=GOOD)
    cookie = browser.get_cookie("methodical_session").value
    browser.get("/ru/profile")
    logging.getLogger("services.web").debug("control record")
    assert any(r.getMessage() == "control record" for r in caplog.records)
    logged = "\n".join(f"{r.getMessage()} {r.args!r} {vars(r)!r}" for r in caplog.records)
    for secret in (GOOD, "password123", token_of(url).partition(".")[2], cookie.partition(".")[2]):
        assert secret not in logged


def test_an_smtp_relay_that_does_not_answer_leaves_the_link_unmailed_not_refused(settings, platform, web_engine,
                                                                                projector, tour):
    from support import free_port

    app = web_app(settings, platform, web_engine, changed={
        "smtp_host": "127.0.0.1", "smtp_port": free_port(), "smtp_from": "platform@methodical.kz",
        "smtp_timeout": 1})
    school = tour.tenant()
    head, head_headers = tour.head(school["id"])
    answer = invite(app.test_client(), school["id"], head["id"], head_headers, email=email())
    assert answer.status_code == 201 and answer.get_json()["mailed"] is False and answer.get_json()["url"]


def test_an_address_no_route_serves_is_a_page_outside_the_api_and_a_problem_inside(web, tour):
    client = web.test_client()
    page = client.get("/favicon.ico", headers={"Accept-Language": "kk"})
    assert page.status_code == 404 and '<html lang="kk">' in page.get_data(as_text=True)
    assert "frame-ancestors 'none'" in page.headers["Content-Security-Policy"]
    wrong_method = client.put("/ru/login")
    assert wrong_method.status_code == 405 and '<html lang="ru">' in wrong_method.get_data(as_text=True)
    api = client.get("/api/v1/no-such-thing", headers=tour.operator)
    assert api.status_code == 404 and api.mimetype == "application/problem+json"
    api_method = client.put("/api/v1/tenants", headers=tour.operator)
    assert api_method.status_code == 405 and api_method.mimetype == "application/problem+json"


def test_the_operator_signs_in_to_the_pages_with_the_operator_token(web, settings, platform):
    from domain.people import OperatorAccount

    browser = web.test_client()
    wrong = post_form(browser, "/ru/login", login="operator", password="not-the-token")
    assert wrong.status_code == 422 and "Неверный адрес электронной почты или пароль." in wrong.get_data(as_text=True)
    signed = post_form(browser, "/ru/login", login=" Operator ", password=settings.operator_token)
    assert signed.status_code == 302 and signed.headers["Location"] == "/ru/"
    home = browser.get("/ru/").get_data(as_text=True)
    assert "<h1>Оператор платформы</h1>" in home and "Выйти" in home
    profile = browser.get("/ru/profile").get_data(as_text=True)
    assert 'id="email"' not in profile and "Выйти на всех устройствах" in profile
    assert browser.get("/api/v1/tenants").status_code == 401  # a page session is no API credential
    events = [type(e).__qualname__ for e in platform.events.get(OperatorAccount.id_for())]
    assert "OperatorAccount.SignedIn" in events
    assert browser.post("/ru/logout", data={"csrf_token": csrf_of(home)}).status_code == 302
    assert browser.get("/ru/").status_code == 302
    # A person's cookie format with the operator account's id and a guessed secret opens nothing.
    forged = web.test_client()
    forged.set_cookie("methodical_session", f"{OperatorAccount.id_for().hex}.{secrets.token_urlsafe(32)}",
                      domain="localhost")
    assert forged.get("/ru/").status_code == 302
