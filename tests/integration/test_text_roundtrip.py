"""Kazakh and Russian text, composed (NFC) and decomposed (NFD), round-trips byte for byte.

Through the events (platform.repository), the read models (GET, with the raw response bytes) and the rendered
circular (the PDF's metadata title exactly; its page text as pypdf extracts it). Prints one JSON line.
"""

from __future__ import annotations

import io
import json
import unicodedata
import uuid
from typing import Any

import pytest
from pypdf import PdfReader

from unions_support import UNIONS, WELDING, UnionScenario, delivery, ok, smtp  # noqa: F401 - fixtures

TENANTS = "/api/v1/tenants"

# Kazakh's own letters (ә ғ қ ң ө ұ ү һ і) have no decomposition; й and ё (Russian and Kazakh alike) do, and so
# does the acute accent Russian dictionaries put on a stressed vowel. NFD spells those as base + combining mark.
KAZAKH = "Әдістемелік бірлестік: ҒҚҢӨҰҮҺІ әғқңөұүһі, жаңа оқу жылы, Ёлка, айқын"
RUSSIAN = "Учебно-методическое объединение: ЁЙ ёй, подъём, сейчас, за́мок и замо́к"
TEXTS = {
    f"{language}-{form}": unicodedata.normalize(form, text)
    for language, text in (("kk", KAZAKH), ("ru", RUSSIAN)) for form in ("NFC", "NFD")
}
FIGURES: dict[str, Any] = {"texts": len(TEXTS)}


def test_the_texts_differ_between_nfc_and_nfd():
    for language in ("kk", "ru"):
        composed, decomposed = TEXTS[f"{language}-NFC"], TEXTS[f"{language}-NFD"]
        assert composed != decomposed and len(decomposed) > len(composed)
        assert unicodedata.normalize("NFC", decomposed) == composed


def _raw_contains(response: Any, text: str) -> bool:
    return text.encode("utf-8") in response.data


@pytest.mark.parametrize("key", TEXTS)
def test_a_tenant_and_a_person_round_trip_through_events_and_read_models(client, tour, platform, key):
    text = TEXTS[key]
    registered = client.post(TENANTS, headers=tour.operator, json={
        "name": text, "kind": "school", "bin": _bin(), "region": text})
    assert registered.status_code == 201, registered.get_json()
    tenant = registered.get_json()
    assert tenant["name"] == text and _raw_contains(registered, text)

    aggregate = platform.repository.get(uuid.UUID(tenant["id"]))
    assert (aggregate.name, aggregate.region) == (text, text)
    assert aggregate.name.encode("utf-8") == text.encode("utf-8")

    _, head = tour.head(tenant["id"], full_name=text)
    added = ok(client.post(f"{TENANTS}/{tenant['id']}/people", headers=head,
                           json={"full_name": text, "roles": ["teacher"], "subjects": [text, "Физика"]}), 201)
    person = platform.repository.get(uuid.UUID(added["id"]))
    assert (person.full_name, person.subjects) == (text, [text, "Физика"])

    read = client.get(f"{TENANTS}/{tenant['id']}/people/{added['id']}",
                      headers={**head, "X-Min-Position": added["position"]})
    assert read.status_code == 200
    assert (read.get_json()["full_name"], read.get_json()["subjects"]) == (text, [text, "Физика"])
    assert _raw_contains(read, text)
    listed = client.get(f"{TENANTS}/{tenant['id']}", headers=head)
    assert listed.get_json()["name"] == text and _raw_contains(listed, text)
    # A list filter with the same text finds the person (the filter compares exactly: no normalisation).
    found = ok(client.get(f"{TENANTS}/{tenant['id']}/people", headers=head, query_string={"subject": text}))
    assert [p["id"] for p in found["items"]] == [added["id"]]
    other_form = unicodedata.normalize("NFD" if key.endswith("NFC") else "NFC", text)
    unfound = ok(client.get(f"{TENANTS}/{tenant['id']}/people", headers=head, query_string={"subject": other_form}))
    assert unfound["items"] == []


def _bin() -> str:
    from support import valid_bin

    return valid_bin()


@pytest.fixture
def scenario(client: Any, tour: Any) -> UnionScenario:
    return UnionScenario(client, tour)


def _page_text(pdf: bytes) -> str:
    return "".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages)


def test_a_decision_round_trips_through_events_read_models_and_the_rendered_circular(
        client, scenario, delivery, platform):
    adopted = {}
    for key, text in TEXTS.items():
        body = ok(client.post(f"{UNIONS}/{scenario.id}/decisions", headers=scenario.chair, json={
            "title": f"{key} {text}", "text": text, "direction": "p.33.4", "specialties": [WELDING]}), 201)
        decision = platform.repository.get(uuid.UUID(body["id"]))
        assert (decision.title, decision.text) == (f"{key} {text}", text)
        adopted[key] = body
    delivery.run(max(adopted.values(), key=lambda b: int(b["position"]))["position"])

    # B is a welding member (Russian circulars); its inbox has one circular per decision.
    inbox = ok(client.get(f"{TENANTS}/{scenario.b['id']}/circulars", headers=scenario.b_head))["items"]
    extracted: dict[str, str] = {}
    for key, text in TEXTS.items():
        [summary] = [c for c in inbox if c["decision_id"] == adopted[key]["id"]]
        url = f"{TENANTS}/{scenario.b['id']}/circulars/{summary['id']}"
        read = client.get(url, headers=scenario.b_head)
        circular = read.get_json()
        assert (circular["title"], circular["text"]) == (f"{key} {text}", text)
        assert _raw_contains(read, text)

        pdf = client.get(f"{url}/document", headers=scenario.b_head)
        assert pdf.status_code == 200 and pdf.mimetype == "application/pdf"
        reader = PdfReader(io.BytesIO(pdf.data))
        # The document's title (PDF metadata, a UTF-16 string) is the text exactly, in the form it was sent.
        assert reader.metadata.title.endswith(f": {key} {text}")
        page = _page_text(pdf.data)
        extracted[key] = page
        # The page text, as pypdf extracts it through the ToUnicode map fpdf2 embeds, keeps the form sent (NFD
        # stays decomposed, NFC composed); only whitespace differs (multi_cell breaks lines at spaces).
        words = " ".join(page.split())
        assert f"{key} {text}" in words and text in words.replace(f"{key} {text}", ""), (key, words)
        other_form = unicodedata.normalize("NFD" if key.endswith("NFC") else "NFC", text)
        assert other_form not in words

    FIGURES["pdf_forms_kept"] = sorted(k for k, t in TEXTS.items() if t in " ".join(extracted[k].split()))
    print(json.dumps({"test": "text_roundtrip", **FIGURES}, ensure_ascii=False))
