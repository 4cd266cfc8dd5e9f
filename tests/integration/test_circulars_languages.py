"""A delivered circular's document is in its member's language, the direction and clauses included (issue 23)."""

from __future__ import annotations

import io
from typing import Any

import pytest
from pypdf import PdfReader

from domain.directions import direction
from unions_support import UnionScenario, delivery, ok, smtp  # noqa: F401 - fixtures

TENANTS = "/api/v1/tenants"


@pytest.fixture
def scenario(client: Any, tour: Any) -> UnionScenario:
    return UnionScenario(client, tour)


def document_text(client: Any, tenant: dict[str, Any], headers: dict[str, str]) -> str:
    [item] = ok(client.get(f"{TENANTS}/{tenant['id']}/circulars", headers=headers))["items"]
    response = client.get(f"{TENANTS}/{tenant['id']}/circulars/{item['id']}/document", headers=headers)
    assert response.status_code == 200
    return " ".join(" ".join(page.extract_text().split()) for page in PdfReader(io.BytesIO(response.data)).pages)


def test_the_kazakh_and_the_russian_member_each_read_the_direction_and_its_clause_in_their_language(
        client, scenario, delivery, smtp):
    adopted = scenario.adopt(direction="p.33.6")
    assert delivery.run(adopted["position"]) == 2
    found = direction("p.33.6")

    kazakh = document_text(client, scenario.a, scenario.a_head)  # college A's language is kk
    assert f"Жұмыс бағыты (Қағидалардың 33.6-тармағы): {found.text_kk}" in kazakh
    assert found.text_ru not in kazakh and "p.33" not in kazakh and "п. " not in kazakh

    russian = document_text(client, scenario.b, scenario.b_head)  # college B's is ru
    assert f"Направление работы (п. 33.6 Правил): {found.text_ru}" in russian
    assert found.text_kk not in russian and "p.33" not in russian and "тармақ" not in russian
