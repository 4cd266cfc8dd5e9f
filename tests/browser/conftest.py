"""Browser tests: the platform served on a loopback port by a real HTTP server, driven by Debian's Chromium
through Playwright, with a screenshot of every page under var/screenshots/ and axe-core's accessibility check."""

from __future__ import annotations

import dataclasses
import os
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = ROOT / "var" / "screenshots"
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
# Playwright's own browser builds cannot be downloaded here: the system's Chromium, quiet and offline.
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
SERIOUS = ("serious", "critical")


def pytest_collection_modifyitems(config: Any, items: list[Any]) -> None:
    """Skip the browser tests, and only them, when scripts/test found no Chromium (it says so loudly)."""
    reason = os.environ.get("BROWSER_TESTS_SKIP") or (None if Path(CHROMIUM).exists() else
                                                      f"Chromium is missing at {CHROMIUM}")
    if reason:
        for item in items:
            if "tests/browser/" in str(item.fspath).replace(os.sep, "/"):
                item.add_marker(pytest.mark.skip(reason=f"browser tests skipped: {reason}"))


@pytest.fixture(scope="session")
def served(settings: Any, platform: Any, web_engine: Any, projector: Any) -> Iterator[str]:
    """Serve the platform (API and pages) on a free loopback port; return its base address."""
    from werkzeug.serving import make_server

    from services.api import create_app

    app = create_app({"TESTING": True, "PLATFORM": platform, "ENGINE": web_engine, "CREATE_SCHEMA": False,
                      "SETTINGS": dataclasses.replace(settings, web_cookie_secure=False)})
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join(timeout=10)


@pytest.fixture(scope="session")
def chromium() -> Iterator[Any]:
    """Return Debian's Chromium under Playwright."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        yield browser
        browser.close()


class Pages:
    """Saves a screenshot of each page it is shown and runs axe-core on it; collects what axe finds serious."""

    def __init__(self, prefix: str):
        self.prefix = prefix
        self.seen: list[str] = []
        self.violations: list[str] = []
        self.axe = os.environ.get("AXE_JS")

    def check(self, page: Any, name: str) -> None:
        """Screenshot the page (whole length) and check its accessibility."""
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SCREENSHOTS / f"{self.prefix}-{name}.png"), full_page=True)
        self.seen.append(name)
        if self.axe:
            page.add_script_tag(path=self.axe)
            found = page.evaluate("async () => (await axe.run(document, {resultTypes: ['violations']})).violations"
                                  ".map(v => ({id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.length}))")
            self.violations += [f"{self.prefix}-{name}: {v['id']} ({v['impact']}, {v['nodes']} nodes): {v['help']}"
                                for v in found if v["impact"] in SERIOUS]
        # Nothing a page shows overflows the screen sideways (text cut or pushed out at a phone's width).
        overflow = page.evaluate("() => document.documentElement.scrollWidth - document.documentElement.clientWidth")
        assert overflow <= 1, f"{self.prefix}-{name}: the page is {overflow}px wider than the screen"


# What the journeys share: a person's pass phrase, the browser's locale, the widths a page is checked at.
PASSWORD = {"ru": "зелёный чайник под дождём", "kk": "жасыл шәйнек жаңбыр астында", "en": "green kettle in the rain"}
LOCALES = {"ru": "ru-RU", "kk": "kk-KZ", "en": "en-GB"}
WIDTHS = {"phone": 360, "desktop": 1100}


class Shots:
    """Checks each page at a phone's and a desktop's width (screenshot, axe-core, no sideways overflow), then
    gives the page back at the width it had."""

    def __init__(self, prefix: str):
        self.by_width = {name: Pages(f"{prefix}-{name}") for name in WIDTHS}

    def check(self, page: Any, name: str) -> None:
        before = page.viewport_size
        for width_name, width in WIDTHS.items():
            page.set_viewport_size({"width": width, "height": 800})
            self.by_width[width_name].check(page, name)
        page.set_viewport_size(before)

    def violations(self) -> list[str]:
        return [v for pages in self.by_width.values() for v in pages.violations]


def new_page(chromium: Any, lang: str, width: int = WIDTHS["phone"]) -> tuple[Any, Any]:
    """Return a fresh browser context (no cookies) in the language's locale, and a page in it."""
    context = chromium.new_context(viewport={"width": width, "height": 800}, bypass_csp=True, locale=LOCALES[lang])
    return context, context.new_page()


def go(page: Any, selector: str) -> None:
    """Click a link or a form's button and wait until the page it leads to has loaded."""
    with page.expect_navigation():
        page.click(selector)


def sign_in(page: Any, base: str, lang: str, login: str, password: str | None = None) -> None:
    """Sign in through the login form, as a person does; land on the dashboard."""
    page.goto(f"{base}/{lang}/login")
    page.fill("#login", login)
    page.fill("#password", password or PASSWORD[lang])
    go(page, "main button[type=submit]")
    assert page.url.endswith(f"/{lang}/"), page.url


def accept_invitation(page: Any, base: str, lang: str, login: str, invitation: str) -> None:
    """Set the password through the invitation's link (its path), then sign in through the form."""
    page.goto(base + invitation)
    page.fill("#password", PASSWORD[lang])
    page.fill("#password_confirm", PASSWORD[lang])
    go(page, "main button[type=submit]")
    assert page.url.endswith(f"/{lang}/login"), page.url
    sign_in(page, base, lang, login)


def invited(tour: Any, tenant_id: str, person_id: str, lang: str, by: dict[str, str] | None = None
            ) -> tuple[str, str]:
    """Invite a person through the API (a head by the operator, others by their head); return a new login and
    the invitation's path."""
    import secrets
    from urllib.parse import urlsplit

    login = f"p-{secrets.token_hex(4)}@college.kz"
    answer = tour.client.post(f"/api/v1/tenants/{tenant_id}/people/{person_id}/invitations",
                              headers=by or tour.operator, json={"email": login, "language": lang})
    assert answer.status_code == 201, answer.get_json()
    return login, urlsplit(answer.get_json()["url"]).path


def context_of(platform: Any, tenant_id: str, person_id: str, role: str) -> Any:
    """Return the context of a command by a person in a role, as the services receive it from a page."""
    from datetime import datetime, timezone
    from uuid import UUID, uuid4

    from domain.base import Actor, Context

    person = platform.get_person(UUID(tenant_id), UUID(person_id))
    assert role in person.roles
    return Context(actor=Actor(role=role, person_id=person.id, tenant_id=person.tenant_id, roles=tuple(person.roles)),
                   request_id="browser-test-setup", now=datetime.now(timezone.utc), ids=uuid4)
