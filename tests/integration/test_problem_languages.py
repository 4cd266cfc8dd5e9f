"""Problem documents in the language a client asks for: the same refusal in Russian, Kazakh and English, its
type, status, clause and field names unchanged; a client that asks for none reads the English it always has."""

from __future__ import annotations

import re

import pytest

from support import Tour
from test_units_api import MATHS, Org, url

KAZAKH = set("әғқңөұүһі")
CYRILLIC = re.compile("[а-яё]", re.IGNORECASE)


@pytest.fixture
def school(tour: Tour) -> Org:
    return Org(tour)


def _form_of_two(client, school, language):
    members = [person["id"] for person, _ in school.teachers(2)]
    headers = {**school.head, **({"Accept-Language": language} if language is not None else {})}
    return client.post(url(school.id, "units"), headers=headers,
                       json={"kind": "methodical_association", "name": "МО", "subject": MATHS, "member_ids": members})


def test_the_same_refusal_reads_in_each_language_and_keeps_its_codes(client, school):
    answers = {lang: _form_of_two(client, school, lang) for lang in ("ru", "kk", "en", None)}
    bodies = {lang: a.get_json() for lang, a in answers.items()}
    for lang, body in bodies.items():
        assert answers[lang].status_code == 422 and answers[lang].mimetype == "application/problem+json"
        assert (body["type"], body["status"], body["clause"]) == ("about:blank", 422, "p.26")
        assert set(body["errors"]) == set(bodies[None]["errors"]) == {"member_ids"}
    english = bodies[None]
    assert bodies["en"] == english
    assert english["title"] == "Unprocessable content"
    assert english["detail"] == ("A methodical_association is formed when at least 3 teachers of one subject "
                                 f"({MATHS}) join it; 2 do.")
    assert answers[None].headers["Content-Language"] == "en" == answers["en"].headers["Content-Language"]
    for lang in ("ru", "kk"):
        body = bodies[lang]
        assert answers[lang].headers["Content-Language"] == lang
        assert body["title"] != english["title"] and CYRILLIC.search(body["title"])
        assert body["detail"] != english["detail"] and "teachers" not in body["detail"]
        assert MATHS in body["detail"] and "3" in body["detail"] and "2" in body["detail"]
        assert body["errors"]["member_ids"][0] == body["detail"]
    assert "методическое объединение" in bodies["ru"]["detail"]
    assert KAZAKH & set(bodies["kk"]["detail"].lower()) and "әдістемелік бірлестік" in bodies["kk"]["detail"]


@pytest.mark.parametrize("header, language", [
    ("kk;q=0.4, ru;q=0.9, en;q=0.1", "ru"),
    ("de-DE, kk-KZ;q=0.8", "kk"),
    ("fr, de", "en"),
    ("*", "en"),
    ("ru;q=0, en", "en"),
])
def test_the_language_follows_the_q_values_and_an_unknown_one_is_english(client, school, header, language):
    answer = _form_of_two(client, school, header)
    assert answer.headers["Content-Language"] == language
    assert ("A methodical_association is formed" in answer.get_json()["detail"]) == (language == "en")


def test_a_policy_refusal_names_the_clause_as_the_language_writes_it(client, school):
    _, teacher = school.teachers(1)[0]
    for lang, cited in (("ru", "п. 14"), ("kk", "14-тармақ"), (None, "p.14")):
        headers = {**teacher, **({"Accept-Language": lang} if lang else {})}
        answer = client.post(url(school.id, "units"), headers=headers,
                             json={"kind": "methodical_association", "name": "МО", "subject": MATHS, "member_ids": []})
        assert answer.status_code == 403 and answer.get_json()["clause"] == "p.14"
        assert cited in answer.get_json()["detail"], answer.get_json()


def test_field_messages_of_the_schema_and_of_unreadable_bodies_are_translated(client, school):
    answer = client.post(url(school.id, "units"), headers={**school.head, "Accept-Language": "ru"},
                         json={"name": "МО"})
    body = answer.get_json()
    assert answer.status_code == 422 and "kind" in body["errors"]
    assert body["errors"]["kind"] == ["Обязательное поле не заполнено."]
    bad = client.post(url(school.id, "units"), data=b'{"kind": 1, "kind": 2}',
                      headers={**school.head, "Accept-Language": "kk", "Content-Type": "application/json"})
    assert bad.status_code == 400 and "'kind'" in bad.get_json()["detail"] and "кілті" in bad.get_json()["detail"]
