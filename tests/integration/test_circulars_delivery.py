"""A decision reaches exactly the member organizations of its specialties, through the outbox, rq and SMTP."""

from __future__ import annotations

import io
from typing import Any

import pytest
from pypdf import PdfReader

from unions_support import UNIONS, UnionScenario, delivery, ok, smtp  # noqa: F401 - fixtures

TENANTS = "/api/v1/tenants"


@pytest.fixture
def scenario(client: Any, tour: Any) -> UnionScenario:
    return UnionScenario(client, tour)


def inbox(client: Any, tenant: dict[str, Any], headers: dict[str, str], position: str | None = None) -> list[Any]:
    h = {**headers, **({"X-Min-Position": position} if position else {})}
    return ok(client.get(f"{TENANTS}/{tenant['id']}/circulars", headers=h))["items"]


def test_a_decision_for_a_specialty_reaches_each_member_of_that_specialty_once(client, scenario, delivery, smtp):
    adopted = scenario.adopt()
    assert adopted["circulars_expected"] == 2
    assert sorted(c["tenant_id"] for c in adopted["circulars"]) == sorted([scenario.a["id"], scenario.b["id"]])

    assert delivery.run(adopted["position"]) == 2
    decision = scenario.decision(adopted["id"])
    assert [c["status"] for c in decision["circulars"]] == ["delivered", "delivered"]

    a_items = inbox(client, scenario.a, scenario.a_head)
    b_items = inbox(client, scenario.b, scenario.b_head)
    assert [c["decision_id"] for c in a_items] == [adopted["id"]]
    assert [c["decision_id"] for c in b_items] == [adopted["id"]]
    assert inbox(client, scenario.c, scenario.c_head) == []

    document = client.get(f"{TENANTS}/{scenario.a['id']}/circulars/{a_items[0]['id']}/document",
                          headers=scenario.a_head)
    assert document.status_code == 200
    assert document.mimetype == "application/pdf"
    text = " ".join(" ".join(page.extract_text().split()) for page in PdfReader(io.BytesIO(document.data)).pages)
    assert adopted["title"] in text  # a long title wraps: lines are joined by single spaces
