"""The pages of documents, circulars and the operator, through the Flask test client on the real PostgreSQL and
Redis: each page renders, each refusal re-renders the form with the clause, each success redirects and shows its
effect, and another tenant's object is the same 404 page as a missing one."""

from __future__ import annotations

import re
import secrets
import uuid
from html import unescape
from typing import Any
from urllib.parse import urlsplit

import pytest

from support import Tour, invalid_bin, valid_bin
from test_documents_api import PDF_BYTES, School, docx_bytes
from test_signin import GOOD, csrf_of, web_app, without_csrf
from unions_support import UnionScenario, delivery, smtp  # noqa: F401 - fixtures

DOCS = "/ru/documents"


@pytest.fixture(scope="module")
def web(settings: Any, platform: Any, web_engine: Any, projector: Any) -> Any:
    return web_app(settings, platform, web_engine)


@pytest.fixture(scope="module")
def school(app: Any, settings: Any) -> School:
    return School(Tour(app.test_client(), settings.operator_token))


def text_of(response: Any) -> str:
    return unescape(response.get_data(as_text=True))


def send(browser: Any, path: str, data: dict[str, Any], page: str | None = None, **kwargs: Any) -> Any:
    """Open the page, then post the form to `path` with the page's CSRF token, as a browser does."""
    token = csrf_of(browser.get(page or path).get_data(as_text=True))
    return browser.post(path, data={"csrf_token": token, **data}, **kwargs)


def sign_in(web: Any, tour: Tour, tenant_id: str, person_id: str, by: dict[str, str], lang: str = "ru") -> Any:
    """Invite the person (by a head's or the operator's headers), set a password, sign in; return the browser."""
    login = f"p-{secrets.token_hex(5)}@college.kz"
    issued = tour.client.post(f"/api/v1/tenants/{tenant_id}/people/{person_id}/invitations", headers=by,
                              json={"email": login})
    assert issued.status_code == 201, issued.get_json()
    browser = web.test_client()
    link = urlsplit(issued.get_json()["url"]).path.replace("/kk/", f"/{lang}/").replace("/ru/", f"/{lang}/")
    assert send(browser, link, {"password": GOOD, "password_confirm": GOOD}).status_code == 302
    assert send(browser, f"/{lang}/login", {"login": login, "password": GOOD}).status_code == 302
    assert browser.get(f"/{lang}/").status_code == 200  # shows (and so spends) the message of signing in
    return browser


@pytest.fixture(scope="module")
def people(web: Any, school: School) -> dict[str, Any]:
    """The school's people signed in to the pages: the teacher (author), both leaders, deputy and head."""
    s, tour = school, school.tour
    return {
        "teacher": sign_in(web, tour, s.id, s.teacher_person["id"], s.head),
        "council_chair": sign_in(web, tour, s.id, s.chair_person["id"], s.head),
        "association_chair": sign_in(web, tour, s.id, s.teachers[2][0]["id"], s.head),
        "deputy": sign_in(web, tour, s.id, s.deputy_person["id"], s.head),
        "head": sign_in(web, tour, s.id, s.head_person["id"], tour.operator),
    }


def draft_through_the_page(browser: Any, title: str, files: list[tuple[bytes, str]] | None = None,
                           kind: str = "working_program", **extra: str) -> Any:
    import io

    data: dict[str, Any] = {"kind": kind, "title": title, "body": "Мазмұны: сызықтық теңдеулер.", **extra}
    if files:
        data["file"] = [(io.BytesIO(content), name) for content, name in files]
    return send(browser, f"{DOCS}/new", data, content_type="multipart/form-data")


def doc_id(response: Any) -> str:
    assert response.status_code == 302, text_of(response)[:3000]
    return response.headers["Location"].rstrip("/").rsplit("/", 1)[1]


def act(browser: Any, did: str, action: str, **fields: Any) -> Any:
    return send(browser, f"{DOCS}/{did}", {"action": action, **fields})


def same_404(stranger: Any, path: str, object_id: str) -> None:
    """Check a page of another tenant's object is the 404 page, exactly as for a missing id."""
    missing_id = str(uuid.uuid4())
    missing = stranger.get(path.replace(object_id, missing_id))
    theirs = stranger.get(path)
    assert missing.status_code == theirs.status_code == 404
    assert without_csrf(text_of(missing)).replace(missing_id, object_id) == without_csrf(text_of(theirs))


def inline_error(html: str, field_id: str) -> str:
    """Return the refusal shown beside a field, after checking the field points to it (aria-describedby)."""
    assert re.search(rf'id="{field_id}"[^>]*aria-describedby="{field_id}-error', html) or \
        re.search(rf'aria-describedby="{field_id}-error[^"]*"[^>]*id="{field_id}"', html), html[:4000]
    found = re.search(rf'id="{field_id}-error"[^>]*>([^<]+)<', html)
    assert found, html[:4000]
    return found.group(1)


def general_error(html: str, form_id: str) -> str:
    found = re.search(rf'id="{form_id}-error"[^>]*>([^<]+)<', html)
    assert found, html[:4000]
    assert f'aria-describedby="{form_id}-error"' in html
    return found.group(1)


# Documents

def test_a_teacher_drafts_with_a_file_submits_and_the_route_concludes_in_order_then_the_deputy_approves(
        school, people):
    teacher, council, association = people["teacher"], people["council_chair"], people["association_chair"]
    assert teacher.get(f"{DOCS}/new").status_code == 200
    title = f"Алгебра 7-сынып: жұмыс оқу бағдарламасы {secrets.token_hex(2)}"
    did = doc_id(draft_through_the_page(teacher, title, [(PDF_BYTES, "бағдарлама.pdf"), (docx_bytes(), "қосымша.docx")]))
    page = text_of(teacher.get(f"{DOCS}/{did}"))
    assert title in page and "Черновик" in page and "бағдарлама.pdf" in page and "қосымша.docx" in page
    hashes = re.findall(r'<code class="hash">([0-9a-f]{64})</code>', page)
    assert len(hashes) == 1
    file_link = re.search(rf'href="({DOCS}/{did}/files/[0-9a-f-]+)">бағдарлама.pdf', page).group(1)
    download = teacher.get(file_link)
    assert download.status_code == 200 and download.data == PDF_BYTES and download.mimetype == "application/pdf"

    # The route is the author's order: the association first, then the council.
    submitted = act(teacher, did, "submit", route=[school.association, school.council])
    assert submitted.status_code == 302
    page = text_of(teacher.get(f"{DOCS}/{did}"))
    assert "На рассмотрении" in page and page.index("МО математиков") < page.index("Әдістемелік кеңес")

    # The council's chair may not conclude before the association (the route is followed in order, p.20).
    early = act(council, did, "conclude", unit_id=school.council, positive="yes", remarks="")
    assert early.status_code == 422
    assert "по порядку" in inline_error(text_of(early), "conclude-unit")
    assert "п. 20" in text_of(early)
    # The author is refused: the unit's leader gives its conclusion (p.20).
    refused = act(teacher, did, "conclude", unit_id=school.association, positive="yes", remarks="")
    assert refused.status_code == 422
    message = general_error(text_of(refused), "conclude-form")
    assert "руководитель" in message and "п. 20" in message
    assert act(association, did, "conclude", unit_id=school.association, positive="yes",
               remarks="Ұсынылады").status_code == 302
    assert act(council, did, "conclude", unit_id=school.council, positive="yes", remarks="").status_code == 302

    # The head is not the approver of a working program (p.20): the deputy head is.
    wrong = act(people["head"], did, "approve")
    assert wrong.status_code == 422 and "п. 20" in general_error(text_of(wrong), "approve-form")
    assert act(people["deputy"], did, "approve").status_code == 302
    page = text_of(people["deputy"].get(f"{DOCS}/{did}"))
    assert "Утверждён" in page and "Ұсынылады" in page
    listed = text_of(teacher.get(DOCS, query_string={"q": title.upper(), "status": "approved"}))
    assert title in listed and "Утверждён" in listed


def test_a_negative_conclusion_needs_remarks_and_a_revision_voids_earlier_conclusions(school, people):
    teacher, association = people["teacher"], people["association_chair"]
    did = doc_id(draft_through_the_page(teacher, f"Геометрия {secrets.token_hex(2)}"))
    assert act(teacher, did, "submit", route=[school.association, school.council]).status_code == 302
    bare = act(association, did, "conclude", unit_id=school.association, positive="no", remarks="  ")
    assert bare.status_code == 422
    assert "замечания" in inline_error(text_of(bare), "conclude-remarks")
    assert "value=\"no\" checked" in text_of(bare)  # what was chosen is kept
    assert act(association, did, "conclude", unit_id=school.association, positive="no",
               remarks="Мақсаттарды нақтылаңыз").status_code == 302
    waiting = text_of(teacher.get(DOCS, query_string={"waiting": "me"}))
    assert "Геометрия" in waiting and "доработка" in waiting.lower()
    assert act(teacher, did, "revise", body="Жаңа мазмұн").status_code == 302
    page = text_of(teacher.get(f"{DOCS}/{did}"))
    assert "Текущая версия</dt><dd>2" in page.replace("\n", "")
    assert "Больше нет: дано на прежней версии" in page
    assert len(re.findall(r'<code class="hash">', page)) == 2


def test_a_file_is_checked_by_its_content_and_a_unit_kind_needs_its_unit(school, people):
    teacher = people["teacher"]
    refused = draft_through_the_page(teacher, "Ложный PDF", [(b"just text, not a PDF", "fake.pdf")])
    did = doc_id(refused)  # the draft is kept; the file is refused and said so
    page = text_of(teacher.get(f"{DOCS}/{did}"))
    assert "fake.pdf" in page and "PDF, DOCX или ODT" in page
    again = send(teacher, f"{DOCS}/{did}", {"action": "attach", "file": (__import__("io").BytesIO(b"PK\x03\x04junk"),
                                                                          "x.docx")},
                 content_type="multipart/form-data")
    assert again.status_code == 422 and "PDF, DOCX или ODT" in inline_error(text_of(again), "attach-file")
    curriculum = draft_through_the_page(teacher, "Рабочий учебный план", kind="working_curriculum")
    assert curriculum.status_code == 422
    html = text_of(curriculum)
    assert "п. 19" in inline_error(html, "unit_id") and 'value="Рабочий учебный план"' in html


def test_a_file_beyond_the_limit_is_a_clear_413_page_and_changes_nothing(school, people):
    import io

    from domain.documents import MAX_ATTACHMENT_BYTES

    teacher = people["teacher"]
    did = doc_id(draft_through_the_page(teacher, f"Үлкен файл {secrets.token_hex(2)}"))
    huge = send(teacher, f"{DOCS}/{did}", {"action": "attach",
                                           "file": (io.BytesIO(b"%PDF-" + b"0" * (MAX_ATTACHMENT_BYTES + 1_200_000)),
                                                    "huge.pdf")}, content_type="multipart/form-data")
    assert huge.status_code == 413 and "20 МБ" in text_of(huge)
    assert "huge.pdf" not in text_of(teacher.get(f"{DOCS}/{did}"))


def test_another_schools_document_or_file_is_the_same_404_as_a_missing_one(web, school, people, tour):
    did = doc_id(draft_through_the_page(people["teacher"], "Ішкі құжат", [(PDF_BYTES, "a.pdf")]))
    page = text_of(people["teacher"].get(f"{DOCS}/{did}"))
    file_link = re.search(rf'href="({DOCS}/{did}/files/[0-9a-f-]+)"', page).group(1)
    other = tour.tenant("school")
    head, head_headers = tour.head(other["id"], "Басқа мектеп басшысы")
    stranger = sign_in(web, tour, other["id"], head["id"], tour.operator)
    same_404(stranger, f"{DOCS}/{did}", did)
    same_404(stranger, file_link, did)
    posted = send(stranger, f"{DOCS}/{did}", {"action": "approve"}, page=DOCS)
    assert posted.status_code == 404 and "Ішкі құжат" not in text_of(posted)
    assert "Ішкі құжат" not in text_of(stranger.get(DOCS, query_string={"q": "Ішкі"}))


def test_the_dashboard_shows_what_waits_for_the_person(school, people):
    teacher, council = people["teacher"], people["council_chair"]
    title = f"Физика сабақ жоспары {secrets.token_hex(2)}"
    did = doc_id(draft_through_the_page(teacher, title, kind="lesson_plan"))
    assert act(teacher, did, "submit", route=[school.council]).status_code == 302
    home = text_of(council.get("/ru/"))
    assert "Документы, ждущие моего заключения или утверждения" in home and title in home
    assert title not in text_of(people["association_chair"].get("/ru/"))
    kazakh = text_of(council.get("/kk/"))
    assert "қорытынды" in kazakh.lower() and title in kazakh


def test_the_list_pages_by_50_and_searches_case_insensitively_in_kazakh(school, people, engine):
    from projections import documents as documents_rm
    from projections.base import wait_for_position

    teacher = people["teacher"]
    tag = secrets.token_hex(2)
    drafted = [school.draft(title=f"ӘЛІППЕ {tag} {i:02d}") for i in range(51)]
    wait_for_position(engine, documents_rm.read_model, int(drafted[-1]["position"]), 10)
    first = text_of(teacher.get(DOCS, query_string={"q": f"әліппе {tag}"}))
    assert first.count(f"ӘЛІППЕ {tag}") == 50 and 'rel="next"' in first and 'rel="prev"' not in first
    second = text_of(teacher.get(DOCS, query_string={"q": f"әліппе {tag}", "page": "2"}))
    assert second.count(f"ӘЛІППЕ {tag}") == 1 and 'rel="prev"' in second
    assert teacher.get(DOCS, query_string={"page": "zz", "status": "nonsense"}).status_code == 200


# Circulars

@pytest.fixture(scope="module")
def union(app: Any, settings: Any) -> UnionScenario:
    return UnionScenario(app.test_client(), Tour(app.test_client(), settings.operator_token))


def test_a_members_head_reads_the_inbox_opens_the_pdf_and_acknowledges_once(web, union, delivery, settings):
    decision = union.adopt(title=f"Цифрлық тренажерлер {secrets.token_hex(2)}")
    delivery.run(decision["position"])
    tour = union.tour
    b_head = next(p for p in tour.client.get(f"/api/v1/tenants/{union.b['id']}/people",
                                             headers=union.b_head).get_json()["items"])
    browser = sign_in(web, tour, union.b["id"], b_head["id"], tour.operator)
    inbox = text_of(browser.get("/ru/circulars"))
    assert decision["title"] in inbox and "Не подтверждён" in inbox
    cid = re.search(r'href="/ru/circulars/([0-9a-f-]+)">' + re.escape(decision["title"]), inbox).group(1)
    assert decision["title"] in text_of(browser.get("/ru/"))  # the dashboard's unacknowledged circulars
    page = text_of(browser.get(f"/ru/circulars/{cid}"))
    assert f"/ru/circulars/{cid}/document" in page
    pdf = browser.get(f"/ru/circulars/{cid}/document")
    api = tour.client.get(f"/api/v1/tenants/{union.b['id']}/circulars/{cid}/document", headers=union.b_head)
    assert pdf.status_code == 200 and pdf.mimetype == "application/pdf" and pdf.data == api.data

    bad = send(browser, f"/ru/circulars/{cid}", {"response": "maybe", "note": "?"})
    assert bad.status_code == 422 and inline_error(text_of(bad), "response") and 'value="?"' not in text_of(bad)
    done = send(browser, f"/ru/circulars/{cid}", {"response": "will_adopt", "note": "Келесі оқу жылынан"})
    assert done.status_code == 302
    page = text_of(browser.get(f"/ru/circulars/{cid}"))
    assert "Подтверждён" in page and "Келесі оқу жылынан" in page and "Примем к исполнению" in page, page[-3000:]
    again = send(browser, f"/ru/circulars/{cid}", {"response": "declined", "note": ""})
    assert again.status_code == 302
    page = text_of(browser.get(f"/ru/circulars/{cid}"))
    assert "уже было подтверждено" in page and "Примем к исполнению" in page  # nothing changed
    body = tour.client.get(f"/api/v1/tenants/{union.b['id']}/circulars/{cid}", headers=union.b_head).get_json()
    assert body["response"] == "will_adopt"
    # Unacknowledged first: the acknowledged one now follows one that is not.
    later = union.adopt(title=f"Екінші ұсыным {secrets.token_hex(2)}")
    delivery.run(later["position"])
    inbox = text_of(browser.get("/ru/circulars"))
    assert inbox.index(later["title"]) < inbox.index(decision["title"])


def test_a_teacher_cannot_acknowledge_and_another_organization_sees_a_404(web, union, delivery):
    decision = union.adopt(title=f"Мұғалімге емес {secrets.token_hex(2)}")
    delivery.run(decision["position"])
    tour = union.tour
    teacher, _ = tour.person(union.b["id"], union.b_head, ["teacher"], ["Дәнекерлеу"], full_name="Сергей Ли")
    browser = sign_in(web, tour, union.b["id"], teacher["id"], union.b_head)
    inbox = text_of(browser.get("/ru/circulars"))
    cid = re.search(r'href="/ru/circulars/([0-9a-f-]+)">' + re.escape(decision["title"]), inbox).group(1)
    page = text_of(browser.get(f"/ru/circulars/{cid}"))
    assert 'name="response"' not in page
    refused = send(browser, f"/ru/circulars/{cid}", {"response": "noted", "note": ""})
    assert refused.status_code == 422
    assert "руководитель" in re.search(r'id="ack-form-error"[^>]*>([^<]+)<', text_of(refused)).group(1)
    c_head = tour.client.get(f"/api/v1/tenants/{union.c['id']}/people", headers=union.c_head).get_json()["items"][0]
    stranger = sign_in(web, tour, union.c["id"], c_head["id"], tour.operator)
    same_404(stranger, f"/ru/circulars/{cid}", cid)
    same_404(stranger, f"/ru/circulars/{cid}/document", cid)


# The operator

def operator_browser(web: Any, settings: Any) -> Any:
    browser = web.test_client()
    assert send(browser, "/ru/login", {"login": "operator", "password": settings.operator_token}).status_code == 302
    return browser


def test_only_the_signed_in_operator_sees_the_operators_pages(web, settings, school, people):
    browser = web.test_client()
    refused = browser.get("/ru/tenants")
    assert refused.status_code == 302 and "/ru/login" in refused.headers["Location"]
    assert people["head"].get("/ru/tenants").status_code == 302  # a person's session is not the operator's
    assert operator_browser(web, settings).get("/ru/tenants").status_code == 200


def test_the_operator_registers_a_college_with_bin_refusals_inline_then_adds_and_invites_its_head(
        web, settings, tour):
    browser = operator_browser(web, settings)
    fields = {"name": "Қарағанды политехникалық колледжі", "kind": "tvet_college", "region": "Қарағанды",
              "language": "kk", "parent_id": "", "email": ""}
    typo = send(browser, "/ru/tenants", {**fields, "bin": invalid_bin()})
    assert typo.status_code == 422
    assert "контрольная цифра" in inline_error(text_of(typo), "bin").lower()
    assert 'value="Қарағанды политехникалық колледжі"' in text_of(typo)
    short = send(browser, "/ru/tenants", {**fields, "bin": "12345"})
    assert short.status_code == 422 and "12 цифр" in inline_error(text_of(short), "bin")
    taken = tour.tenant("school")
    duplicate = send(browser, "/ru/tenants", {**fields, "bin": taken["bin"]})
    assert duplicate.status_code == 422 and "уже" in inline_error(text_of(duplicate), "bin")
    bin_ = valid_bin()
    registered = send(browser, "/ru/tenants", {**fields, "bin": bin_})
    assert registered.status_code == 302
    tid = registered.headers["Location"].rsplit("/", 1)[1]
    listed = text_of(browser.get("/ru/tenants", query_string={"q": "ҚАРАҒАНДЫ ПОЛИТЕХНИКАЛЫҚ"}))
    assert bin_ in listed and text_of(browser.get("/ru/tenants", query_string={"q": bin_})).count(f">{bin_}</td>") == 1

    assert send(browser, f"/ru/tenants/{tid}", {"section": "head", "full_name": ""}).status_code == 422
    assert send(browser, f"/ru/tenants/{tid}", {"section": "head",
                                                 "full_name": "Бауыржан Сейітқали"}).status_code == 302
    page = text_of(browser.get(f"/ru/tenants/{tid}"))
    head_id = re.search(r'<option value="([0-9a-f-]+)"[^>]*>Бауыржан Сейітқали', page).group(1)
    login = f"head-{secrets.token_hex(4)}@college.kz"
    invited = send(browser, f"/ru/tenants/{tid}", {"section": "invite", "person_id": head_id, "email": login,
                                                   "language": "kk"})
    assert invited.status_code == 302
    page = text_of(browser.get(f"/ru/tenants/{tid}"))
    link = re.search(r"(https?://\S+/kk/invitations/[A-Za-z0-9_.-]+)", page).group(1)
    assert login in page
    assert web.test_client().get(urlsplit(link).path).status_code == 200
    # A stranger to the page (another tenant's person id, a missing tenant) is refused or the 404 page.
    other = tour.tenant("school")
    other_head, _ = tour.head(other["id"], "Бөтен басшы")
    refused = send(browser, f"/ru/tenants/{tid}", {"section": "invite", "person_id": other_head["id"],
                                                   "email": "x@y.kz", "language": "ru"})
    assert refused.status_code == 422 and inline_error(text_of(refused), "person_id")
    assert browser.get(f"/ru/tenants/{uuid.uuid4()}").status_code == 404


# Every page of these blueprints is declared, as the foundation declares its own (test_signin.py)

DOCS_PAGES = {
    "/<lang>/documents": "the person's organization's documents only",
    "/<lang>/documents/new": "a form",
    "/<lang>/documents/<uuid:did>": "404 for another tenant's document (tested above)",
    "/<lang>/documents/<uuid:did>/files/<uuid:aid>": "404 for another tenant's file (tested above)",
    "/<lang>/circulars": "the person's organization's inbox only",
    "/<lang>/circulars/<uuid:cid>": "404 for another organization's circular (tested above)",
    "/<lang>/circulars/<uuid:cid>/document": "404 for another organization's circular (tested above)",
    "/<lang>/tenants": "the operator only",
    "/<lang>/tenants/<uuid:tid>": "the operator only; 404 for a missing tenant",
}


def test_every_page_of_documents_circulars_and_the_operator_is_declared(web):
    pattern = re.compile(r"<any\([^)]*\):lang>")
    served = {pattern.sub("<lang>", rule.rule) for rule in web.url_map.iter_rules()
              if rule.endpoint.split(".")[0] in ("web_docs", "web_circulars", "web_operator")}
    assert served == set(DOCS_PAGES)


def test_the_pages_speak_the_language_of_their_path_and_the_switch_keeps_the_page(school, people, web, settings):
    teacher = people["teacher"]
    kazakh = text_of(teacher.get("/kk/documents", query_string={"status": "draft"}))
    assert '<html lang="kk">' in kazakh and "<h1>Әдістемелік құжаттар</h1>" in kazakh
    assert 'href="/ru/documents?status=draft" hreflang="ru"' in kazakh
    assert "<h1>Methodical documents</h1>" in text_of(teacher.get("/en/documents"))
    assert "<h1>Циркуляры учебно-методических объединений</h1>" in text_of(teacher.get("/ru/circulars"))
    operator = operator_browser(web, settings)
    page = text_of(operator.get("/kk/tenants"))
    assert "<h1>Ұйымдар және білім басқармалары</h1>" in page and 'href="/en/tenants" hreflang="en"' in page
