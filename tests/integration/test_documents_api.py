"""Methodical documents and their approval routes (p.18 – p.21), through the HTTP API, on the real PostgreSQL."""

from __future__ import annotations

import hashlib
import io
import unicodedata
import uuid
import zipfile
from base64 import b64encode
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

from support import Tour

TENANTS = "/api/v1/tenants"
PDF_BYTES = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\n%%EOF\n"


def after(headers: dict[str, str], position: str) -> dict[str, str]:
    return {**headers, "X-Min-Position": position}


def docx_bytes() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        archive.writestr("word/document.xml", "<w:document>Сабақ жоспары</w:document>")
    return buffer.getvalue()


def odt_bytes() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr(zipfile.ZipInfo("mimetype"), "application/vnd.oasis.opendocument.text",
                         compress_type=zipfile.ZIP_STORED)
        archive.writestr("content.xml", "<office:document-content/>")
    return buffer.getvalue()


class School:
    """A school with its head, a deputy head, mathematics teachers, their association and a methodical council
    whose chair is elected."""

    def __init__(self, tour: Tour):
        self.tour = tour
        self.client = tour.client
        self.tenant = tour.tenant("school")
        self.id = self.tenant["id"]
        self.head_person, self.head = tour.head(self.id, "Айгүл Сәрсенбайқызы")
        self.deputy_person, self.deputy = tour.person(self.id, self.head, ["deputy_head"], full_name="Дәурен Әлиев")
        self.teachers = [tour.person(self.id, self.head, ["teacher"], ["Математика"], full_name=f"Мұғалім {i}")
                         for i in range(3)]
        self.teacher_person, self.teacher = self.teachers[0]
        self.chair_person, self.chair = self.teachers[1]
        starts_on = (datetime.now(timezone.utc) - timedelta(days=1)).date().isoformat()
        self.association = self.unit("methodical_association", "МО математиков", subject="Математика",
                                     members=[p["id"] for p, _ in self.teachers])
        self.lead(self.association, self.teachers[2][0]["id"], starts_on)
        self.association_chair = self.teachers[2][1]
        self.council = self.unit("methodical_council", "Әдістемелік кеңес",
                                 members=[self.chair_person["id"], self.deputy_person["id"]])
        self.lead(self.council, self.chair_person["id"], starts_on)

    def url(self, *rest: str) -> str:
        return "/".join([TENANTS, self.id, "documents", *rest])

    def unit(self, kind: str, name: str, members: list[str], subject: str | None = None) -> str:
        response = self.client.post(f"{TENANTS}/{self.id}/units", headers=self.head,
                                    json={"kind": kind, "name": name, "subject": subject, "member_ids": members})
        assert response.status_code == 201, response.get_json()
        return response.get_json()["id"]

    def lead(self, unit_id: str, person_id: str, starts_on: str) -> None:
        response = self.client.post(f"{TENANTS}/{self.id}/units/{unit_id}/leaders", headers=self.head,
                                    json={"person_id": person_id, "starts_on": starts_on})
        assert response.status_code == 201, response.get_json()

    def draft(self, by: dict[str, str] | None = None, kind: str = "working_program",
              title: str = "Алгебра 7-сынып: жұмыс оқу бағдарламасы", body: str = "Мазмұны: сызықтық теңдеулер.",
              unit_id: str | None = None) -> dict[str, Any]:
        response = self.client.post(self.url(), headers=by or self.teacher,
                                    json={"kind": kind, "title": title, "body": body, "unit_id": unit_id})
        assert response.status_code == 201, response.get_json()
        return response.get_json()

    def post(self, document_id: str, action: str, by: dict[str, str], json: Any = None) -> Any:
        return self.client.post(self.url(document_id, action), headers=by, json=json)

    def submitted(self, route: list[str] | None = None, **fields: Any) -> dict[str, Any]:
        doc = self.draft(**fields)
        response = self.post(doc["id"], "submission", self.teacher, {"route": route or [self.council]})
        assert response.status_code == 200, response.get_json()
        return response.get_json()

    def conclude(self, document_id: str, unit_id: str, by: dict[str, str], positive: bool = True,
                 remarks: str = "Ұсынылады") -> Any:
        return self.post(document_id, "conclusions", by, {"unit_id": unit_id, "positive": positive,
                                                          "remarks": remarks})

    def attach(self, document_id: str, data: bytes, filename: str, by: dict[str, str] | None = None,
               content_type: str = "application/octet-stream") -> Any:
        return self.client.post(self.url(document_id, "attachments"), query_string={"filename": filename},
                                data=data, headers={**(by or self.teacher), "Content-Type": content_type})

    def read(self, document_id: str, position: str) -> dict[str, Any]:
        response = self.client.get(self.url(document_id), headers=after(self.head, position))
        assert response.status_code == 200, response.get_json()
        return response.get_json()


@pytest.fixture(scope="module")
def school(app: Any, settings: Any) -> School:
    return School(Tour(app.test_client(), settings.operator_token))


# The whole way: a working program through a council to the deputy head (p.20)

def test_a_working_program_passes_the_council_and_the_deputy_head_approves_it(school):
    doc = school.draft()
    assert (doc["status"], doc["version"], doc["clause"], doc["approver_roles"]) == ("draft", 1, "p.20",
                                                                                   ["deputy_head"])
    attached = school.attach(doc["id"], PDF_BYTES, "бағдарлама.pdf")
    assert attached.status_code == 201, attached.get_json()
    assert attached.get_json()["version"] == 1  # a draft's file belongs to its first version

    submitted = school.post(doc["id"], "submission", school.teacher, {"route": [school.council]})
    assert submitted.status_code == 200
    assert submitted.get_json()["route"] == [{"step": 1, "unit_id": school.council, "conclusion": None}]

    concluded = school.conclude(doc["id"], school.council, school.chair)
    assert concluded.status_code == 201, concluded.get_json()
    approved = school.post(doc["id"], "approval", school.deputy)
    assert approved.status_code == 200, approved.get_json()
    body = approved.get_json()
    assert body["status"] == "approved" and body["position"]

    read = school.read(doc["id"], body["position"])
    assert read["status"] == "approved" and read["decided_by"] == school.deputy_person["id"]
    [step] = read["route"]
    assert step["conclusion"]["positive"] is True and step["conclusion"]["version"] == 1
    assert step["conclusion"]["content_hash"] == read["content_hash"] == read["versions"][0]["content_hash"]
    assert read["attachments"][0]["filename"] == "бағдарлама.pdf"


# Approval refused

def test_approval_with_a_missing_conclusion_is_refused_422_citing_p20(school):
    doc = school.submitted()
    response = school.post(doc["id"], "approval", school.deputy)
    assert response.status_code == 422
    assert response.mimetype == "application/problem+json"
    assert response.get_json()["clause"] == "p.20"


def test_approval_with_a_negative_conclusion_is_refused_422(school):
    doc = school.submitted()
    assert school.conclude(doc["id"], school.council, school.chair, False, "Мақсаттары нақты емес").status_code == 201
    response = school.post(doc["id"], "approval", school.deputy)
    assert response.status_code == 422 and response.get_json()["clause"] == "p.20"
    assert "negative" in response.get_json()["detail"]


def test_a_revision_voids_the_earlier_conclusions_and_the_route_starts_again(school):
    doc = school.submitted(route=[school.association, school.council])
    assert school.conclude(doc["id"], school.association, school.association_chair).status_code == 201
    assert school.conclude(doc["id"], school.council, school.chair).status_code == 201

    revised = school.post(doc["id"], "revisions", school.teacher, {"body": "Екінші нұсқа: квадрат теңдеулер."})
    assert revised.status_code == 201
    assert revised.get_json()["version"] == 2
    refused = school.post(doc["id"], "approval", school.deputy)
    assert refused.status_code == 422 and refused.get_json()["clause"] == "p.20"
    # The council may not conclude before the association concludes again, on version 2.
    assert school.conclude(doc["id"], school.council, school.chair).status_code == 422

    read = school.read(doc["id"], revised.get_json()["position"])
    assert [v["version"] for v in read["versions"]] == [1, 2]
    assert read["versions"][0]["body"] == "Мазмұны: сызықтық теңдеулер."
    assert [step["conclusion"] for step in read["route"]] == [None, None]
    assert [c["counts"] for c in read["conclusions"]] == [False, False]
    assert read["awaiting"] == "review" and read["awaiting_unit_id"] == school.association

    assert school.conclude(doc["id"], school.association, school.association_chair).status_code == 201
    assert school.conclude(doc["id"], school.council, school.chair).status_code == 201
    assert school.post(doc["id"], "approval", school.deputy).status_code == 200


def test_the_head_approving_a_working_program_is_refused_403(school):
    doc = school.submitted()
    school.conclude(doc["id"], school.council, school.chair)
    response = school.post(doc["id"], "approval", school.head)
    assert response.status_code == 403 and response.get_json()["clause"] == "p.20"


def test_the_author_may_not_approve_their_own_document(school):
    author, author_headers = school.tour.person(school.id, school.head, ["teacher", "deputy_head"], ["Физика"])
    doc = school.draft(by=author_headers)
    assert school.post(doc["id"], "submission", author_headers, {"route": [school.council]}).status_code == 200
    assert school.conclude(doc["id"], school.council, school.chair).status_code == 201
    response = school.post(doc["id"], "approval", author_headers)
    assert response.status_code == 403 and response.get_json()["clause"] == "p.20"
    assert school.post(doc["id"], "approval", school.deputy).status_code == 200


# Routes

def test_a_working_curriculum_route_that_skips_a_council_is_refused_p19(tour):
    school = School(tour)
    second_council = school.unit("methodical_council", "Ғылыми-әдістемелік кеңес", [school.deputy_person["id"]])
    doc = school.draft(by=school.association_chair, kind="working_curriculum", unit_id=school.association,
                       title="Жұмыс оқу жоспары 2026-2027")
    response = school.post(doc["id"], "submission", school.association_chair,
                           {"route": [school.association, school.council]})
    assert response.status_code == 422
    assert response.get_json()["clause"] == "p.19" and second_council in response.get_json()["detail"]
    ok = school.post(doc["id"], "submission", school.association_chair,
                     {"route": [school.council, second_council]})
    assert ok.status_code == 200, ok.get_json()
    # The councils review it; the association that developed it does not conclude on its own work.
    assert school.conclude(doc["id"], school.council, school.chair).status_code == 201


def test_a_working_program_route_without_a_council_or_with_another_schools_unit_is_refused(school, tour):
    doc = school.draft()
    no_council = school.post(doc["id"], "submission", school.teacher, {"route": [school.association]})
    assert no_council.status_code == 422 and no_council.get_json()["clause"] == "p.20"
    other = School(tour)
    foreign = school.post(doc["id"], "submission", school.teacher, {"route": [other.council]})
    assert foreign.status_code == 422 and "route" in foreign.get_json()["errors"]


def test_conclusions_come_from_the_units_leader_in_route_order(school):
    doc = school.submitted(route=[school.association, school.council])
    assert school.conclude(doc["id"], school.council, school.chair).status_code == 422  # step 1 first
    assert school.conclude(doc["id"], school.association, school.teacher).status_code == 403  # a member only
    assert school.conclude(doc["id"], school.association, school.association_chair).status_code == 201
    assert school.conclude(doc["id"], school.association, school.association_chair).status_code == 409


def test_a_teacher_drafts_a_program_the_head_does_not_and_a_curriculum_needs_its_units_leader(school):
    head = school.client.post(school.url(), headers=school.head,
                              json={"kind": "working_program", "title": "x", "body": "y"})
    assert head.status_code == 403 and head.get_json()["clause"] == "p.20"
    teacher = school.client.post(school.url(), headers=school.teacher, json={
        "kind": "working_curriculum", "title": "x", "body": "y", "unit_id": school.association})
    assert teacher.status_code == 403 and teacher.get_json()["clause"] == "p.19"


# Rejection and withdrawal

def test_the_deputy_head_rejects_with_a_reason_and_the_author_withdraws_another(school):
    doc = school.submitted()
    assert school.post(doc["id"], "rejection", school.deputy, {"reason": ""}).status_code == 422
    rejected = school.post(doc["id"], "rejection", school.deputy, {"reason": "Үлгілік бағдарламаға сай емес"})
    assert rejected.status_code == 200 and rejected.get_json()["status"] == "rejected"
    assert school.post(doc["id"], "approval", school.deputy).status_code == 409

    other = school.submitted()
    assert school.post(other["id"], "withdrawal", school.deputy, {}).status_code == 403
    withdrawn = school.post(other["id"], "withdrawal", school.teacher, {"reason": "Қайта жазамын"})
    assert withdrawn.status_code == 200 and withdrawn.get_json()["status"] == "withdrawn"


# Reads

def test_the_list_filters_by_kind_status_unit_and_author(school):
    plan = school.submitted(kind="lesson_plan", title="Сабақ жоспары", route=[school.association, school.council])
    own = school.draft(by=school.chair, title="Төрағаның бағдарламасы")
    headers = after(school.head, own["position"])

    def ids(**query: Any) -> list[str]:
        response = school.client.get(school.url(), query_string=query, headers=headers)
        assert response.status_code == 200, response.get_json()
        return [item["id"] for item in response.get_json()["items"]]

    assert plan["id"] in ids(kind="lesson_plan") and own["id"] not in ids(kind="lesson_plan")
    assert own["id"] in ids(status="draft") and plan["id"] not in ids(status="draft")
    assert plan["id"] in ids(unit_id=school.association) and own["id"] not in ids(unit_id=school.association)
    assert ids(author_id=school.chair_person["id"]) == [own["id"]]
    assert len(ids(limit=1)) == 1
    [item] = [i for i in school.client.get(school.url(), query_string={"kind": "lesson_plan"},
                                           headers=headers).get_json()["items"] if i["id"] == plan["id"]]
    assert [step["unit_id"] for step in item["route"]] == [school.association, school.council]


def test_waiting_for_me_lists_what_awaits_a_reviewer_and_an_approver(tour):
    school = School(tour)
    doc = school.submitted(route=[school.association, school.council])

    def waiting(headers: dict[str, str], position: str) -> list[str]:
        response = school.client.get(school.url(), query_string={"waiting_for": "me"},
                                     headers=after(headers, position))
        assert response.status_code == 200, response.get_json()
        return [item["id"] for item in response.get_json()["items"]]

    assert waiting(school.association_chair, doc["position"]) == [doc["id"]]
    assert waiting(school.chair, doc["position"]) == []
    first = school.conclude(doc["id"], school.association, school.association_chair).get_json()
    assert waiting(school.chair, first["position"]) == [doc["id"]]
    assert waiting(school.deputy, first["position"]) == []
    second = school.conclude(doc["id"], school.council, school.chair).get_json()
    assert waiting(school.deputy, second["position"]) == [doc["id"]]
    assert waiting(school.head, second["position"]) == []
    assert waiting(school.teacher, second["position"]) == []


def test_another_schools_document_answers_404(school, tour):
    doc = school.draft()
    other = School(tour)
    assert school.client.get(school.url(doc["id"]), headers=after(school.head, doc["position"])).status_code == 200
    other_url = "/".join([TENANTS, other.id, "documents", doc["id"]])
    assert school.client.get(other_url, headers=after(other.head, doc["position"])).status_code == 404
    assert school.client.post(other_url + "/approval", headers=other.deputy).status_code == 404
    assert school.client.get(school.url(doc["id"]), headers=other.head).status_code == 404


# Kazakh text

@pytest.mark.parametrize("form", ["NFC", "NFD"])
def test_kazakh_titles_and_bodies_round_trip_exactly(school, form):
    title = unicodedata.normalize(form, "Қазақ тілі: «Әліппе» — жұмыс бағдарламасы (ң, ғ, ү, ұ, һ, і, ё, й)")
    body = unicodedata.normalize(form, "Сабақтың мақсаты:\n\tоқушылар ә, ө, ү дыбыстарын ажыратады.\r\nЁлка, йод.  ")
    doc = school.draft(title=title, body=body)
    assert (doc["title"], doc["body"]) == (title, body)
    read = school.read(doc["id"], doc["position"])
    assert (read["title"], read["body"], read["versions"][0]["body"]) == (title, body, body)
    revised = school.post(doc["id"], "revisions", school.teacher, {"body": body + "ӘҒ"}).get_json()
    assert school.read(doc["id"], revised["position"])["body"] == body + "ӘҒ"


# Files

@pytest.mark.parametrize("data, filename, media_type", [
    (PDF_BYTES, "бағдарлама.pdf", "application/pdf"),
    (docx_bytes(), "жоспар.docx", "application/vnd.openxmlformats-officedocument.wordprocessingml.document"),
    (odt_bytes(), "ұсыным.odt", "application/vnd.oasis.opendocument.text"),
])
def test_an_attachments_bytes_and_hash_come_back_unchanged(school, data, filename, media_type):
    doc = school.draft()
    response = school.attach(doc["id"], data, filename)
    assert response.status_code == 201, response.get_json()
    attachment = response.get_json()["attachment"]
    digest = hashlib.sha256(data).hexdigest()
    assert (attachment["sha256"], attachment["size"], attachment["media_type"], attachment["filename"]) == (
        digest, len(data), media_type, filename)

    download = school.client.get(school.url(doc["id"], "attachments", attachment["id"]),
                                 headers=after(school.teacher, response.get_json()["position"]))
    assert download.status_code == 200
    assert download.data == data
    assert download.mimetype == media_type
    assert download.headers["X-Content-SHA256"] == digest
    assert download.headers["Repr-Digest"] == f"sha-256=:{b64encode(hashlib.sha256(data).digest()).decode()}:"
    assert "filename*=UTF-8''" in download.headers["Content-Disposition"]


def test_a_pdf_named_text_file_is_refused_by_its_content(school):
    doc = school.draft()
    response = school.attach(doc["id"], "Бұл PDF емес, жай мәтін.".encode(), "fake.pdf", content_type="application/pdf")
    assert response.status_code == 415
    assert response.mimetype == "application/problem+json"
    assert "PDF" in response.get_json()["detail"]
    zipped = io.BytesIO()
    with zipfile.ZipFile(zipped, "w") as archive:
        archive.writestr("notes.txt", "x")
    assert school.attach(doc["id"], zipped.getvalue(), "fake.docx").status_code == 415


def test_a_file_over_20_mb_is_refused_413_while_one_over_the_usual_1_mb_limit_is_kept(school):
    doc = school.draft()
    big = PDF_BYTES + b"0" * (1_500_000)
    kept = school.attach(doc["id"], big, "үлкен.pdf")
    assert kept.status_code == 201, kept.get_json()
    too_big = PDF_BYTES + b"0" * (20_000_001 - len(PDF_BYTES))
    refused = school.attach(doc["id"], too_big, "тым-үлкен.pdf")
    assert refused.status_code == 413
    assert refused.mimetype == "application/problem+json"
    # Everywhere else the usual limit stays.
    json_too_big = school.client.post(school.url(), headers=school.teacher, json={
        "kind": "working_program", "title": "x", "body": "ә" * 600_000})
    assert json_too_big.status_code == 413


def test_files_are_attached_by_the_author_and_multipart_works_too(school):
    doc = school.draft()
    assert school.attach(doc["id"], PDF_BYTES, "x.pdf", by=school.deputy).status_code == 403
    response = school.client.post(school.url(doc["id"], "attachments"), headers=school.teacher,
                                  data={"file": (io.BytesIO(PDF_BYTES), "бағдарлама.pdf")},
                                  content_type="multipart/form-data")
    assert response.status_code == 201, response.get_json()
    assert response.get_json()["attachment"]["filename"] == "бағдарлама.pdf"
    assert school.attach(doc["id"], PDF_BYTES, "").status_code == 422


def test_a_file_attached_after_submission_makes_a_new_version_and_each_version_keeps_its_files(school):
    doc = school.draft()
    first = school.attach(doc["id"], PDF_BYTES, "v1.pdf").get_json()
    school.post(doc["id"], "submission", school.teacher, {"route": [school.council]})
    school.conclude(doc["id"], school.council, school.chair)
    second = school.attach(doc["id"], docx_bytes(), "v2.docx").get_json()
    assert second["version"] == 2
    read = school.read(doc["id"], second["position"])
    assert [[a["filename"] for a in v["attachments"]] for v in read["versions"]] == [["v1.pdf"], ["v1.pdf", "v2.docx"]]
    assert read["route"][0]["conclusion"] is None  # the council's conclusion was on version 1
    old = school.client.get(school.url(doc["id"], "attachments", first["attachment"]["id"]), headers=school.head)
    assert old.status_code == 200 and old.data == PDF_BYTES
    missing = school.client.get(school.url(doc["id"], "attachments", str(uuid.uuid4())), headers=school.head)
    assert missing.status_code == 404


def test_the_openapi_document_describes_the_documents_endpoints(client):
    paths = client.get("/api/v1/openapi.json").get_json()["paths"]
    for suffix in ("", "/{did}", "/{did}/submission", "/{did}/conclusions", "/{did}/revisions", "/{did}/approval",
                   "/{did}/rejection", "/{did}/withdrawal", "/{did}/attachments", "/{did}/attachments/{aid}"):
        assert "/api/v1/tenants/{tid}/documents" + suffix in paths


# Nobody reviews their own work (p.18 - p.21)

def test_the_council_chair_who_drafted_a_program_cannot_give_the_councils_conclusion_on_it(school):
    doc = school.draft(by=school.chair)
    submitted = school.post(doc["id"], "submission", school.chair, {"route": [school.council]})
    assert submitted.status_code == 200, submitted.get_json()

    refused = school.conclude(doc["id"], school.council, school.chair)
    assert refused.status_code == 403, refused.get_json()
    assert refused.get_json()["clause"] == "p.20"
    assert "never the document's author" in refused.get_json()["detail"]
    read = school.read(doc["id"], submitted.get_json()["position"])
    assert read["route"][0]["conclusion"] is None and read["status"] == "submitted"
    # Nor may the deputy head approve it on no review at all.
    assert school.post(doc["id"], "approval", school.deputy).status_code == 422


# Refusals as a person reads them (issue: rough edges)

def test_a_refused_step_names_the_unit_by_its_name_and_keeps_its_id_in_a_field(school):
    doc = school.submitted(route=[school.association, school.council])
    refused = school.conclude(doc["id"], school.council, school.chair)
    body = refused.get_json()
    assert refused.status_code == 422 and "«МО математиков»" in body["detail"]
    assert school.association not in body["detail"]
    assert body["units"] == [{"id": school.association, "name": "МО математиков"}]
    approval = school.post(doc["id"], "approval", school.deputy).get_json()
    assert "«МО математиков»" in approval["detail"] and "«Әдістемелік кеңес»" in approval["detail"]
    assert {u["id"] for u in approval["units"]} == {school.association, school.council}


def test_a_teachers_refused_rejection_names_the_rejection(school):
    doc = school.submitted()
    refused = school.post(doc["id"], "rejection", school.teacher, {"reason": "Қайта қарау керек"})
    assert refused.status_code == 403
    assert refused.get_json()["detail"].startswith("Rejecting a working program needs")


def test_a_head_without_a_deputy_is_told_how_the_order_lets_a_program_be_approved(school):
    doc = school.submitted()
    assert school.conclude(doc["id"], school.council, school.chair).status_code == 201
    refused = school.post(doc["id"], "approval", school.head)
    assert refused.status_code == 403 and refused.get_json()["clause"] == "p.20"
    assert "give the deputy head's role to the person who acts as one" in refused.get_json()["detail"]
