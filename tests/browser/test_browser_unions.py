"""In a real browser, in Russian and Kazakh: a union's chair signs in, adopts a decision and watches the delivery
board update itself as the circulars are delivered (in this process, as the workers do) and a member
acknowledges; the member's head grants an auditor access on its page; the auditor finds the acknowledgement on the member's timeline, sees the organization
as of yesterday and today, and the chain's verification says it is in order. Every page is screenshotted at a
desktop's and a phone's width and checked by axe-core."""

from __future__ import annotations

from datetime import timedelta

import pytest

from conftest import Shots, accept_invitation, go, invited, new_page
from support import Tour, platform_today
from unions_support import WELDING, UnionScenario, delivery, smtp  # noqa: F401 - fixtures

WORDS = {
    "ru": {"issued": "выпущен", "delivered": "доставлен", "acknowledged": "ознакомлены", "will_adopt": "внедрит",
           "ack_event": "Циркуляр: ознакомление", "ok": "В порядке", "nothing": "ничего не было записано"},
    "kk": {"issued": "шығарылды", "delivered": "жеткізілді", "acknowledged": "танысты", "will_adopt": "енгізеді",
           "ack_event": "Циркуляр: танысты", "ok": "Тәртіпте", "nothing": "ештеңе жазылмаған"},
}
DESKTOP = 1100


@pytest.mark.parametrize("lang", ["ru", "kk"])
def test_a_chair_watches_the_board_and_an_auditor_replays_it(chromium, served, app, settings, platform, delivery,
                                                             lang):
    tour = Tour(app.test_client(), settings.operator_token)
    s = UnionScenario(tour.client, tour)
    words = WORDS[lang]
    context, page = new_page(chromium, lang, DESKTOP)
    shots = Shots(f"unions-{lang}-chair")
    accept_invitation(page, served, lang, *invited(tour, s.a["id"], s.a_head_person["id"], lang))

    go(page, f"main a[href='/{lang}/unions']")  # from the dashboard
    assert page.locator("h1").count() == 1
    shots.check(page, "01-unions")
    page.fill("#q", "дәнекерлеу")
    go(page, "form[role=search] button")
    go(page, f"a[href$='/unions/{s.id}']")
    assert page.locator("h1").inner_text() == s.union["name"]
    shots.check(page, "02-union")

    go(page, f"a[href$='/unions/{s.id}/decisions/new']")
    shots.check(page, "03-new-decision")
    title = "Цифрлық дәнекерлеу тренажерлері" if lang == "kk" else "Цифровые тренажёры сварщиков"
    page.fill("#title", title)
    page.fill("#text", "Колледждерге виртуалды тренажерлерді енгізу ұсынылады." if lang == "kk"
              else "Колледжам рекомендуется внедрить виртуальные тренажёры.")
    page.check("input[name=direction][value='p.33.4']")
    page.uncheck("input[name=specialties][value='1304000']")  # welding only: colleges A and B
    go(page, "button[name=count]")
    assert "2" in page.locator("#expected").inner_text()
    shots.check(page, "04-new-decision-counted")
    go(page, "main form button:not([name=count])")
    assert "/decisions/" in page.url and "/new" not in page.url
    rows = page.locator("#board tbody tr")
    assert rows.count() == 2
    assert all(words["issued"] in rows.nth(i).inner_text() for i in range(2))
    shots.check(page, "05-board-issued")

    # The page is not reloaded from here on: what changes is written by its script.
    page.evaluate("() => { window.sameDocument = true; }")
    decision_id = page.url.split("?")[0].rsplit("/", 1)[1]
    delivery.run(platform.recorder.max_notification_id())
    page.wait_for_function("word => [...document.querySelectorAll('#board [data-field=status_text]')]"
                           ".every(e => e.textContent === word)", arg=words["delivered"], timeout=20_000)
    assert page.evaluate("() => window.sameDocument === true")
    assert page.locator("#board .status.circular-delivered").count() == 2
    shots.check(page, "06-board-delivered")

    b_circular = next(c for c in tour.client.get(f"/api/v1/unions/{s.id}/decisions/{decision_id}",
                                                  headers=s.chair).get_json()["circulars"]
                      if c["tenant_id"] == s.b["id"])
    note = "2027 жылы енгіземіз" if lang == "kk" else "Внедрим в 2027 году"
    acknowledged = tour.client.post(f"/api/v1/tenants/{s.b['id']}/circulars/{b_circular['id']}/acknowledgement",
                                    headers=s.b_head, json={"response": "will_adopt", "note": note})
    assert acknowledged.status_code == 200, acknowledged.get_json()
    row = page.locator(f"#circular-{b_circular['id']}")
    page.wait_for_function("id => document.querySelector('#circular-' + id + ' [data-field=note]').textContent"
                           " !== ''", arg=b_circular["id"], timeout=20_000)
    assert page.evaluate("() => window.sameDocument === true")
    assert words["acknowledged"] in row.inner_text() and words["will_adopt"] in row.inner_text()
    assert note in row.inner_text()
    assert row.locator(".status.circular-acknowledged").count() == 1
    shots.check(page, "07-board-acknowledged")

    page.goto(f"{served}/{lang}/")
    latest = page.locator("section[aria-labelledby=chaired-title] tbody tr").first.all_inner_texts()[0]
    assert title in latest and latest.split()[-2:] == ["2", "1"]  # delivered 2, acknowledged 1
    shots.check(page, "08-dashboard")
    context.close()
    assert not shots.violations(), "\n".join(shots.violations())

    # An auditor of the regional department, granted B's history by B's head.
    authority = tour.tenant("regional_department", name="Алматы облысының білім басқармасы")
    _, authority_head = tour.head(authority["id"], "Басшы")
    auditor, _ = tour.person(authority["id"], authority_head, ["auditor"], full_name="Сәуле Аудиторова")
    context, page = new_page(chromium, lang, DESKTOP)
    shots = Shots(f"unions-{lang}-head")
    b_head = tour.client.get(f"/api/v1/tenants/{s.b['id']}/people", headers=s.b_head).get_json()["items"][0]
    accept_invitation(page, served, lang, *invited(tour, s.b["id"], b_head["id"], lang))
    go(page, f"main a[href='/{lang}/audit-grants']")  # from the dashboard
    shots.check(page, "01-audit-grants")
    page.fill("#person_id", auditor["id"])
    page.fill("#until", (platform_today() + timedelta(days=400)).isoformat())  # within five years
    go(page, "main form button[type=submit]")
    assert page.locator(".notice.success").is_visible() and page.locator("tbody .status.ok").count() == 1
    shots.check(page, "02-audit-granted")
    context.close()
    assert not shots.violations(), "\n".join(shots.violations())

    context, page = new_page(chromium, lang, DESKTOP)
    shots = Shots(f"unions-{lang}-auditor")
    accept_invitation(page, served, lang, *invited(tour, authority["id"], auditor["id"], lang, authority_head))
    go(page, f"main a[href='/{lang}/audit']")  # from the dashboard
    page.wait_for_selector(f"a[href$='/audit/{s.b['id']}/timeline']")
    shots.check(page, "01-grants")
    go(page, f"a[href$='/audit/{s.b['id']}/timeline']")
    assert words["ack_event"] in page.locator("table").inner_text()
    shots.check(page, "02-timeline")
    p34 = {"ru": "п. 34", "kk": "34-тармақ"}[lang]  # as the page's language writes a clause, typed so too
    page.fill("#clause", p34)
    go(page, "main form button")
    assert "clause=" in page.url
    texts = page.locator("tbody tr").all_inner_texts()
    assert texts and all(p34 in t for t in texts)
    shots.check(page, "03-timeline-p34")

    yesterday = (platform_today() - timedelta(days=1)).isoformat()
    page.goto(f"{served}/{lang}/audit/{s.b['id']}/as-of?at={yesterday}")
    assert words["nothing"] in page.locator("main").inner_text()  # the college was registered today
    shots.check(page, "04-as-of-yesterday")
    page.fill("#at", platform_today().isoformat())
    go(page, "main form button")
    assert "Ирина Петрова" in page.locator("main").inner_text()
    shots.check(page, "05-as-of-today")

    page.goto(f"{served}/{lang}/audit/{s.b['id']}/changes?from={platform_today().isoformat()}&to={platform_today().isoformat()}")
    assert page.locator("tbody tr").count() > 0
    shots.check(page, "06-changes")
    page.goto(f"{served}/{lang}/audit/verify")
    assert words["ok"] in page.locator("main").inner_text()
    assert page.locator(".status.ok").count() == 1
    shots.check(page, "07-verify")
    context.close()
    assert not shots.violations(), "\n".join(shots.violations())
