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
