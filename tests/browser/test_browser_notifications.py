"""In a real browser, in Kazakh and Russian, at a phone's and a desktop's width: the head of a school whose
association's leader's term ends in two weeks (p.30) sees the count of unread notifications in the header, opens
the notifications, marks them read, and chooses a weekly digest on the profile. Screenshots, axe-core."""

from __future__ import annotations

import secrets
from datetime import datetime, time, timedelta, timezone
from typing import Any
from urllib.parse import urlsplit
from uuid import UUID
from zoneinfo import ZoneInfo

import pytest

from conftest import Pages
from test_browser_org import WIDTHS, set_password_and_sign_in

ALMATY = ZoneInfo("Asia/Almaty")
MATHS = "Математика"


def school_with_a_reminder(tour: Any, platform: Any, engine: Any, lang: str) -> tuple[str, str]:
    from projections import notifications as notifications_rm
    from projections.base import wait_for_position
    from services import reminders

    school = tour.tenant(language=lang)
    head, head_headers = tour.head(school["id"], "Айгүл Сәрсенбайқызы")
    teachers = [tour.person(school["id"], head_headers, ["teacher"], [MATHS], f"Мұғалім {i}")[0] for i in range(3)]
    client = tour.client
    unit = client.post(f"/api/v1/tenants/{school['id']}/units", headers=head_headers, json={
        "kind": "methodical_association", "name": "Математика ӘБ", "subject": MATHS,
        "member_ids": [t["id"] for t in teachers]}).get_json()
    today = datetime.now(ALMATY).date()
    chosen = client.post(f"/api/v1/tenants/{school['id']}/units/{unit['id']}/leaders", headers=head_headers,
                         json={"person_id": teachers[0]["id"], "starts_on": (today - timedelta(days=351)).isoformat()})
    assert chosen.status_code == 201, chosen.get_json()
    login = f"head-{secrets.token_hex(4)}@mektep.kz"
    invited = client.post(f"/api/v1/tenants/{school['id']}/people/{head['id']}/invitations",
                          headers=tour.operator, json={"email": login, "language": lang})
    assert invited.status_code == 201, invited.get_json()
    wait_for_position(engine, notifications_rm.read_model, platform.recorder.max_notification_id(), 10)
    moment = datetime.combine(today, time(7, 30), ALMATY).astimezone(timezone.utc)
    reminders.run_pass(platform, engine, UUID(school["id"]), moment)
    wait_for_position(engine, notifications_rm.read_model, platform.recorder.max_notification_id(), 10)
    return login, urlsplit(invited.get_json()["url"]).path


@pytest.mark.parametrize("width_name", list(WIDTHS))
@pytest.mark.parametrize("lang", ["kk", "ru"])
def test_the_head_reads_the_reminders_and_chooses_a_weekly_digest(chromium, served, tour, platform, engine, lang,
                                                                  width_name):
    login, invitation = school_with_a_reminder(tour, platform, engine, lang)
    pages = Pages(f"notifications-{lang}-{width_name}")
    context = chromium.new_context(viewport={"width": WIDTHS[width_name], "height": 800}, bypass_csp=True)
    page = context.new_page()
    set_password_and_sign_in(page, served, lang, invitation, login)
    header = page.locator("header nav").first.inner_text()
    assert {"kk": "оқылмағаны", "ru": "непрочитанных"}[lang] in header
    pages.check(page, "home")
    page.click("header a[href$='/notifications']")
    assert page.url.endswith(f"/{lang}/notifications")
    assert {"kk": "30-тармақ", "ru": "п. 30"}[lang] in page.inner_text("main")
    pages.check(page, "list")
    page.click("main form button >> nth=0")  # mark all read
    assert {"kk": "оқылмағаны", "ru": "непрочитанных"}[lang] not in page.locator("header nav").first.inner_text()
    pages.check(page, "read")
    page.goto(f"{served}/{lang}/profile")
    page.check("input[value=weekly]")
    page.click("section[aria-labelledby=mail-title] button[type=submit]")
    assert page.is_checked("input[value=weekly]")
    pages.check(page, "profile")
    context.close()
    assert not pages.violations, "\n".join(pages.violations)
